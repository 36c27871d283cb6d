"""The reconciliation engine: inputs -> the rules in :data:`STEPS` order -> plan rows and summary (pure).

``reconcile(vendor_lines, snapshot, mappings, context) -> Plan`` answers, for every vendor line, "the
vendor billed X, ConnectWise will bill Y, the difference is $Z, and this is the exact change that would
fix it". No network, no database file, no Streamlit: DataFrames in, a DataFrame and a summary out.

How it runs: the inputs become typed Arrow tables (:mod:`billbridge.plan.tables`) in an in-memory DuckDB;
each rule file in :mod:`billbridge.rules` adds the tables it is named for, in the order of :data:`STEPS`,
with SQL over the previous ones (and small pure Python functions where a billing rule already lives in
Python: :func:`billbridge.bdom.landing_month`, :func:`billbridge.linekey.line_key`, proration). The rows
then get their reasons and requests (:mod:`~billbridge.plan.reasons`, :mod:`~billbridge.plan.requests`,
only for rows that change, are blocked or are credits) and the summary checks conservation
(:mod:`~billbridge.plan.summary`).

Output: :class:`Plan` with ``table`` (the rows as Arrow columns, as DuckDB computed them: one row per
(agreement, product, line key), vendor rows in the vendor file's order, then the lines ended), ``documents``
(each row's ``writes`` and ``request``, Python objects) and ``summary``; ``rows`` is the output contract's
frame built from them on first use (columns exactly :data:`billbridge.model.ROW_COLUMNS`; money and
quantities ``Decimal``, missing values ``None`` (never NaN), ``flags`` a tuple, ``vendor_lines`` and ``writes``
lists, ``request`` a dict or None, dates ISO ``YYYY-MM-DD``). The store writes ``table`` column by column.
"""

from __future__ import annotations

import json
import threading
import warnings
from collections.abc import Mapping
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billbridge import bdom
from billbridge.linekey import vendor_prefix
from billbridge.model import MONEY_FIELDS, ROW_COLUMNS
from billbridge.plan import reasons, requests
from billbridge.plan import summary as summary_mod
from billbridge.plan.inputs import Context, Mappings, SnapshotFrames, SnapshotTables, snapshot_frames
from billbridge.plan.summary import Summary
from billbridge.plan.tables import context_tables, mapping_tables, snapshot_tables, vendor_lines_table
from billbridge.rules import (agreement, blocked, cancels, company, currency, excluded, flags, grouped, impact,
                              invoiced, keys, landed, manual_edits, mapped, margin, matched, normalise, product,
                              proration, sql, targets, terms)

__all__ = ["STEPS", "RULES", "DOCUMENTS", "Run", "Plan", "reconcile", "plan_to_json"]

#: the rules pipeline, in the order it runs (each module's ``apply(run)`` adds its tables)
STEPS = (normalise, mapped, landed, keys, grouped, blocked, manual_edits, matched, invoiced, targets, cancels,
         proration, terms, flags)
#: (impact's macros and flags' expressions are composed into the plan rows' query, :data:`_PLAN_ROWS`)
#: every rule file (the steps and the cause families they apply), for the rules index
RULES = (normalise, mapped, landed, keys, grouped, excluded, company, agreement, currency, product, blocked,
         manual_edits, matched, invoiced, margin, targets, impact, terms, cancels, proration, flags)


class Run:
    """One reconciliation in progress: its DuckDB connection and context, what the rules call."""

    def __init__(self, db: duckdb.DuckDBPyConnection, context: Context):
        self.db = db
        self.context = context
        self.month = context.month
        self.month_start, self.month_end = bdom.addition_dates(context.month)
        self.previous_month_end = self.month_start - timedelta(days=1)

    def view(self, name: str, select: str) -> None:
        self.db.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {select}")

    def create(self, name: str, select: str) -> None:
        self.db.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS {select}")

    def register(self, name: str, table: pa.Table) -> None:
        self.db.register(name, table)

    def fetch(self, query: str) -> list[tuple]:
        return self.db.execute(query).fetchall()

    def arrow(self, query: str) -> pa.Table:
        return _arrow(self.db, query)

    def columns(self, query: str) -> dict[str, list]:
        table = self.arrow(query)
        return {name: table.column(name).to_pylist() for name in table.column_names}


