"""Undo restores the month (billing-rules Rule 6.7): undoing a push deletes the additions it
created that no invoice has billed, writes the old values back, and the month then reconciles
exactly as before the push; pushing again brings it back in sync. An addition ConnectWise already
invoiced is not undone: the undo says so and offers a correcting line. The company and run status
follow the undo."""

from __future__ import annotations

import pytest

from billbridge import journal as jo
from billbridge import push as pu
from billbridge import store as st
from push_support import additions_state
from tour_support import WRITES, picture, start_tour


@pytest.fixture
def pushed(tmp_path):
    tour = start_tour(tmp_path)
    plan, plan_id = tour.reconcile()
    before = {"plan": picture(plan), "additions": additions_state(tour.sb)}
    run = tour.push_ready(plan, plan_id)
    assert run.status == "ok"
    yield tour, plan, run, before
    tour.close()


def _created_keys(run) -> set[str]:
    return {r.key for r in run.rows if r.action == "create" and r.result == "ok"}


def test_after_undo_the_month_reconciles_exactly_as_before_the_push_and_pushing_again_syncs_it(pushed):
    tour, plan, run, before = pushed
    assert _created_keys(run)
    undone = pu.undo(tour.store, tour.client, run.id, operator="ann")
    assert undone.status == "ok" and undone.counts["failed"] == 0
    assert additions_state(tour.sb) == before["additions"]  # no undone line is left to bill anything
    again, again_id = tour.reconcile()
    assert picture(again) == before["plan"]  # the same counts by action and the same dollars
    assert set(again.rows.loc[again.rows["action"] == "create", "key"]) == _created_keys(run)
    redo = tour.push_ready(again, again_id)
    assert redo.status == "ok"
    synced, _ = tour.reconcile()
    assert not synced.rows["action"].isin(WRITES).any()


def test_company_and_run_status_follow_the_undo(pushed):
    tour, plan, run, _ = pushed
    assert {c["status"] for c in jo.status_summary(tour.store, tour.month)["companies"]} == {"green"}
    undone = pu.undo(tour.store, tour.client, run.id, operator="ann")
    summary = jo.status_summary(tour.store, tour.month)
    companies = {c["company_name"]: c for c in summary["companies"]}
    touched = {r.company_name for r in undone.rows if r.result == "ok"}
    assert touched and all(companies[name]["status"] == "undone" for name in touched)
    texts = [jo.company_status_text(c) for c in summary["companies"]]
    assert not any(t.startswith("OK") for t in texts if any(n in t for n in touched))
    assert all(t.startswith("UNDONE") for t in texts if any(n in t for n in touched))
    runs = {r["id"]: r for r in summary["runs"]}
    assert runs[run.id]["undone_by"] == undone.id and "undone by run" in runs[run.id]["status_text"]
    assert runs[undone.id]["status_text"].startswith("ok")


def test_an_addition_already_invoiced_is_not_undone_and_a_correcting_line_is_offered_and_added(pushed):
    tour, plan, run, _ = pushed
    created = {r.key: r for r in run.rows if r.action == "create" and r.result == "ok"}
    key, row = next(iter(created.items()))
    invoices = tour.sb.run_agreement_invoicing(tour.month, [row.agreement_id])
    assert invoices
    rows = pu.plan_undo(tour.store, tour.client, run.id)
    blocked = next(r for r in rows if r["key"] == key)
    assert blocked["action"] == "blocked" and blocked["cause"] == "invoiced" and blocked["request"] is None
    assert invoices[0]["invoiceNumber"] in blocked["reason"] and "correcting line" in blocked["reason"]
    fix = blocked["correction"]
    assert fix["method"] == "POST" and fix["body"]["quantity"] < 0
    assert fix["body"]["effectiveDate"][:7] > tour.month and fix["body"]["effectiveDate"][:7] == fix["body"]["cancelledDate"][:7]
    others = [r for r in rows if r["key"] in created and r["key"] != key and r["agreement_id"] != row.agreement_id]
    assert others and all(r["action"] == "delete" for r in others)

    plain = pu.undo(tour.store, tour.client, run.id, rows=rows, dry_run=True)
    assert {r.key: r.result for r in plain.rows}[key] == "skipped"  # blocked rows are never written
    fixed = pu.undo(tour.store, tour.client, run.id, correct_invoiced=True, operator="ann")
    assert {r.key: r.result for r in fixed.rows}[key] == "ok"
    lines = [a for a in additions_state(tour.sb).values() if a["key"] and a["key"].startswith(key + "|undo")]
    assert len(lines) == 1 and lines[0]["quantity"] == fix["body"]["quantity"]
    assert any(a["id"] == row.addition_id for a in tour.sb.records("additions"))  # the invoiced line stays


def test_undo_of_an_unknown_run_is_a_not_found_error(pushed):
    tour, *_ = pushed
    from billbridge.errors import NotFoundError

    with pytest.raises(NotFoundError, match="no push run 999"):
        pu.undo(tour.store, tour.client, 999)
    assert st.get_push_run(tour.store, 999) is None
