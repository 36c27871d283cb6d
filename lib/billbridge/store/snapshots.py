"""ConnectWise snapshots: what billbridge read from ConnectWise for a billing month, when.

``snapshots`` holds one row per read (month, time, site, requests it took, the mapped agreements
whose additions were read). The records themselves are typed tables, one row per record, each row
carrying ``snapshot_id``, its typed columns (what the reconciliation reads, the columns of
:class:`billbridge.plan.inputs.SnapshotFrames`) and the raw record as JSON (``record``)::

    cw_companies        company_id, identifier, name, account_number, deleted (0/1), status, types (comma-separated)
    cw_agreements       agreement_id, name, company_id, company_name, type_name, status, cancelled, end_date,
                        no_end, prorate, parent_id, parent_name, currency
    cw_additions        addition_id, agreement_id, product_id, product_identifier, quantity, unit_price, unit_cost
                        (TEXT decimal strings), effective_date, cancelled_date (ISO dates), line_key (custom
                        field BillbridgeKey), updated_by, last_updated, entered_by, date_entered
    cw_catalog_items    catalog_item_id, identifier, description, inactive, price, cost, vendor_sku
    cw_agreement_types  type_id, name
    cw_product_types    type_id, name
    cw_invoices         invoice_id, agreement_id, date, type

``id`` keeps the order ConnectWise returned them in. So the additions of one agreement are::

    SELECT * FROM cw_additions WHERE snapshot_id = 12 AND agreement_id = 10002;

:func:`load_snapshot_tables` reads the columns the reconciliation reads as Arrow tables (the plan
lifecycle's path, in C); :func:`load_snapshot_frames` builds the reconciliation's frames from these columns;
:func:`load_snapshot` gives the raw records back as lists (the Mappings page,
creation checks).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa

from billbridge.plan.inputs import SnapshotFrames, SnapshotTables, _empty, snapshot_frames

if TYPE_CHECKING:  # the store's type only: the concern modules never import db at run time
    from billbridge.store.db import Store

__all__ = ["SNAPSHOT_TABLES", "save_snapshot", "latest_snapshot", "load_snapshot", "load_snapshot_frames",
           "load_snapshot_tables"]

#: resource -> (table, frame attribute of SnapshotFrames or None, typed columns as the frame names them)
SNAPSHOT_TABLES: dict[str, tuple[str, str | None, tuple[str, ...]]] = {
    "companies": ("cw_companies", "companies",
                  ("company_id", "identifier", "name", "account_number", "deleted", "status", "types")),
    "agreements": ("cw_agreements", "agreements",
                   ("agreement_id", "name", "company_id", "company_name", "type_name", "status", "cancelled",
                    "end_date", "no_end", "prorate", "parent_id", "parent_name", "currency")),
    "additions": ("cw_additions", "additions",
                  ("addition_id", "agreement_id", "product_id", "product_identifier", "quantity", "unit_price",
                   "unit_cost", "effective_date", "cancelled_date", "key", "updated_by", "last_updated",
                   "entered_by", "date_entered")),
    "catalog": ("cw_catalog_items", "catalog",
                ("catalog_item_id", "identifier", "description", "inactive", "price", "cost", "vendor_sku")),
    "agreement_types": ("cw_agreement_types", "agreement_types", ("type_id", "name")),
    "product_types": ("cw_product_types", None, ("type_id", "name")),
    "invoices": ("cw_invoices", "invoices", ("invoice_id", "agreement_id", "date", "type")),
}
#: frame column -> table column where they differ
_SQL_NAME = {"key": "line_key"}
_BOOLS = {"deleted", "cancelled", "no_end", "prorate", "inactive"}
_NUMBERS = {"quantity", "unit_price", "unit_cost"}  # float64 in the frames, decimal text in SQLite
_JSON_NUMBERS = {"price", "cost"}  # the catalog's raw JSON numbers (int or float), kept as their JSON text
_TYPES_SEP = ","


def _sql(col: str) -> str:
    return _SQL_NAME.get(col, col)


def _number_text(v: float) -> str:
    """A float as a plain decimal string that reads back as the same float ('16.99', '31')."""
    return np.format_float_positional(v, trim="-")


def _column_values(col: str, series: pd.Series) -> list[Any]:
    """A frame column as SQLite values (NULL for missing; 0/1 for flags; numbers as decimal text)."""
    values = series.to_numpy(dtype=object).tolist()
    if col in _BOOLS:
        return [None if v is None else int(bool(v)) for v in values]
    if col == "types":
        return [_TYPES_SEP.join("" if t is None else str(t) for t in v) if v else None for v in values]
    if col in _NUMBERS:
        cache: dict[float, str] = {}
        return [None if v is None or v != v else cache.get(v) or cache.setdefault(v, _number_text(v)) for v in values]
    if col in _JSON_NUMBERS:
        return [None if v is None or (isinstance(v, float) and v != v) else json.dumps(v) for v in values]
    out = []
    for v in values:
        if v is None or (isinstance(v, float) and v != v):
            out.append(None)
        elif isinstance(v, (bool, np.bool_)):
            out.append(int(v))
        elif isinstance(v, float) and col.endswith("_id") and v.is_integer():
            out.append(int(v))
        elif isinstance(v, np.generic):
            out.append(v.item())
        else:
            out.append(v)
    return out


def _snapshot_rows(records: Mapping[str, list[dict]], *, line_key_field: str | None = None,
                   line_key_field_id: int | None = None) -> dict[str, list[dict[str, Any]]]:
    """Every resource's records as table rows: the typed columns (SQL names) + ``record`` (JSON),
    in the records' order. The typed values are exactly what :func:`snapshot_frames` reads."""
    from billbridge import demo_world

    frames = snapshot_frames(records, line_key_field=line_key_field or demo_world.LINE_KEY_FIELD,
                             line_key_field_id=line_key_field_id or demo_world.LINE_KEY_FIELD_ID)
    out: dict[str, list[dict[str, Any]]] = {}
    for resource, (_table, attr, cols) in SNAPSHOT_TABLES.items():
        recs = records.get(resource)
        if resource == "catalog" and recs is None:
            recs = records.get("catalog_items")
        recs = list(recs or [])
        if attr is None:  # product types: no frame, read from the records
            values = {"type_id": [r.get("id") for r in recs], "name": [r.get("name") for r in recs]}
        else:
            frame = getattr(frames, attr)
            values = {c: _column_values(c, frame[c]) for c in cols} if len(frame) else {c: [] for c in cols}
        texts = [json.dumps(r) for r in recs]
        out[resource] = [{**{_sql(c): values[c][i] for c in cols}, "record": texts[i]} for i in range(len(recs))]
    return out


