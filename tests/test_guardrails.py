"""The margin guard read back for Month review (billbridge.guardrails.margin_watch): the rows the rules flagged
cost_only_change and low_margin of the month's newest plan, per currency, with the global threshold."""

from __future__ import annotations

from decimal import Decimal as D

from billbridge import guardrails
from billbridge import mappings as mp
from billbridge import store as st
from billbridge.store import Store

from test_store_plans import rows

M = "2026-11"


def test_cost_only_changes_and_margins_below_the_threshold_of_the_newest_plan(tmp_path):
    with Store.open(tmp_path / "b.db") as store:
        empty = guardrails.margin_watch(store, M)
        assert empty.plan_id is None and not len(empty.cost_only) and empty.threshold == D("20")
        saved = rows(4)
        saved[1].update(flags=["cost_only_change", "low_margin"], cw_unit_cost="18.00", new_unit_cost="20.00",
                        new_unit_price="22.50", margin_pct_before="20.00", margin_pct_after="11.11",
                        margin_impact="-20.00", price_rule="keep")
        saved[3].update(flags=["low_margin"], margin_pct_after="16.67", currency="EUR")
        pid = st.save_plan(store, M, None, {"status": "changes"}, saved)
        mp.set_margin_threshold(store, "25")
        watch = guardrails.margin_watch(store, M)
        assert watch.plan_id == pid and watch.threshold == D("25")
        assert list(watch.cost_only["key"]) == ["demo|C1|S1"]
        c = watch.cost_only.iloc[0]
        assert (c["cw_unit_cost"], c["new_unit_cost"], c["margin_pct_before"], c["margin_pct_after"]) == (
            D("18.00"), D("20.00"), D("20.00"), D("11.11"))
        assert list(watch.cost_only.columns) == list(guardrails.COST_ONLY_COLUMNS)
        assert list(watch.below_threshold["key"]) == ["demo|C1|S1", "demo|C3|S3"]
        assert watch.cost_only_total == {"USD": D("-20.00")}
