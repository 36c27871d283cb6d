"""Line keys: linekey.line_key_sql (the SQL the rules key every line with in one pass) gives exactly
line_key's key wherever it gives one, and leaves to line_key what it cannot say (a part to clean, a key to
hash, a line without subscription or SKU)."""

from __future__ import annotations

import duckdb
from hypothesis import given, settings, strategies as st

from billbridge.errors import InputError
from billbridge.linekey import line_key, line_key_sql

DB = duckdb.connect()
SQL = line_key_sql("?1", "?2", "?3", "?4", "?5", "?6")


def by_sql(vendor, customer, subscription, sku, month, kind):
    return DB.execute(f"SELECT {SQL}", [vendor, customer, subscription, sku, month, kind]).fetchone()[0]


def by_python(vendor, customer, subscription, sku, month, kind):
    try:
        return line_key(vendor, customer, subscription, sku, month, kind)
    except InputError:
        return None


def test_plain_parts_are_keyed_in_sql_as_line_key_does():
    assert by_sql("demo", "DC-10001", "S-1001", "HPBX", None, None) == "demo|DC-10001|S-1001"
    assert by_sql("demo", "DC-10001", "", "HPBX", "2026-11", "credit") == "demo|DC-10001|HPBX|2026-11|credit"


def test_what_sql_cannot_say_it_leaves_to_line_key():
    assert by_sql("demo", "DC|1", "S-1", None, None, None) is None           # a part to clean
    assert by_sql("demo", " DC-1", "S-1", None, None, None) is None          # whitespace to strip
    assert by_sql("demo", "C" * 60, "S-1", None, None, None) is None         # a key to hash
    assert by_sql("demo", "DC-1", None, None, None, None) is None            # neither subscription nor SKU
    assert by_sql("demo", "DC-1", "S-1", None, "2026-1", None) is None       # not a month


_PART = st.one_of(st.none(), st.just(""), st.text(max_size=30),
                  st.text(alphabet="ABCdef019-_./ |~\t\u00a0é", max_size=25))


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(["demo", "pax8", "sher web", "a|b"]), _PART, _PART, _PART,
       st.sampled_from([None, "2026-11", "2026-1"]), st.sampled_from([None, "credit", "out"]))
def test_line_key_sql_is_line_key_wherever_it_gives_a_key(vendor, customer, subscription, sku, month, kind):
    got = by_sql(vendor, customer, subscription, sku, month, kind)
    if got is not None:
        assert got == by_python(vendor, customer, subscription, sku, month, kind)
