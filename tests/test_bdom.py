"""billing-rules.md as tests: the dated cases (table-driven) and the invariants (hypothesis)."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billbridge import bdom
from billbridge.bdom import (
    ProrationConvention,
    Timing,
    VendorPeriod,
    addition_dates,
    allocate,
    billing_date,
    expected_cw_proration,
    late_month_risk,
    prorate,
    prorate_split,
    vendor_period,
    vendor_periods,
)
from billbridge.money import parse_money, quantize, round_fraction

D = Decimal


# ---------------------------------------------------------------- Rule 1.5 table (Rules 1.1-1.2)
RULE_1_5 = [
    (31, 2025, [date(2025, 1, 31), date(2025, 2, 28), date(2025, 3, 31), date(2025, 4, 30), date(2025, 5, 31), date(2025, 6, 30)]),
    (31, 2024, [date(2024, 1, 31), date(2024, 2, 29), date(2024, 3, 31)]),
    (30, 2025, [date(2025, 1, 30), date(2025, 2, 28), date(2025, 3, 30)]),
    (29, 2025, [date(2025, 1, 29), date(2025, 2, 28), date(2025, 3, 29)]),
    (29, 2024, [date(2024, 1, 29), date(2024, 2, 29), date(2024, 3, 29)]),
]


@pytest.mark.parametrize("anchor,year,expected", RULE_1_5)
def test_rule_1_5_billing_dates_clamp_to_month_end_and_return_to_anchor(anchor, year, expected):
    got = [billing_date(anchor, year, m) for m in range(1, len(expected) + 1)]
    assert got == expected


def test_rule_1_5_anchor_31_period_lengths_2025_are_28_31_30_31_30():
    periods = list(vendor_periods(31, date(2025, 1, 31), date(2025, 5, 31)))
    assert [p.days for p in periods][:5] == [28, 31, 30, 31, 30]
    assert periods[0] == VendorPeriod(date(2025, 1, 31), date(2025, 2, 28))
    assert periods[0].end == date(2025, 2, 27)


def test_rule_1_2_clamped_day_is_never_carried_forward_31_feb_28_mar_31():
    p = vendor_period(31, date(2025, 2, 28))
    assert p.start == date(2025, 2, 28)
    assert p.next_start == date(2025, 3, 31)  # not 28 or 30 March (Kill Bill bug)


def test_rule_1_3_period_starting_28_feb_ends_on_30_mar_not_27_mar_for_anchor_28_or_31():
    # "+1 month - 1 day" would give 27 Mar for a 28 Feb start; BDOM periods do not
    assert vendor_period(31, date(2025, 2, 28)).end == date(2025, 3, 30)
    assert vendor_period(28, date(2025, 2, 28)).end == date(2025, 3, 27)  # a true 28th anchor
    assert vendor_period(31, date(2025, 2, 28)).end != date(2025, 3, 27)


def test_intermedia_example_created_4_aug_first_bill_4_sep_covers_4_aug_to_4_sep():
    p = vendor_period(4, date(2026, 8, 4))
    assert (p.start, p.next_start, p.end) == (date(2026, 8, 4), date(2026, 9, 4), date(2026, 9, 3))
    assert bdom.vendor_invoice_date(p, Timing.ARREARS) == date(2026, 9, 4)
    # monthly services billed 4 Sep are in advance for 4 Sep -> 4 Oct; both land in September
    adv = bdom.period_for_billing_month(4, "2026-09", Timing.ADVANCE)
    arr = bdom.period_for_billing_month(4, "2026-09", Timing.ARREARS)
    assert adv == VendorPeriod(date(2026, 9, 4), date(2026, 10, 4))
    assert arr == VendorPeriod(date(2026, 8, 4), date(2026, 9, 4))
    assert bdom.period_landing_month(adv, "advance") == bdom.period_landing_month(arr, "arrears") == "2026-09"


def test_addition_dates_are_first_and_last_day_and_cw_invoices_on_the_first_of_next_month():
    assert addition_dates("2026-09") == (date(2026, 9, 1), date(2026, 9, 30))
    assert addition_dates("2024-02") == (date(2024, 2, 1), date(2024, 2, 29))
    assert bdom.cw_invoice_date("2026-12") == date(2027, 1, 1)


@pytest.mark.parametrize("bad", ["2026-13", "2026-1", "26-01", "", "2026/01"])
def test_billing_month_rejects_malformed_text(bad):
    with pytest.raises(ValueError):
        addition_dates(bad)


def test_rule_1_6_split_flag_when_a_vendor_period_spans_two_cw_months():
    assert bdom.is_split(vendor_period(4, date(2026, 9, 10)))
    assert not bdom.is_split(vendor_period(1, date(2026, 9, 10)))
    parts = bdom.split_by_month(vendor_period(4, date(2026, 9, 10)))
    assert [(m, p.days) for m, p in parts] == [("2026-09", 27), ("2026-10", 3)]


def test_rule_1_6_anchor_1_arrears_lands_in_the_month_of_the_vendor_invoice():
    p = VendorPeriod(date(2026, 10, 1), date(2026, 11, 1))
    assert bdom.period_landing_month(p, Timing.ADVANCE) == "2026-10"
    assert bdom.period_landing_month(p, Timing.ARREARS) == "2026-11"


def test_default_timing_recurring_advance_usage_arrears():
    assert bdom.default_timing("recurring") is Timing.ADVANCE
    assert bdom.default_timing("usage") is Timing.ARREARS
    assert bdom.default_timing("credit") is Timing.ARREARS
    with pytest.raises(ValueError):
        bdom.default_timing("weekly")


# ------------------------------------------------------------------------- Rule 2 proration
MARCH = VendorPeriod(date(2026, 3, 1), date(2026, 4, 1))


def test_rule_2_3_cw_prorates_22_dollars_from_15_march_to_12_06_and_34_06_on_april_invoice():
    got = expected_cw_proration(D("22"), 1, date(2026, 3, 15))
    assert got.prorated == D("12.06")
    assert got.first_invoice_total == D("34.06")
    assert (got.days, got.days_in_month) == (17, 31)
    assert got.invoice_date == date(2026, 4, 1)


def test_rule_2_3_expected_cw_proration_outside_the_month_is_full_or_nothing():
    assert expected_cw_proration(D("22"), 2, date(2026, 2, 10), "2026-03").prorated == D("44.00")
    assert expected_cw_proration(D("22"), 2, date(2026, 4, 10), "2026-03").prorated == D("0.00")


@pytest.mark.parametrize(
    "convention,expected",
    [
        (ProrationConvention.CW_INCLUSIVE, D("12.06")),  # 22 x 17/31
        (ProrationConvention.INGRAM_EXCLUSIVE, D("11.35")),  # 22 x 16/31 (Rule 2b, derived)
        (ProrationConvention.THIRTY_DAY, D("11.73")),  # 22 x 16/30
        (ProrationConvention.MS_DAILY, D("12.06")),  # 22/31 per day x 17 days
    ],
)
def test_rule_2b_proration_conventions_for_22_dollars_from_15_march(convention, expected):
    assert prorate(D("22"), 1, MARCH, date(2026, 3, 15), convention=convention) == expected


def test_rule_2b_ingram_does_not_reduce_a_line_covering_the_whole_period():
    assert prorate(D("22"), 3, MARCH, convention="ingram_exclusive") == D("66.00")


def test_rule_2b_ms_daily_annual_cycle_uses_365_or_366_days():
    year = VendorPeriod(date(2024, 1, 1), date(2025, 1, 1))
    assert year.days == 366
    assert prorate(D("264"), 1, year, date(2024, 12, 1), convention="ms_daily") == D("22.36")  # 264*31/366


def test_rule_7_4_daily_rate_is_not_rounded_before_multiplying():
    rate = bdom.daily_rate(D("10.08"), 31)
    assert rate == Fraction(1008, 3100)
    assert round_fraction(rate * 30) == D("9.75")  # unrounded 0.32516.. x 30
    assert quantize(D("0.32") * 30) == D("9.60")  # what a rounded daily rate would give
    assert prorate(D("10.08"), 1, MARCH, date(2026, 3, 2)) == D("9.75")


def test_rule_7_4_rounding_happens_once_per_line_not_per_unit():
    # 7 units x 22 x 17/31 = 84.45..; rounding per unit (12.06 x 7) would give 84.42
    assert prorate(D("22"), 7, MARCH, date(2026, 3, 15)) == D("84.45")


def test_round_half_up_away_from_zero_for_credits():
    assert round_fraction(Fraction(-1, 200)) == D("-0.01")
    assert round_fraction(Fraction(1, 200)) == D("0.01")
    assert round_fraction(Fraction(1, 2), "JPY") == D("1")


def test_allocate_largest_remainder_gives_leftover_cents_to_largest_remainders():
    assert allocate(D("10.00"), [1, 1, 1]) == [D("3.34"), D("3.33"), D("3.33")]
    assert allocate(D("-10.00"), [1, 1, 1]) == [D("-3.34"), D("-3.33"), D("-3.33")]
    assert allocate(D("0.05"), [27, 3]) == [D("0.05"), D("0.00")]


def test_prorate_split_of_intermedia_period_sums_back_to_the_whole():
    p = vendor_period(4, date(2026, 9, 4))  # 4 Sep -> 4 Oct, 30 days
    parts = prorate_split(D("25.00"), p)
    assert parts == {"2026-09": D("22.50"), "2026-10": D("2.50")}
    assert sum(parts.values()) == D("25.00")


@pytest.mark.parametrize(
    "d,risk",
    [(date(2026, 10, 29), True), (date(2026, 10, 26), True), (date(2026, 10, 25), False),
     (date(2026, 2, 23), True), (date(2026, 2, 22), False), (date(2026, 8, 4), False), (date(2026, 8, 31), True)],
)
def test_late_month_risk_is_the_last_six_days_of_the_month(d, risk):
    assert late_month_risk(d) is risk


def test_money_parsing_accepts_dollar_thousands_and_decimal_comma():
    assert parse_money("$1,234.50") == D("1234.50")
    assert parse_money("1.234,50", decimal_comma=True) == D("1234.50")
    assert parse_money("(3.00)") == D("-3.00")
    for bad in ["abc", "1.234,50", "", "1,2,3.4.5"]:
        with pytest.raises(ValueError):
            parse_money(bad)


# ------------------------------------------------------------------------------- properties
anchors = st.integers(min_value=1, max_value=31)
days = st.dates(min_value=date(1999, 1, 1), max_value=date(2101, 12, 31))


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, first=days, span=st.integers(min_value=0, max_value=800))
def test_property_vendor_periods_tile_time_with_no_gap_or_overlap(anchor, first, span):
    last = first + timedelta(days=span)
    periods = list(vendor_periods(anchor, first, last))
    assert first in periods[0] and last in periods[-1]
    for a, b in zip(periods, periods[1:]):
        assert a.next_start == b.start  # no gap, no overlap
    assert sum(p.days for p in periods) == (periods[-1].next_start - periods[0].start).days
    assert all(28 <= p.days <= 31 for p in periods)


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, on=days)
def test_property_every_period_starts_on_the_clamped_anchor(anchor, on):
    p = vendor_period(anchor, on)
    assert on in p
    for d in (p.start, p.next_start):
        assert d.day == min(anchor, bdom.days_in_month(d.year, d.month))


@settings(max_examples=200, deadline=None)
@given(anchor=anchors, year=st.integers(min_value=1999, max_value=2100))
def test_property_clamping_never_drifts_anchor_returns_after_short_months(anchor, year):
    periods = list(vendor_periods(anchor, date(year, 1, 1), date(year + 1, 12, 31)))
    starts = [p.start for p in periods]
    for s in starts:
        if bdom.days_in_month(s.year, s.month) >= anchor:
            assert s.day == anchor  # e.g. anchor 31 is back to 31 in March after 28 Feb


@settings(max_examples=300, deadline=None)
@given(anchor=anchors, on=days, cents=st.integers(min_value=-10_000_000, max_value=10_000_000),
       conv=st.sampled_from(list(ProrationConvention)))
def test_property_split_parts_sum_back_to_the_whole_to_the_cent(anchor, on, cents, conv):
    p = vendor_period(anchor, on)
    amount = Decimal(cents).scaleb(-2)
    parts = prorate_split(amount, p, conv)
    assert sum(parts.values()) == amount
    assert list(parts) == [m for m, _ in bdom.split_by_month(p)]


@settings(max_examples=200, deadline=None)
@given(anchor=anchors, on=days, eff=st.integers(min_value=0, max_value=31),
       conv=st.sampled_from(list(ProrationConvention)))
def test_property_proration_share_is_between_zero_and_one(anchor, on, eff, conv):
    p = vendor_period(anchor, on)
    start = p.start + timedelta(days=eff)
    f = bdom.proration_fraction(p, start, None, conv)
    assert 0 <= f <= 1
    if start >= p.next_start:
        assert f == 0


# ---- Rule 1.6 as one function (billing-rules section 9, billing month 2026-10) -----------------
SECTION_9 = [
    # charge type, period rule, period start, period end (inclusive), lands in
    ("usage", None, date(2026, 10, 1), date(2026, 10, 31), "2026-11"),
    ("usage", None, date(2026, 9, 4), date(2026, 10, 3), "2026-10"),
    ("usage", None, date(2026, 10, 4), date(2026, 11, 3), "2026-11"),
    ("recurring", "advance", date(2026, 10, 4), date(2026, 11, 3), "2026-10"),
    ("recurring", "advance", date(2026, 11, 1), date(2026, 11, 30), "2026-11"),
    ("recurring", "advance", date(2026, 10, 1), date(2026, 10, 31), "2026-10"),
    ("recurring", "arrears", date(2026, 9, 1), date(2026, 9, 30), "2026-09"),
    ("recurring", "arrears", date(2026, 9, 4), date(2026, 10, 3), "2026-10"),
]


@pytest.mark.parametrize("charge_type, rule, start, end, lands", SECTION_9)
def test_section_9_landing_month_of_each_dated_case(charge_type, rule, start, end, lands):
    assert bdom.landing_month(charge_type, start, end, None, rule) == lands
    assert bdom.lands_in("2026-10", charge_type, lands) is (lands == "2026-10")


def test_usage_landing_ignores_the_period_rule_it_is_always_the_bill_date():
    assert bdom.landing_month("usage", date(2026, 10, 1), date(2026, 10, 31), None, "advance") == "2026-11"
    assert bdom.landing_month("usage", date(2026, 10, 1), date(2026, 10, 31), None, "arrears") == "2026-11"


def test_one_time_follows_the_period_rule_like_recurring():
    assert bdom.landing_month("one_time", date(2026, 9, 4), date(2026, 10, 3), None, "advance") == "2026-09"
    assert bdom.landing_month("one_time", date(2026, 9, 4), date(2026, 10, 3), None, "arrears") == "2026-10"


def test_a_credit_lands_with_its_period_end_and_still_counts_in_a_later_month():
    assert bdom.landing_month("credit", date(2026, 9, 1), date(2026, 9, 30)) == "2026-09"
    assert bdom.lands_in("2026-10", "credit", "2026-09")
    assert not bdom.lands_in("2026-10", "credit", "2026-11")


def test_missing_dates_fall_back_to_the_other_date_then_the_effective_date_then_the_loaded_month():
    assert bdom.landing_month("recurring", None, date(2026, 10, 31)) == "2026-10"
    assert bdom.landing_month("recurring", None, None, date(2026, 10, 15)) == "2026-10"
    assert bdom.landing_month("usage", date(2026, 10, 1), None) == "2026-10"
    assert bdom.landing_month("recurring", None, None, None) is None
    assert bdom.lands_in("2026-10", "recurring", None)


def test_a_malformed_month_is_an_input_error_naming_the_form():
    from billbridge.errors import InputError

    with pytest.raises(InputError, match="YYYY-MM"):
        bdom.parse_billing_month("Nov 2026")