def _arrow(db: duckdb.DuckDBPyConnection, query: str) -> pa.Table:
    # execute, not sql(): a relation binds the query once more (in Python); its "extra copy" of the rows
    # measures no slower at 50,000 rows and saves ~5 ms a query
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return db.execute(query).to_arrow_reader().read_all()


def _constants(run: Run) -> str:
    """The run's own constants, as macros of its connection: ``billing_month()``, ``month_start()``, ..."""
    ctx = run.context
    newest = ctx.newest_pushed_month
    values = {"billing_month": sql.literal(run.month), "month_start": f"DATE '{run.month_start}'",
              "month_end": f"DATE '{run.month_end}'", "previous_month_end": f"DATE '{run.previous_month_end}'",
              "vendor": sql.literal(ctx.vendor), "vendor_prefix": sql.literal(vendor_prefix(ctx.vendor)),
              "api_member": sql.literal(str(ctx.api_member)),
              # issue 12: the newest month pushed (a plan of an earlier one is a past month), today, the margin default
              "newest_pushed_month": sql.literal(newest) + "::VARCHAR",
              "is_past_month": sql.literal(bool(newest and newest > run.month)),
              "today": f"DATE '{ctx.today or run.month_start}'",
              "default_margin_threshold": sql.literal(str(ctx.margin_threshold)) + "::VARCHAR"}
    return "\n".join(f"CREATE TEMP MACRO {name}() AS {value};" for name, value in values.items())


def _statements(block: str) -> list[str]:
    return [s for s in block.split(";") if s.strip()]


_DATABASE: duckdb.DuckDBPyConnection | None = None
_DATABASE_LOCK = threading.Lock()


def _database() -> duckdb.DuckDBPyConnection:
    """The in-memory database holding the rules' SQL vocabulary (every file's MACROS, the minor units),
    created once per process; each run works in a connection of its own (its tables are its own)."""
    global _DATABASE
    with _DATABASE_LOCK:
        if _DATABASE is None:
            # one thread: a plan's tables fit in one DuckDB row group, so more threads only contend
            db = duckdb.connect(":memory:", config={"threads": 1})
            db.execute("SET TimeZone = 'UTC'")
            db.register("minor_units_in", sql.minor_units())
            db.execute("CREATE TABLE minor_units AS SELECT * FROM minor_units_in")
            db.unregister("minor_units_in")
            for block in [sql.MACROS, summary_mod.MACROS, reasons.MACROS] + [getattr(m, "MACROS", "") for m in RULES]:
                for statement in _statements(block):
                    db.execute(statement)
            _DATABASE = db
        return _DATABASE


def _open(context: Context) -> Run:
    run = Run(_database().cursor(), context)
    run.db.execute("SET TimeZone = 'UTC'")
    for statement in _statements(_constants(run)):
        run.db.execute(statement)
    return run


