"""Push reliability against the sandbox's fault injection (real HTTP, no mock of our client).

Each test proves one promise of issue 5: faults never make ConnectWise differ from the plan or hold
a duplicate; a killed push completes on the next run; a read-only member writes nothing and a later
retry works; a second push writes nothing; undo restores the before-state.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from billbridge import push as P
from billbridge import store as S
from billbridge.plan import plan_to_json
from push_support import MONTH, additions_state, client_for, demo_plan, keyed_counts, new_sandbox, writable

ROOT = Path(__file__).resolve().parents[1]
INACTIVE = "demo|DC-10025|S-1041"  # SMS-PACK: its catalog item is inactive, ConnectWise refuses the create


def _no_duplicates(sb):
    dup = {k: n for k, n in keyed_counts(sb).items() if n > 1}
    assert not dup, f"duplicate additions: {dup}"


def _not_in_planned_state(client, maps, plan) -> set[str]:
    """Rows of ``plan`` that a fresh reconcile still wants to change (a cancelled line drops out)."""
    fresh, _, _ = demo_plan(client, maps=maps)
    after = dict(zip(fresh.rows["key"], fresh.rows["action"]))
    return {k for k in writable(plan)["key"] if k != INACTIVE and after.get(k) not in ("in_sync", None)}


def test_push_under_5xx_429_and_dropped_connections_ends_matching_the_plan_without_duplicates(tmp_path):
    sb = new_sandbox()
    try:
        client = client_for(sb)
        plan, _, maps = demo_plan(client)
        store = S.Store.open(tmp_path / "bb.db")
        sb.set_faults(error_rate=0.20, throttle_rate=0.10, drop_rate=0.02, retry_after_s=0, seed=7)
        run = P.push(store, client, plan.rows, operator="tester", month=MONTH, concurrency=4)
        sb.set_faults(error_rate=0, throttle_rate=0, drop_rate=0)

        assert len(run.rows) == len(plan.rows) and all(r.result in P.RESULTS for r in run.rows)
        by_key = {r.key: r for r in run.rows}
        for key in writable(plan)["key"]:
            expected = "failed" if key == INACTIVE else "ok"
            assert by_key[key].result == expected, (key, by_key[key].reason)
        assert client.stats_retries, "the faults were injected and retried"
        _no_duplicates(sb)
        assert not _not_in_planned_state(client, maps, plan)
    finally:
        sb.stop()


_CHILD = textwrap.dedent("""
    import json, sys
    sys.path.insert(0, {tests!r})
    from billbridge import push as P, store as S
    from push_support import client_for
    class _SB:  # the parent's sandbox address
        base_url = {url!r}; company_id = {company!r}
    rows = json.load(open({rows!r}))
    store = S.Store.open({db!r})
    P.push(store, client_for(_SB()), rows, operator="cron", month="2026-11", concurrency=2)