# snapshots ---------------------------------------------------------------------------------------
def save_snapshot(store: Store, billing_month: str, snapshot: Any, agreement_ids: list[int] | None = None) -> int:
    """Store a :class:`billbridge.snapshot.Snapshot` (one typed row per record, in one transaction);
    returns its id."""
    data = snapshot.as_dict()
    requests_ = dict(snapshot.requests)
    rows = _snapshot_rows(data)
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO snapshots (billing_month, taken_at, site, request_count, requests, agreement_ids, counts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot.taken_at, getattr(snapshot, "site", ""), int(sum(requests_.values())),
             json.dumps(requests_), json.dumps(sorted(int(a) for a in (agreement_ids or []))),
             json.dumps({k: len(v) for k, v in data.items()})),
        )
        sid = int(cur.lastrowid)
        for resource, (table, _attr, cols) in SNAPSHOT_TABLES.items():
            names = [_sql(c) for c in cols] + ["record"]
            store.conn.executemany(
                f"INSERT INTO {table} (snapshot_id, {', '.join(names)}) VALUES (?, {', '.join('?' * len(names))})",
                ((sid, *[r[n] for n in names]) for r in rows[resource]))
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


def _meta(store: Store, snapshot_id: int) -> dict[str, Any]:
    from billbridge.errors import NotFoundError

    rows = list(store.db.query("SELECT * FROM snapshots WHERE id = ?", [snapshot_id]))
    if not rows:
        raise NotFoundError(f"no snapshot {snapshot_id}")
    return _snapshot_meta(rows[0])


def load_snapshot(store: Store, snapshot_id: int) -> dict[str, Any]:
    """A stored snapshot as ConnectWise returned it: ``{"meta": {...}, "<resource>": [records], ...}``."""
    out: dict[str, Any] = {"meta": _meta(store, snapshot_id)}
    for resource, (table, _attr, _cols) in SNAPSHOT_TABLES.items():
        texts = [t for (t,) in store.conn.execute(f"SELECT record FROM {table} WHERE snapshot_id = ? ORDER BY id",
                                                   (snapshot_id,))]
        out[resource] = json.loads("[" + ",".join(texts) + "]")
    return out


