"""Terms (Rules 4.1-4.6): a commitment's term and its dates (from the vendor, else derived), the 168-hour
cancellation window after a purchase, a renewal or each seat addition, and what a decrease outside it costs."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from billbridge.rules import terms
from billbridge.rules.terms import Line, Term, assess
from rules_support import addition, lines, only, run, snapshot, vline

MONTH_START = date(2026, 10, 1)


def d(text: str) -> date:
    return date.fromisoformat(text)


def new(on: str, qty: str = "10") -> Line:
    """Microsoft's purchase charge (ChargeType new), monthly billing: its first month."""
    start = d(on)
    return Line("new", start, terms.anniversary(start, 1) - timedelta(days=1), start, D(qty))


def cycle(start: str, qty: str = "8", kind: str = "cyclecharge") -> Line:
    s = d(start)
    return Line(kind, s, terms.anniversary(s, 1) - timedelta(days=1), s, D(qty))


def add_quantity(on: str, qty: str, period_end: str) -> Line:
    return Line("addquantity", d(on), d(period_end), d(on), D(qty))


# ---------------------------------------------------------------- the term's dates --------------

@pytest.mark.parametrize("term, start, last_day", [
    ("annual", "2026-10-03", "2027-10-02"),
    ("triennial", "2026-10-03", "2029-10-02"),
    ("annual", "2026-01-31", "2027-01-30"),
    ("annual", "2024-02-29", "2025-02-27"),  # leap day: renews on 28 Feb, the anchor clamped (Rule 1.1)
    ("annual", "2026-12-01", "2027-11-30"),
])
def test_a_term_runs_its_months_from_its_start(term, start, last_day):
    assert Term(term, d(start), "vendor").end == d(last_day)


def test_a_new_charge_dates_the_term_from_the_vendor():
    t = terms.term_of("annual", [new("2026-10-03")], new_line=True, customer_created=None, cw_effective_date=None,
                      month_start=MONTH_START)
    assert (t.start, t.end, t.source) == (d("2026-10-03"), d("2027-10-02"), "vendor")


def test_a_renew_charge_starts_the_next_term():
    t = terms.term_of("annual", [cycle("2027-10-03", kind="renew")], new_line=False, customer_created=d("2020-01-04"),
                      cw_effective_date=d("2024-01-01"), month_start=d("2027-10-01"))
    assert (t.start, t.end, t.source) == (d("2027-10-03"), d("2028-10-02"), "vendor")


def test_a_period_as_long_as_the_term_dates_it_from_the_vendor():
    # an annual term billed annually: the vendor file's term and period dates
    line = Line(None, d("2026-03-01"), d("2027-02-28"), None, D("5"))
    t = terms.term_of("annual", [line], new_line=False, customer_created=d("2020-01-04"), cw_effective_date=None,
                      month_start=d("2026-03-01"))
    assert (t.start, t.end, t.source) == (d("2026-03-01"), d("2027-02-28"), "vendor")


@pytest.mark.parametrize("created, cw_effective, period_start, start", [
    ("2020-01-04", "2024-01-01", "2026-11-04", "2026-01-04"),   # the account's anniversaries
    ("2020-12-04", None, "2026-11-04", "2025-12-04"),           # not yet renewed this year
    ("2020-11-04", None, "2026-11-04", "2026-11-04"),           # renews on the period's first day
    (None, "2025-06-15", "2026-11-01", "2026-06-15"),           # no account date: the ConnectWise line's start
    (None, None, None, "2026-10-01"),                           # nothing known: the billing month's first day
])
def test_a_monthly_billed_term_is_derived_from_what_is_known(created, cw_effective, period_start, start):
    lines = [Line("cyclecharge" if period_start else None, d(period_start) if period_start else None, None, None,
                  D("8"))]
    t = terms.term_of("annual", lines, new_line=False, customer_created=d(created) if created else None,
                      cw_effective_date=d(cw_effective) if cw_effective else None, month_start=MONTH_START)
    assert (t.start, t.source) == (d(start), "derived")


def test_a_new_line_dated_by_the_vendor_is_a_purchase_on_that_day():
    line = Line(None, d("2026-10-01"), d("2026-10-31"), d("2026-10-19"), D("3"))
    t = terms.term_of("annual", [line], new_line=True, customer_created=d("2020-01-04"), cw_effective_date=None,
                      month_start=MONTH_START)
    assert (t.start, t.source) == (d("2026-10-19"), "derived")


# ---------------------------------------------------------------- the window (Rule 4.3) ---------

