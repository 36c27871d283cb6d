"""billbridge.push and billbridge.journal: preview, skips, conflicts, force, dry run, tokens, the
journal (intent before, result after, no secrets), interruption, explanations and the runs figure."""

from __future__ import annotations

import base64
import json

import pandas as pd
import pytest

from billbridge import journal as J
from billbridge import push as P
from billbridge import store as S
from billbridge.sandbox import CREDENTIALS
from push_support import MONTH, additions_state, client_for, demo_plan, new_sandbox, writable

INACTIVE = "demo|DC-10025|S-1041"


@pytest.fixture(scope="module")
def world():
    sb = new_sandbox()
    client = client_for(sb)
    plan, _, maps = demo_plan(client)
    yield sb, client, plan
    sb.stop()


@pytest.fixture
def fresh(tmp_path):
    sb = new_sandbox()
    client = client_for(sb)
    plan, _, _ = demo_plan(client)
    yield sb, client, plan, S.Store.open(tmp_path / "bb.db")
    sb.stop()


def test_preview_lists_exactly_the_plan_requests_in_wire_form_and_leaves_blocked_rows_out(world):
    _, _, plan = world
    reqs = P.preview(plan.rows)
    w = writable(plan)
    assert [r.key for r in reqs] == list(w["key"])
    by_key = {r.key: r for r in reqs}
    for row in w.to_dict("records"):
        r = by_key[row["key"]]
        assert (r.method, r.path) == (row["request"]["method"], row["request"]["path"])
        assert json.dumps(r.body) == json.dumps(row["request"]["body"])
    assert not {k for k in plan.rows[plan.rows["action"] == "blocked"]["key"]} & set(by_key)


def test_blocked_rows_are_skipped_with_their_reason_and_in_sync_rows_are_ok_without_requests(fresh):
    sb, client, plan, store = fresh
    rows = plan.rows[plan.rows["action"].isin(["blocked", "in_sync"])]
    client.reset_stats()
    run = P.push(store, client, rows, operator="t", month=MONTH)
    assert sum(client.stats.values()) == 0
    for r in run.rows:
        assert r.result == ("skipped" if r.action == "blocked" else "ok")
        assert r.reason
    assert any("blocked (unmapped_customer)" in r.reason for r in run.rows)


def test_a_row_edited_by_a_person_since_the_plan_is_a_conflict_unless_forced(fresh):
    sb, client, plan, store = fresh
    row = plan.rows[plan.rows["key"] == "demo|DC-10001|S-1001"]
    path = row.iloc[0]["request"]["path"]
    client.patch_fields(path, {"quantity": 13})  # someone types 13 in ConnectWise after the plan
    run = P.push(store, client, row, operator="t", month=MONTH)
    assert run.rows[0].result == "conflict" and "quantity" in run.rows[0].reason
    assert client.get(path)["quantity"] == 13
    forced = P.push(store, client, row, operator="t", month=MONTH, force=True)
    assert forced.rows[0].result == "ok" and client.get(path)["quantity"] == 14
    assert "force" in J.explain_failure({"result": "conflict", "reason": run.rows[0].reason})


def test_dry_run_re_reads_but_writes_nothing(fresh):
    sb, client, plan, store = fresh
    before = additions_state(sb)
    client.reset_stats()
    run = P.push(store, client, plan.rows, operator="t", month=MONTH, dry_run=True)
    assert client.stats["PATCH"] == client.stats["POST"] == 0 and additions_state(sb) == before
    assert run.dry_run and any(r.reason.startswith("Dry run: would send") for r in run.rows)


def test_a_second_call_with_the_same_token_returns_the_first_run_and_sends_nothing(fresh):
    sb, client, plan, store = fresh
    first = P.push(store, client, plan.rows, operator="t", month=MONTH, token="tok-1")
    client.reset_stats()
    again = P.push(store, client, plan.rows, operator="t", month=MONTH, token="tok-1")
    assert again.reused and again.id == first.id and sum(client.stats.values()) == 0


