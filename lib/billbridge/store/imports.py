"""Month imports: one row per loaded file version (``imports``), its canonical vendor lines one row
per line (``vendor_lines``), withdrawals (``import_events``) and the saved column mappings per vendor
(``formats``).

``vendor_lines`` holds the canonical columns (:data:`LINE_COLUMNS`) as typed SQLite rows:
ids and names TEXT, dates ISO ``YYYY-MM-DD`` TEXT, money and quantities TEXT decimal strings exactly
as loaded (``"1234.50"``, ``"0.0120"``: exact, and a unit cost may have more decimals than the
currency's minor unit, so no integer cents), NULL when missing. They are read back as
:class:`~decimal.Decimal` and :class:`datetime.date` (``import_lines``) or as the stored text
(``raw=True``), or as one Arrow table of the stored text (:func:`import_line_table`, what the plan
lifecycle reads: no Python object per value). Indexed by import (the primary key ``(import_id, line_no)``), by
``(import_id, vendor_customer_id)`` and by ``(import_id, sku)``::

    SELECT * FROM vendor_lines WHERE import_id = 3 AND vendor_customer_id = 'DC-10001';

An import can be **withdrawn** (who, when, why) and **restored**; both are recorded in
``import_events`` and the import's lines stay where they are. A withdrawn import is not part of its
month: :func:`month_imports` (what the plan lifecycle reads) is the newest non-withdrawn version of
each vendor.
"""

from __future__ import annotations

import itertools
import json
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billbridge.clock import utcnow
from billbridge.config import operator_name
from billbridge.errors import InputError, NotFoundError

if TYPE_CHECKING:  # the store's type only: the concern modules never import db at run time
    from billbridge.store.db import Store

#: canonical vendor-line columns as stored in ``vendor_lines`` (after ``import_id``, ``line_no``)
LINE_COLUMNS: tuple[str, ...] = (
    "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "billing_frequency", "term", "quantity", "unit_cost",
    "unit_price", "period_start", "period_end", "effective_date", "currency",
    "extended_cost", "extended_price",
)
#: the vendor's own fields a source may add (``billbridge.sources.registry.EXTRA_COLUMNS``, issue 11):
#: stored after :data:`LINE_COLUMNS` as TEXT exactly as the source gave them (NULL when missing) and
#: read back as text by :func:`import_lines`; what the reconciliation reads stays :data:`LINE_COLUMNS`
EXTRA_LINE_COLUMNS: tuple[str, ...] = (
    "vendor_line_id", "vendor_invoice_id", "vendor_charge_type", "vendor_customer_external_id",
    "vendor_customer_domain", "tax", "exchange_rate", "pricing_currency", "list_unit_cost", "deductions",
    "deduction_total", "vendor_prorated", "credit_for_line", "commitment_end",
)
#: every column of a ``vendor_lines`` row after ``import_id``, ``line_no`` (what is written and read)
STORED_LINE_COLUMNS: tuple[str, ...] = LINE_COLUMNS + EXTRA_LINE_COLUMNS
#: stored as TEXT decimal strings, read back as Decimal (``quantity`` too: usage can be fractional)
MONEY_COLUMNS: tuple[str, ...] = ("quantity", "unit_cost", "unit_price", "extended_cost", "extended_price")
#: stored as ISO ``YYYY-MM-DD`` TEXT, read back as ``datetime.date``
DATE_COLUMNS: tuple[str, ...] = ("customer_created", "period_start", "period_end", "effective_date")

def _insert_sql(columns: tuple[str, ...]) -> str:
    return (f"INSERT INTO vendor_lines (import_id, line_no, {', '.join(columns)}) "
            f"VALUES ({', '.join('?' * (len(columns) + 2))})")


_SELECT_LINES = f"SELECT line_no, {', '.join(STORED_LINE_COLUMNS)} FROM vendor_lines"


def _arrow_texts(a: pa.Array | pa.ChunkedArray) -> list[str | None]:
    """An Arrow column as Python text values (None when missing), each distinct value decoded once."""
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks() if a.num_chunks != 1 else a.chunk(0)
    if pa.types.is_dictionary(a.type):
        values = np.empty(len(a.dictionary) + 1, dtype=object)
        values[:-1] = pc.cast(a.dictionary, pa.string()).to_pylist()
        values[-1] = None
        return values[a.indices.fill_null(len(a.dictionary)).to_numpy(zero_copy_only=False)].tolist()
    if not (pa.types.is_string(a.type) or pa.types.is_large_string(a.type)):
        a = pc.cast(a, pa.string())
    return a.to_pylist()