#: how each frame column is typed (the dtypes :func:`snapshot_frames` ends up with): ``int`` ids
#: (int64, float64 with NaN when one is missing), ``bool`` flags, ``float`` numbers, ``json`` raw JSON
#: numbers, ``tuple`` names, anything else text (object, None when missing)
_KINDS = {"company_id": "int", "agreement_id": "int", "addition_id": "int", "product_id": "int",
          "catalog_item_id": "int", "invoice_id": "int", "type_id": "int", "parent_id": "int",
          **{c: "bool" for c in _BOOLS}, **{c: "float" for c in _NUMBERS}, "price": "json", "cost": "json",
          "types": "tuple"}


def _typed(kind: str | None, values: tuple) -> np.ndarray | list:
    if kind == "int":
        if all(v is None for v in values):
            return _typed(None, values)
        if None in values:
            return np.array([np.nan if v is None else v for v in values], dtype="float64")
        return np.array(values, dtype="int64")
    if kind == "bool":
        return np.array([bool(v) for v in values], dtype=bool)
    if kind == "float":
        return pd.to_numeric(pd.Series(values, dtype=object), errors="coerce").astype("float64").to_numpy()
    if kind == "tuple":
        arr = np.empty(len(values), dtype=object)
        arr[:] = [tuple(v.split(_TYPES_SEP)) if v else () for v in values]
        return arr
    if kind == "json":
        return pd.Series([None if v is None else json.loads(v) for v in values]).to_numpy() if values else []
    arr = np.empty(len(values), dtype=object)
    arr[:] = values
    return arr


def _frame(rows: list[tuple], cols: tuple[str, ...]) -> pd.DataFrame:
    """One frame from a table's typed columns, with the dtypes ``snapshot_frames`` gives it."""
    if not rows:
        return _empty(cols)
    columns = list(zip(*rows))
    return pd.DataFrame({c: pd.Series(_typed(_KINDS.get(c), v), copy=False) if _KINDS.get(c) else
                         pd.Series(_typed(None, v), dtype=object, copy=False) for c, v in zip(cols, columns)})


def load_snapshot_frames(store: Store, snapshot_id: int) -> SnapshotFrames:
    """The snapshot as the reconciliation's :class:`SnapshotFrames`, read from the typed columns
    (no JSON): the same frames :func:`snapshot_frames` builds from :func:`load_snapshot`'s records."""
    meta = _meta(store, snapshot_id)
    frames: dict[str, pd.DataFrame] = {}
    for resource, (table, attr, cols) in SNAPSHOT_TABLES.items():
        if attr is None:
            continue
        rows = store.conn.execute(f"SELECT {', '.join(_sql(c) for c in cols)} FROM {table} WHERE snapshot_id = ? "
                                  "ORDER BY id", (snapshot_id,)).fetchall()
        if resource == "additions" and not rows:  # snapshot_frames: an empty frame, numbers as float64
            df = _empty(cols)
            for col in _NUMBERS:
                df[col] = df[col].astype("float64")
            frames[attr] = df
        else:
            frames[attr] = _frame(rows, cols)
    return SnapshotFrames(taken_at=meta["taken_at"], **frames)


def load_snapshot_tables(store: Store, snapshot_id: int) -> SnapshotTables:
    """The snapshot's columns the reconciliation reads, as Arrow tables of the stored values (read in C:
    :meth:`~billbridge.store.db.Store.read_arrow`), in ConnectWise's order."""
    from billbridge.plan.tables import SNAPSHOT_COLUMNS

    meta = _meta(store, snapshot_id)
    tables = {}
    for resource, cols in SNAPSHOT_COLUMNS.items():
        table = SNAPSHOT_TABLES[resource][0]
        types = {c: pa.int64() if _KINDS.get(c) in ("int", "bool") else pa.string() for c in cols}
        tables[resource] = store.read_arrow(f"SELECT {', '.join(_sql(c) + ' AS ' + c for c in cols)} FROM {table} "
                                            "WHERE snapshot_id = ? ORDER BY id", (snapshot_id,), types)
    return SnapshotTables(tables=tables, taken_at=meta["taken_at"])
