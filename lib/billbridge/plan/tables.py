"""The reconciliation's inputs as typed Arrow tables, the form the rules read them in.

This is the edge between pandas (what the store, the sources and a notebook hand over) and the
rules' SQL: every column gets one declared type, whatever the caller used.

- text (ids of vendor customers, SKUs, names, codes): ``string``, missing as null;
- money and quantities: **exact decimal text** (see :mod:`billbridge.rules.sql`): a ``Decimal`` as
  ``str(d)``, a ConnectWise JSON number (float) as ``repr(f)`` (its shortest exact form, what
  ``Decimal(repr(f))`` gives), a string as the Decimal it spells; more than
  :data:`~billbridge.rules.sql.DECIMAL_PLACES` significant places raise :class:`InputError`;
- billing dates: ``date32`` (``datetime.date``, ISO text or a ConnectWise ``...T00:00:00Z`` stamp);
- ConnectWise ids: ``int64``; flags: ``bool``; timestamps (``lastUpdated``, journal ``written_at``):
  their text, cast to a UTC timestamp by the rules.

The same tables are built from Arrow input without a Python object per value: a month's lines as the
store holds them (:func:`billbridge.store.import_line_table`: text, ISO dates, decimal text) and a snapshot
as its typed tables (:class:`~billbridge.plan.inputs.SnapshotTables`); each distinct money text is then
converted and checked once, and every value comes out exactly as the frame route gives it.

Each table also gets its row position (``li`` for vendor lines, ``ai`` for additions, ``ord`` for
mappings and the journal): "the first mapping wins" and "snapshot order" are decided on it.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billbridge.errors import InputError
from billbridge.model import VENDOR_LINE_COLUMNS
from billbridge.plan.inputs import Context, Mappings, SnapshotFrames, SnapshotTables, _d10, _ts
from billbridge.rules.sql import DECIMAL_PLACES

__all__ = ["vendor_lines_table", "snapshot_tables", "mapping_tables", "context_tables"]

_MONEY = ("quantity", "unit_cost", "unit_price")
_DATES = ("customer_created", "period_start", "period_end", "effective_date")
_LIMIT = Decimal(1).scaleb(-DECIMAL_PLACES)


def _column(frame: pd.DataFrame, name: str) -> pd.Series:
    if name in frame.columns:
        return frame[name]
    return pd.Series([None] * len(frame), index=frame.index, dtype=object)


def _missing(x: Any) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and x != x)


def text(values: pd.Series) -> pa.Array:
    """Text with null for missing; non-text values (an id given as a number) as ``str(x)``."""
    if pd.api.types.is_string_dtype(values.dtype) and values.dtype != object:
        return pa.array(values, type=pa.string(), from_pandas=True)
    try:
        return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if _missing(x) else str(x) for x in values.tolist()], type=pa.string())


def _problem(table: str, column: str, row: int | None, reason: str) -> InputError:
    where = f"{table}, row {row}" if row else table
    return InputError(f"{where}, {column}: {reason}", row=row, column=column, reason=reason)


def _exact(d: Decimal, table: str, column: str, row: int | None) -> None:
    if d.is_finite() and d.as_tuple().exponent < -DECIMAL_PLACES and d != d.quantize(_LIMIT):
        raise _problem(table, column, row, f"{d} has more than {DECIMAL_PLACES} decimal places")


def decimal_text(values: pd.Series, table: str, column: str) -> pa.Array:
    """Exact decimal text of a money or quantity column (see the module docstring)."""
    arr = values.to_numpy()
    if arr.dtype.kind in "fiu":  # JSON numbers: each distinct number once (equal floats, equal text)
        codes, uniques = pd.factorize(arr, use_na_sentinel=True)
        texts = [repr(float(u)) if arr.dtype.kind == "f" else str(int(u)) for u in uniques]
        for t in texts:
            _exact(Decimal(t), table, column, None)
        out = np.array(texts + [None], dtype=object)[codes]
        return pa.array(out, type=pa.string())
    values = arr.tolist()
    kinds = set(map(type, values))
    if kinds <= {Decimal, type(None)}:  # the usual case (the store and the sources give Decimals)
        distinct = set(values)
        distinct.discard(None)
        if all(d.is_finite() for d in distinct):
            for d in distinct:  # equal values are equally exact: check each once
                _exact(d, table, column, None)
            return pa.array([None if x is None else str(x) for x in values], type=pa.string())
    out: list[str | None] = []
    for i, x in enumerate(values):
        if _missing(x) or (isinstance(x, Decimal) and x.is_nan()):
            out.append(None)
            continue
        try:
            d = x if isinstance(x, Decimal) else Decimal(repr(x)) if isinstance(x, float) else Decimal(str(x).strip())
        except InvalidOperation:
            raise _problem(table, column, i + 1, f"{x} is not a number") from None
        _exact(d, table, column, i + 1)
        out.append(str(d))
    return pa.array(out, type=pa.string())


def _date(x: Any) -> date | None:
    if _missing(x):
        return None
    if isinstance(x, datetime):
        return x.date()
    if isinstance(x, date):
        return x
    return date.fromisoformat(_d10(x))


def dates(values: pd.Series, table: str, column: str) -> pa.Array:
    """Billing dates as ``date32`` (dates, ISO text or ConnectWise stamps)."""
    arr = values.to_numpy(dtype=object)
    try:
        return pa.array(arr, type=pa.date32(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError):
        pass
    try:  # ISO text (``YYYY-MM-DD``, or a ``...T00:00:00Z`` stamp cut to its date)
        return pc.utf8_slice_codeunits(pa.array(arr, type=pa.string(), from_pandas=True), 0, 10).cast(pa.date32())
    except (pa.ArrowTypeError, pa.ArrowInvalid, TypeError):
        pass
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    conv = []
    for u in uniques:
        try:
            conv.append(_date(u))
        except ValueError:
            raise _problem(table, column, None, f"{u} is not a date") from None
    return pa.array(np.array(conv + [None], dtype=object)[codes], type=pa.date32())


def ints(values: pd.Series) -> pa.Array:
    """ConnectWise ids as ``int64`` (whole floats accepted: pandas upcasts ids next to a missing one)."""
    if values.dtype.kind in "iu":
        return pa.array(values.to_numpy(), type=pa.int64())
    return pa.array(pd.array(values.to_numpy(dtype=object) if values.dtype == object else values, dtype="Int64"),
                    type=pa.int64())


def bools(values: pd.Series) -> pa.Array:
    """Flags as ``bool``, missing as null (the rules decide what a missing flag means)."""
    if values.dtype == bool:
        return pa.array(values.to_numpy(), type=pa.bool_())
    return pa.array([None if _missing(x) else bool(x) for x in values.tolist()], type=pa.bool_())


def stamps(values: pd.Series) -> pa.Array:
    """Timestamps as their text (``datetime`` values as ``YYYY-MM-DDTHH:MM:SSZ``)."""
    if values.dtype.kind == "M":
        return pa.array([_ts(x) for x in values.tolist()], type=pa.string())
    try:
        return pa.array(values.to_numpy(dtype=object), type=pa.string(), from_pandas=True)
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return pa.array([None if _missing(x) else x if isinstance(x, str) else _ts(x) for x in values.tolist()],
                        type=pa.string())


def _position(n: int) -> pa.Array:
    return pa.array(np.arange(n, dtype=np.int64))


#: the vendor's own fields the rules read beyond the canonical columns (text; null when a source has none):
#: Microsoft's ChargeType (new / renew / addQuantity ...) and Pax8's commitment end date a commitment term
#: (rules/terms.py); the vendor's exchange rate and pricing currency are shown in a ``currency_mismatch``
#: reason (Rule 7.1), never applied
LINE_EXTRAS = ("vendor_charge_type", "commitment_end", "exchange_rate", "pricing_currency")


def vendor_lines_table(vendor_lines: pd.DataFrame | pa.Table) -> pa.Table:
    """The month's vendor lines (:data:`billbridge.model.VENDOR_LINE_COLUMNS` and :data:`LINE_EXTRAS`,
    missing ones null): a frame, or the Arrow table of stored lines (text values)."""
    if isinstance(vendor_lines, pa.Table):
        return _stored_lines(vendor_lines)
    df = vendor_lines
    cols: dict[str, pa.Array] = {"li": _position(len(df))}
    for name in VENDOR_LINE_COLUMNS + LINE_EXTRAS:
        values = _column(df, name)
        if name == "line_no":
            cols[name] = ints(values)
        elif name in _MONEY:
            cols[name] = decimal_text(values, "vendor lines", name)
        elif name in _DATES:
            cols[name] = dates(values, "vendor lines", name)
        else:
            cols[name] = text(values)
    return pa.table(cols)


def _frame_table(df: pd.DataFrame, spec: dict[str, str], table: str, position: str | None = None) -> pa.Table:
    cols: dict[str, pa.Array] = {position: _position(len(df))} if position else {}
    for name, kind in spec.items():
        values = _column(df, name)
        if kind == "text":
            cols[name] = text(values)
        elif kind == "id":
            cols[name] = ints(values)
        elif kind == "bool":
            cols[name] = bools(values)
        elif kind == "money":
            cols[name] = decimal_text(values, table, name)
        elif kind == "date":
            cols[name] = dates(values, table, name)
        elif kind == "stamp":
            cols[name] = stamps(values)
    return pa.table(cols)


# ---- from Arrow: each distinct value converted once ----------------------------------------------
def _texts(col: pa.ChunkedArray | pa.Array) -> pa.Array:
    col = col.combine_chunks() if isinstance(col, pa.ChunkedArray) else col
    return col if col.type == pa.string() else col.cast(pa.string())


def _per_distinct(col: pa.Array, convert) -> pa.Array:
    """``convert`` applied to each distinct non-null text of ``col`` once (None stays null)."""
    encoded = pc.dictionary_encode(col)
    words = encoded.dictionary.to_pylist()
    return pa.DictionaryArray.from_arrays(encoded.indices, pa.array([convert(i, w) for i, w in enumerate(words)],
                                                                     pa.string())).cast(pa.string())


def _first_row(encoded_col: pa.Array, word_index: int) -> int:
    return int(pc.index(pc.dictionary_encode(encoded_col).indices, word_index).as_py()) + 1


def _decimal_texts(col: pa.Array, table: str, column: str) -> pa.Array:
    """Stored decimal text as the rules read it: ``str(Decimal(text))`` (what the frame route gives for a
    text value), checked like :func:`decimal_text`."""
    def convert(i: int, word: str) -> str:
        try:
            d = Decimal(word.strip())
        except InvalidOperation:
            raise _problem(table, column, _first_row(col, i), f"{word} is not a number") from None
        _exact(d, table, column, _first_row(col, i))
        return str(d)
    return _per_distinct(col, convert)


def _float_texts(col: pa.Array, table: str, column: str) -> pa.Array:
    """A stored ConnectWise JSON number (its decimal text) as the rules read it: ``repr(float)``, the text
    the frame route gives the float64 it holds (None when it is not a number)."""
    def convert(_i: int, word: str) -> str | None:
        try:
            text = repr(float(word))
        except ValueError:
            return None
        _exact(Decimal(text), table, column, None)
        return text
    return _per_distinct(col, convert)


def _arrow_dates(col: pa.Array, table: str, column: str) -> pa.Array:
    try:
        return pc.utf8_slice_codeunits(col, 0, 10).cast(pa.date32())
    except (pa.ArrowTypeError, pa.ArrowInvalid):
        return dates(pd.Series(col.to_pylist(), dtype=object), table, column)


def _stored_lines(stored: pa.Table) -> pa.Table:
    n = stored.num_rows
    names = set(stored.column_names)
    cols: dict[str, pa.Array] = {"li": _position(n)}
    for name in VENDOR_LINE_COLUMNS + LINE_EXTRAS:
        if name not in names:
            cols[name] = pa.nulls(n, pa.int64() if name == "line_no" else pa.date32() if name in _DATES else pa.string())
        elif name == "line_no":
            cols[name] = stored.column(name).combine_chunks().cast(pa.int64())
        elif name in _MONEY:
            cols[name] = _decimal_texts(_texts(stored.column(name)), "vendor lines", name)
        elif name in _DATES:
            cols[name] = _arrow_dates(_texts(stored.column(name)), "vendor lines", name)
        else:
            cols[name] = _texts(stored.column(name))
    return pa.table(cols)


def _stored_table(stored: pa.Table, spec: dict[str, str], table: str, position: str | None = None) -> pa.Table:
    """One snapshot table from its stored columns, with the values :func:`_frame_table` gives the frame
    :func:`billbridge.store.load_snapshot_frames` reads (flags 0/1 with NULL as false; numbers as floats)."""
    n = stored.num_rows
    cols: dict[str, pa.Array] = {position: _position(n)} if position else {}
    for name, kind in spec.items():
        col = stored.column(name).combine_chunks()
        if kind == "id":
            cols[name] = col.cast(pa.int64())
        elif kind == "bool":
            cols[name] = pc.fill_null(pc.not_equal(col.cast(pa.int64()), 0), False)
        elif kind == "money":
            cols[name] = _float_texts(_texts(col), table, name)
        elif kind == "date":
            cols[name] = _arrow_dates(_texts(col), table, name)
        else:  # text, stamp
            cols[name] = _texts(col)
    return pa.table(cols)


def _json_numbers(col: pa.Array) -> pd.Series:
    """The catalog's stored JSON numbers as the frame holds them (pandas decides int, float or object)."""
    return pd.Series(pd.Series([None if v is None else json.loads(v) for v in _texts(col).to_pylist()]).to_numpy())