def _frame_texts(col: pd.Series) -> list[str | None]:
    """A frame column as text values (None when missing; numbers in a text column as their text)."""
    values = col.to_numpy(dtype=object, na_value=None) if col.dtype != object else col.to_numpy()
    out = values.tolist()
    if any(v is not None and not isinstance(v, str) for v in out):
        out = [None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else
               v if isinstance(v, str) else str(v) for v in out]
    return out


def _line_columns(lines: pd.DataFrame | pa.Table, columns: tuple[str, ...] = LINE_COLUMNS,
                  ) -> tuple[list[int], list[list[str | None]]]:
    """``line_no`` and the ``columns`` (m006's :data:`LINE_COLUMNS` by default; :func:`record_import`
    writes :data:`STORED_LINE_COLUMNS`) of canonical lines (a frame or the Arrow table of a parse) as
    Python lists, ready for ``executemany`` (missing columns: all NULL)."""
    frame = isinstance(lines, pd.DataFrame)
    n = len(lines) if frame else lines.num_rows
    names = set(lines.columns if frame else lines.column_names)
    if "line_no" in names:
        ln = lines["line_no"]
        line_no = [int(x) for x in (ln.tolist() if frame else ln.to_pylist())]
    else:
        line_no = list(range(1, n + 1))
    cols = []
    for c in columns:
        if c not in names:
            cols.append([None] * n)
        else:
            cols.append(_frame_texts(lines[c]) if frame else _arrow_texts(lines[c]))
    return line_no, cols


#: page cache while an import is written, per line (bytes) and at most (KiB): the two line indexes
#: of a 1,000,000-line import outgrow SQLite's default 2 MB and would be re-read page by page
_BULK_CACHE_PER_LINE = 64
_BULK_CACHE_MAX_KIB = 65536


def _insert_lines(conn, import_id: int, line_no: list[int], cols: list[list[str | None]],
                  columns: tuple[str, ...] = LINE_COLUMNS) -> None:
    """One ``executemany`` over plain tuples of ``columns`` (inside the caller's transaction)."""
    cache = conn.execute("PRAGMA cache_size").fetchone()[0]  # negative: KiB
    want = min(_BULK_CACHE_MAX_KIB, len(line_no) * _BULK_CACHE_PER_LINE // 1024)
    if cache < 0 and want > -cache:
        conn.execute(f"PRAGMA cache_size = {-want}")
    try:
        conn.executemany(_insert_sql(columns), zip(itertools.repeat(import_id, len(line_no)), line_no, *cols))
    finally:
        conn.execute(f"PRAGMA cache_size = {cache}")


def _iso_date(v: str) -> date | None:
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


def record_import(
    store: Store,
    *,
    vendor: str,
    billing_month: str,
    file_name: str,
    sha256: str,
    format: str,
    lines: pd.DataFrame | pa.Table,
    total_cost: Decimal | str,
    total_price: Decimal | str,
    customer_count: int | None = None,
    loaded_by: str | None = None,
) -> dict[str, Any]:
    """Store one import and all its lines in one transaction; returns the ``imports`` row.

    ``lines`` holds the canonical columns (:data:`LINE_COLUMNS`) as text (dates ISO, money as
    decimal strings, empty = NULL), any of the :data:`EXTRA_LINE_COLUMNS` a source adds, and
    optionally ``line_no`` (the row in the file): a DataFrame, or the Arrow table of
    :attr:`billbridge.sources.ParseResult.table`. They become one ``vendor_lines`` row each. The
    version is the next one for ``(vendor, billing_month)``.
    """
    line_no, cols = _line_columns(lines, STORED_LINE_COLUMNS)
    if customer_count is None:
        customer_count = len({v for v in cols[0] if v is not None})
    with store.atomic():
        row = store.conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM imports WHERE vendor = ? AND billing_month = ?",
            (vendor, billing_month),
        ).fetchone()
        version = int(row[0])
        record = {
            "vendor": vendor, "billing_month": billing_month, "version": version,
            "file_name": file_name, "sha256": sha256, "format": format, "line_count": len(line_no),
            "customer_count": int(customer_count), "total_cost": str(total_cost),
            "total_price": str(total_price), "loaded_at": utcnow(), "loaded_by": loaded_by,
        }
        cur = store.conn.execute(
            f"INSERT INTO imports ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            tuple(record.values()),
        )
        import_id = int(cur.lastrowid)
        _insert_lines(store.conn, import_id, line_no, cols, STORED_LINE_COLUMNS)
    return {"id": import_id, **record, "withdrawn_at": None, "withdrawn_by": None, "withdrawn_reason": None}


