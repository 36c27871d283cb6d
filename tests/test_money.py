"""money.extended: the one extended-amount rule (rounded once, half away from zero; credits reduce)."""

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as hs

from billbridge.money import extended

D = Decimal


@pytest.mark.parametrize("qty, unit, cur, want", [
    ("3", "18.00", "USD", "54.00"),
    ("1", "0.125", "USD", "0.13"),    # half away from zero, not half-even (0.12)
    ("1", "0.135", "USD", "0.14"),
    ("-1", "0.125", "USD", "-0.13"),
    ("3", "1000.4", "JPY", "3001"),
    ("1", "1.2345", "KWD", "1.235"),
])
def test_extended_rounds_once_half_away_from_zero_to_the_currency_minor_unit(qty, unit, cur, want):
    assert extended(D(qty), D(unit), cur) == D(want)


def test_a_credit_reduces_whatever_signs_the_file_used():
    for q, u in (("3", "4.50"), ("-3", "4.50"), ("3", "-4.50"), ("-3", "-4.50")):
        assert extended(D(q), D(u), credit=True) == D("-13.50")


def test_missing_quantity_or_unit_has_no_amount():
    assert extended(None, D("1")) is None and extended(D("1"), None) is None


@given(hs.decimals(min_value=-10**6, max_value=10**6, places=4), hs.decimals(min_value=0, max_value=10**5, places=4))
def test_a_credit_is_never_positive(q, u):
    assert extended(q, u, credit=True) <= 0


@pytest.mark.parametrize("amount, cur, want", [
    ("5440.55", "EUR", "€5,440.55"),
    ("-12", "USD", "-$12.00"),
    ("3.2", "GBP", "£3.20"),
    ("1234.5", "CHF", "1,234.50 CHF"),   # no symbol of its own: the code follows the amount
    ("1234.5", "CAD", "1,234.50 CAD"),   # never a bare "$" for another dollar
    ("3001", "JPY", "3,001 JPY"),
    ("10", None, "$10.00"),              # a line without a currency is billbridge's default
])
def test_money_is_written_with_its_own_currency(amount, cur, want):
    from billbridge.money import format_money

    assert format_money(D(amount), cur) == want


def test_two_currencies_are_summed_apart_and_shown_side_by_side_never_added():
    from billbridge.money import format_amounts, sum_by_currency

    sums = sum_by_currency([D("1.10"), D("2.00"), None, D("3.00")], ["USD", "EUR", "EUR", None])
    assert sums == {"EUR": D("2.00"), "USD": D("4.10")}
    assert format_amounts(sums) == "€2.00 · $4.10"
    assert format_amounts({}) == "$0.00"
