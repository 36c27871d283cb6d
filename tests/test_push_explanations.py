"""A failed row's explanation names the request that failed (method, path, how often it was sent)
and the writes actually made: a row that failed on the re-read GET says so and that nothing was
written; a write that kept failing says how many times it was sent. Numbers are integers."""

from __future__ import annotations

import re

from billbridge import journal as J
from billbridge import push as P
from billbridge import store as S
from push_support import MONTH, client_for, demo_plan, new_sandbox, writable


def _failed_rows(sb, tmp_path, fail: str):
    client = client_for(sb)
    plan, _, _ = demo_plan(client)
    rows = writable(plan)
    rows = rows[rows["action"] == "update"].head(2)
    store = S.Store.open(tmp_path / "bb.db")
    sb.set_faults(fail_requests=fail)
    run = P.push(store, client, rows, operator="t", month=MONTH)
    sb.set_faults(fail_requests="")
    results = S.push_row_results(store, run_id=run.id).to_dict("records")
    return run, results, store


def test_a_row_that_failed_on_the_re_read_names_the_get_and_says_no_write_was_made(tmp_path):
    sb = new_sandbox()
    try:
        run, results, store = _failed_rows(sb, tmp_path, r"^GET .*/additions$")
        assert run.writes == 0 and {r["result"] for r in results} == {"failed"}
        for r in results:
            text = J.explain_failure(r)
            assert re.search(r"GET /finance/agreements/\d+/additions failed", text), text
            assert "re-reading the agreement's additions" in text and "No write was made" in text
            assert "PATCH" not in text and ".0" not in text
            assert "server error or timeout (500)" in text and "retry the failed rows later" in text
        assert S.journal_entries(store, run_id=run.id) == []  # nothing was sent, nothing journaled
    finally:
        sb.stop()


def test_a_write_that_kept_failing_says_how_often_it_was_sent_and_that_it_may_have_been_applied(tmp_path):
    sb = new_sandbox()
    try:
        run, results, store = _failed_rows(sb, tmp_path, r"^PATCH ")
        for r in results:
            text = J.explain_failure(r)
            assert re.search(r"PATCH /finance/agreements/\d+/additions/\d+ failed, sent 5 times\.", text), text
            assert "5 writes sent for this row" in text and "looks the record up" in text
            assert r["attempts"] == 5 and r["writes"] == 5
        entries = S.journal_entries(store, run_id=run.id)
        assert len(entries) == 10 and {e["method"] for e in entries} == {"PATCH"}
        assert "after 5 retries" in J.explain_failure({"result": "failed", "http_status": 503, "retries": 5.0})
    finally:
        sb.stop()