def list_imports(store: Store, billing_month: str | None = None, vendor: str | None = None) -> list[dict[str, Any]]:
    """Imports, newest first, optionally for one month and/or vendor (money as Decimal); withdrawn
    ones included (``withdrawn_at``/``_by``/``_reason`` set)."""
    where, params = [], []
    if billing_month:
        where.append("billing_month = ?")
        params.append(billing_month)
    if vendor:
        where.append("vendor = ?")
        params.append(vendor)
    sql = "SELECT * FROM imports" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY billing_month DESC, vendor, version DESC"
    return [_import_row(r) for r in store.db.query(sql, params)]


def _import_row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["total_cost"] = Decimal(r["total_cost"])
    r["total_price"] = Decimal(r["total_price"])
    return r


def get_import(store: Store, import_id: int) -> dict[str, Any] | None:
    """One ``imports`` row by id (money as Decimal), or None."""
    rows = list(store.db.query("SELECT * FROM imports WHERE id = ?", [import_id]))
    return _import_row(rows[0]) if rows else None


def latest_import(store: Store, vendor: str, billing_month: str, *, include_withdrawn: bool = False) -> dict[str, Any] | None:
    """The newest version of ``vendor``'s ``billing_month`` in effect (not withdrawn, unless
    ``include_withdrawn``), or None."""
    rows = list(store.db.query(
        "SELECT * FROM imports WHERE vendor = ? AND billing_month = ?"
        + ("" if include_withdrawn else " AND withdrawn_at IS NULL") + " ORDER BY version DESC LIMIT 1",
        [vendor, billing_month],
    ))
    return _import_row(rows[0]) if rows else None


def month_imports(store: Store, billing_month: str) -> list[dict[str, Any]]:
    """The imports that make up ``billing_month``: the newest non-withdrawn version of each vendor,
    by vendor name."""
    sql = ("SELECT * FROM imports i WHERE billing_month = ? AND withdrawn_at IS NULL AND version = ("
           "SELECT MAX(version) FROM imports j WHERE j.vendor = i.vendor AND j.billing_month = i.billing_month "
           "AND j.withdrawn_at IS NULL) ORDER BY vendor")
    return [_import_row(r) for r in store.db.query(sql, [billing_month])]


def import_currencies(store: Store, import_ids: list[int]) -> dict[int, list[str]]:
    """The currencies of each import's lines (code order; a line without one is USD): what its
    ``total_cost`` is in (Rule 7.1)."""
    out: dict[int, list[str]] = {int(i): [] for i in import_ids}
    ids = sorted(out)
    for start in range(0, len(ids), 500):
        part = ids[start:start + 500]
        for iid, cur in store.conn.execute(
                f"SELECT DISTINCT import_id, COALESCE(NULLIF(currency, ''), 'USD') FROM vendor_lines "
                f"WHERE import_id IN ({', '.join('?' * len(part))}) ORDER BY 1, 2", part):
            out[int(iid)].append(cur)
    return out


# ---- withdrawal (issue 10) ---------------------------------------------------------------------
def _import_or_fail(store: Store, import_id: int) -> dict[str, Any]:
    imp = get_import(store, import_id)
    if imp is None:
        raise NotFoundError(f"no import {import_id}: 'billbridge imports MONTH' and the Load month page list them")
    return imp


def _describe(imp: dict[str, Any]) -> str:
    return f"import {imp['id']} ({imp['vendor']} {imp['billing_month']} version {imp['version']}, {imp['file_name']})"


def withdraw_import(store: Store, import_id: int, *, reason: str, by: str | None = None) -> dict[str, Any]:
    """Withdraw an import: it stops being part of its month (the month falls back to the vendor's
    newest version still in effect, or to none). Recorded with who, when and why; the lines stay
    in ``vendor_lines``. Returns the updated ``imports`` row.

    :class:`NotFoundError` for an unknown id, :class:`InputError` without a reason or when the
    import is already withdrawn."""
    return _set_withdrawn(store, import_id, reason=reason, by=by, withdraw=True)


def restore_import(store: Store, import_id: int, *, reason: str, by: str | None = None) -> dict[str, Any]:
    """Undo a withdrawal: the import is part of its month again (as the newest version it is the
    one the month uses). Recorded like the withdrawal. :class:`InputError` when it is not withdrawn."""
    return _set_withdrawn(store, import_id, reason=reason, by=by, withdraw=False)


