"""Mappings page (AppTest): the unmapped queue, accepting suggestions, saving edits, rules, creation requests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apptest_util import open_page
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import sources
from billbridge import store as st
from billbridge.config import load_config
from billbridge.store import Store

MONTH = "2026-11"


@pytest.fixture
def demo(app_env):
    with Store.open(load_config(None).db_path) as store:
        sources.load_demo(store, MONTH)
    return app_env


def store():
    return Store.open(load_config(None).db_path)


def page():
    at = open_page("mappings.py", state={"billing_month": MONTH}, timeout=60)
    assert not at.exception, at.exception
    return at


def queue_pos(item_key):
    """Position of an item in the queue as the page draws it (biggest vendor dollars first)."""
    from billbridge_ui.mapping_views import queue

    with store() as s:
        q = queue(mp.suggestions(s, MONTH, mo.snapshot_for(s, MONTH)))
    return list(q.index).index(item_key)


def edit(at, key, edited=None, added=None, deleted=None):
    at.session_state[key] = {"edited_rows": edited or {}, "added_rows": added or [], "deleted_rows": deleted or []}


def test_queue_lists_every_unmapped_customer_and_sku_with_dollars_at_stake(demo):
    at = page()
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers without a company"] == "25" and metrics["SKUs without a catalog item"] == "10"
    assert queue_pos("product|demo|HPBX-SEAT|monthly|monthly") == 0  # the biggest vendor dollars come first
    with store() as s:
        snap = mo.snapshot_for(s, MONTH)
        assert snap is not None  # the page read ConnectWise on first open


def test_bulk_accept_records_unflagged_suggestions_at_or_above_the_score(demo):
    at = page()
    at.button(key="accept_bulk").click().run()
    assert not at.exception
    assert any("22 company, 18 agreement, 8 product" in s.value for s in at.success)
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Customers without a company"] == "3"
    with store() as s:
        assert set(st.mapping_history(s)["source"]) == {"suggestion"}


def test_accepting_a_ticked_suggestion_records_exactly_that_mapping(demo):
    at = page()
    edit(at, "queue_editor", {queue_pos("company|demo|DC-10014"): {"pick": True}})
    at.button(key="accept_picked").click().run()
    assert not at.exception
    with store() as s:
        cm = st.get_mappings(s, "company", "demo")
        assert list(cm["vendor_customer_id"]) == ["DC-10014"] and cm.iloc[0]["company_id"] is not None


def test_saving_a_company_picked_in_the_editor_persists_it_with_who(demo, monkeypatch):
    monkeypatch.setenv("BILLBRIDGE_OPERATOR", "ann")
    at = page()
    with store() as s:
        labels = mp.company_choices(mo.snapshot_for(s, MONTH)).set_index("name")["label"]
        grid = mp.vendor_customers(s, MONTH)
    pos = list(grid["vendor_customer_id"]).index("DC-10017")
    edit(at, "companies_editor", {pos: {"company": labels["Quartz Analytic Partners"]}})
    at.button(key="save_company").click().run()
    assert not at.exception
    assert any("Saved 1 company" in s.value for s in at.success)
    with store() as s:
        cm = st.get_mappings(s, "company", "demo").set_index("vendor_customer_id")
        assert cm.loc["DC-10017", "updated_by"] == "ann"
        assert labels["Quartz Analytic Partners"].endswith(f"({cm.loc['DC-10017', 'company_id']})")


def test_a_rule_added_in_the_rules_editor_is_saved_and_a_bad_one_saves_nothing(demo):
    at = page()
    edit(at, "rules_editor", added=[{"customer": "Willow Creek Vineyards (DC-10023)", "rule": "do_not_sync"},
                                    {"customer": "Xenon Labs (DC-10024)", "rule": "cap", "value": 10}])
    at.button(key="save_rule").click().run()
    with store() as s:
        rules = st.get_mappings(s, "rule", "demo")
        assert sorted(rules["rule"]) == ["cap", "do_not_sync"]
    at = page()
    edit(at, "rules_editor", added=[{"customer": "Xenon Labs (DC-10024)", "rule": "fixed_quantity"}])  # no quantity
    at.button(key="save_rule").click().run()
    assert any("Nothing was saved" in e.value for e in at.error)
    with store() as s:
        assert len(st.get_mappings(s, "rule", "demo")) == 2


def test_create_ticked_queues_a_company_creation_for_review_without_writing_to_connectwise(demo):
    at = page()
    edit(at, "queue_editor", {queue_pos("company|demo|DC-10005"): {"pick": True}})
    at.button(key="create_picked").click().run()
    assert not at.exception
    with store() as s:
        (req,) = st.creation_requests(s)
        assert req["target"] == "company" and req["row"]["vendor_customer_id"] == "DC-10005"
        companies = mo.snapshot_for(s, MONTH)["companies"]
        assert not any(c["name"] == "Evergreen Family Practice" for c in companies)


def test_queue_shows_each_candidates_warning_beside_its_score_and_the_dollars_in_view(demo):
    from billbridge_ui.mapping_views import QUEUE_COLUMNS, queue

    at = page()  # reads ConnectWise on first open
    with store() as s:
        snap = mo.snapshot_for(s, MONTH)
        mp.accept(s, MONTH, snap)
        q = queue(mp.suggestions(s, MONTH, snap))
    cols = list(QUEUE_COLUMNS)
    # the decision columns come first: the dollars, the item, the candidate, its score and its warning beside it
    assert cols[:6] == ["pick", "at_stake", "item", "candidate", "score", "flags"]
    flagged = q[q["score"] >= 90].set_index("item")
    assert flagged.loc["Harbor View Hotel (DC-10008)", "flags"] == "Cancelled"  # a score-95 bar that must not be trusted
    assert flagged.loc["Kestrel Aviation Services (DC-10011)", "flags"] == "Child agreement"
    assert flagged.loc["Redwood Senior Living (DC-10018)", "flags"] == "Prospect"
    assert not any("_" in f for f in q["flags"])
    at.run()
    assert not at.exception


def test_dollars_at_stake_count_a_credit_as_a_reduction(app_env):
    from billbridge_ui.mapping_views import queue

    head = "vendor_customer_id,vendor_customer_name,sku,charge_type,quantity,unit_cost,period_start,period_end"
    rows = ["C1,Credit Co,SKU1,recurring,3,18.00,2026-11-04,2026-12-03",
            "C1,Credit Co,SKU1,credit,1,13.50,2026-10-04,2026-11-03"]  # the vendor wrote the credit as positive
    with store() as s:
        assert sources.load_month(s, MONTH, ("\n".join([head, *rows]) + "\n").encode(), "c.csv", vendor="acme").ok
        vc = mp.vendor_customers(s, MONTH)
        q = queue(mp.suggestions(s, MONTH, {"companies": [], "agreements": [], "catalog": []}))
    assert vc.set_index("vendor_customer_id").loc["C1", "dollars"] == Decimal("40.50")  # 54.00 - 13.50, not + 13.50
    assert q.loc["company|acme|C1", "at_stake"] == "$40.50"


def _mapped_products():
    with store() as s:
        mp.accept(s, MONTH, mo.snapshot_for(s, MONTH) or {}, min_score=95)


def test_a_products_price_rule_and_threshold_are_saved_and_a_markup_without_a_percent_saves_nothing(demo):
    page()  # reads ConnectWise first
    _mapped_products()
    at = page()
    from billbridge_ui.mapping_views import product_grid

    with store() as s:
        grid = product_grid(s, MONTH, mp.catalog_choices(mo.snapshot_for(s, MONTH)))
    pos = list(grid["sku"]).index("M365-BP-ANN")
    assert grid.iloc[pos]["price_rule"] == "vendor_price" and grid.iloc[pos]["price_value"] == ""
    edit(at, "products_editor", {pos: {"price_rule": "markup", "price_value": "25", "margin_threshold": "15"}})
    at.button(key="save_product").click().run()
    assert not at.exception and any("Saved 1 product" in s.value for s in at.success)
    with store() as s:
        pm = st.get_mappings(s, "product", "demo").set_index("sku")
        assert (pm.loc["M365-BP-ANN", "price_rule"], pm.loc["M365-BP-ANN", "price_value"],
                pm.loc["M365-BP-ANN", "margin_threshold"]) == ("markup", Decimal("25"), Decimal("15"))
    at = page()
    edit(at, "products_editor", {pos: {"price_rule": "markup", "price_value": ""}})
    at.button(key="save_product").click().run()
    assert any("Nothing was saved" in e.value and "markup" in e.value for e in at.error)


def test_the_global_margin_threshold_is_set_on_the_products_tab(demo):
    at = page()
    assert at.number_input(key="margin_threshold").value == 20.0
    at.number_input(key="margin_threshold").set_value(25.0)
    at.button(key="save_threshold").click().run()
    assert not at.exception and any("Margin threshold 25%" in s.value for s in at.success)
    with store() as s:
        assert mp.margin_threshold(s) == Decimal("25")
        assert "setting" in set(st.mapping_history(s)["kind"])


def test_a_threshold_change_reads_in_words_in_the_history():
    import pandas as pd

    from billbridge_ui.mapping_views import history_frame

    hist = pd.DataFrame([{"changed_at": "2026-11-20T10:00:00Z", "changed_by": "ann", "kind": "setting", "vendor": "",
                          "key": ["margin_threshold"], "change": "set", "old": None, "new": {"margin_threshold": "25"},
                          "source": "page"}])
    row = history_frame(hist).iloc[0].to_dict()
    assert "Margin threshold %" in row.values() and "Setting" in row.values()
    assert "Margin threshold %: 25" in row.values()
