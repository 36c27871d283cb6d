"""The in-sync reason is one template (plan.reasons.IN_SYNC): the rules render it in DuckDB, a stored plan's
view renders it in SQLite, and reasons.in_sync in Python; the three read the same for any names and
quantity (where the SQL gives a reason: a quantity with an exponent is left to Python)."""

from __future__ import annotations

import sqlite3
from decimal import Decimal

import duckdb
from hypothesis import given, settings, strategies as st

from billbridge.plan import reasons

EXPR = reasons.in_sync_sql(reasons.shown_customer_sql("?1", "?2"), reasons.shown_product_sql("?3", "?4", "?5", "NULL"),
                           reasons.shown_agreement_sql("?6", "?7"), "?8")
DUCK = duckdb.connect()
LITE = sqlite3.connect(":memory:")


def python(name, cid, desc, pname, sku, agr, aid, qty):
    def first(*xs):
        return next((x for x in xs if x not in (None, "")), None)
    cust = first(name, cid) or "the customer"
    prod = first(desc, pname, sku) or "?"
    agreement = first(agr) or (f"agreement #{aid}" if aid is not None else "no agreement")
    return reasons.in_sync(cust, prod, agreement, reasons.quantity(None if qty is None else Decimal(qty)))


_NAME = st.one_of(st.none(), st.just(""), st.text(max_size=20))
_QTY = st.one_of(st.none(), st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-10**5,
                                        max_value=10**5).map(str),
                 st.sampled_from(["14.00", "-0.0", "0.0120", "31", "1E+1", "0E-2"]))


@settings(max_examples=300, deadline=None)
@given(_NAME, _NAME, _NAME, _NAME, _NAME, _NAME, st.one_of(st.none(), st.integers(1, 10**9)), _QTY)
def test_duckdb_sqlite_and_python_read_the_same_in_sync_reason(name, cid, desc, pname, sku, agr, aid, qty):
    values = [name, cid, desc, pname, sku, agr, aid, qty]
    duck = DUCK.execute(f"SELECT {EXPR}", values).fetchone()[0]
    lite = LITE.execute(f"SELECT {EXPR}", values).fetchone()[0]
    assert duck == lite
    if duck is not None:
        assert duck == python(*values)
    else:
        assert qty is not None and "E" in qty.upper()


def test_a_quantity_reads_as_a_person_writes_it_in_sql_too():
    for text, shown in (("14.00", "14"), ("0.0120", "0.0120"), ("-2", "-2"), ("-0.00", "-0"), (None, "-")):
        sql = f"SELECT {reasons.shown_quantity_sql('?1')}"
        assert DUCK.execute(sql, [text]).fetchone()[0] == LITE.execute(sql, [text]).fetchone()[0] == shown
        assert reasons.quantity(None if text is None else Decimal(text)) == shown
