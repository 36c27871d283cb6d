"""Issue 12, item 1 through the command line against the embedded sandbox (real HTTP): a past month never
changes what a newer pushed month set (billing-rules section 9, "Rule 6.6 for standing lines"); a correction
line is written only when confirmed, into an invoiced month only with a reason the journal keeps; a plan
older than the month's newest read of ConnectWise, or than a newer month's push, is refused."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from billbridge.cli import main

NOVEMBER, OCTOBER = "2026-11", "2026-10"  # the suite runs on 2026-11-20: the sandbox invoiced all of October
WRITES = ("update", "create", "cancel")


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def plan(month):
    res = run("reconcile", month, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output[res.output.index("{"):])


def row(p, key):
    return next(r for r in p["rows"] if r["key"] == key)


@pytest.fixture
def november_pushed(app_env):
    assert run("load", NOVEMBER, "--demo").exit_code == 0
    assert run("map", "suggest", NOVEMBER, "--accept-above", "95").exit_code == 0
    assert [r for r in plan(NOVEMBER)["rows"] if r["action"] in WRITES]
    pushed = run("push", NOVEMBER, "--all-ready")
    assert pushed.exit_code == 0, pushed.output
    assert run("load", OCTOBER, "--demo").exit_code == 0
    return app_env


def test_pushing_october_after_november_leaves_november_in_sync(november_pushed):
    october = plan(OCTOBER)
    past = [r for r in october["rows"] if r["cause"] == "past_month"]
    assert past, "October's quantities differ from November's on some standing lines"
    assert all(r["request"] is None and "billbridge override 2026-10" in r["reason"] for r in past)
    # nothing October would write touches a standing line (only lines of October itself)
    assert all("|2026-10" in r["key"] for r in october["rows"] if r["action"] in WRITES)

    res = run("push", OCTOBER, "--all-ready", "--json")
    assert res.exit_code == 0, res.output
    assert json.loads(res.output)["writes"] == 0

    again = plan(NOVEMBER)
    assert not [r for r in again["rows"] if r["action"] in WRITES]  # November is still in sync: no updates


def test_a_confirmed_correction_needs_a_reason_in_an_invoiced_month_and_the_journal_keeps_it(november_pushed):
    key = next(r["key"] for r in plan(OCTOBER)["rows"] if r["cause"] == "past_month")
    res = run("override", OCTOBER, key)
    assert res.exit_code == 0, res.output
    blocked = row(plan(OCTOBER), key)  # confirmed, but ConnectWise invoiced October on 2026-10-01
    assert (blocked["cause"], blocked["request"]) == ("already_invoiced", None)
    assert "2026-10-01" in blocked["reason"] and "--reason" in blocked["reason"]
    refused = run("override", OCTOBER, key)  # now that it is an invoiced month's row: not without a reason
    assert refused.exit_code == 2 and "needs a reason" in refused.output and "--reason" in refused.output

    why = "customer asked for the October credit"
    assert run("override", OCTOBER, key, "--reason", why).exit_code == 0
    corrected = row(plan(OCTOBER), key)
    assert corrected["action"] == "create" and {"correction_line", "overrides_invoiced"} <= set(corrected["flags"])
    body = corrected["request"]["body"]
    assert (body["effectiveDate"], body["cancelledDate"]) == ("2026-10-01T00:00:00Z", "2026-10-31T00:00:00Z")
    assert body["customFields"][0]["value"] == f"{key}|2026-10|correction"
    assert corrected["override_reason"] == why

    pushed = run("push", OCTOBER, "--rows", key, "--json")
    assert pushed.exit_code == 0 and json.loads(pushed.output)["writes"] == 1, pushed.output
    from billbridge.cli import open_store
    from billbridge import store as st

    journal = st.journal_entries(open_store(), month=OCTOBER)
    assert [e["override_reason"] for e in journal if e["key"] == key] == [why]
    # the correction is on ConnectWise now: October reads it as in sync, November is untouched
    assert row(plan(OCTOBER), key)["action"] == "in_sync"
    assert not [r for r in plan(NOVEMBER)["rows"] if r["action"] in WRITES]
    # taking the override back blocks the row again (the correction line stays, billbridge never ends it)
    assert run("override", OCTOBER, key, "--remove").exit_code == 0
    assert row(plan(OCTOBER), key)["cause"] == "past_month"


def test_an_october_plan_built_before_november_was_pushed_is_refused_with_the_fix(app_env):
    for month in (NOVEMBER, OCTOBER):
        assert run("load", month, "--demo").exit_code == 0
    assert run("map", "suggest", NOVEMBER, "--accept-above", "95").exit_code == 0
    plan(OCTOBER)
    plan(NOVEMBER)
    assert run("push", NOVEMBER, "--all-ready").exit_code == 0
    res = CliRunner().invoke(main, ["push", OCTOBER, "--all-ready"])
    assert res.exit_code == 2
    assert "billbridge pushed November 2026 after plan" in res.output and "billbridge reconcile 2026-10" in res.output
    plan(OCTOBER)  # rebuilt: the new plan leaves November's lines alone
    assert run("push", OCTOBER, "--all-ready").exit_code == 0


def test_a_plan_older_than_the_months_newest_read_of_connectwise_is_refused(app_env):
    from billbridge import month as mo
    from billbridge.cli import open_connection, open_store

    assert run("load", NOVEMBER, "--demo").exit_code == 0
    assert run("map", "suggest", NOVEMBER, "--accept-above", "95").exit_code == 0
    plan(NOVEMBER)
    mo.refresh_snapshot(open_store(), open_connection().client, NOVEMBER)  # read again, no new plan
    res = CliRunner().invoke(main, ["push", NOVEMBER, "--all-ready"])
    assert res.exit_code == 2
    assert "older read of ConnectWise" in res.output and "billbridge reconcile 2026-11" in res.output
    plan(NOVEMBER)
    assert run("push", NOVEMBER, "--all-ready").exit_code == 0


def test_override_by_cause_confirms_every_offered_correction_and_an_unknown_cause_or_key_exits_2(november_pushed):
    past = {r["key"] for r in plan(OCTOBER)["rows"] if r["cause"] == "past_month"}
    assert CliRunner().invoke(main, ["override", OCTOBER, "--cause", "unmapped_customer"]).exit_code == 2
    assert CliRunner().invoke(main, ["override", OCTOBER, "no-such-key"]).exit_code == 2
    res = run("override", OCTOBER, "--cause", "past_month")
    assert res.exit_code == 0 and f"Overrode {len(past)} row(s)" in res.output
    after = {r["key"]: r for r in plan(OCTOBER)["rows"]}
    # October is invoiced: every confirmed correction now waits for a reason (or had no dollars to correct)
    assert {after[k]["cause"] for k in past} <= {"already_invoiced", "past_month"}
    assert "already_invoiced" in {after[k]["cause"] for k in past}