""")


def test_push_killed_mid_run_completes_on_the_next_run_without_duplicates_and_the_journal_tells(tmp_path):
    sb = new_sandbox(data_path=tmp_path / "sandbox.db")
    try:
        client = client_for(sb)
        plan, _, maps = demo_plan(client)
        rows_file = tmp_path / "rows.json"
        rows_file.write_text(json.dumps(plan_to_json(plan)["rows"]))
        db = tmp_path / "bb.db"
        S.Store.open(db).close()
        sb.set_faults(latency_ms=150)
        code = _CHILD.format(tests=str(ROOT / "tests"), url=sb.base_url, company=sb.company_id, rows=str(rows_file),
                             db=str(db))
        child = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT)
        deadline = time.monotonic() + 40
        seen = 0
        while time.monotonic() < deadline and child.poll() is None:
            time.sleep(0.05)
            try:
                with sqlite3.connect(db) as con:
                    seen = con.execute("SELECT COUNT(*) FROM push_journal").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if seen >= 4:
                break
        assert child.poll() is None, "the push finished before it could be killed"
        child.send_signal(signal.SIGKILL)
        child.wait()
        sb.set_faults(latency_ms=0)

        store = S.Store.open(db)
        first = store.db.execute("SELECT id, status FROM push_runs").fetchall()
        assert first == [(1, "running")]  # the killed process never finished its run
        run = P.push(store, client, json.loads(rows_file.read_text()), operator="cron", month=MONTH)

        killed = S.get_push_run(store, 1)
        assert killed["status"] == "interrupted"
        entries = S.journal_entries(store, run_id=1)
        assert entries and all(e["status"] in ("ok", "failed", "unknown") for e in entries)
        assert {r.result for r in run.rows if r.key in set(writable(plan)["key"]) - {INACTIVE}} == {"ok"}
        _no_duplicates(sb)
        assert not _not_in_planned_state(client, maps, plan)
    finally:
        sb.stop()


def test_read_only_member_gets_one_403_per_kind_of_write_the_rest_skipped_nothing_written_and_retry_succeeds(tmp_path):
    sb = new_sandbox()
    try:
        full = client_for(sb)
        plan, _, maps = demo_plan(full)
        before = additions_state(sb)
        store = S.Store.open(tmp_path / "bb.db")
        readonly = client_for(sb, "readonly")
        run = P.push(store, readonly, plan.rows, operator="tester", month=MONTH)

        written = [r for r in run.rows if r.key in set(writable(plan)["key"])]
        kinds = {P.write_kind(r["request"]["method"], r["request"]["path"]) for r in writable(plan).to_dict("records")}
        assert kinds == {"PATCH /finance/agreements/{id}/additions/{id}", "POST /finance/agreements/{id}/additions"}
        refused = [r for r in written if r.result == "failed"]
        assert len(refused) == len(kinds) and all(r.http_status == 403 for r in refused)  # one 403 per kind
        assert readonly.stats["PATCH"] + readonly.stats["POST"] == len(kinds)  # nothing else was sent
        skipped = [r for r in written if r.result == "skipped"]
        assert len(skipped) == len(written) - len(kinds)
        for r in skipped:
            assert r.error_code == "PermissionMissing" and r.writes == 0 and r.http_status is None
            assert "Agreements: Add" in r.reason or "Agreements: Edit" in r.reason
            assert "System > Security Roles" in r.reason and "retry" in r.reason
        assert all("Agreements: Add" in r.reason or "Agreements: Edit" in r.reason for r in refused)
        assert additions_state(sb) == before  # nothing half-written
        again = P.retry(store, full, run.id, operator="tester")  # the skipped rows come along
        assert again.parent_run_id == run.id and again.kind == "retry"
        ok = {r.key for r in again.rows if r.result == "ok"}
        assert ok == set(writable(plan)["key"]) - {INACTIVE}
        _no_duplicates(sb)
    finally:
        sb.stop()


def test_pushing_the_same_plan_twice_makes_zero_writes_the_second_time(tmp_path):
    sb = new_sandbox()
    try:
        client = client_for(sb)
        plan, _, _ = demo_plan(client)
        rows = plan.rows[plan.rows["key"] != INACTIVE]
        store = S.Store.open(tmp_path / "bb.db")
        first = P.push(store, client, rows, operator="tester", month=MONTH)
        assert first.requests.get("PATCH", 0) + first.requests.get("POST", 0) == len(writable(plan)) - 1
        client.reset_stats()
        second = P.push(store, client, rows, operator="tester", month=MONTH)
        assert client.stats["PATCH"] == 0 and client.stats["POST"] == 0 and client.stats["PUT"] == 0
        assert second.writes == 0 and second.counts["failed"] == 0 and second.counts["conflict"] == 0
        assert all("Already" in r.reason for r in second.rows if r.key in set(writable(plan)["key"]))
    finally:
        sb.stop()


def test_undo_after_push_puts_connectwise_back_to_the_before_state_for_every_undone_row(tmp_path):
    sb = new_sandbox()
    try:
        client = client_for(sb)
        plan, _, _ = demo_plan(client)
        before = additions_state(sb)
        store = S.Store.open(tmp_path / "bb.db")
        run = P.push(store, client, plan.rows, operator="tester", month=MONTH)
        preview = P.plan_undo(store, client, run.id)
        assert {r["action"] for r in preview} == {"update", "delete"}
        deletes = [r for r in preview if r["action"] == "delete"]
        assert deletes and all(r["request"]["method"] == "DELETE" for r in deletes)
        undone = P.undo(store, client, run.id, operator="tester")
        assert undone.kind == "undo" and undone.parent_run_id == run.id and undone.status == "ok"
        assert additions_state(sb) == before  # every addition as it was; the created ones are gone
        assert S.get_push_run(store, undone.id)["writes"] == len(preview)
        journal = {e["key"]: e for e in S.journal_entries(store, run_id=undone.id) if e["method"] == "DELETE"}
        assert set(journal) == {r["key"] for r in deletes}
        assert all(e["before"]["id"] == e["addition_id"] and e["before"]["product"] for e in journal.values())
    finally:
        sb.stop()
