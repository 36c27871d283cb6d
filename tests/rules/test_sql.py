"""The SQL vocabulary: ``extended`` is money.extended's twin (rounded once, half away from zero, to the
currency's minor unit), and exact decimal text keeps the vendor's digits."""

from __future__ import annotations

from decimal import Decimal as D

import duckdb
from hypothesis import given, settings, strategies as st

from billbridge import money
from billbridge.rules import sql


def _db():
    db = duckdb.connect()
    db.register("minor_units", sql.minor_units())
    for statement in sql.MACROS.split(";"):
        if statement.strip():
            db.execute(statement)
    return db


DB = _db()


def extended_sql(q: D, u: D, currency: str) -> str:
    return DB.execute("""SELECT extended(?, ?, coalesce((SELECT places FROM minor_units WHERE currency = ?), ?))""",
                      [str(q), str(u), currency, sql.DEFAULT_PLACES]).fetchone()[0]


def test_half_a_cent_rounds_away_from_zero_once():
    assert extended_sql(D("3"), D("0.335"), "USD") == "1.01"      # 1.005 -> 1.01
    assert extended_sql(D("-3"), D("0.335"), "USD") == "-1.01"    # a credit: -1.005 -> -1.01
    assert extended_sql(D("7"), D("26.40"), "USD") == "184.80"


def test_the_minor_unit_is_the_currencys():
    assert extended_sql(D("3"), D("333.5"), "JPY") == "1001"       # 1000.5 yen -> 1001, no decimals
    assert extended_sql(D("1"), D("1.2345"), "BHD") == "1.235"     # three decimals
    assert extended_sql(D("1"), D("1.2345"), "XYZ") == "1.23"      # unknown: two


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
       st.decimals(min_value=0, max_value=10**4, places=6, allow_nan=False, allow_infinity=False),
       st.sampled_from(["USD", "EUR", "JPY", "BHD"]))
def test_sql_extended_is_money_extended(q, u, currency):
    assert D(extended_sql(q, u, currency)) == money.extended(q, u, currency)
    assert extended_sql(q, u, currency) == str(money.extended(q, u, currency)) or D(extended_sql(q, u, currency)) == 0


def test_exact_text_keeps_the_digits_the_vendor_wrote():
    assert DB.execute("SELECT exact('18.50') = exact('18.5000'), places_of('0.0120'), places_of('14')").fetchone() \
        == (True, 4, 0)


@settings(max_examples=200, deadline=None)
@given(st.decimals(min_value=-10**6, max_value=10**6, places=4, allow_nan=False, allow_infinity=False),
       st.decimals(min_value=0, max_value=10**4, places=6, allow_nan=False, allow_infinity=False),
       st.sampled_from([0, 2, 3]))
def test_rounded_is_the_value_money_gives_as_text(q, u, places):
    text, value = DB.execute("SELECT money(exact(?) * exact(?), ?), rounded(exact(?) * exact(?), ?)",
                             [str(q), str(u), places] * 2).fetchone()
    assert value == D(text)