# ---------------------------------------------------------------------------------------- the rows
#: the plan rows in SQL (plan order: vendor rows, then the lines ended, by ``part``, ``position``), with the
#: names a reason shows (``customer``, ``product``, ``agreement``) and the reason of a row simply in sync
#: (NULL for the others)
_PLAN_ROWS = f"""
    SELECT *, CASE WHEN part = 0 AND action = 'in_sync' AND charge_type <> 'credit' AND NOT correction
                   THEN in_sync_reason(customer, product, agreement, vendor_quantity) END AS reason
    FROM (
    SELECT 0 AS part, g.position, g.gi AS src, g.key, t.action, t.cause, bucket(t.cause) AS bucket,
           {flags.vendor_row_flags()} AS flags, vendor() AS vendor,
           g.vendor_customer_id, g.vendor_customer_name, g.subscription_id, g.sku, g.product_name, g.charge_type,
           g.term, g.billing_frequency, g.sync_mode, g.quantity_basis, g.company_id, b.company_name, g.agreement_id,
           b.agreement_name, g.catalog_item_id, b.product_identifier, b.product_description, g.vendor_lines,
           g.line_count AS vendor_line_count, g.amount AS vendor_amount, t.vendor_quantity_raw, t.vendor_quantity,
           t.vendor_unit_cost, t.vendor_unit_price, t.cw_addition_id, t.cw_quantity, t.cw_unit_price, t.cw_unit_cost,
           CAST(t.cw_effective_date AS VARCHAR) AS cw_effective_date,
           CAST(t.cw_cancelled_date AS VARCHAR) AS cw_cancelled_date, t.new_quantity, t.new_unit_price, t.new_unit_cost,
           CAST(t.new_effective_date AS VARCHAR) AS effective_date, CAST(t.new_cancelled_date AS VARCHAR) AS cancelled_date,
           {impact.COLUMNS}, {invoiced.COLUMNS}, {margin.COLUMNS}, {terms.COLUMNS},
           p.cw_proration, p.vendor_proration, g.credit_for, g.currency,
           shown_customer(g.vendor_customer_name, g.vendor_customer_id) AS customer,
           shown_product(b.product_description, g.product_name, g.sku, NULL) AS product,
           shown_agreement(b.agreement_name, g.agreement_id) AS agreement, t.correction
    FROM groups g {flags.VENDOR_ROW_TABLES}
    UNION ALL BY NAME
    SELECT 1 AS part, c.ai AS position, c.ai AS src, c.plan_key AS key, c.action, c.cause, bucket(c.cause) AS bucket,
           {flags.cancel_row_flags()} AS flags,
           vendor() AS vendor, c.vendor_customer_id, c.vendor_customer_name, c.subscription_id, c.sync_mode,
           c.company_id, c.company_name, c.agreement_id, c.agreement_name, c.product_id AS catalog_item_id,
           c.catalog_identifier AS product_identifier, c.product_description, [] AS vendor_lines,
           0 AS vendor_line_count, '0' AS vendor_amount, '0' AS vendor_quantity_raw, '0' AS vendor_quantity,
           c.addition_id AS cw_addition_id, c.quantity AS cw_quantity, c.unit_price AS cw_unit_price,
           c.unit_cost AS cw_unit_cost, CAST(c.effective_date AS VARCHAR) AS cw_effective_date,
           CAST(c.cancelled_date AS VARCHAR) AS cw_cancelled_date, c.quantity AS new_quantity,
           c.unit_price AS new_unit_price, c.unit_cost AS new_unit_cost, CAST(c.effective_date AS VARCHAR) AS effective_date,
           CAST(CASE WHEN c.action = 'cancel' THEN c.end_on ELSE c.cancelled_date END AS VARCHAR) AS cancelled_date,
           c.price_impact, c.margin_impact, coalesce(ca.currency, (
               SELECT CASE WHEN count(DISTINCT currency) = 1 THEN min(currency) END FROM normalised), 'USD')
               AS currency,
           shown_customer(c.vendor_customer_name, c.vendor_customer_id) AS customer,
           shown_product(c.product_description, NULL, NULL, c.catalog_identifier) AS product,
           shown_agreement(c.agreement_name, c.agreement_id) AS agreement, FALSE AS correction
    FROM cancel_rows c LEFT JOIN agreements ca ON ca.agreement_id = c.agreement_id)"""

#: ... and every changed row's price impact by cause (rules/impact.py: its parts' columns, then impact_by_cause)
_PLAN_ROWS = impact.with_parts(_PLAN_ROWS)

#: what else the reasons and requests read of the rows without a reason yet (``rest``: their ``n``, ``part``,
#: ``src``), in plan order: the rules' working columns behind each
_TEXT_ROWS = f"""
    SELECT r.n, t.write_price, t.write_cost, CAST(t.target_eff AS VARCHAR) AS target_eff,
           CAST(t.target_can AS VARCHAR) AS target_can, g.line_key, t.d_qty, t.d_price, t.d_cost, t.d_dates, t.d_key,
           t.d_product, t.cw_product, t.overrides_manual_edit, t.updated_by, t.last_updated, m.dup_key, m.keyed,
           m.n_free, CAST(g.period_start AS VARCHAR) AS period_start, CAST(g.period_end AS VARCHAR) AS period_end,
           NULL::VARCHAR AS end_on, NULL::BOOLEAN AS invoiced, b.agreement_currency, l.exchange_rate,
           l.pricing_currency, g.other_currency, t.correction_key, t.correction_quantity,
           t.correction_price, t.corrects_dollars, CAST(t.invoice_date AS VARCHAR) AS invoice_date,
           t.price_value, t.margin_threshold, t.after_price, t.after_cost, {terms.TEXT_COLUMNS}
    FROM rest r JOIN groups g ON r.part = 0 AND g.gi = r.src JOIN targets t USING (gi) JOIN matched m USING (gi)
    JOIN blocked b USING (gi) JOIN lines_in l ON l.li = g.gi
    {terms.TABLES}
    UNION ALL BY NAME
    SELECT r.n, c.key AS line_key, c.overrides_manual_edit, c.updated_by, c.last_updated,
           CAST(c.end_on AS VARCHAR) AS end_on, c.invoiced
    FROM rest r JOIN cancel_rows c ON r.part = 1 AND c.ai = r.src
    ORDER BY n"""

