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