#: purchase 2026-10-03 (00:00 UTC): the window closes 2026-10-10 00:00, 168 hours later
@pytest.mark.parametrize("decrease_on, inside", [
    ("2026-10-03", True),    # day one
    ("2026-10-08", True),
    ("2026-10-09", True),    # 144 hours
    ("2026-10-10", False),   # 168 hours: closed
    ("2026-10-12", False),
    ("2026-10-02", False),   # before the purchase
])
def test_the_window_is_168_hours_after_the_purchase(decrease_on, inside):
    assert terms.in_window(d("2026-10-03"), d(decrease_on)) is inside
    assert terms.window_end(d("2026-10-03")) == datetime(2026, 10, 10, tzinfo=timezone.utc)


def decrease(on: str, lines: list[Line], cw: str = "10", vendor: str = "8", **kw):
    """The purchase's row on the day the vendor bills fewer seats (a cycle line dated ``on``)."""
    return assess("annual", [*lines, Line("cyclecharge", d(on), None, d(on), D(vendor))], vendor_quantity=D(vendor),
                  cw_quantity=D(cw), vendor_unit_cost=D("22.00"), cw_unit_cost=D("22.00"), month_start=MONTH_START,
                  **kw)


#: purchase 2026-10-03 annual (10 seats at $22.00 a month), 2 seats removed on ...
@pytest.mark.parametrize("on, in_window, at_risk, months", [
    ("2026-10-08", True, None, 12),              # inside the window: the vendor takes them back
    ("2026-10-09", True, None, 12),
    ("2026-10-10", False, D("528.00"), 12),      # 2 x $22.00 x 12 months
    ("2026-10-12", False, D("528.00"), 12),
    ("2026-11-02", False, D("528.00"), 12),      # still the term's first month
    ("2026-11-03", False, D("484.00"), 11),      # 2 x $22.00 x 11
    ("2027-10-02", False, D("44.00"), 1),        # the term's last day: its last month
])
def test_a_decrease_outside_the_window_keeps_the_msp_paying_to_the_term_end(on, in_window, at_risk, months):
    a = decrease(on, [new("2026-10-03")])
    assert a.term.source == "vendor" and a.seats_removed == D(2)
    assert a.in_cancellation_window is in_window and a.annual_term_decrease is (not in_window)
    assert a.commitment_at_risk == at_risk and a.months_left == months


def test_a_seat_addition_opens_a_window_for_those_seats_only():
    # purchase 2026-10-03 (10 seats), 3 seats added 2026-11-20 (co-termed), then 5 removed 2026-11-24:
    # 3 go back in their window, 2 are kept to the term end (cycle 2026-11-03.. : 11 months)
    lines = [new("2026-10-03"), add_quantity("2026-11-20", "3", "2026-12-02")]
    a = assess("annual", [*lines, Line("cyclecharge", d("2026-11-24"), None, d("2026-11-24"), D("8"))],
               vendor_quantity=D("8"), cw_quantity=D("13"), vendor_unit_cost=D("22.00"), month_start=d("2026-11-01"))
    assert (a.seats_in_window, a.seats_at_risk, a.months_left) == (D(3), D(2), 11)
    assert a.commitment_at_risk == D("484.00")
    assert a.in_cancellation_window and a.annual_term_decrease
    assert a.window_end == datetime(2026, 11, 27, tzinfo=timezone.utc)


def test_removing_only_the_added_seats_inside_their_window_costs_nothing():
    lines = [new("2026-10-03"), add_quantity("2026-11-20", "3", "2026-12-02")]
    a = assess("annual", [*lines, Line("cyclecharge", d("2026-11-24"), None, d("2026-11-24"), D("10"))],
               vendor_quantity=D("10"), cw_quantity=D("13"), vendor_unit_cost=D("22.00"), month_start=d("2026-11-01"))
    assert a.in_cancellation_window and not a.annual_term_decrease and a.commitment_at_risk is None


def test_a_renewal_opens_a_new_window():
    a = decrease("2027-10-06", [cycle("2027-10-03", "10", kind="renew")])
    assert a.term.start == d("2027-10-03") and a.in_cancellation_window and not a.annual_term_decrease


def test_an_annual_term_billed_annually_is_not_at_risk_month_by_month():
    a = decrease("2026-10-12", [new("2026-10-03")], billing_frequency="annual")
    assert not a.in_cancellation_window and not a.annual_term_decrease and a.seats_at_risk == D(2)