def _set_withdrawn(store: Store, import_id: int, *, reason: str, by: str | None, withdraw: bool) -> dict[str, Any]:
    reason = (reason or "").strip()
    if not reason:
        raise InputError("say why (a reason is recorded with every withdrawal and restore)", column="reason")
    by = by or operator_name()
    with store.atomic():
        imp = _import_or_fail(store, import_id)
        if withdraw and imp["withdrawn_at"]:
            raise InputError(f"{_describe(imp)} is already withdrawn (since {imp['withdrawn_at']}, by "
                             f"{imp['withdrawn_by']}: {imp['withdrawn_reason']})")
        if not withdraw and not imp["withdrawn_at"]:
            raise InputError(f"{_describe(imp)} is not withdrawn: nothing to restore")
        now = utcnow()
        store.conn.execute("UPDATE imports SET withdrawn_at = ?, withdrawn_by = ?, withdrawn_reason = ? WHERE id = ?",
                           (now, by, reason, import_id) if withdraw else (None, None, None, import_id))
        store.conn.execute("INSERT INTO import_events (import_id, event, reason, at, by) VALUES (?, ?, ?, ?, ?)",
                           (import_id, "withdrawn" if withdraw else "restored", reason, now, by))
    return get_import(store, import_id)


def import_events(store: Store, *, import_id: int | None = None, billing_month: str | None = None) -> list[dict[str, Any]]:
    """Withdrawals and restores (oldest first): ``import_id``, ``event`` (withdrawn | restored),
    ``reason``, ``at``, ``by`` and the import's ``vendor``, ``billing_month``, ``version``."""
    where, params = [], []
    if import_id is not None:
        where.append("e.import_id = ?")
        params.append(import_id)
    if billing_month:
        where.append("i.billing_month = ?")
        params.append(billing_month)
    sql = ("SELECT e.*, i.vendor, i.billing_month, i.version FROM import_events e JOIN imports i ON i.id = e.import_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY e.id")
    return list(store.db.query(sql, params))


# ---- reading lines -----------------------------------------------------------------------------
def _objects(values: tuple | list, convert) -> np.ndarray:
    """A column of stored text as an object array, each distinct value converted once (``convert``:
    e.g. ``Decimal``; '' and NULL -> None)."""
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    if convert is None:
        return arr
    codes, uniques = pd.factorize(arr, use_na_sentinel=True)
    conv = np.empty(len(uniques) + 1, dtype=object)
    conv[:-1] = [None if v == "" else convert(v) for v in uniques.tolist()]
    conv[-1] = None
    return conv[codes]


def import_lines(store: Store, import_id: int, *, raw: bool = False, extras: bool = True) -> pd.DataFrame:
    """The lines of one import (file order): ``line_no`` + :data:`LINE_COLUMNS` + :data:`EXTRA_LINE_COLUMNS`.

    Money and quantities come back as Decimal, dates as ``datetime.date`` (``raw=True``: the
    stored text, which is faster for large imports); the extra columns as the stored text
    (``extras=False`` leaves them out: the reconciliation reads only the canonical columns, and
    13 more columns make a 100,000-line raw read 1.3x as long). Each distinct value is converted once.
    """
    names = STORED_LINE_COLUMNS if extras else LINE_COLUMNS
    select = _SELECT_LINES if extras else f"SELECT line_no, {', '.join(LINE_COLUMNS)} FROM vendor_lines"
    rows = store.conn.execute(select + " WHERE import_id = ? ORDER BY line_no", (import_id,)).fetchall()
    columns = list(zip(*rows)) if rows else [()] * (len(names) + 1)
    cols: dict[str, np.ndarray] = {"line_no": _objects(columns[0], None)}
    for c, values in zip(names, columns[1:]):
        convert = None if raw else Decimal if c in MONEY_COLUMNS else _iso_date if c in DATE_COLUMNS else None
        arr = _objects(values, convert)
        if raw or c not in DATE_COLUMNS:
            # as the row-per-line reads always gave: NaN for a missing value in a column that has values
            missing = pd.isna(arr)
            if missing.any() and not missing.all():
                arr[missing] = np.nan
        cols[c] = arr
    df = pd.DataFrame(cols, dtype=object)
    if not raw:
        df["line_no"] = df["line_no"].astype("int64")
    return df


def import_line_table(store: Store, import_id: int, columns: tuple[str, ...] = LINE_COLUMNS) -> pa.Table:
    """The lines of one import (file order) as an Arrow table of the stored values, a column at a time:
    ``line_no`` (int64) + ``columns`` of :data:`LINE_COLUMNS` (string: text, ISO dates and decimal text
    as stored, null when missing)."""
    types = {"line_no": pa.int64(), **{c: pa.string() for c in columns}}
    return store.read_arrow(f"SELECT line_no, {', '.join(columns)} FROM vendor_lines WHERE import_id = ? "
                            "ORDER BY line_no", (import_id,), types)


