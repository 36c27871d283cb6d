"""Plans (one reconcile run of a billing month and its rows) and the queue of "create this
ConnectWise record" requests from the Mappings page.

A plan's rows are typed columns, not documents:

``plan_rows``       one row per plan row, in plan order (``id``): key, action, cause, bucket, target,
                    reason, flags (comma-separated codes), subscription, vendor lines (comma-separated
                    line numbers), quantities, prices, dates, impacts (TEXT decimal strings / ISO
                    dates, NULL when empty) and JSON only for documents: ``writes`` (the field
                    diff), ``request`` (the exact API call), ``lookup`` (creates only), ``depends_on``,
                    ``maps`` and ``extra`` (any field a row carries beyond these columns)
``plan_accounts``   the plan's distinct who: vendor, vendor customer id and name, company id and
                    name, agreement id and name, sync mode, currency (``account_no`` per plan)
``plan_products``   the plan's distinct what: SKU, product name, charge type, term, billing
                    frequency, quantity basis, catalog item id, identifier, description
``plan_lines``      a view joining the three: the full row with every column of
                    :data:`billbridge.model.ROW_COLUMNS`, e.g.
                    ``SELECT key, vendor_customer_name, reason FROM plan_lines WHERE plan_id = 7 AND cause = 'unmapped_customer'``

Who and what are stored once per plan because they repeat on every row of a customer or product
(a 50,000-row plan has ~10,000 accounts and a few dozen products). Reads return the rows as dicts
(JSON-ready: money as decimal strings, dates ISO, lists as lists), exactly as they were saved.

Retention: when a plan is saved, the month's plans that no push run used are pruned to the newest
:data:`KEEP_UNPUSHED`; a plan a push used (``push_runs.plan_id``) is never pruned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billbridge.clock import utcnow
from billbridge.config import operator_name
from billbridge.errors import ConservationError
from billbridge.model import MONEY_FIELDS, PLAN_EXTRA_COLUMNS, ROW_COLUMNS
from billbridge.plan import reasons
from billbridge.plan.summary import bucket_sql

if TYPE_CHECKING:  # the store's type only: the concern modules never import db at run time
    from billbridge.store.db import Store

__all__ = ["KEEP_UNPUSHED", "ACCOUNT_COLUMNS", "PRODUCT_COLUMNS", "ROW_FIELDS", "save_plan", "get_plan",
           "latest_plan_meta", "plan_rows", "plan_table", "plan_page", "plan_keys", "plan_facets", "prune_plans",
           "add_creation_requests", "creation_requests", "set_creation_status", "set_override", "remove_override",
           "month_overrides", "overrides_version"]

#: plans no push used that are kept per month (the newest ones)
KEEP_UNPUSHED = 5

#: columns of ``plan_accounts`` / ``plan_products`` (after plan_id and the number)
ACCOUNT_COLUMNS = ("vendor", "vendor_customer_id", "vendor_customer_name", "company_id", "company_name",
                   "agreement_id", "agreement_name", "sync_mode", "currency")
PRODUCT_COLUMNS = ("sku", "product_name", "charge_type", "term", "billing_frequency", "quantity_basis",
                   "catalog_item_id", "product_identifier", "product_description", "price_rule")
#: typed columns of ``plan_rows`` (after id, plan_id, account_no, product_no), ``extra`` last
ROW_FIELDS = (
    "key", "action", "cause", "bucket", "target", "reason", "flags", "subscription_id", "vendor_lines",
    "vendor_line_count", "vendor_amount", "vendor_quantity_raw", "vendor_quantity", "vendor_unit_cost",
    "vendor_unit_price", "cw_addition_id", "cw_quantity", "cw_unit_price", "cw_unit_cost", "cw_effective_date",
    "cw_cancelled_date", "new_quantity", "new_unit_price", "new_unit_cost", "effective_date", "cancelled_date",
    "price_impact", "margin_impact", "cw_proration", "vendor_proration", "credit_for", "writes", "request",
    "lookup", "depends_on", "maps",
    "impact_by_cause", "override_reason", "margin_pct_before", "margin_pct_after", "term_start",
    "term_end", "term_source", "window_end", "commitment_at_risk",
)
_INTS = {"company_id", "agreement_id", "catalog_item_id", "cw_addition_id", "vendor_line_count"}
_MONEY = set(MONEY_FIELDS)
_DATES = {"cw_effective_date", "cw_cancelled_date", "effective_date", "cancelled_date", "term_start", "term_end",
          "window_end"}
_LISTS = {"flags", "vendor_lines"}  # comma-separated in SQLite
_JSON = {"writes", "request", "lookup", "depends_on", "maps", "impact_by_cause"}
_EMPTY_LIST_JSON = {"writes", "depends_on"}  # NULL reads back as []
_KNOWN = set(ACCOUNT_COLUMNS) | set(PRODUCT_COLUMNS) | set(ROW_FIELDS)
#: what a read returns, in order (the view's columns): the plan contract's row, then the lifecycle's columns
_VIEW_COLUMNS = ROW_COLUMNS + PLAN_EXTRA_COLUMNS
_SELECT_VIEW = f"SELECT {', '.join(_VIEW_COLUMNS)}, extra FROM plan_lines"


# ---- writing -----------------------------------------------------------------------------------
def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _plain(x: Any) -> Any:
    """A value inside a JSON document, JSON-ready (Decimal -> '12.50', dates ISO, NaN -> null)."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    if isinstance(x, Decimal):
        return format(x, "f")
    if isinstance(x, (date, datetime)):
        return x.isoformat()
    if isinstance(x, np.generic):
        return x.item()
    if _missing(x):
        return None
    return x


