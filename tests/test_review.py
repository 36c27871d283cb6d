"""review.py tables: alerts fire at their thresholds, changes are classified, totals are exact."""

from __future__ import annotations

from decimal import Decimal as D

import pandas as pd
import pytest

from billbridge import review


def line(customer, sku, qty, cost, price, **kw):
    """A review line (what review_lines produces) with quantity x unit cost / price."""
    q, c, p = D(qty), D(cost), D(price)
    r = {"key": f"{customer}|{sku}", "customer_id": customer, "customer": customer, "sku": sku, "product": sku,
         "charge_type": "recurring", "term": "monthly", "action": "in_sync", "cause": None, "bucket": "reconciled",
         "flags": (), "agreement_id": 1, "quantity": q, "unit_cost": c, "unit_price": p, "cost": q * c,
         "price": q * p, "margin": q * (p - c), "price_impact": D(0), "vendor_price": q * p}
    r.update(kw)
    return r


def frame(*rows):
    return pd.DataFrame(list(rows), columns=list(review.LINE_COLUMNS))


@pytest.mark.parametrize("cost, price, fires", [
    ("8.00", "10.00", False),   # margin exactly 20 %: not below
    ("8.01", "10.00", True),    # 19.9 %
    ("12.00", "10.00", True),   # negative margin
])
def test_low_margin_fires_below_threshold_only(cost, price, fires):
    a = review.alerts(frame(line("A", "X", 1, cost, price)), margin_threshold=D("0.20"))
    assert ("low_margin" in set(a["kind"])) is fires


@pytest.mark.parametrize("qty_now, fires", [(4, False), (5, True), (3, True), (2, True)])
def test_customer_change_fires_at_threshold(qty_now, fires):
    prev = frame(line("A", "X", 4, "1", "10"))
    now = frame(line("A", "X", qty_now, "1", "10"))
    a = review.alerts(now, prev, customer_change_threshold=D("0.25"))  # 4 -> 5 is exactly +25 %
    assert ("customer_change" in set(a["kind"])) is fires


def test_flag_and_status_alerts_carry_their_dollars():
    rows = frame(
        line("A", "ANN", 16, "22", "26.40", flags=("annual_term_decrease",), price_impact=D("-52.80")),
        line("B", "X", 2, "5", "8", flags=("late_month_bdom",)),
        line("C", "Y", 3, "6", "0", action="blocked", cause="unmapped_product", bucket="blocked"),
        line("D", "Z", 1, "1", "2", action="update", agreement_id=9, price_impact=D("2.00")),
    )
    push = pd.DataFrame([{"key": "D|Z", "result": "failed", "reason": "400", "agreement_id": 9},
                         {"key": "D|Z", "result": "ok", "reason": None, "agreement_id": 9}])  # newest first
    a = review.alerts(rows, push_results=push, invoiced_agreement_ids={9}).set_index("kind")
    assert a.loc["annual_term_decrease", "dollars"] == D("-52.80")
    assert a.loc["late_month_bdom", "customer"] == "B" and a.loc["late_month_bdom", "dollars"] == D(10)
    assert a.loc["blocked", "dollars"] == D(18)
    assert a.loc["already_invoiced", "agreement_id"] == 9 and a.loc["already_invoiced", "dollars"] == D(2)
    assert a.loc["push_failed", "key"] == "D|Z"


def test_changes_are_classified_and_sorted_by_dollar_impact():
    prev = frame(line("A", "X", 10, "1", "2"), line("A", "OLD", 1, "1", "2"), line("B", "X", 5, "1", "2"),
                 line("GONE", "X", 1, "1", "2"), line("E", "X", 4, "1", "2"))
    now = frame(line("A", "X", 12, "1", "2"), line("A", "NEW", 1, "1", "2"), line("B", "X", 5, "1.5", "3"),
                line("NEWCO", "X", 50, "1", "2"), line("E", "X", 3, "1", "2"))
    ch = review.changes(prev, now)
    kinds = {(r.customer_id, r.sku): set(ch[(ch.customer_id == r.customer_id) & (ch.sku == r.sku)]["kind"])
             for r in ch.itertuples()}
    assert kinds[("A", "X")] == {"quantity_increase"}
    assert kinds[("A", "NEW")] == {"new_product"} and kinds[("A", "OLD")] == {"retired_product"}
    assert kinds[("B", "X")] == {"price_change", "cost_change"}
    assert kinds[("NEWCO", "X")] == {"new_customer"} and kinds[("GONE", "X")] == {"lost_customer"}
    assert kinds[("E", "X")] == {"quantity_decrease"}
    assert ch.iloc[0]["customer_id"] == "NEWCO" and ch.iloc[0]["impact"] == D(100)  # top mover first