#: what the reasons and requests read of a row that is not simply in sync
_TEXT_FIELDS = (
    "action", "cause", "charge_type", "sync_mode", "customer", "product", "agreement", "agreement_id", "company_name",
    "catalog_item_id", "cw_addition_id", "sku", "product_name", "term", "vendor_quantity", "vendor_amount",
    "vendor_unit_price", "vendor_unit_cost", "credit_for", "new_quantity", "new_unit_price", "cw_quantity",
    "cw_unit_price", "cw_unit_cost", "cw_effective_date", "cw_cancelled_date", "flags", "write_price", "write_cost",
    "target_eff", "target_can", "line_key", "d_qty", "d_price", "d_cost", "d_dates", "d_key", "d_product", "cw_product",
    "overrides_manual_edit", "updated_by", "last_updated", "dup_key", "keyed", "n_free", "period_start", "period_end",
    "end_on", "invoiced", "key", "currency", "agreement_currency", "exchange_rate", "pricing_currency",
    "other_currency", "effective_date", "cancelled_date", "new_unit_cost", "override_reason",
    "correction", "correction_key", "correction_quantity", "correction_price", "corrects_dollars", "invoice_date",
    "price_rule", "price_value", "margin_threshold", "margin_pct_before", "margin_pct_after", "after_price", "after_cost")
_TEXT_FIELDS = tuple(dict.fromkeys(_TEXT_FIELDS + terms.TEXT_FIELDS))  # the reasons' fields, each once

#: plan row columns holding a document (Python objects in :attr:`Plan.documents`, not in :attr:`Plan.table`)
DOCUMENTS = ("writes", "request")


def _objects(column: pa.ChunkedArray | pa.Array, name: str) -> np.ndarray:
    """One Arrow column as the plan's Python values (Decimals for money, tuples for flags, None for null)."""
    if name == "impact_by_cause":  # JSON text of money: a mapping of Decimals per row that changes
        return np.array([None if t is None else {k: Decimal(v) for k, v in json.loads(t).items()}
                         for t in column.to_pylist()], dtype=object)
    if name in MONEY_FIELDS or name == "flags":  # few distinct values: each converted once
        encoded = pc.dictionary_encode(column)
        if isinstance(encoded, pa.ChunkedArray):
            encoded = encoded.combine_chunks()
        words = encoded.dictionary.to_pylist()
        convert = (lambda t: tuple(t.split(",")) if t else ()) if name == "flags" else Decimal
        values = np.array([convert(w) for w in words] + [None], dtype=object)
        return values[encoded.indices.fill_null(len(words)).to_numpy()]
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column.to_numpy(zero_copy_only=False)
    if pa.types.is_integer(column.type) or pa.types.is_boolean(column.type):
        out = column.fill_null(0 if pa.types.is_integer(column.type) else False).to_numpy().astype(object)
        if column.null_count:
            out[column.is_null().to_numpy(zero_copy_only=False)] = None
        return out
    out = np.empty(len(column), dtype=object)
    for i, value in enumerate(column.to_pylist()):  # element by element: numpy would read lists as a 2-D shape
        out[i] = value
    return out