def _json_default(x: Any) -> Any:
    if isinstance(x, Decimal):
        return format(x, "f")
    if isinstance(x, (date, datetime)):
        return x.isoformat()
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, tuple):
        return list(x)
    raise TypeError(f"not JSON: {type(x).__name__}")


_ENCODER = json.JSONEncoder(default=_json_default, separators=(",", ":"), allow_nan=False)


def _dumps(v: Any) -> str:
    try:
        return _ENCODER.encode(v)  # json.dumps(v, default=..., ...) would make an encoder per call
    except ValueError:  # a NaN somewhere: null, as the plan's JSON always had it
        return json.dumps(_plain(v), separators=(",", ":"))


_NONE = type(None)


def _text_values(values: list[Any]) -> list[Any]:
    if set(map(type, values)) <= {str, _NONE}:
        return values
    return [None if _missing(v) else v if isinstance(v, str) else str(v) for v in values]


def _money_text(v: Any) -> str | None:
    if isinstance(v, Decimal):
        return v.__format__("f")
    if v is None or isinstance(v, str):
        return v
    return None if _missing(v) else str(v)


def _money_values(values: list[Any]) -> list[Any]:
    types = set(map(type, values))
    if types <= {str, _NONE}:
        return values
    if types <= {Decimal, _NONE}:
        # the rules share one Decimal object per distinct value: format each object once (by
        # identity: 31 and 31.0 are equal Decimals with different texts)
        seen: dict[int, str] = {}
        return [None if v is None else seen.get(id(v)) or seen.setdefault(id(v), v.__format__("f")) for v in values]
    return [_money_text(v) for v in values]


def _date_values(values: list[Any]) -> list[Any]:
    if set(map(type, values)) <= {str, _NONE}:
        return values
    return [None if _missing(v) else v if isinstance(v, str) else v.isoformat()[:10] if isinstance(v, (date, datetime))
            else str(v) for v in values]


def _int_values(values: list[Any]) -> list[Any]:
    if set(map(type, values)) <= {int, _NONE}:
        return values
    return [None if v is None or v != v or v is pd.NA else int(v) for v in values]


def _list_values(col: str, values: list[Any]) -> list[Any]:
    if col == "flags":
        return [",".join(v) if v else None for v in values] if set(map(type, values)) <= {list, _NONE} else \
            [None if _missing_value(v) or len(v) == 0 else ",".join(map(str, v)) for v in values]
    return [None if _missing_value(v) or len(v) == 0 else ",".join(map(str, v)) for v in values]


def _json_values(col: str, values: list[Any]) -> list[Any]:
    return [None if not v and (v is None or isinstance(v, (list, dict))) or (isinstance(v, float) and v != v)
            else _dumps(v) for v in values]


