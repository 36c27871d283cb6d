"""The store as it was at schema version 5 (m001..m005, the starting point of issue 9): the writers
and readers of import blobs, snapshot JSON and JSON plan rows, copied unchanged from
``lib/billbridge/store/{imports,snapshots,plans}.py`` of commit 9fb2e08.

The migration test fills a version-5 database with these writers and records what these readers
return, then migrates the file and checks that today's readers return the same.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as pa_ipc

from billbridge.config import operator_name
from billbridge.store.db import Store, utcnow


# ---- from lib/billbridge/store/imports.py -------------------------------------------------

LINE_COLUMNS: tuple[str, ...] = (
    "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "billing_frequency", "term", "quantity", "unit_cost",
    "unit_price", "period_start", "period_end", "effective_date", "currency",
    "extended_cost", "extended_price",
)

MONEY_COLUMNS: tuple[str, ...] = ("quantity", "unit_cost", "unit_price", "extended_cost", "extended_price")

DATE_COLUMNS: tuple[str, ...] = ("customer_created", "period_start", "period_end", "effective_date")

BLOB_CODEC = "arrow-ipc/zstd"

_BLOB_COMPRESSION = "zstd"


def _text_array(col: pd.Series) -> pa.Array:
    """A frame column of text (str, pandas string or object; missing = null) as an Arrow string array."""
    arr = getattr(col.array, "_pa_array", None)
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return pc.cast(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr, pa.string())
    values = col.to_numpy(dtype=object, na_value=None)
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers in a text column: stored as their text, as SQLite did
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _lines_table(lines: pd.DataFrame | pa.Table) -> pa.Table:
    """``line_no`` (int64) + :data:`LINE_COLUMNS` (text, null when missing) from a frame or an Arrow
    table of canonical lines (extra columns dropped; dictionary-encoded text kept as it is, except
    where nearly every value is distinct)."""
    n = len(lines) if isinstance(lines, pd.DataFrame) else lines.num_rows
    names = lines.columns if isinstance(lines, pd.DataFrame) else lines.column_names
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    if "line_no" in names:
        ln = lines["line_no"]
        cols["line_no"] = pc.cast(ln, pa.int64()) if not isinstance(lines, pd.DataFrame) else pa.array(ln.to_numpy(dtype=np.int64))
    else:
        cols["line_no"] = pa.array(np.arange(1, n + 1, dtype=np.int64))
    for c in LINE_COLUMNS:
        if c not in names:
            cols[c] = pa.nulls(n, pa.string())
        elif isinstance(lines, pd.DataFrame):
            cols[c] = _text_array(lines[c])
        else:
            a = lines[c]
            if pa.types.is_dictionary(a.type):
                if sum(len(ch.dictionary) for ch in a.chunks) > n // 2:
                    a = pc.cast(a, pa.string())
            else:
                a = pc.cast(a, pa.string())
            cols[c] = a
    return pa.table(cols)


def _lines_blob(table: pa.Table) -> bytes:
    """An import's lines table -> the bytes stored in ``import_blobs.data``."""
    sink = pa.BufferOutputStream()
    with pa_ipc.new_stream(sink, table.schema, options=pa_ipc.IpcWriteOptions(compression=_BLOB_COMPRESSION)) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _blob_table(store: Store, import_id: int) -> pa.Table:
    """The lines of one import as stored (``line_no`` order); an empty table when it has none."""
    row = store.conn.execute("SELECT data FROM import_blobs WHERE import_id = ?", (import_id,)).fetchone()
    if row is None:
        return pa.table({"line_no": pa.array([], pa.int64()), **{c: pa.array([], pa.string()) for c in LINE_COLUMNS}})
    return pa_ipc.open_stream(row[0]).read_all()