class Plan:
    """One reconciled month: its rows and :class:`~billbridge.plan.summary.Summary`.

    ``table`` is the rows as the rules computed them (Arrow, plan order: every column of
    :data:`billbridge.model.ROW_COLUMNS` but the :data:`DOCUMENTS`, and the plan lifecycle's
    ``target``): text and ids as themselves, money and quantities as exact decimal text, ``flags``
    comma-separated codes, ``vendor_lines`` a list of line numbers, dates ISO text. ``documents`` holds
    the per-row documents (``writes``, ``request``; the lifecycle adds ``lookup``, ``depends_on``,
    ``maps``) as Python objects, one per row. ``rows`` is the output contract's frame (Decimal money,
    tuple flags, None for missing), built from those on first use; a Plan made from a frame
    (``Plan(rows=..., summary=...)``) is that frame.
    """

    def __init__(self, rows: pd.DataFrame | None = None, summary: Summary | None = None, *,
                 table: pa.Table | None = None, documents: dict[str, list] | None = None):
        if rows is None and table is None:
            raise TypeError("a Plan needs rows or a table")
        self._rows = rows
        self._table = table
        self.documents = documents if documents is not None else {}
        self.summary = summary

    @property
    def table(self) -> pa.Table | None:
        """The rows as Arrow columns (None for a Plan made from a frame)."""
        return self._table

    @property
    def rows(self) -> pd.DataFrame:
        if self._rows is None:
            self._rows = _frame(self._table, self.documents)
        return self._rows

    @rows.setter
    def rows(self, rows: pd.DataFrame) -> None:
        self._rows, self._table, self.documents = rows, None, {}

    def __repr__(self) -> str:
        n = self._table.num_rows if self._rows is None else len(self._rows)
        return f"Plan({n} rows, {self.summary!r})"


def _frame(table: pa.Table, documents: dict[str, list]) -> pd.DataFrame:
    """The output contract's frame of a plan's Arrow rows and documents (ROW_COLUMNS first, in order)."""
    names = [c for c in ROW_COLUMNS if c in table.column_names or c in documents]
    names += [c for c in table.column_names if c not in names]
    names += [c for c in documents if c not in names]
    cols = {}
    for name in names:
        if name in documents:
            values = np.empty(table.num_rows, dtype=object)
            values[:] = documents[name]
            if name == "writes":  # a row without writes has an empty list of its own
                for i in np.flatnonzero(np.equal(values, None)).tolist():
                    values[i] = []
            cols[name] = values
        else:
            cols[name] = _objects(table.column(name), name)
    return pd.DataFrame({c: pd.Series(cols[c], dtype=object, copy=False) for c in names}, copy=False)


def _rows(run: Run) -> tuple[pa.Table, dict[str, list]]:
    """The plan rows (Arrow) with their reasons, and their writes and requests (Python documents)."""
    ctx = run.context
    table = run.arrow(_PLAN_ROWS)
    n = table.num_rows
    part, position = table.column("part").to_numpy(), table.column("position").to_numpy()
    if n > 1 and ((np.diff(part) < 0) | ((np.diff(part) == 0) & (np.diff(position) < 0))).any():
        table = table.take(np.lexsort((position, part)))
    table = table.drop_columns(["position"]).append_column("n", pa.array(np.arange(n, dtype=np.int64)))
    run.register("plan_rows", table)
    writes: list[list | None] = [None] * n  # None: no writes ([] in the rows)
    request: list[Any] = [None] * n
    reason = table.column("reason")
    if reason.null_count:  # every row not simply in sync gets its text one at a time
        rest = table.filter(pc.is_null(reason))
        run.register("rest", rest.select(["n", "part", "src"]))
        extra = run.arrow(_TEXT_ROWS)
        fields = [_objects((rest if name in rest.column_names else extra).column(name), name).tolist()
                  for name in _TEXT_FIELDS]
        texts = []
        for i, part, values in zip(rest.column("n").to_pylist(), rest.column("part").to_pylist(), zip(*fields)):
            r = dict(zip(_TEXT_FIELDS, values), newest_pushed_month=ctx.newest_pushed_month)
            a = r["action"]
            if part == 1:
                texts.append(reasons.ended(r, run.month))
                if a == "cancel":
                    writes[i], request[i] = requests.end(r)
            elif a == "blocked":
                texts.append(reasons.blocked(r, run.month, ctx.vendor_name or ctx.vendor))
            elif r["correction"]:  # a past month's confirmed correction line (rules/invoiced.py)
                texts.append(reasons.correction(r, run.month))
                if a == "create":
                    writes[i], request[i] = requests.correction(r, ctx)
            elif a == "in_sync" and r["charge_type"] != "credit":  # a quantity with an exponent
                texts.append(reasons.in_sync(r["customer"], r["product"], r["agreement"],
                                             reasons.quantity(r["vendor_quantity"])))
            else:
                texts.append(reasons.changed(r, run.month))
                if a == "create":
                    writes[i], request[i] = requests.create(r, ctx)
                elif a == "update":
                    writes[i], request[i] = requests.update(r, ctx)
        mask = pc.is_null(reason)
        reason = pc.replace_with_mask(reason.combine_chunks(), mask.combine_chunks(), pa.array(texts, pa.string()))
    table = table.drop_columns(["part", "src", "customer", "product", "agreement", "reason", "n"])
    table = table.append_column("reason", reason)
    return table.select([c for c in ROW_COLUMNS if c in table.column_names]), {"writes": writes, "request": request}