def _column(col: str, values: list[Any]) -> list[Any]:
    if col in _INTS:
        return _int_values(values)
    if col in _MONEY:
        return _money_values(values)
    if col in _DATES:
        return _date_values(values)
    if col in _LISTS:
        return _list_values(col, values)
    if col in _JSON:
        return _json_values(col, values)
    return _text_values(values)


def _columns_of(rows: pd.DataFrame | list[dict[str, Any]]) -> tuple[int, dict[str, list[Any]]]:
    """Plan rows (a frame or dicts) as ``{column: values}`` over every column any row has."""
    if isinstance(rows, pd.DataFrame):
        return len(rows), {c: rows[c].to_numpy(dtype=object).tolist() for c in rows.columns}
    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    return len(rows), {c: [r.get(c) for r in rows] for c in names}


def _arrow_type(col: str) -> pa.DataType:
    return pa.int64() if col in _INTS else pa.string()


def _stored_arrow(col: str, a: pa.ChunkedArray | pa.Array) -> pa.Array:
    """One column of an Arrow plan table as stored (lists comma-separated, no empty text for none)."""
    a = a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a
    if col == "vendor_lines" and pa.types.is_list(a.type):
        a = pc.binary_join(pc.cast(a, pa.list_(pa.string())), ",")
    if col in _LISTS:
        a = a.cast(pa.string())
        return pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a)
    return a.cast(_arrow_type(col))


def _typed_table(rows: pd.DataFrame | list[dict[str, Any]] | pa.Table,
                 documents: dict[str, list[Any]] | None) -> tuple[int, pa.Table, list[Any]]:
    """Plan rows as the stored columns (every :data:`_KNOWN` column, Arrow) and each row's ``extra``."""
    if isinstance(rows, pa.Table):
        n = rows.num_rows
        docs = dict(documents or {})
        typed = {}
        for c in _KNOWN:
            if c in docs:
                typed[c] = pa.array(_column(c, list(docs[c])), _arrow_type(c))
            elif c in rows.column_names:
                typed[c] = _stored_arrow(c, rows.column(c))
            else:
                typed[c] = pa.nulls(n, _arrow_type(c))
        extra_cols = {c: rows.column(c).to_pylist() for c in rows.column_names if c not in _KNOWN}
        extra_cols.update({c: list(v) for c, v in docs.items() if c not in _KNOWN})
    else:
        n, cols = _columns_of(rows)
        typed = {c: pa.array(_column(c, cols[c]), _arrow_type(c)) if c in cols else pa.nulls(n, _arrow_type(c))
                 for c in _KNOWN}
        extra_cols = {c: cols[c] for c in cols if c not in _KNOWN}
    target = typed["target"]
    typed["target"] = pc.coalesce(target, pa.scalar("addition")) if target.null_count else target
    extras: list[Any] = [None] * n
    if extra_cols:
        for i in range(n):
            d = {c: v[i] for c, v in extra_cols.items() if not _missing_value(v[i])}
            extras[i] = d or None
    # a row in sync without a reason: kept as such (the view would read the in-sync template for it)
    no_reason = pc.and_(pc.equal(typed["action"], "in_sync"), pc.is_null(typed["reason"]))
    for i in np.flatnonzero(no_reason.to_numpy(zero_copy_only=False)).tolist():
        extras[i] = {**(extras[i] or {}), "reason": None}
    return n, pa.table(typed), [None if e is None else _dumps(e) for e in extras]


def _factor(table: pa.Table, columns: tuple[str, ...]) -> tuple[pa.Array, pa.Table]:
    """Each row's number over ``columns`` and the distinct rows, numbered in first-seen order."""
    rows = table.select(list(columns)).append_column("_row", pa.array(np.arange(table.num_rows, dtype=np.int64)))
    groups = rows.group_by(list(columns), use_threads=False).aggregate([("_row", "list")])
    first = pc.list_element(groups.column("_row_list"), 0)
    groups = groups.take(pc.sort_indices(first))
    lists = groups.column("_row_list").combine_chunks()
    codes = np.empty(table.num_rows, dtype=np.int64)
    codes[pc.list_flatten(lists).to_numpy()] = pc.list_parent_indices(lists).to_numpy()
    return pa.array(codes), groups.select(list(columns))