def _objects(col: pa.ChunkedArray, convert: Callable[[str], Any] | None = None) -> np.ndarray:
    """A text column as a numpy object array of Python values (None when missing), each distinct
    value converted once (``convert``: e.g. ``Decimal``)."""
    enc = col if pa.types.is_dictionary(col.type) else col.dictionary_encode()
    enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
    values = np.empty(len(enc.dictionary) + 1, dtype=object)
    values[:-1] = enc.dictionary.to_pylist()
    if convert is not None:
        values[:-1] = [None if v is None or v == "" else convert(v) for v in values[:-1]]
    values[-1] = None
    return values[enc.indices.fill_null(len(enc.dictionary)).to_numpy()]


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
    lines: pd.DataFrame,
    total_cost: Decimal | str,
    total_price: Decimal | str,
    customer_count: int | None = None,
    loaded_by: str | None = None,
) -> dict[str, Any]:
    """Store one import and all its lines in one transaction; returns the ``imports`` row.

    ``lines`` holds the canonical columns (:data:`LINE_COLUMNS`) as text (dates ISO, money as
    decimal strings, empty = NULL) and optionally ``line_no`` (the row in the file): a DataFrame,
    or the Arrow table of :attr:`billbridge.sources.ParseResult.table`. They are written as one
    compressed Arrow blob (``import_blobs``). The version is the next one for ``(vendor, billing_month)``.
    """
    table = _lines_table(lines)
    if customer_count is None:
        customer_count = int(pc.count_distinct(pc.cast(table["vendor_customer_id"], pa.string())).as_py()) if table.num_rows else 0
    with store.atomic():
        row = store.conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM imports WHERE vendor = ? AND billing_month = ?",
            (vendor, billing_month),
        ).fetchone()
        version = int(row[0])
        record = {
            "vendor": vendor, "billing_month": billing_month, "version": version,
            "file_name": file_name, "sha256": sha256, "format": format, "line_count": int(table.num_rows),
            "customer_count": int(customer_count), "total_cost": str(total_cost),
            "total_price": str(total_price), "loaded_at": utcnow(), "loaded_by": loaded_by,
        }
        cur = store.conn.execute(
            f"INSERT INTO imports ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            tuple(record.values()),
        )
        import_id = int(cur.lastrowid)
        store.conn.execute(
            "INSERT INTO import_blobs (import_id, line_count, codec, data) VALUES (?, ?, ?, ?)",
            (import_id, int(table.num_rows), BLOB_CODEC, _lines_blob(table)),
        )
    return {"id": import_id, **record}


def import_lines(store: Store, import_id: int, *, raw: bool = False) -> pd.DataFrame:
    """The lines of one import: ``line_no`` + :data:`LINE_COLUMNS`.

    Money and quantities come back as Decimal, dates as ``datetime.date`` (``raw=True``: the
    stored text, which is faster for large imports). Each distinct value is converted once.
    """
    table = _blob_table(store, import_id)
    line_no = table["line_no"].to_numpy()
    order = None if len(line_no) < 2 or bool(np.all(line_no[1:] > line_no[:-1])) else np.argsort(line_no, kind="stable")
    cols: dict[str, np.ndarray] = {"line_no": line_no.astype(object)}
    for c in LINE_COLUMNS:
        convert = None if raw else Decimal if c in MONEY_COLUMNS else _iso_date if c in DATE_COLUMNS else None
        values = _objects(table[c], convert)
        if raw or c not in DATE_COLUMNS:
            # as the row-per-line reads gave: NaN for a missing value in a column that has values
            missing = pd.isna(values)
            if missing.any() and not missing.all():
                values[missing] = np.nan
        cols[c] = values
    if order is not None:
        cols = {k: v[order] for k, v in cols.items()}
    df = pd.DataFrame(cols, dtype=object)
    if not raw:
        df["line_no"] = df["line_no"].astype("int64")
    return df

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


def import_lines_subset(store: Store, import_id: int, line_nos: list[int]) -> pd.DataFrame:
    """Only the given lines of an import (as :func:`import_lines`, text values): the vendor lines
    behind one plan row without converting the whole month."""
    cols = ["line_no", *LINE_COLUMNS]
    table = _blob_table(store, import_id)
    wanted = pa.array(sorted({int(x) for x in line_nos}), type=pa.int64())
    part = table.filter(pc.is_in(table["line_no"], value_set=wanted))
    part = part.take(pc.sort_indices(part["line_no"])) if part.num_rows > 1 else part
    values = [pc.cast(part[c], pa.string()).to_pylist() if c != "line_no" else part[c].to_pylist() for c in cols]
    return pd.DataFrame(list(zip(*values)), columns=cols)

# ---- from lib/billbridge/store/snapshots.py -----------------------------------------------


def save_snapshot(store: Store, billing_month: str, snapshot: Any, agreement_ids: list[int] | None = None) -> int:
    """Store a :class:`billbridge.snapshot.Snapshot` (records per resource as JSON); returns its id."""
    data = snapshot.as_dict()
    requests_ = dict(snapshot.requests)
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO snapshots (billing_month, taken_at, site, request_count, requests, agreement_ids, counts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot.taken_at, getattr(snapshot, "site", ""), int(sum(requests_.values())),
             json.dumps(requests_), json.dumps(sorted(int(a) for a in (agreement_ids or []))),
             json.dumps({k: len(v) for k, v in data.items()})),
        )
        sid = int(cur.lastrowid)
        store.conn.executemany(
            "INSERT INTO snapshot_data (snapshot_id, resource, records) VALUES (?, ?, ?)",
            [(sid, k, json.dumps(v)) for k, v in data.items()],
        )
    return sid