def test_money_at_risk_is_in_the_rows_currency():
    a = assess("annual", [Line("cyclecharge", d("2026-10-12"), None, d("2026-10-12"), D("7"))],
               vendor_quantity=D("7"), cw_quantity=D("10"), vendor_unit_cost=D("1234.5"), currency="JPY",
               customer_created=d("2026-10-03"), month_start=MONTH_START)
    assert a.term.source == "derived" and a.commitment_at_risk == D("44442")  # 3 x 1234.5 x 12, yen have no cents


# ---------------------------------------------------------------- the agreement (Rule 4.6) ------

@pytest.mark.parametrize("agreement_end, before, after", [
    ("2027-06-30", True, False), ("2027-10-02", False, False), ("2027-12-31", False, True), (None, False, False)])
def test_the_agreement_end_is_checked_against_the_term(agreement_end, before, after):
    a = assess("annual", [new("2026-10-03")], agreement_end=d(agreement_end) if agreement_end else None,
               month_start=MONTH_START)
    assert (a.agreement_ends_before_term, a.agreement_outlasts_term) == (before, after)


# ---------------------------------------------------------------- invariants --------------------

days = st.dates(min_value=date(2000, 1, 1), max_value=date(2090, 12, 31))


@given(days)
def test_a_window_always_closes_168_hours_after_it_opens(opened):
    closes = terms.window_end(opened)
    assert closes - datetime(opened.year, opened.month, opened.day, tzinfo=timezone.utc) == timedelta(hours=168)
    assert [terms.in_window(opened, opened + timedelta(days=k)) for k in range(-1, 9)] == [False] + [True] * 7 + [False] * 2


@given(days, st.sampled_from(["annual", "triennial"]))
def test_terms_tile_the_calendar(start, term):
    t = Term(term, start, "vendor")
    nxt = Term(term, t.renews_on, "vendor")
    assert t.end + timedelta(days=1) == t.renews_on and nxt.start > t.end
    assert t.renews_on.day == start.day or t.renews_on.day < start.day  # the anchor's day, clamped (Rule 1.1)


@given(seats=st.integers(0, 500), cost=st.decimals(min_value=0, max_value=1000, places=4),
       on=st.integers(0, 400), start=days, removed=st.integers(0, 20), added=st.integers(0, 20))
def test_the_money_at_risk_is_never_negative_and_exact(seats, cost, on, start, removed, added):
    cw = D(seats + removed)
    lines = [Line("new", start, None, start, cw), add_quantity(str(start + timedelta(days=30)), str(added),
                                                                  str(start + timedelta(days=60)))]
    day = start + timedelta(days=on)
    a = assess("annual", [*lines, Line("cyclecharge", day, None, day, D(seats))], vendor_quantity=D(seats),
               cw_quantity=cw, vendor_unit_cost=cost, month_start=start)
    assert a.seats_in_window + a.seats_at_risk == a.seats_removed == D(removed)
    assert a.seats_at_risk >= 0 and 0 <= a.months_left <= 12
    if a.commitment_at_risk is not None:
        assert a.commitment_at_risk >= 0
        assert a.commitment_at_risk == (a.seats_at_risk * a.months_left * cost).quantize(D("0.01"), rounding="ROUND_HALF_UP")


# ---------------------------------------------------------------- in the plan -------------------

def annual(qty="16", created=None, effective=None, period=("2026-11-01", "2026-11-30"), kind=None):
    line = vline(sub="S-7", sku="M365-BP-ANN", qty=qty, cost="22.00", price="26.40", term="annual", created=created,
                 effective=effective, period=period)
    line["vendor_charge_type"] = kind
    return line


def annual_row(line, cw_qty=18, agreement=None):
    return only(run(lines(line), snapshot([addition(7, product=503, qty=cw_qty, price=26.4, cost=22.0,
                                                    key="demo|DC-1|S-7")], agreement=agreement)),
                key="demo|DC-1|S-7")


def test_a_decrease_on_a_long_running_term_says_what_the_msp_keeps_paying():
    # account created 2020-01-04: the term (derived) runs 2026-01-04 .. 2027-01-03; the decrease from
    # 2026-11-01 falls in the cycle 2026-10-04 .. 2026-11-03, so 3 months are left: 2 x $22.00 x 3
    r = annual_row(annual())
    assert r.action == "update" and "annual_term_decrease" in r.flags and "in_cancellation_window" not in r.flags
    assert (r.term_start, r.term_end, r.term_source) == ("2026-01-04", "2027-01-03", "derived")
    assert r.commitment_at_risk == D("132.00")
    assert ("2 seats outside the cancellation window, so the vendor has not refunded them: the MSP keeps paying "
            "$132.00 to the term end on 2027-01-03: 2 x $22.00 a month x 3 months (billbridge derived the term's "
            "dates).") in r.reason


