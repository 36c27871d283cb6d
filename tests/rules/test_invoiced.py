"""Invoiced periods and past months (Rule 6.6, section 9 "Rule 6.6 for standing lines")."""

from __future__ import annotations

from rules_support import addition, lines, only, run, snapshot, vline


def test_a_plan_with_nothing_pushed_after_it_is_not_guarded():
    r = only(run(lines(vline(qty="14")), snapshot([addition(1, qty=12)])), key="demo|DC-1|S-1")
    assert r.action == "update" and r.cause is None
    assert not {"correction_line", "overrides_invoiced"} & set(r.flags) and r.override_reason is None