#: snapshot frame -> (table the rules read, its columns and their kinds, its position column)
_SNAPSHOT_SPEC: dict[str, tuple[str, dict[str, str], str, str | None]] = {
    "companies": ("cw_companies", {"company_id": "id", "name": "text", "deleted": "bool"}, "companies", "ord"),
    "agreements": ("cw_agreements", {
        "agreement_id": "id", "name": "text", "company_id": "id", "status": "text", "cancelled": "bool",
        "end_date": "date", "no_end": "bool", "prorate": "bool", "parent_name": "text", "currency": "text"},
        "agreements", "ord"),
    "catalog": ("cw_catalog", {
        "catalog_item_id": "id", "identifier": "text", "description": "text", "inactive": "bool",
        "price": "money", "cost": "money"}, "catalog", "ord"),
    "invoices": ("cw_invoices", {"agreement_id": "id", "date": "date"}, "invoices", None),
    "additions": ("cw_additions", {
        "addition_id": "id", "agreement_id": "id", "product_id": "id", "product_identifier": "text",
        "quantity": "money", "unit_price": "money", "unit_cost": "money", "effective_date": "date",
        "cancelled_date": "date", "key": "text", "updated_by": "text", "last_updated": "stamp",
        "date_entered": "stamp"}, "additions", "ai"),
}
#: the columns of each snapshot frame the rules read (what :func:`billbridge.store.load_snapshot_tables` reads)
SNAPSHOT_COLUMNS = {frame: tuple(spec) for frame, (_t, spec, _n, _p) in _SNAPSHOT_SPEC.items()}


