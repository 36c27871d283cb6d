"""The billing meeting's questions (issue 12, items 2 and 5): the waterfall from last month's billed total to this
month's by cause and by vendor, per currency, to the cent; the sections with their dollar figures and links."""

from __future__ import annotations

from datetime import date
from decimal import Decimal as D

import pandas as pd

from billbridge import export, meeting as mt, review

MONTH, PREV = "2026-11", "2026-10"


def dd(v):
    return None if v is None else D(v)


def row(key, action="update", vendor="demo", currency="USD", qty="10", price="25.00", cw_qty="10", cw_price="25.00",
        cost="180.00", impact="0.00", parts=None, flags=(), cause=None, **extra):
    r = {"key": key, "action": action, "cause": cause, "vendor": vendor, "currency": currency,
         "vendor_customer_id": f"C-{key}", "vendor_customer_name": f"Customer {key}", "sku": "S", "product_name": "Seat",
         "charge_type": "recurring", "vendor_amount": D(cost), "vendor_quantity": D(qty), "vendor_unit_cost": D("18"),
         "vendor_unit_price": D(price), "new_quantity": D(qty), "new_unit_price": D(price), "cw_quantity": dd(cw_qty),
         "cw_unit_price": dd(cw_price), "price_impact": D(impact), "margin_impact": D(0), "flags": tuple(flags),
         "bucket": "reconciled" if cause is None else "blocked",
         "impact_by_cause": parts if action in ("create", "update", "cancel") else None}
    r.update(extra)
    return r


def parts(quantity="0.00", price="0.00", proration="0.00", credit="0.00"):
    return {"quantity": D(quantity), "price": D(price), "proration": D(proration), "credit": D(credit)}


def this_month():
    return pd.DataFrame([
        # 12 -> 14 seats at 25.00 (+50.00), price 25.00 -> 27.50 on 10 seats (+25.00), a new line (+75.00)
        row("a", qty="14", cw_qty="12", impact="50.00", parts=parts(quantity="50.00")),
        row("b", price="27.50", impact="25.00", parts=parts(price="25.00")),
        row("c", action="create", qty="3", cw_qty=None, cw_price=None, impact="75.00", parts=parts(quantity="75.00")),
        row("d", action="in_sync"),
        row("e", vendor="pax8", action="in_sync", qty="2", cw_qty="2", price="10.00", cw_price="10.00"),
        row("f", vendor="pax8", currency="EUR", action="update", qty="3", cw_qty="2", price="10.00", cw_price="10.00",
            impact="10.00", parts=parts(quantity="10.00")),
    ])


def last_month():
    return pd.DataFrame([
        row("a", qty="12", cw_qty="12", action="in_sync"), row("b", action="in_sync"), row("d", action="in_sync"),
        row("e", vendor="pax8", action="in_sync", qty="1", cw_qty="1", price="10.00", cw_price="10.00"),
        row("f", vendor="pax8", currency="EUR", action="in_sync", qty="2", cw_qty="2", price="10.00",
            cw_price="10.00"),
    ])


def the_review(rows=None, previous=None, **kw):
    return review.month_review(this_month() if rows is None else rows, month=MONTH, previous_month=PREV,
                               previous_rows=last_month() if previous is None else previous, today=date(2026, 11, 20),
                               **kw)


def steps(m, cur, kind="cause"):
    s = m.steps(cur, kind)
    return dict(zip(s["step"], s["amount"]))


def test_the_waterfall_runs_from_last_months_billed_total_to_this_months_by_cause_to_the_cent():
    rv = the_review()
    m = rv.meeting
    usd = steps(m, "USD")
    assert usd["start"] == rv.previous_totals_for("USD").billed_price == D("810.00")  # 300 + 250 + 250 + 10
    assert usd["end"] == rv.totals_for("USD").billed_price
    assert (usd["quantity"], usd["price"], usd["proration"], usd["credit"]) == (D("125.00"), D("25.00"), 0, 0)
    # last month's plan set 1 seat of "e", ConnectWise holds 2 when this plan is built (in sync): outside this plan
    assert usd["since_last_plan"] == D("10.00")
    relative = sum(v for k, v in usd.items() if k not in ("start", "end"))
    assert usd["start"] + relative == usd["end"]