def in_sync_reason_sql(col: dict[str, str]) -> str:
    """SQL: the in-sync reason a stored row derives (``col``: the SQL of each column it reads)."""
    return reasons.in_sync_sql(reasons.shown_customer_sql(col["vendor_customer_name"], col["vendor_customer_id"]),
                               reasons.shown_product_sql(col["product_description"], col["product_name"], col["sku"],
                                                         "NULL"),
                               reasons.shown_agreement_sql(col["agreement_name"], col["agreement_id"]),
                               col["vendor_quantity"])


def _insert(conn, table_name: str, table: pa.Table, constants: dict[str, Any]) -> None:
    """One row of ``table_name`` per row of ``table`` (its columns by name), ``constants`` as literals; a
    column that is NULL on every row is left to its default (NULL)."""
    if table.num_rows == 0:
        return
    bound = [c for c in table.column_names if table.column(c).null_count < table.num_rows]
    names = [*constants, *bound]
    values = [sql_literal(v) for v in constants.values()] + ["?"] * len(bound)
    conn.executemany(f"INSERT INTO {table_name} ({', '.join(names)}) VALUES ({', '.join(values)})",
                     zip(*[table.column(c).to_pylist() for c in bound]))


def _insert_rows(conn, plan_id: int, rows: pd.DataFrame | list[dict[str, Any]] | pa.Table,
                 documents: dict[str, list[Any]] | None = None) -> int:
    """Write a plan's rows (inside the caller's transaction): accounts and products once each, then one
    typed ``plan_rows`` row per plan row, in order; a row in sync whose reason is the in-sync template
    stores none (the view ``plan_lines`` renders it: :func:`billbridge.plan.engine.derived_reasons` is
    the same SQL). Returns how many."""
    from billbridge.plan.engine import derived_reasons

    n, typed, extras = _typed_table(rows, documents)
    if n == 0:
        return 0
    keys = typed.column("key")
    if keys.null_count or pc.count_distinct(keys).as_py() != n:
        counts = pc.value_counts(keys)
        dupes = sorted(v["values"] for v in counts.to_pylist() if v["counts"] > 1 and v["values"] is not None)[:5]
        raise ConservationError("every plan row needs its own key" + (f" (repeated: {', '.join(map(str, dupes))})" if dupes else ""))
    account_no, accounts = _factor(typed, ACCOUNT_COLUMNS)
    product_no, products = _factor(typed, PRODUCT_COLUMNS)
    for table, number, distinct in (("plan_accounts", "account_no", accounts), ("plan_products", "product_no", products)):
        _insert(conn, table, distinct.add_column(0, number, pa.array(np.arange(distinct.num_rows, dtype=np.int64))),
                {"plan_id": plan_id})
    reason = typed.column("reason")
    derived = pc.fill_null(pc.equal(reason, derived_reasons(typed)), False)
    stored = typed.select(list(ROW_FIELDS)).set_column(ROW_FIELDS.index("reason"), "reason",
                                                       pc.if_else(derived, pa.scalar(None, pa.string()), reason))
    bucket = stored.column("bucket")  # stored only where it is not the cause's (the view derives the rest)
    derived_bucket = _bucket_of(stored.column("cause"))
    stored = stored.set_column(ROW_FIELDS.index("bucket"), "bucket",
                               pc.if_else(pc.fill_null(pc.equal(bucket, derived_bucket), False),
                                          pa.scalar(None, pa.string()), bucket))
    target = stored.column("target")
    constants: dict[str, Any] = {"plan_id": plan_id}
    if pc.count_distinct(target).as_py() == 1:  # every row's target the same: said once
        constants["target"] = target[0].as_py()
        stored = stored.drop_columns(["target"])
    _insert(conn, "plan_rows", stored.add_column(0, "account_no", account_no).add_column(1, "product_no", product_no)
            .append_column("extra", pa.array(extras, pa.string())), constants)
    return n


def _bucket_of(cause: pa.ChunkedArray | pa.Array) -> pa.Array:
    """The bucket each cause implies: :func:`billbridge.plan.summary.bucket_sql` itself, run by DuckDB over the
    column (the one definition; the view runs the same SQL in SQLite)."""
    import duckdb

    con = duckdb.connect()
    try:
        con.register("stored", pa.table({"cause": cause}))
        table = con.sql(f"SELECT {bucket_sql('cause')} AS bucket FROM stored").to_arrow_reader().read_all()
        return table.column("bucket").combine_chunks()
    finally:
        con.close()