#: an account (and its annual seats) bought 2026-11-03; ConnectWise bills 18 seats, the vendor 16 from ...
@pytest.mark.parametrize("effective, in_window, at_risk", [
    ("2026-11-08", True, None),
    ("2026-11-09", True, None),
    ("2026-11-10", False, D("528.00")),   # 2 x $22.00 x 12
    ("2026-11-12", False, D("528.00")),
])
def test_dated_decreases_after_a_purchase(effective, in_window, at_risk):
    r = annual_row(annual(created="2026-11-03", effective=effective, period=("2026-11-03", "2026-12-02")))
    assert ("in_cancellation_window" in r.flags) is in_window
    assert ("annual_term_decrease" in r.flags) is (not in_window)
    assert r.commitment_at_risk == at_risk and r.window_end == "2026-11-10T00:00:00Z"
    if in_window:
        assert "2 seats removed inside the cancellation window (open until 2026-11-10 00:00 UTC)" in r.reason


def test_the_vendors_new_charge_dates_the_term():
    r = annual_row(annual(qty="18", kind="new", period=("2026-11-03", "2026-12-02"), effective="2026-11-03"))
    assert (r.term_start, r.term_end, r.term_source, r.window_end) == (
        "2026-11-03", "2027-11-02", "vendor", "2026-11-10T00:00:00Z")
    assert r.action == "in_sync" and not {"annual_term_decrease", "in_cancellation_window"} & set(r.flags)


@pytest.mark.parametrize("end, flag", [("2026-12-31", "agreement_ends_before_term"),
                                       ("2027-06-30", "agreement_outlasts_term"), ("2027-01-03", None)])
def test_an_agreement_ending_before_or_after_the_term_is_flagged(end, flag):
    r = annual_row(annual(qty="18"), agreement={"noEndingDateFlag": False, "endDate": f"{end}T00:00:00Z"})
    assert {f for f in r.flags if f.startswith("agreement_")} == ({flag} if flag else set())


def test_an_agreement_ending_before_the_term_says_so_on_a_change():
    r = annual_row(annual(qty="16"), agreement={"noEndingDateFlag": False, "endDate": "2026-12-31T00:00:00Z"})
    assert ("The agreement ends on 2026-12-31, before the vendor's term, which ends on 2027-01-03 (billbridge derived "
            "the term's dates).") in r.reason


def test_a_monthly_term_has_no_commitment():
    r = only(run(lines(vline(qty="8")), snapshot([addition(1, qty=10)])), key="demo|DC-1|S-1")
    assert (r.term_start, r.term_source, r.window_end, r.commitment_at_risk) == (None, None, None, None)
    assert not {"annual_term_decrease", "in_cancellation_window"} & set(r.flags)


def test_a_vendor_refund_of_seats_is_inside_their_window_and_has_no_term_of_its_own():
    # Microsoft refunds removed seats (removeQuantity) only inside their window (Rule 4.3)
    refund = Line("removequantity", d("2026-11-21"), d("2026-11-30"), d("2026-11-21"), D("-1"))
    a = assess("annual", [refund], charge_type="credit", vendor_quantity=D("-1"), month_start=d("2026-11-01"))
    assert a.in_cancellation_window and a.seats_in_window == D(1) and not a.annual_term_decrease
    assert a.term is None and a.window_end is None


def test_a_refund_row_in_the_plan_says_the_vendor_took_the_seats_back():
    line = annual(qty="-1", kind="removeQuantity", period=("2026-11-21", "2026-11-30"), effective="2026-11-21")
    line["charge_type"] = "credit"
    r = only(run(lines(line), snapshot([])), action="create")
    assert "in_cancellation_window" in r.flags and (r.term_start, r.window_end) == (None, None)
    assert r.reason.endswith("The vendor took the seats back inside their cancellation window.")


def test_the_vendors_commitment_end_dates_the_term():
    # Pax8: the subscription's commitment term ends 2027-03-13 (its last day): it started 2026-03-14
    line = Line("subscription", d("2026-11-14"), d("2026-12-13"), d("2026-11-14"), D("16"), d("2027-03-13"))
    t = terms.term_of("annual", [line], new_line=False, customer_created=d("2020-01-04"), cw_effective_date=None,
                      month_start=d("2026-11-01"))
    assert (t.start, t.end, t.source) == (d("2026-03-14"), d("2027-03-13"), "vendor")