def test_one_waterfall_per_currency_never_adding_two():
    m = the_review().meeting
    assert m.currencies == ["EUR", "USD"]
    eur = steps(m, "EUR")
    assert (eur["start"], eur["quantity"], eur["end"]) == (D("20.00"), D("10.00"), D("30.00"))


def test_by_vendor_each_vendor_steps_by_its_own_billed_change_between_the_same_start_and_end():
    m = the_review().meeting
    usd = steps(m, "USD", "vendor")
    assert usd["vendor:demo"] == D("150.00") and usd["vendor:pax8"] == D("10.00")  # pax8: 1 -> 2 seats at 10.00
    assert usd["start"] + usd["vendor:demo"] + usd["vendor:pax8"] == usd["end"]
    assert steps(m, "USD")["start"] == usd["start"] and steps(m, "USD")["end"] == usd["end"]


def test_what_connectwise_held_apart_from_last_months_plan_is_its_own_step():
    # last month's plan set 11 seats of "a" but ConnectWise holds 12 now (an edit, or a plan not pushed)
    prev = last_month()
    prev.loc[prev["key"] == "a", ["vendor_quantity", "new_quantity", "cw_quantity"]] = D(11)
    usd = steps(the_review(previous=prev).meeting, "USD")
    assert usd["since_last_plan"] == D("35.00")  # 1 seat of "a" at 25.00 and 1 of "e" at 10.00
    assert usd["start"] + sum(v for k, v in usd.items() if k not in ("start", "end")) == usd["end"]


def test_without_last_months_plan_the_waterfall_starts_at_what_connectwise_held():
    rv = review.month_review(this_month(), month=MONTH, today=date(2026, 11, 20))
    m = rv.meeting
    usd = steps(m, "USD")
    assert m.start_basis == "connectwise" and usd["since_last_plan"] == 0
    assert usd["start"] == rv.totals_for("USD").billed_price - D("150.00")


def test_the_waterfall_figure_is_a_plotly_waterfall_in_the_currency():
    fig = review.bridge_figure(the_review().meeting, "USD")
    w = fig.data[0]
    assert w.type == "waterfall" and w.measure[0] == "absolute" and w.measure[-1] == "total"
    assert w.text[0] == "$810.00" and "2026-10 billed" in w.x[0] and "Proration" not in w.x  # zero steps left out


def test_sections_answer_the_meetings_questions_with_their_dollars_and_links():
    rows = pd.concat([this_month(), pd.DataFrame([
        row("m", flags=("low_margin",), margin_pct_before=D("22.0"), margin_pct_after=D("12.5"), action="in_sync"),
        row("n", flags=("cost_only_change",), cw_unit_cost=D("18.00"), new_unit_cost=D("19.00"),
            margin_impact=D("-10.00"), impact="0.00", parts=parts()),
        row("o", flags=("annual_term_decrease",), commitment_at_risk=D("300.00"), term_end="2027-03-31",
            qty="8", cw_qty="10", impact="-50.00", parts=parts(quantity="-50.00")),
        row("p", flags=("in_cancellation_window",), window_end="2026-11-23", action="in_sync", term_end="2027-11-15"),
        row("q", action="in_sync", term_end="2026-12-31", term_start="2025-12-31"),
        row("r", action="blocked", cause="no_agreement", cost="36.00", cw_qty=None, cw_price=None),
        row("s", action="blocked", cause="out_of_period", cost="5.00", cw_qty=None, cw_price=None),
    ])], ignore_index=True)
    m = the_review(rows).meeting
    assert [s.name for s in m.sections] == list(mt.SECTIONS)
    changed = m.section("changed")
    assert changed.figures == {"EUR": D("10.00"), "USD": D("100.00")} and changed.links[0][1] == \
        {"action": ["create", "update", "cancel"]}
    margins = m.section("margins")
    assert list(margins.rows["key"]) == ["m"] and "22.0% → 12.5%" in margins.rows["detail"][0]
    assert margins.links == [("rows flagged low margin", {"flag": ["low_margin"]})]
    cost = m.section("cost_only")
    assert cost.figures == {"USD": D("-10.00")} and "$18.00 → $19.00" in cost.rows["detail"][0]
    commitments = m.section("commitments")
    assert set(commitments.rows["key"]) == {"o", "p", "q"} and commitments.figures == {"USD": D("300.00")}
    assert [f for _, f in commitments.links] == [{"flag": ["annual_term_decrease"]}, {"flag": ["in_cancellation_window"]},
                                                 {"page": "timeline"}]
    blocked = m.section("blocked")
    assert list(blocked.rows["key"]) == ["r"] and blocked.figures == {"USD": D("36.00")}  # out of period is excluded
    assert blocked.links == [("the blocked rows", {"cause": ["no_agreement"]})]
    assert set(m.section_rows()["section"]) == set(mt.SECTIONS)