def sql_literal(v: Any) -> str:
    if isinstance(v, int):
        return str(v)
    return "'" + str(v).replace("'", "''") + "'"


def _missing_value(v: Any) -> bool:
    if isinstance(v, (list, tuple, dict, np.ndarray)):
        return False
    return _missing(v)


def save_plan(store: Store, billing_month: str, snapshot_id: int | None, summary: dict[str, Any],
              rows: pd.DataFrame | list[dict[str, Any]] | pa.Table, *, documents: dict[str, list[Any]] | None = None,
              inputs: dict[str, Any] | None = None, created_by: str | None = None) -> int:
    """Store one reconcile run: its summary and every row in one transaction, in which the month's
    unpushed plans are also pruned to the newest :data:`KEEP_UNPUSHED` (this one included); returns
    the plan id.

    ``rows``: a frame of plan rows, JSON-ready dicts (``key``, ``action``, ``cause``, ``reason``,
    ``target``...), or the Arrow table of :attr:`billbridge.plan.Plan.table` with its ``documents``
    (the Python objects of ``writes``, ``request``, ``lookup``, ``depends_on``, ``maps``, one per row),
    which is written column by column."""
    n = len(rows) if not isinstance(rows, pa.Table) else rows.num_rows
    with store.atomic():
        prune_plans(store, billing_month, keep=KEEP_UNPUSHED - 1)  # first: the new rows reuse the freed pages
        cur = store.conn.execute(
            "INSERT INTO plans (billing_month, snapshot_id, created_at, created_by, status, row_count, summary, inputs) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot_id, utcnow(), created_by or operator_name(), str(summary.get("status", "")),
             n, json.dumps(summary), json.dumps(inputs or {}, sort_keys=True)),
        )
        pid = int(cur.lastrowid)
        _insert_rows(store.conn, pid, rows, documents)
    return pid


def prune_plans(store: Store, billing_month: str, keep: int = KEEP_UNPUSHED) -> list[int]:
    """Delete the month's plans that no push run used, except the newest ``keep``; returns their ids."""
    ids = [r[0] for r in store.conn.execute(
        "SELECT id FROM plans WHERE billing_month = ? AND id NOT IN "
        "(SELECT plan_id FROM push_runs WHERE plan_id IS NOT NULL) ORDER BY id DESC", (billing_month,))][keep:]
    if ids:
        with store.atomic():
            for table in ("plan_rows", "plan_accounts", "plan_products"):
                store.conn.executemany(f"DELETE FROM {table} WHERE plan_id = ?", [(i,) for i in ids])
            store.conn.executemany("DELETE FROM plans WHERE id = ?", [(i,) for i in ids])
    return ids


# ---- the views -----------------------------------------------------------------------------------
def plan_views() -> tuple[str, str]:
    """``CREATE VIEW`` of ``plan_lines`` (a plan row with its account and product: every column of
    :data:`_VIEW_COLUMNS`; the reason of a row stored without one is the in-sync template, rendered from
    the row's names and quantity) and of ``month_plan_lines`` (those of each month's newest plan)."""
    accounts, products = set(ACCOUNT_COLUMNS), set(PRODUCT_COLUMNS)
    col = {c: ("a." if c in accounts else "p." if c in products else "r.") + c for c in _VIEW_COLUMNS}
    col["reason"] = (f"CASE WHEN r.reason IS NOT NULL THEN r.reason WHEN r.action = 'in_sync' "
                     f"THEN {in_sync_reason_sql(col)} END AS reason")
    # a row's bucket is its cause's (plan.summary.bucket_sql, the plan's own rule); only a row whose bucket is
    # not (a record creation) stores it
    col["bucket"] = f"coalesce(r.bucket, {bucket_sql('r.cause')}) AS bucket"
    return (f"""CREATE VIEW plan_lines AS SELECT r.id, r.plan_id, {', '.join(col[c] for c in _VIEW_COLUMNS)}, r.extra
        FROM plan_rows r
        JOIN plan_accounts a ON a.plan_id = r.plan_id AND a.account_no = r.account_no
        JOIN plan_products p ON p.plan_id = r.plan_id AND p.product_no = r.product_no""",
            """CREATE VIEW month_plan_lines AS
        SELECT p.billing_month, l.* FROM plan_lines l JOIN plans p ON p.id = l.plan_id
        WHERE p.id = (SELECT MAX(q.id) FROM plans q WHERE q.billing_month = p.billing_month)""")