def _snapshot_meta(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    for c in ("requests", "agreement_ids", "counts"):
        r[c] = json.loads(r[c])
    return r


def latest_snapshot(store: Store, billing_month: str | None = None) -> dict[str, Any] | None:
    """The newest snapshot's metadata (id, billing_month, taken_at, request_count, requests, counts)."""
    sql, params = "SELECT * FROM snapshots", []
    if billing_month:
        sql += " WHERE billing_month = ?"
        params.append(billing_month)
    rows = list(store.db.query(sql + " ORDER BY id DESC LIMIT 1", params))
    return _snapshot_meta(rows[0]) if rows else None


def load_snapshot(store: Store, snapshot_id: int) -> dict[str, Any]:
    """A stored snapshot: ``{"meta": {...}, "<resource>": [records], ...}``."""
    rows = list(store.db.query("SELECT * FROM snapshots WHERE id = ?", [snapshot_id]))
    if not rows:
        raise KeyError(f"no snapshot {snapshot_id}")
    out: dict[str, Any] = {"meta": _snapshot_meta(rows[0])}
    for r in store.db.query("SELECT resource, records FROM snapshot_data WHERE snapshot_id = ?", [snapshot_id]):
        out[r["resource"]] = json.loads(r["records"])
    return out

# ---- from lib/billbridge/store/plans.py ---------------------------------------------------


def save_plan(store: Store, billing_month: str, snapshot_id: int | None, summary: dict[str, Any],
              rows: list[dict[str, Any]], *, inputs: dict[str, Any] | None = None, created_by: str | None = None) -> int:
    """Store one reconcile run: its summary and every row (JSON-ready dicts with ``key``, ``action``,
    ``cause``, ``reason``, ``target``) in one transaction; returns the plan id."""
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO plans (billing_month, snapshot_id, created_at, created_by, status, row_count, summary, inputs) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot_id, utcnow(), created_by or operator_name(), str(summary.get("status", "")),
             len(rows), json.dumps(summary), json.dumps(inputs or {}, sort_keys=True)),
        )
        pid = int(cur.lastrowid)
        store.conn.executemany(
            "INSERT INTO plan_rows (plan_id, seq, key, action, cause, reason, target, row) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ((pid, i, r["key"], r["action"], r.get("cause"), r.get("reason"), r.get("target") or "addition",
              json.dumps(r)) for i, r in enumerate(rows)),
        )
    return pid


def plan_rows(store: Store, plan_id: int, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """The stored rows of a plan (JSON dicts, plan order), optionally only ``keys``."""
    if keys is None:
        cur = store.conn.execute("SELECT row FROM plan_rows WHERE plan_id = ? ORDER BY seq", (plan_id,))
        return [json.loads(r[0]) for r in cur]
    out = []
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        cur = store.conn.execute(
            f"SELECT row FROM plan_rows WHERE plan_id = ? AND key IN ({', '.join('?' * len(part))}) ORDER BY seq",
            (plan_id, *part))
        out.extend(json.loads(r[0]) for r in cur)
    return out


def _plan_where(plan_id: int, actions=None, causes=None, customers=None, products=None) -> tuple[str, list[Any]]:
    where, params = ["plan_id = ?"], [plan_id]
    for expr, values in (("action", actions), ("COALESCE(cause, '')", causes),
                         ("COALESCE(json_extract(row, '$.vendor_customer_name'), json_extract(row, '$.company_name'), '')", customers),
                         (_PRODUCT_EXPR, products)):
        if values:
            where.append(f"{expr} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    return " AND ".join(where), params

_PRODUCT_EXPR = ("COALESCE(json_extract(row, '$.product_description'), json_extract(row, '$.product_name'), "
                 "json_extract(row, '$.sku'), '')")


def plan_page(store: Store, plan_id: int, *, actions: list[str] | None = None, causes: list[str] | None = None,
              customers: list[str] | None = None, products: list[str] | None = None, limit: int | None = 500,
              offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of a plan's rows matching the filters (plan order) and how many match in all, so a
    50,000-row plan is never loaded whole to show 500 rows. ``causes`` may include '' (no cause)."""
    where, params = _plan_where(plan_id, actions, causes, customers, products)
    total = store.conn.execute(f"SELECT COUNT(*) FROM plan_rows WHERE {where}", params).fetchone()[0]
    sql = f"SELECT row FROM plan_rows WHERE {where} ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return [json.loads(r[0]) for r in store.conn.execute(sql, params)], int(total)


def plan_keys(store: Store, plan_id: int, **filters: Any) -> list[str]:
    """Keys of every row matching the filters of :func:`plan_page` (for "select all")."""
    where, params = _plan_where(plan_id, **filters)
    return [r[0] for r in store.conn.execute(f"SELECT key FROM plan_rows WHERE {where} ORDER BY seq", params)]


def plan_facets(store: Store, plan_id: int) -> dict[str, list[str]]:
    """Distinct actions, causes, customers and products of a plan (filter choices)."""
    q = lambda expr: [r[0] for r in store.conn.execute(  # noqa: E731
        f"SELECT DISTINCT {expr} AS v FROM plan_rows WHERE plan_id = ? AND v IS NOT NULL AND v != '' ORDER BY v", (plan_id,))]
    return {"actions": q("action"), "causes": q("cause"),
            "customers": q("COALESCE(json_extract(row, '$.vendor_customer_name'), json_extract(row, '$.company_name'))"),
            "products": q(_PRODUCT_EXPR)}