def test_a_section_without_rows_has_no_link_and_no_figure():
    m = the_review().meeting
    assert m.section("blocked").figures == {} and m.section("blocked").links == []


def test_a_review_narrowed_to_a_vendor_bridges_that_vendor_only():
    rv = the_review(vendor="pax8")
    usd = steps(rv.meeting, "USD")
    assert (usd["start"], usd["end"]) == (D("10.00"), D("20.00")) and set(steps(rv.meeting, "USD", "vendor")) == \
        {"start", "vendor:pax8", "end"}


def test_the_demo_months_waterfall_starts_at_octobers_billed_total_and_ends_at_novembers(app_env):
    from test_review_store import open_demo

    store, _conn, _plans = open_demo(app_env)
    rv = export.load_review(store, MONTH)
    for cur in rv.meeting.currencies:
        s = steps(rv.meeting, cur)
        assert s["start"] == rv.previous_totals_for(cur).billed_price
        assert s["end"] == rv.totals_for(cur).billed_price
        assert s["start"] + sum(v for k, v in s.items() if k not in ("start", "end")) == s["end"]
        assert s["quantity"] != 0
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(export.workbook_bytes(rv)))
    bridge = [r for r in wb["bridge"].iter_rows(min_row=2, values_only=True) if r[0] == "USD" and r[1] == "By cause"]
    assert D(str(bridge[0][3])).quantize(D("0.01")) == rv.previous_totals_for("USD").billed_price
    assert D(str(bridge[-1][3])).quantize(D("0.01")) == rv.totals_for("USD").billed_price


def test_the_workbook_holds_the_waterfalls_and_every_section_with_its_dollars():
    import io

    from openpyxl import load_workbook

    wb = load_workbook(io.BytesIO(export.workbook_bytes(the_review())))
    assert {"bridge", "meeting", "meeting rows"} <= set(wb.sheetnames)
    bridge = list(wb["bridge"].iter_rows(min_row=2, values_only=True))
    usd = [r for r in bridge if r[0] == "USD" and r[1] == "By cause"]
    assert usd[0][2] == "2026-10 billed" and D(str(usd[0][3])) == D("810.00")
    assert usd[-1][2] == "2026-11 billed" and D(str(usd[-1][3])) == D("970.00")
    for cur, symbol in (("USD", '"$"'), ("EUR", '"€"')):  # each row's money in its own currency
        first = next(i for i, r in enumerate(bridge) if r[0] == cur)
        assert wb["bridge"].cell(2 + first, 4).number_format.startswith(symbol)
    sections = list(wb["meeting"].iter_rows(min_row=2, values_only=True))
    assert [r[0] for r in sections][:2] == ["What changed and why"] * 2  # one row per currency
    changed_usd = next(r for r in sections if r[0] == "What changed and why" and r[3] == "USD")
    assert D(str(changed_usd[2])) == D("150.00") and changed_usd[4] == 3 and "Reconcile" in changed_usd[5]
    rows = list(wb["meeting rows"].iter_rows(min_row=2, values_only=True))
    assert {r[7] for r in rows if r[0] == "What changed and why"} == {"a", "b", "c", "f"}


def test_what_blocked_rows_cost_not_to_bill_is_the_headlines_not_re_billed_figure():
    # a past month's row ConnectWise still bills at the standing line's 12 seats (vendor 14): only 2 go unbilled;
    # a row with no agreement: ConnectWise bills none of its 36.00
    rows = pd.DataFrame([
        row("t", action="blocked", cause="past_month", qty="14", cw_qty="12", cost="252.00"),
        row("r", action="blocked", cause="no_agreement", cost="36.00", cw_qty=None, cw_price=None),
    ])
    rv = the_review(rows)
    assert rv.meeting.section("blocked").figures == {"USD": rv.totals_for("USD").unbilled_cost}
    assert rv.totals_for("USD").unbilled_cost < D("252.00") + D("36.00")  # the billed seats are not counted
