"""The README tour works on any day: the demo covers the four months ending with today's, the
sandbox is seeded for that window, and load -> accept mappings -> reconcile -> push -> status
shows every case and ends in sync. Run with the clock set to a month start, a month end and
29 February of a leap year (BILLBRIDGE_TODAY pins it)."""

from __future__ import annotations

from datetime import date

import pytest

from billbridge import clock
from billbridge import demo_world as dw
from billbridge import journal as jo
from billbridge import sources
from billbridge.bdom import add_months
from billbridge.errors import InputError
from billbridge.sandbox import Sandbox, SandboxConfig, seed_stamp
from billbridge.store import Store
from tour_support import WRITES, picture, start_tour

DAYS = ["2027-03-01", "2026-12-31", "2028-02-29"]


@pytest.mark.parametrize("day", DAYS)
def test_the_readme_tour_works_on_any_day(day, tmp_path, monkeypatch):
    monkeypatch.setenv(clock.ENV, day)
    tour = start_tour(tmp_path)
    try:
        assert tour.month == day[:7] and dw.months() == tuple(add_months(tour.month, k) for k in (-3, -2, -1, 0))
        plan, plan_id = tour.reconcile()
        assert set(plan.rows["action"]) == {"in_sync", "update", "create", "cancel", "blocked"}
        assert {"unmapped_customer", "unmapped_product", "no_agreement", "ambiguous", "manually_edited"} <= set(
            plan.rows["cause"].dropna())
        run = tour.push_ready(plan, plan_id)
        assert run.status == "ok" and run.writes == len(plan.rows[plan.rows["action"].isin(WRITES)])
        status = jo.status_summary(tour.store, tour.month)
        assert [r["id"] for r in status["runs"]] == [run.id]
        assert status["companies"] and {c["status"] for c in status["companies"]} == {"green"}
        again, _ = tour.reconcile()
        assert not again.rows["action"].isin(WRITES).any()  # in sync
        assert picture(again)["counts"]["in_sync"] == picture(plan)["counts"]["in_sync"] + len(
            [r for r in run.rows if r.result == "ok" and r.action in ("update", "create")])
    finally:
        tour.close()


@pytest.mark.parametrize("day", DAYS)
def test_a_demo_month_outside_the_window_is_a_one_line_input_error(day, monkeypatch):
    monkeypatch.setenv(clock.ENV, day)
    months = dw.months()
    store = Store.memory()
    for month in ("2025-01", f"{int(day[:4]) + 1}-{day[5:7]}"):
        with pytest.raises(InputError) as err:
            sources.load_demo(store, month)
        assert f"no bill for {month}" in str(err.value) and months[0] in str(err.value) and "\n" not in str(err.value)


def test_a_stored_sandbox_from_an_older_month_is_reseeded_and_one_from_this_month_kept(tmp_path, monkeypatch):
    path = tmp_path / "sandbox.db"
    monkeypatch.setenv(clock.ENV, "2026-11-30")
    old = Sandbox(SandboxConfig(data_path=path))
    assert old.window == "2026-11" and old.reseeded is None
    old.store.delete("additions", 1)  # something pushed meanwhile
    old.stop()
    kept = Sandbox(SandboxConfig(data_path=path))  # same month, another process: the records are kept
    assert kept.reseeded is None and kept.store.get("additions", 1) is None
    kept.stop()
    monkeypatch.setenv(clock.ENV, "2026-12-01")  # the next day is in another demo window
    new = Sandbox(SandboxConfig(data_path=path))
    try:
        assert new.window == "2026-12" == seed_stamp()
        assert new.reseeded and "2026-11" in new.reseeded
        assert new.store.get("additions", 1) is not None
        invoices = {str(i["date"])[:7] for i in new.records("invoices")}
        assert invoices == {"2026-11", "2026-12"}  # last month's and this month's, never stale ones
    finally:
        new.stop()


def test_a_running_sandbox_reseeds_itself_when_the_month_changes(monkeypatch):
    monkeypatch.setenv(clock.ENV, "2026-12-31")
    sb = Sandbox(SandboxConfig())
    try:
        sb.start()
        import requests

        def window() -> str:
            return requests.get(f"{sb.base_url}/login/companyinfo/sandbox", timeout=5).headers["x-billbridge-demo-window"]

        assert window() == "2026-12"
        monkeypatch.setenv(clock.ENV, "2027-01-01")
        assert window() == "2027-01" and "the month changed" in sb.reseeded
    finally:
        sb.stop()


def test_leap_day_world_keeps_the_29th_anchor_and_clamps_month_relative_days():
    world = dw.world(date(2028, 2, 29))
    by_id = world.customers_by_id
    assert by_id["DC-10004"].created == date(2024, 2, 29)  # a leap-day account keeps its BDOM 29
    assert by_id["DC-10002"].created.day == 31  # and BDOM 31 survives as the window moves
    assert by_id["DC-10005"].created == date(2028, 1, 29)  # "the 29th of last month"
    assert by_id["DC-10020"].created == date(2027, 11, 30)  # "the 31st" of a 30-day month: its last day


def test_a_stored_sandbox_seeded_by_an_older_billbridge_is_reseeded(tmp_path, monkeypatch):
    """This month's records from before the seed changed (no agreement currency, no Pax8 agreements)
    are replaced, once; then kept."""
    path = tmp_path / "sandbox.db"
    monkeypatch.setenv(clock.ENV, "2026-11-30")
    old = Sandbox(SandboxConfig(data_path=path))
    old.store.replace_all({"companies": {}}, {}, meta={"seed_window": "2026-11"})  # as an older seed left it
    old.stop()
    new = Sandbox(SandboxConfig(data_path=path))
    try:
        assert new.reseeded and "older billbridge" in new.reseeded
        assert any(a["name"] == "Pax8 Services" for a in new.records("agreements"))
        assert all(a["currency"]["currencyCode"] == "USD" for a in new.records("agreements"))
    finally:
        new.stop()
    again = Sandbox(SandboxConfig(data_path=path))
    assert again.reseeded is None
    again.stop()