def test_review_lines_price_follows_action_and_rounds_once_per_line():
    rows = pd.DataFrame([
        {"key": "u", "action": "update", "vendor_customer_id": "A", "sku": "X", "vendor_amount": D("5.00"),
         "new_quantity": D(3), "new_unit_price": D("1.005"), "cw_quantity": D(2), "cw_unit_price": D("1.005")},
        {"key": "c", "action": "cancel", "vendor_customer_id": "A", "sku": "Y", "vendor_amount": D(0),
         "cw_quantity": D(9), "cw_unit_price": D(5)},
        {"key": "b", "action": "blocked", "vendor_customer_id": "B", "sku": "Z", "vendor_amount": D("7.50"),
         "cw_quantity": None, "cw_unit_price": None},
    ])
    lines = review.review_lines(rows).set_index("key")
    assert lines.loc["u", "price"] == D("3.02")  # 3.015 rounded once
    assert lines.loc["c", "price"] == D(0) and lines.loc["b", "price"] == D(0)
    t = review.totals(lines.reset_index())
    # margin covers what ConnectWise bills; the blocked line's cost is "not re-billed", on its own
    assert (t.vendor_cost, t.billed_price, t.margin, t.unbilled_cost) == (D("12.50"), D("3.02"), D("-1.98"), D("7.50"))


def test_figures_build_for_the_review():
    now = frame(line("A", "X", 1, "1", "2"), line("B", "Y", 1, "3", "2", action="update"))
    rv = review.month_review(now, month="2026-11", previous_rows=frame(line("A", "X", 1, "1", "2")),
                             previous_month="2026-10")
    assert len(review.margin_by_customer_figure(rv.lines).data[0].y) == 2
    assert list(review.trend_figure(rv.trend).data[0].x) == ["2026-10", "2026-11"]
    assert {t.name for t in review.actions_figure(rv.lines).data} == {"In sync", "Not pushed"}


def test_billed_and_margin_are_compared_only_with_a_month_that_had_a_plan():
    now = frame(line("A", "X", 2, "5.00", "8.00"))
    vendor_only = pd.DataFrame([{"vendor_customer_id": "A", "vendor_customer_name": "A", "sku": "X", "quantity": D(2),
                                 "unit_cost": D("4.00"), "unit_price": D("9.00"), "charge_type": "recurring"}])
    rv = review.month_review(now, month="2026-11", previous_lines=vendor_only, previous_month="2026-10")
    assert rv.previous_basis == "vendor"
    assert rv.delta("vendor_cost") == D("2.00")
    assert rv.delta("billed_price") is None and rv.delta("margin") is None
    rv2 = review.month_review(now, month="2026-11", previous_rows=frame(line("A", "X", 2, "4.00", "9.00")),
                              previous_month="2026-10")
    assert rv2.delta("billed_price") == D("-2.00") and rv2.delta("margin") == D("-4.00")


def test_a_month_with_every_line_blocked_shows_zero_margin_in_headline_chart_and_alerts():
    # was: headline $0.00 while the chart showed -$15 for each customer
    rows = frame(*(line(c, "X", 1, "15", "0", action="blocked", cause="unmapped_customer", bucket="blocked")
                   for c in ("A", "B", "C")))
    rv = review.month_review(rows, month="2026-11")
    assert rv.totals.margin == D(0) and rv.totals.unbilled_cost == D(45)
    per = review.by_customer(rv.lines)
    assert set(per["margin"]) == {D(0)} and set(per["not_rebilled"]) == {D(15)}
    fig = review.margin_by_customer_figure(rv.lines)
    assert [t.name for t in fig.data][0] == "Margin" and set(fig.data[0].x) == {0.0}
    assert sorted(fig.data[1].x) == [15.0, 15.0, 15.0] and "low_margin" not in set(rv.alerts["kind"])


def test_headline_chart_and_per_customer_margins_are_one_definition_with_blocked_lines_mixed_in():
    # was: every bar negative while the headline said $2,460.58 (chart counted unbilled cost as margin)
    rows = frame(
        line("A", "X", 10, "5", "8"),                                                    # billed: +30
        line("A", "Y", 2, "20", "0", action="blocked", cause="unmapped_product", bucket="blocked"),  # 40 not re-billed
        line("B", "X", 4, "5", "8", action="update"),                                    # billed: +12
        line("C", "Z", 1, "9", "0", action="blocked", cause="unmapped_customer", bucket="blocked"),  # 9 not re-billed
        line("D", "W", 1, "10", "12", action="blocked", cause="manually_edited", bucket="blocked"),  # CW still bills: +2
    )
    rv = review.month_review(rows, month="2026-11")
    per = review.by_customer(rv.lines).set_index("customer")
    assert rv.totals.margin == D(44) == sum(per["margin"])
    assert rv.totals.unbilled_cost == D(49) == sum(per["not_rebilled"])
    assert per.loc["A", "margin"] == D(30) and per.loc["A", "not_rebilled"] == D(40)
    fig = review.margin_by_customer_figure(rv.lines)
    assert round(sum(fig.data[0].x), 2) == 44.0 and min(fig.data[0].x) >= 0
    assert dict(zip(fig.data[0].y, fig.data[0].text))["A"] == "$30.00"