def snapshot_tables(s: SnapshotFrames | SnapshotTables) -> dict[str, pa.Table]:
    """``cw_companies``, ``cw_agreements``, ``cw_catalog``, ``cw_invoices``, ``cw_additions``."""
    out = {}
    for frame, (table, spec, label, position) in _SNAPSHOT_SPEC.items():
        if isinstance(s, SnapshotFrames):
            out[table] = _frame_table(getattr(s, frame), spec, label, position)
        elif frame == "catalog":  # a few rows of JSON numbers: the frame route itself
            stored = s.tables[frame]
            df = pd.DataFrame({c: _json_numbers(stored.column(c)) if c in ("price", "cost") else
                               pd.Series(stored.column(c).to_pylist(), dtype=object) for c in spec})
            df["inactive"] = df["inactive"].map(bool).astype(bool)
            out[table] = _frame_table(df, spec, label, position)
        else:
            out[table] = _stored_table(s.tables[frame], spec, label, position)
    return out


def mapping_tables(m: Mappings) -> dict[str, pa.Table]:
    """``map_companies``, ``map_agreements``, ``map_products``, ``map_rules`` (defaults not applied:
    the rules apply :data:`billbridge.model.MAPPING_DEFAULTS`)."""
    return {
        "map_companies": _frame_table(m.companies, {"vendor_customer_id": "text", "company_id": "id"},
                                      "company mappings", "ord"),
        "map_agreements": _frame_table(m.agreements, {
            "vendor_customer_id": "text", "subscription_id": "text", "agreement_id": "id", "sync_mode": "text",
            "period_rule": "text"}, "agreement mappings", "ord"),
        "map_products": _frame_table(m.products, {
            "sku": "text", "term": "text", "billing_frequency": "text", "catalog_item_id": "id", "own_cost": "bool",
            "own_price": "bool", "quantity_basis": "text", "price_rule": "text", "price_value": "money",
            "margin_threshold": "money"}, "product mappings", "ord"),
        "map_rules": _frame_table(m.rules, {"vendor_customer_id": "text", "sku": "text", "rule": "text",
                                            "value": "money"}, "rules", "ord"),
    }


def context_tables(ctx: Context) -> dict[str, pa.Table]:
    """``journal`` (billbridge's confirmed writes) and ``overrides`` (plan keys the operator overrode, with
    the reason when one was given: ``key``, ``reason``)."""
    journal = ctx.journal if ctx.journal is not None else pd.DataFrame(columns=["key", "addition_id", "written_at"])
    reasons = {k: (str(v).strip() or None) if v is not None else None for k, v in (ctx.override_reasons or {}).items()}
    keys = sorted(set(ctx.overrides) | set(reasons))
    return {
        "journal": _frame_table(journal, {"key": "text", "addition_id": "id", "written_at": "stamp"}, "journal", "ord"),
        "overrides": pa.table({"key": pa.array(keys, type=pa.string()),
                               "reason": pa.array([reasons.get(k) for k in keys], type=pa.string())}),
    }