#: what identifies "the same line" across two versions of a month (Rule: duplicates key)
LINE_KEY = ("vendor_customer_id", "subscription_id", "sku", "charge_type", "period_start", "period_end")


def diff_imports(store: Store, old_id: int, new_id: int) -> dict[str, pd.DataFrame]:
    """What changed between two imports: ``added`` and ``removed`` lines, and ``quantity_changed``
    (key columns + ``quantity_old``, ``quantity_new``, ``line_no_old``, ``line_no_new``).

    Lines are matched on customer, subscription, SKU, charge type and period.
    """
    old = import_lines(store, old_id, raw=True)
    new = import_lines(store, new_id, raw=True)
    key = list(LINE_KEY)
    for df in (old, new):
        for c in key:
            df[c] = df[c].fillna("")
    merged = old.merge(new, on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
    removed = merged[merged["_merge"] == "left_only"]
    added = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"]
    changed = both[both["quantity_old"].map(Decimal) != both["quantity_new"].map(Decimal)] if len(both) else both

    def side(df: pd.DataFrame, suffix: str) -> pd.DataFrame:
        cols = {f"{c}{suffix}": c for c in ["line_no", *LINE_COLUMNS] if f"{c}{suffix}" in df}
        out = df[key + list(cols)].rename(columns=cols)
        return out[["line_no", *[c for c in LINE_COLUMNS if c in out]]].reset_index(drop=True)

    qc = changed[key + ["quantity_old", "quantity_new", "line_no_old", "line_no_new"]].copy()
    for c in ("quantity_old", "quantity_new"):
        qc[c] = qc[c].map(Decimal)
    return {
        "added": side(added, "_new"),
        "removed": side(removed, "_old"),
        "quantity_changed": qc.reset_index(drop=True),
    }


# --------------------------------------------------------------------------------------- formats
def save_format(store: Store, vendor: str, name: str, mapping: dict[str, Any] | Any, saved_by: str | None = None) -> None:
    """Save (or replace) a named column mapping for ``vendor``. ``mapping`` is a dict or an object
    with ``to_dict()`` (:class:`billbridge.sources.ColumnMapping`)."""
    if hasattr(mapping, "to_dict"):
        mapping = mapping.to_dict()
    with store.atomic():
        store.db["formats"].upsert(
            {"vendor": vendor, "name": name, "mapping": json.dumps(mapping, sort_keys=True),
             "saved_at": utcnow(), "saved_by": saved_by},
            pk=("vendor", "name"),
        )


def list_formats(store: Store, vendor: str | None = None) -> list[dict[str, Any]]:
    """Saved formats (vendor, name, mapping dict, saved_at), optionally for one vendor."""
    sql, params = "SELECT * FROM formats", []
    if vendor:
        sql += " WHERE vendor = ?"
        params.append(vendor)
    rows = list(store.db.query(sql + " ORDER BY vendor, name", params))
    for r in rows:
        r["mapping"] = json.loads(r["mapping"])
    return rows


def get_format(store: Store, vendor: str, name: str) -> dict[str, Any] | None:
    """The mapping dict saved as ``name`` for ``vendor``, or None."""
    rows = list(store.db.query("SELECT mapping FROM formats WHERE vendor = ? AND name = ?", [vendor, name]))
    return json.loads(rows[0]["mapping"]) if rows else None


def delete_format(store: Store, vendor: str, name: str) -> bool:
    """Delete a saved format; True when one existed."""
    with store.atomic():
        cur = store.conn.execute("DELETE FROM formats WHERE vendor = ? AND name = ?", (vendor, name))
    return cur.rowcount > 0


def import_lines_subset(store: Store, import_id: int, line_nos: list[int]) -> pd.DataFrame:
    """Only the given lines of an import (as :func:`import_lines`, text values): the vendor lines
    behind one plan row without reading the whole month."""
    cols = ["line_no", *STORED_LINE_COLUMNS]
    wanted = sorted({int(x) for x in line_nos})
    rows: list[tuple] = []
    for start in range(0, len(wanted), 500):
        part = wanted[start:start + 500]
        rows += store.conn.execute(
            _SELECT_LINES + f" WHERE import_id = ? AND line_no IN ({', '.join('?' * len(part))}) ORDER BY line_no",
            (import_id, *part)).fetchall()
    return pd.DataFrame(rows, columns=cols)
