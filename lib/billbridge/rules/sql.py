"""The SQL vocabulary every rule shares: exact decimals, currency rounding, extended amounts.

Money and quantities travel through the rules as **exact decimal text** (``'18.00'``, ``'0.0120'``,
``'-9'``): the value exactly as the vendor file or ConnectWise gave it, exponent included, so a plan
shows ``18.50`` where the vendor wrote ``18.50``. Arithmetic and comparisons cast that text to an
exact ``DECIMAL`` with :func:`exact`; results are rounded once to the currency's minor unit with
:func:`money` (a ``CAST`` to ``DECIMAL(38, places)`` rounds half away from zero, as
:func:`billbridge.money.quantize` does) and travel on as text again.

Macros (registered on every run's connection by :mod:`billbridge.plan.engine`)::

    exact(x)                 exact DECIMAL(38, 12) of a decimal text (NULL stays NULL)
    money(x, places)         an exact decimal rounded once to ``places`` decimals (half away from zero), as text
    rounded(x, places)       the same value as an exact DECIMAL(38, 12) (``exact(money(x, places))`` without the text)
    extended(q, u, places)   quantity x unit rounded once: the SQL twin of billbridge.money.extended
    places_of(t)             decimal places a money text carries ('180.00' -> 2, '0' -> 0)

``places`` is the currency's minor unit: table ``minor_units`` (currency, places) holds
:data:`billbridge.money.MINOR_UNITS`; a currency it does not list has :func:`billbridge.money.minor_unit`'s
default. ``tests/rules/test_sql.py`` proves :func:`extended` and :func:`billbridge.money.extended` agree.
"""

from __future__ import annotations

import pyarrow as pa

from billbridge.money import MINOR_UNITS, minor_unit

__all__ = ["MACROS", "DECIMAL_PLACES", "DEFAULT_PLACES", "minor_units", "literal"]

#: decimal places an exact value may carry through the rules (more raises InputError at the edge)
DECIMAL_PLACES = 12

DEFAULT_PLACES = minor_unit("")
_places = sorted(set(MINOR_UNITS.values()) | {DEFAULT_PLACES})
# DuckDB rounds to a constant number of places only, so money() has one branch per minor unit
_money = "\n".join(f"        WHEN {p} THEN CAST(CAST(x AS DECIMAL(38, {p})) AS VARCHAR)" for p in _places)
_rounded = "\n".join(f"        WHEN {p} THEN CAST(CAST(x AS DECIMAL(38, {p})) AS DECIMAL(38, {DECIMAL_PLACES}))"
                      for p in _places)

MACROS = f"""
CREATE MACRO exact(x) AS CAST(x AS DECIMAL(38, {DECIMAL_PLACES}));
CREATE MACRO money(x, places) AS CASE places
{_money}
    END;
CREATE MACRO rounded(x, places) AS CASE places
{_rounded}
    END;
CREATE MACRO extended(q, u, places) AS money(exact(q) * exact(u), places);
CREATE MACRO places_of(t) AS CASE WHEN strpos(t, '.') = 0 THEN 0 ELSE length(t) - strpos(t, '.') END;
"""


def minor_units() -> pa.Table:
    """Table ``minor_units``: the currencies whose minor unit billbridge knows."""
    codes = sorted(MINOR_UNITS)
    return pa.table({"currency": pa.array(codes, pa.string()),
                     "places": pa.array([MINOR_UNITS[c] for c in codes], pa.int32())})


def literal(value: object) -> str:
    """A Python value as a SQL literal (text quoted, None as NULL, bools and ints as themselves)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    return "'" + str(value).replace("'", "''") + "'"