def test_journal_has_one_entry_per_attempt_with_before_after_and_no_secret(fresh):
    sb, client, plan, store = fresh
    run = P.push(store, client, plan.rows, operator="ann", month=MONTH)
    entries = S.journal_entries(store, run_id=run.id)
    assert len(entries) == run.writes + sum(1 for r in run.rows if r.result == "failed")
    patch = next(e for e in entries if e["method"] == "PATCH" and e["status"] == "ok")
    assert patch["before"]["quantity"] != patch["after"]["quantity"] and patch["operator"] == "ann"
    assert patch["attempt"] == 1 and patch["duration_ms"] is not None and patch["written_at"]
    post = next(e for e in entries if e["method"] == "POST" and e["status"] == "ok")
    assert post["before"] is None and post["after"]["id"] == post["addition_id"] and post["http_status"] == 201
    failed = next(e for e in entries if e["status"] == "failed")
    assert failed["http_status"] == 400 and failed["field_errors"][0]["field"] == "product"
    dump = "\n".join(str(r) for t in store.db.table_names() for r in store.db[t].rows)
    full = CREDENTIALS["full"]
    token = base64.b64encode(f"{CREDENTIALS['company_id']}+{full['public_key']}:{full['private_key']}".encode()).decode()
    for secret in (full["private_key"], full["public_key"], token):
        assert secret not in dump


def test_closing_the_progress_generator_early_marks_the_run_interrupted_with_no_entry_left_open(fresh):
    sb, client, plan, store = fresh
    events = P.push_events(store, client, writable(plan), operator="t", month=MONTH, concurrency=2)
    next(events)
    events.close()
    run = S.list_push_runs(store).iloc[0]
    assert run["status"] == "interrupted"
    assert all(e["status"] != "intent" for e in S.journal_entries(store, run_id=int(run["id"])))
    again = P.push(store, client, writable(plan), operator="t", month=MONTH)
    assert {r.result for r in again.rows if r.key != INACTIVE} == {"ok"}


@pytest.mark.parametrize("entry, words", [
    ({"result": "failed", "http_status": 401, "method": "PATCH", "path": "/finance/agreements/1/additions/2"},
     ["keys", "API Keys"]),
    ({"result": "failed", "http_status": 403, "method": "POST", "path": "/finance/agreements/1/additions"},
     ["'Agreements: Add'", "Security Roles"]),
    ({"result": "failed", "http_status": 400, "error_code": "InvalidObject",
      "field_errors": [{"field": "agreement", "message": "Agreement 'X' (id 1) is cancelled"}]},
     ["agreement", "cancelled", "active agreement"]),
    ({"result": "failed", "http_status": 404, "error_code": "NotFound"}, ["deleted in ConnectWise"]),
    ({"result": "failed", "http_status": 429, "retries": 5}, ["throttled", "retried 5 times"]),
    ({"result": "failed", "http_status": 503, "retries": 2}, ["server error or timeout", "retry"]),
    ({"result": "failed", "error_code": "Timeout", "error_class": "CWConnectionError"}, ["did not answer"]),
    ({"result": "conflict", "reason": "Not written: quantity changed"}, ["quantity changed", "force"]),
])
def test_explain_failure_says_what_happened_and_the_fix(entry, words):
    text = J.explain_failure(entry)
    for w in words:
        assert w in text, text


def test_runs_figure_stacks_row_results_per_run():
    runs = pd.DataFrame([{"id": 1, "kind": "push", "started_at": "2026-11-20T10:00:00Z", "ok": 3, "failed": 1,
                          "conflict": 0, "skipped": 2},
                         {"id": 2, "kind": "retry", "started_at": "2026-11-20T11:00:00Z", "ok": 1, "failed": 0,
                          "conflict": 0, "skipped": 0}])
    fig = J.runs_figure(runs)
    assert [t.name for t in fig.data] == ["ok", "failed", "conflict", "skipped"]
    assert list(fig.data[0].y) == [3, 1] and fig.layout.barmode == "stack"
    assert fig.data[0].x[1].startswith("#2 retry")