def derived_reasons(table: pa.Table) -> pa.Array:
    """The in-sync reason each row of a plan table would read from its names and quantity (the template
    :data:`billbridge.plan.reasons.IN_SYNC`, the SQL the stored plans' view ``plan_lines`` renders),
    NULL for rows not in sync: what the store compares a row's reason with, to keep only those that read
    otherwise. Columns read: ``action``, ``vendor_quantity`` and the names (a missing one is NULL)."""
    names = ("vendor_customer_name", "vendor_customer_id", "product_description", "product_name", "sku",
             "agreement_name", "agreement_id", "vendor_quantity")
    n = table.num_rows
    cols = {c: table.column(c) if c in table.column_names else pa.nulls(n, pa.int64() if c == "agreement_id"
                                                                           else pa.string()) for c in names}
    cols["action"] = table.column("action")
    db = _database().cursor()
    try:
        db.register("rows_in", pa.table(cols))
        return _arrow(db, f"""
            SELECT CASE WHEN action = 'in_sync' THEN {reasons.in_sync_sql(
                reasons.shown_customer_sql("vendor_customer_name", "vendor_customer_id"),
                reasons.shown_product_sql("product_description", "product_name", "sku", "NULL"),
                reasons.shown_agreement_sql("agreement_name", "agreement_id"), "vendor_quantity")} END AS reason
            FROM rows_in""").column(0).combine_chunks()
    finally:
        db.close()


# ---------------------------------------------------------------------------------------- the call
def reconcile(vendor_lines: pd.DataFrame | pa.Table, snapshot: Mapping[str, Any] | SnapshotFrames | SnapshotTables,
              mappings: Mappings, context: Context) -> Plan:
    """Reconcile one billing month (see the module docstring and :mod:`billbridge.rules`).

    ``vendor_lines``: a frame of :data:`billbridge.model.VENDOR_LINE_COLUMNS`, or the Arrow table of a
    stored import (:func:`billbridge.store.import_line_table`); ``snapshot``: ConnectWise records,
    :class:`SnapshotFrames` or the stored :class:`SnapshotTables`."""
    if not isinstance(snapshot, SnapshotTables):
        snapshot = snapshot_frames(snapshot, line_key_field=context.line_key_field,
                                   line_key_field_id=context.line_key_field_id)
    run = _open(context)
    try:
        run.register("lines_in", vendor_lines_table(vendor_lines))
        for name, table in {**snapshot_tables(snapshot), **mapping_tables(mappings), **context_tables(context)}.items():
            run.register(name, table)
        for step in STEPS:
            step.apply(run)
        table, documents = _rows(run)
        return Plan(table=table, documents=documents, summary=summary_mod.summarise(run))
    finally:
        run.db.close()


# ---------------------------------------------------------------------------------------- JSON
def _jsonable(x: Any) -> Any:
    if isinstance(x, Decimal):
        return format(x, "f")
    if isinstance(x, (date, datetime)):
        return x.isoformat()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if x is None or (isinstance(x, float) and x != x):
        return None
    return x


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """``{"summary": ..., "rows": [...]}`` with Decimals as strings and dates ISO (for ``--json``).

    Request bodies keep JSON numbers (what ConnectWise receives); diff values are strings.
    """
    cols = list(plan.rows.columns)
    rows = []
    for rec in plan.rows.itertuples(index=False, name=None):
        rows.append({c: (v if c == "request" else _jsonable(v)) for c, v in zip(cols, rec)})
    return {"summary": _jsonable(plan.summary.to_dict()), "rows": rows}