def ensure_plan_views(db) -> bool:
    """(Re)create the plan views when the database's differ from :func:`plan_views` (the in-sync template
    lives in the code, :data:`billbridge.plan.reasons.IN_SYNC`: its views follow it); True when it did."""
    wanted = plan_views()
    have = dict(db.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view' AND name IN "
                           "('plan_lines', 'month_plan_lines')").fetchall())
    if [have.get("plan_lines"), have.get("month_plan_lines")] == list(wanted):
        return False
    db.execute("DROP VIEW IF EXISTS month_plan_lines")
    db.execute("DROP VIEW IF EXISTS plan_lines")
    for sql in wanted:
        db.execute(sql)
    return True


# ---- reading -----------------------------------------------------------------------------------
def _plan_meta(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["summary"] = json.loads(r["summary"])
    r["inputs"] = json.loads(r["inputs"])
    return r


def get_plan(store: Store, plan_id: int) -> dict[str, Any] | None:
    """A plan's metadata (id, billing_month, snapshot_id, created_at/by, status, summary, inputs)."""
    rows = list(store.db.query("SELECT * FROM plans WHERE id = ?", [plan_id]))
    return _plan_meta(rows[0]) if rows else None


def latest_plan_meta(store: Store, billing_month: str) -> dict[str, Any] | None:
    """The newest plan of ``billing_month`` (metadata only), or None."""
    rows = list(store.db.query("SELECT * FROM plans WHERE billing_month = ? ORDER BY id DESC LIMIT 1", [billing_month]))
    return _plan_meta(rows[0]) if rows else None


_DECODE_LIST = {c: i for i, c in enumerate(_VIEW_COLUMNS) if c in _LISTS | _JSON}


def _row_dict(rec: tuple) -> dict[str, Any]:
    row = dict(zip(_VIEW_COLUMNS, rec))
    for c in _DECODE_LIST:
        v = row[c]
        if c == "flags":
            row[c] = v.split(",") if v else []
        elif c == "vendor_lines":
            row[c] = [int(x) for x in v.split(",")] if v else []
        elif v is None:
            row[c] = [] if c in _EMPTY_LIST_JSON else None
        else:
            row[c] = json.loads(v)
    extra = rec[-1]
    if extra:
        row.update(json.loads(extra))
    return row


def plan_rows(store: Store, plan_id: int, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """The stored rows of a plan (dicts, plan order), optionally only ``keys``."""
    if keys is None:
        cur = store.conn.execute(_SELECT_VIEW + " WHERE plan_id = ? ORDER BY id", (plan_id,))
        return [_row_dict(r) for r in cur]
    out: list[tuple[int, dict[str, Any]]] = []
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        cur = store.conn.execute(f"SELECT id, {_SELECT_VIEW[7:]} WHERE plan_id = ? AND key IN ({', '.join('?' * len(part))})",
                                 (plan_id, *part))
        out.extend((r[0], _row_dict(r[1:])) for r in cur)
    out.sort(key=lambda t: t[0])
    return [r for _, r in out]


def _decoded(col: str, values: tuple) -> np.ndarray:
    """One column of ``plan_lines`` as an object array with lists and documents decoded."""
    arr = np.empty(len(values), dtype=object)
    if col == "flags":
        arr[:] = [v.split(",") if v else [] for v in values]
    elif col == "vendor_lines":
        arr[:] = [[int(x) for x in v.split(",")] if v else [] for v in values]
    elif col in _JSON:
        listy = col in _EMPTY_LIST_JSON
        arr[:] = [json.loads(v) if v is not None else [] if listy else None for v in values]
    else:
        arr[:] = values
    return arr


def plan_table(store: Store, plan_id: int) -> pd.DataFrame:
    """Every stored row of a plan as one frame (plan order; the dicts of :func:`plan_rows` as
    columns, values as stored: decimal strings, ISO dates), without building a dict per row."""
    rows = store.conn.execute(_SELECT_VIEW + " WHERE plan_id = ? ORDER BY id", (plan_id,)).fetchall()
    columns = list(zip(*rows)) if rows else [()] * (len(_VIEW_COLUMNS) + 1)
    frame = pd.DataFrame({c: pd.Series(_decoded(c, v), dtype=object) for c, v in zip(_VIEW_COLUMNS, columns)})
    extras = [(i, json.loads(e)) for i, e in enumerate(columns[-1]) if e]
    for name in dict.fromkeys(k for _, d in extras for k in d):
        values = frame[name].to_numpy(dtype=object).copy() if name in frame.columns else \
            np.full(len(frame), None, dtype=object)
        for i, d in extras:
            if name in d:
                values[i] = d[name]
        frame[name] = pd.Series(values, dtype=object)
    return frame


_CUSTOMER_EXPR = "COALESCE(vendor_customer_name, company_name, '')"
_PRODUCT_EXPR = "COALESCE(product_description, product_name, sku, '')"


def _plan_where(plan_id: int, actions=None, causes=None, customers=None, products=None,
                flags=None) -> tuple[str, list[Any]]:
    """A WHERE over ``plan_rows r``: action and cause on the row (and any of ``flags``), customer and product
    through the plan's accounts and products (small tables)."""
    where, params = ["r.plan_id = ?"], [plan_id]
    for expr, values in (("r.action", actions), ("COALESCE(r.cause, '')", causes)):
        if values:
            where.append(f"{expr} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    if flags:  # flags are stored comma-separated
        where.append("(" + " OR ".join(["(',' || COALESCE(r.flags, '') || ',') LIKE ?"] * len(flags)) + ")")
        params.extend(f"%,{f},%" for f in flags)
    for col, table, expr, values in (("account_no", "plan_accounts", _CUSTOMER_EXPR, customers),
                                     ("product_no", "plan_products", _PRODUCT_EXPR, products)):
        if values:
            where.append(f"r.{col} IN (SELECT {col} FROM {table} WHERE plan_id = ? AND {expr} IN "
                         f"({', '.join('?' * len(values))}))")
            params.extend([plan_id, *values])
    return " AND ".join(where), params


def plan_page(store: Store, plan_id: int, *, actions: list[str] | None = None, causes: list[str] | None = None,
              customers: list[str] | None = None, products: list[str] | None = None, flags: list[str] | None = None,
              limit: int | None = 500, offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of a plan's rows matching the filters (plan order) and how many match in all, so a
    50,000-row plan is never loaded whole to show 500 rows. ``causes`` may include '' (no cause); ``flags``:
    rows carrying any of them."""
    where, params = _plan_where(plan_id, actions, causes, customers, products, flags)
    total = store.conn.execute(f"SELECT COUNT(*) FROM plan_rows r WHERE {where}", params).fetchone()[0]
    if limit == 0:
        return [], int(total)
    ids = f"SELECT r.id FROM plan_rows r WHERE {where} ORDER BY r.id"
    if limit is not None:
        ids += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    elif offset:
        ids += f" LIMIT -1 OFFSET {int(offset)}"
    cur = store.conn.execute(f"{_SELECT_VIEW} WHERE id IN ({ids}) ORDER BY id", params)
    return [_row_dict(r) for r in cur], int(total)


def plan_keys(store: Store, plan_id: int, **filters: Any) -> list[str]:
    """Keys of every row matching the filters of :func:`plan_page` (for "select all")."""
    where, params = _plan_where(plan_id, **filters)
    return [r[0] for r in store.conn.execute(f"SELECT r.key FROM plan_rows r WHERE {where} ORDER BY r.id", params)]


def plan_facets(store: Store, plan_id: int) -> dict[str, list[str]]:
    """Distinct actions, causes, customers and products of a plan (filter choices)."""
    def q(expr: str, table: str) -> list[str]:
        return [r[0] for r in store.conn.execute(
            f"SELECT DISTINCT {expr} AS v FROM {table} WHERE plan_id = ? AND v IS NOT NULL AND v != '' ORDER BY v",
            (plan_id,))]

    return {"actions": q("action", "plan_rows"), "causes": q("cause", "plan_rows"),
            "customers": q("COALESCE(vendor_customer_name, company_name)", "plan_accounts"),
            "products": q(_PRODUCT_EXPR, "plan_products")}


# creation requests ---------------------------------------------------------------------------------
def add_creation_requests(store: Store, rows: Iterable[dict[str, Any]], *, by: str | None = None) -> int:
    """Queue "create this ConnectWise record" plan rows (keyed; a re-request replaces a pending one)."""
    rows = list(rows)
    by = by or operator_name()
    now = utcnow()
    with store.atomic():
        for r in rows:
            store.db["creation_requests"].upsert({
                "key": r["key"], "vendor": r.get("vendor") or "", "target": r["target"], "status": "pending",
                "row": json.dumps(r), "requested_at": now, "requested_by": by, "resolved_at": None,
            }, pk="key")
    return len(rows)


def creation_requests(store: Store, status: str | None = "pending") -> list[dict[str, Any]]:
    """Queued creation rows (``row`` decoded, plus ``status``, ``requested_at``/``by``), oldest first."""
    sql, params = "SELECT * FROM creation_requests", []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    out = []
    for r in store.db.query(sql + " ORDER BY requested_at, key", params):
        row = json.loads(r["row"])
        out.append({**r, "row": row})
    return out


def set_creation_status(store: Store, keys: list[str], status: str) -> int:
    """Mark creation requests ``done`` (ConnectWise has the record) or ``dismissed``."""
    with store.atomic():
        n = 0
        for k in keys:
            n += store.conn.execute("UPDATE creation_requests SET status = ?, resolved_at = ? WHERE key = ?",
                                    (status, utcnow(), k)).rowcount
    return n


# overrides (issue 12) --------------------------------------------------------------------------------
def set_override(store: Store, billing_month: str, keys: Iterable[str], reason: str | None = None, *,
                 by: str | None = None) -> int:
    """Record the operator's override of plan rows of ``billing_month`` (their plan keys), with ``reason``
    (kept with who and when; a key overridden again takes the new reason). The month's next plan writes
    those rows (:data:`billbridge.model.OVERRIDE_CAUSES`); the push journal keeps the reason. Confirming a past
    month's correction needs no reason; writing into a month ConnectWise already invoiced does
    (:data:`billbridge.model.REASON_REQUIRED_CAUSES`): without one such a row stays blocked."""
    reason = (reason or "").strip()
    keys = list(dict.fromkeys(keys))
    by = by or operator_name()
    now = utcnow()
    with store.atomic():
        for k in keys:
            store.conn.execute("UPDATE plan_overrides SET removed_at = ?, removed_by = ? WHERE billing_month = ? "
                               "AND key = ? AND removed_at IS NULL", (now, by, billing_month, k))
            store.conn.execute("INSERT INTO plan_overrides (billing_month, key, reason, created_at, created_by) "
                               "VALUES (?, ?, ?, ?, ?)", (billing_month, k, reason, now, by))
    return len(keys)


def remove_override(store: Store, billing_month: str, keys: Iterable[str], *, by: str | None = None) -> int:
    """Take overrides back (their rows stay, marked removed); returns how many were in effect."""
    by = by or operator_name()
    now = utcnow()
    n = 0
    with store.atomic():
        for k in keys:
            n += store.conn.execute("UPDATE plan_overrides SET removed_at = ?, removed_by = ? WHERE billing_month = ? "
                                    "AND key = ? AND removed_at IS NULL", (now, by, billing_month, k)).rowcount
    return n


def month_overrides(store: Store, billing_month: str) -> dict[str, str]:
    """The overrides in effect for ``billing_month``: plan key -> reason."""
    return dict(store.conn.execute("SELECT key, reason FROM plan_overrides WHERE billing_month = ? AND removed_at IS "
                                   "NULL ORDER BY id", (billing_month,)).fetchall())


def overrides_version(store: Store, billing_month: str) -> int:
    """A number that grows with every override of the month set or removed (what "the plan is out of date"
    compares)."""
    row = store.conn.execute("SELECT COUNT(*) + COALESCE(MAX(id), 0) + COUNT(removed_at) FROM plan_overrides "
                             "WHERE billing_month = ?", (billing_month,)).fetchone()
    return int(row[0] or 0)
