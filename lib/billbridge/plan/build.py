"""The one plan lifecycle: when to read ConnectWise again, read it, build the month's plan and store it.

::

    from billbridge.plan.build import ensure_plan
    result = ensure_plan(store, client, "2026-11")        # client: a CWClient, or a function making one
    result.plan_id, result.refreshed, result.built       # which plan, why ConnectWise was read (or None)

The Reconcile page and ``billbridge reconcile`` both call :func:`ensure_plan`; neither decides
anything itself. The steps, each a function of its own:

* :func:`refresh_reason` - why the month's snapshot must be read again, in plain words, or None
  (no snapshot yet; agreements mapped since it was taken; billbridge wrote to ConnectWise since);
* :func:`refresh_snapshot` - read ConnectWise (companies, agreements, types, catalog, the month's
  invoices, the additions of every mapped agreement) and store it;
* :func:`plan_is_stale` - whether the imports in effect, the snapshot, the mappings or the queue of
  records to create changed since the newest plan;
* :func:`build_plan` - reconcile every vendor of the month (its newest import not withdrawn) against
  the snapshot and store the plan. The lines and the snapshot are read from their typed tables as Arrow
  tables (:func:`billbridge.store.import_line_table`, :func:`billbridge.store.load_snapshot_tables`) and
  the plan's Arrow rows are written as typed rows (``Plan.rows``, the Decimal frame, is only built when a
  caller reads it): no JSON and no frame on the way.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billbridge import clock, demo_world
from billbridge import store as st
from billbridge.errors import NotFoundError
from billbridge.model import MONEY_FIELDS, PLAN_EXTRA_COLUMNS, ROW_COLUMNS, VENDOR_LINE_COLUMNS
from billbridge.plan.inputs import SnapshotFrames, SnapshotTables, snapshot_frames
from billbridge.plan.tables import LINE_EXTRAS
from billbridge.plan.engine import Plan, plan_to_json, reconcile
from billbridge.plan.inputs import Context, Mappings
from billbridge.plan import summary as summary_mod
from billbridge.plan.summary import Summary
from billbridge.plan.tables import LINE_EXTRAS
from billbridge.vendors import month_vendor_lines, vendor_name

__all__ = ["NoSnapshotError", "SnapshotResult", "EnsuredPlan", "ensure_plan", "ensure_snapshot", "refresh_reason",
           "refresh_snapshot", "mapped_agreement_ids", "snapshot_is_stale", "written_since_snapshot",
           "plan_is_stale", "build_plan", "month_vendor_lines", "impact_by_customer", "api_member_for", "snapshot_for",
           "StoredPlan", "plan_frame", "latest_plan"]


#: the columns of a stored vendor line the reconciliation reads (the canonical ones and the vendor's own fields the
#: rules read, :data:`billbridge.plan.tables.LINE_EXTRAS`)
_LINE_COLUMNS = tuple(c for c in VENDOR_LINE_COLUMNS if c != "line_no") + LINE_EXTRAS


class NoSnapshotError(NotFoundError):
    """No ConnectWise snapshot is stored for the month: refresh from ConnectWise first."""


# ------------------------------------------------------------------------------------ snapshots
@dataclass
class SnapshotResult:
    snapshot_id: int
    snapshot: Any  # billbridge.snapshot.Snapshot
    request_count: int
    requests: dict[str, int]


def mapped_agreement_ids(store: st.Store) -> list[int]:
    """Every agreement a mapping points at (their additions are what a snapshot reads)."""
    df = st.get_mappings(store, "agreement")
    return sorted({int(a) for a in df["agreement_id"].dropna()})


def refresh_snapshot(store: st.Store, client: Any, month: str) -> SnapshotResult:
    """Read ConnectWise (companies, agreements, types, catalog, the month's invoices and the additions
    of every mapped agreement) and store it; returns it with the number of requests it took."""
    from billbridge.snapshot import take_snapshot

    ids = mapped_agreement_ids(store)
    snap = take_snapshot(client, billing_month=month, agreement_ids=ids)
    sid = st.save_snapshot(store, month, snap, ids)
    return SnapshotResult(sid, snap, snap.request_count, dict(snap.requests))


def snapshot_is_stale(store: st.Store, month: str) -> list[int]:
    """Agreements mapped since the month's snapshot was taken (their additions were not read)."""
    meta = st.latest_snapshot(store, month)
    if meta is None:
        return mapped_agreement_ids(store)
    return sorted(set(mapped_agreement_ids(store)) - set(meta["agreement_ids"]))


def written_since_snapshot(store: st.Store, month: str) -> bool:
    """True when billbridge wrote to ConnectWise (a push, retry or undo that sent a write) after the
    month's snapshot was taken: the snapshot no longer shows what ConnectWise holds."""
    meta = st.latest_snapshot(store, month)
    last = st.last_write_at(store) if meta is not None else None
    # timestamps have whole seconds: a write in the snapshot's own second counts as after it (the
    # cost is at most one extra read within that second)
    return bool(last and last >= meta["taken_at"])


def refresh_reason(store: st.Store, month: str) -> str | None:
    """Why the month's snapshot must be read again before planning, in plain words, or None.

    No snapshot yet; agreements mapped since it was taken (their lines were never read, and a plan
    without them would propose creating lines ConnectWise already has); or billbridge wrote to
    ConnectWise since (the plan would still show the changes it already made).
    """
    if st.latest_snapshot(store, month) is None:
        return "for the first time this month"
    missing = snapshot_is_stale(store, month)
    if missing:
        return f"{len(missing)} newly mapped agreement(s)"
    if written_since_snapshot(store, month):
        return "billbridge wrote to it since the last read"
    return None


def _client(client: Any) -> Any:
    """A client, or the client a zero-argument factory makes (connect only when ConnectWise is read)."""
    return client() if callable(client) and not hasattr(client, "list") else client


def ensure_snapshot(store: st.Store, client: Any, month: str, *, refresh: bool = False
                    ) -> tuple[SnapshotResult | None, str | None]:
    """Read ConnectWise for ``month`` when :func:`refresh_reason` says so (or ``refresh``): returns
    the new snapshot and why it was read, or ``(None, None)`` when the stored one is current.
    ``client``: a :class:`~billbridge.connectwise.CWClient` or a function returning one (called only
    when ConnectWise is read). ConnectWise errors propagate."""
    why = "as asked" if refresh else refresh_reason(store, month)
    if not why:
        return None, None
    return refresh_snapshot(store, _client(client), month), why


# ------------------------------------------------------------------------------------ plans
def _line_key_of(key: str, request: dict[str, Any]) -> str:
    body = request.get("body") or {}
    for cf in body.get("customFields") or [] if isinstance(body, dict) else []:
        if cf.get("caption") == demo_world.LINE_KEY_FIELD or cf.get("id") == demo_world.LINE_KEY_FIELD_ID:
            if cf.get("value"):
                return str(cf["value"])
    return str(key).split("#")[0]


def _addition_lookup(action: Any, key: Any, request: Any) -> dict[str, Any] | None:
    """Natural key of an addition a create row would make: the line key custom field on its agreement
    (what push looks for before a POST). None for every other row."""
    if action != "create" or not isinstance(request, dict) or request.get("method") != "POST":
        return None
    value = _line_key_of(key, request).replace('"', '\\"')
    return {"path": request["path"], "conditions": None,
            "custom_field_conditions": f'caption="{demo_world.LINE_KEY_FIELD}" AND value="{value}"'}


def _inputs(store: st.Store, month: str, imports: list[dict[str, Any]], snapshot_id: int | None) -> dict[str, Any]:
    """What a plan was built from; a plan is stale when these differ now."""
    return {
        "imports": {imp["vendor"]: imp["id"] for imp in imports},
        "snapshot_id": snapshot_id,
        "mappings_version": st.mappings_version(store),
        "creations": sorted(r["key"] + "@" + r["requested_at"] for r in st.creation_requests(store, status=None)),
        # issue 12: a newer month pushed makes this one a past month; the operator's overrides of its rows
        "newest_pushed_month": st.newest_pushed_month(store),
        "overrides_version": st.overrides_version(store, month),
    }


def plan_is_stale(store: st.Store, month: str) -> bool:
    """True when the imports in effect, the snapshot, the mappings or the creation queue changed since
    the month's newest plan was built (or there is none, or its summary has no figures per currency: an
    older billbridge built it)."""
    meta = st.latest_plan_meta(store, month)
    if meta is None or "by_currency" not in (meta.get("summary") or {}):  # built before per-currency summaries
        return True
    snap = st.latest_snapshot(store, month)
    return _inputs(store, month, st.month_imports(store, month), snap["id"] if snap else None) != meta["inputs"]


def _merge_summaries(summaries: list[Summary], month: str) -> Summary:
    """The vendors' summaries as the month's (:func:`billbridge.plan.summary.merge`: per currency, two
    currencies never added)."""
    return summary_mod.merge(summaries, month)


def _resolve_creations(store: st.Store, snapshot: dict[str, Any], pending: list[dict[str, Any]]
                       ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pending creation rows, split into (still to create, already in ConnectWise). A record that
    now exists is marked done and, when the request named a mapping, that mapping is recorded."""
    from billbridge.mappings import creation_exists

    todo, done = [], []
    for req in pending:
        row = req["row"]
        found = creation_exists(row, snapshot)
        if found is None:
            todo.append(row)
            continue
        maps = row.get("maps")
        if maps:
            values = {**maps["values"], maps["id_field"]: found}
            if st.get_mappings(store, maps["kind"], maps["vendor"]).pipe(
                    lambda df: df[(df[list(maps["match"])] == pd.Series(maps["match"])).all(axis=1)]).empty:
                st.set_mappings(store, maps["kind"], maps["vendor"], [{**maps["match"], **values}],
                                by=req["requested_by"], source="created in ConnectWise")
        st.set_creation_status(store, [row["key"]], "done")
        done.append({**row, "action": "in_sync", "request": None, "writes": [],
                     "reason": f"{row.get('reason_done') or 'ConnectWise has it now'} (#{found})."})
    return todo, done


def _dec(v: Any) -> Decimal:
    if isinstance(v, Decimal):
        return v
    if v is None or (isinstance(v, float) and v != v) or v == "":
        return Decimal(0)
    return Decimal(str(v))


def impact_by_customer(rows: list[dict[str, Any]] | pd.DataFrame | pa.Table) -> list[dict[str, str]]:
    """Customer-price and margin impact per customer and currency (exact sums; JSON-ready strings; Rule 7.1:
    a customer billed in two currencies has an entry for each, never one sum of both), each entry naming its
    ``currency``; per currency (in code order) the largest absolute price impact first, for every customer
    with a price, margin or blocked-dollar figure (customers whose rows change nothing are left out). Blocked
    rows are counted as dollars at stake (vendor amount). A row without a currency is USD. ``rows``: dicts,
    a frame, or a plan's Arrow table (money as decimal text), of which only the rows with a figure are read
    (a row with none adds nothing to any sum)."""
    if isinstance(rows, pa.Table):
        def moves(c: str) -> pa.ChunkedArray:
            text = rows.column(c).cast(pa.string())
            return pc.invert(pc.fill_null(pc.is_in(text, value_set=pa.array(["0", ""])), True))
        blocked_rows = pc.and_(pc.equal(rows.column("action"), "blocked"), pc.equal(rows.column("bucket"), "blocked"))
        keep = pc.or_(pc.or_(moves("price_impact"), moves("margin_impact")), pc.fill_null(blocked_rows, False))
        picked = rows.filter(keep)
        rows = pd.DataFrame({c: pd.Series(picked.column(c).to_pylist(), dtype=object) for c in
                             ("vendor_customer_name", "company_name", "vendor_customer_id", "action", "bucket",
                              "price_impact", "margin_impact", "vendor_amount", "currency")
                             if c in picked.column_names})
    if not isinstance(rows, pd.DataFrame):
        rows = pd.DataFrame(list(rows))
    if not len(rows):
        return []

    def col(c: str) -> list[Any]:
        return rows[c].to_numpy(dtype=object).tolist() if c in rows.columns else [None] * len(rows)

    names = [n if isinstance(n, str) and n else c if isinstance(c, str) and c else i if isinstance(i, str) and i
             else "(none)" for n, c, i in zip(col("vendor_customer_name"), col("company_name"), col("vendor_customer_id"))]
    currencies = [c.strip().upper() if isinstance(c, str) and c.strip() else "USD" for c in col("currency")]
    blocked = [a == "blocked" and b == "blocked" for a, b in zip(col("action"), col("bucket"))]
    acc: dict[tuple[str, str], list[Decimal]] = {}
    for name, cur, pi, mi, is_blocked, amount in zip(names, currencies, col("price_impact"), col("margin_impact"),
                                                     blocked, col("vendor_amount")):
        a = acc.get((name, cur))
        if a is None:
            a = acc[(name, cur)] = [Decimal(0), Decimal(0), Decimal(0)]
        a[0] += _dec(pi)
        a[1] += _dec(mi)
        if is_blocked:
            a[2] += _dec(amount)
    out = [{"customer": k, "currency": cur, "price_impact": str(v[0]), "margin_impact": str(v[1]),
            "blocked_dollars": str(v[2])} for (k, cur), v in acc.items() if any(v)]
    out.sort(key=lambda d: (d["currency"], -abs(Decimal(d["price_impact"])), -Decimal(d["blocked_dollars"]),
                            d["customer"]))
    return out


def _with_lifecycle_columns(rows: pd.DataFrame) -> pd.DataFrame:
    """The rules' rows + what push needs to be idempotent: ``target`` (an addition), ``lookup`` (the
    natural key, creates only), ``depends_on`` (none) and ``maps`` (none)."""
    n = len(rows)
    lookup = np.full(n, None, dtype=object)
    if n:
        actions = rows["action"].to_numpy(dtype=object)
        for i in np.flatnonzero(actions == "create"):
            lookup[i] = _addition_lookup(actions[i], rows["key"].iat[i], rows["request"].iat[i])
    depends = np.empty(n, dtype=object)
    depends[:] = [[]] * n  # one shared empty list: nothing depends on anything (stored as NULL)
    return rows.assign(target="addition", lookup=lookup, depends_on=depends, maps=None)


def _with_lifecycle(plan: Plan) -> Plan:
    """:func:`_with_lifecycle_columns` of a plan's Arrow rows and documents."""
    table, docs = plan.table, dict(plan.documents)
    n = table.num_rows
    lookup: list[Any] = [None] * n
    keys = table.column("key")
    for i in np.flatnonzero(pc.equal(table.column("action"), "create").to_numpy(zero_copy_only=False)).tolist():
        lookup[i] = _addition_lookup("create", keys[i].as_py(), docs["request"][i])
    docs.update(lookup=lookup, depends_on=[[]] * n, maps=[None] * n)
    return Plan(table=table.append_column("target", pa.array(["addition"] * n, pa.string())), documents=docs,
                summary=plan.summary)


def _joined(plans: list[Plan]) -> tuple[pa.Table, dict[str, list]]:
    """Several vendors' plans as one (their rows one after another)."""
    if len(plans) == 1:
        return plans[0].table, plans[0].documents
    table = pa.concat_tables([p.table for p in plans], promote_options="default")
    return table, {name: [v for p in plans for v in p.documents[name]] for name in plans[0].documents}


def build_plan(store: st.Store, month: str, snapshot: dict[str, Any] | SnapshotFrames | None = None, *,
               api_member: str | None = None, today: date | None = None,
               overrides: frozenset[str] = frozenset()) -> tuple[Plan, int]:
    """Reconcile ``month`` (every vendor's import in effect) against the snapshot and store the plan.

    ``snapshot``: default the month's newest stored one, read from its typed tables
    (:class:`NoSnapshotError` when there is none); records as :func:`billbridge.month.snapshot_for`
    returns them also work. Returns the plan (rows + ``target``, ``lookup``, ``depends_on``,
    ``maps``; queued creation rows first, those ConnectWise now has last) and its id.
    """

    records: dict[str, Any] | None = None
    if snapshot is None:
        meta = st.latest_snapshot(store, month)
        if meta is None:
            raise NoSnapshotError(f"no ConnectWise snapshot for {month}: refresh from ConnectWise first")
        snapshot_id = meta["id"]
        frames: SnapshotFrames | SnapshotTables = st.load_snapshot_tables(store, snapshot_id)
    elif isinstance(snapshot, SnapshotFrames):
        snapshot_id, frames = None, snapshot
    else:
        records = snapshot
        snapshot_id = (snapshot.get("meta") or {}).get("id")
        frames = snapshot_frames(snapshot, line_key_field=demo_world.LINE_KEY_FIELD,
                                 line_key_field_id=demo_world.LINE_KEY_FIELD_ID)
    pending = st.creation_requests(store, "pending")
    if pending and records is None:
        records = st.load_snapshot(store, snapshot_id) if snapshot_id is not None else {}
    todo, done = _resolve_creations(store, records, pending) if pending else ([], [])
    imports = {imp["vendor"]: imp for imp in st.month_imports(store, month)}
    member = api_member or api_member_for()
    journal = st.written_lines(store)
    newest_pushed = st.newest_pushed_month(store)
    override_reasons = st.month_overrides(store, month)
    threshold = st.get_setting(store, "margin_threshold")
    parts, summaries = [], []
    for vendor, imp in sorted(imports.items()):
        maps = Mappings(**st.mapping_frames(store, vendor))
        ctx = Context(month=month, vendor=vendor, api_member=member, today=today or clock.today(),
                      journal=journal, overrides=overrides, vendor_name=vendor_name(vendor),
                      newest_pushed_month=newest_pushed, override_reasons=override_reasons,
                      **({"margin_threshold": threshold} if threshold is not None else {}),
                      line_key_field=demo_world.LINE_KEY_FIELD, line_key_field_id=demo_world.LINE_KEY_FIELD_ID)
        p = reconcile(st.import_line_table(store, imp["id"], _LINE_COLUMNS), frames, maps, ctx)
        parts.append(p)
        summaries.append(p.summary)
    summary = _merge_summaries(summaries, month)
    doc = plan_to_json(Plan(rows=pd.DataFrame(), summary=summary))["summary"]
    inputs = _inputs(store, month, list(imports.values()), snapshot_id)
    if parts and not (todo or done):  # the rules' Arrow rows, written column by column
        table, documents = _joined(parts)
        plan = _with_lifecycle(Plan(table=table, documents=documents, summary=summary))
        doc["creations"] = 0
        doc["impact_by_customer"] = impact_by_customer(plan.table)
        plan_id = st.save_plan(store, month, snapshot_id, doc, plan.table, documents=plan.documents, inputs=inputs)
        return plan, plan_id
    rows = pd.concat([p.rows for p in parts], ignore_index=True) if len(parts) > 1 else parts[0].rows if parts else \
        pd.DataFrame({c: pd.Series([], dtype=object) for c in ROW_COLUMNS})
    rows = _with_lifecycle_columns(rows)
    if todo or done:  # creations first: additions may depend on them
        rows = pd.concat([plan_frame(todo), rows, plan_frame(done)], ignore_index=True)
    doc["creations"] = len(todo)
    doc["impact_by_customer"] = impact_by_customer(rows)
    plan_id = st.save_plan(store, month, snapshot_id, doc, rows, inputs=inputs)
    return Plan(rows=rows, summary=summary), plan_id


# ------------------------------------------------------------------------------------ the lifecycle
@dataclass
class EnsuredPlan:
    """What :func:`ensure_plan` did: the month's current plan (``plan``: the one just built, None when
    the stored one was current), its id, why ConnectWise was read (None: not read) and the read."""

    plan: Plan | None
    plan_id: int | None
    refreshed: str | None = None
    snapshot: SnapshotResult | None = None

    @property
    def built(self) -> bool:
        return self.plan is not None

    @property
    def note(self) -> str | None:
        """What happened, for the operator ("Read ConnectWise (24 requests): for the first time this month.")."""
        if self.snapshot is None:
            return None
        return f"Read ConnectWise ({self.snapshot.request_count} requests): {self.refreshed}."


def ensure_plan(store: st.Store, client: Any | Callable[[], Any], month: str, *, refresh: bool = False,
                rebuild: bool = False, api_member: str | None = None, today: date | None = None,
                overrides: frozenset[str] = frozenset()) -> EnsuredPlan:
    """Make sure ``month`` has an up-to-date stored plan, doing only what is needed.

    1. Read ConnectWise again when :func:`refresh_reason` says so (or ``refresh``).
    2. Build and store a new plan when :func:`plan_is_stale` (or ``rebuild``), else keep the newest.

    ``client``: a CWClient or a zero-argument function returning one (called only when ConnectWise is
    read). ConnectWise errors propagate (the caller explains them); :class:`NoSnapshotError` cannot
    happen (a month without a snapshot is read first).
    """
    snap, why = ensure_snapshot(store, client, month, refresh=refresh)
    if rebuild or plan_is_stale(store, month):
        plan, plan_id = build_plan(store, month, api_member=api_member, today=today, overrides=overrides)
        return EnsuredPlan(plan, plan_id, why, snap)
    meta = st.latest_plan_meta(store, month)
    return EnsuredPlan(None, meta["id"] if meta else None, why, snap)


# ------------------------------------------------------------------------------------ stored plans
def api_member_for(connection: Any = None) -> str:
    """The member identifier billbridge writes as: the sandbox's full member, ``$BILLBRIDGE_API_MEMBER``
    for a real site (ConnectWise does not tell the keys' owner), else ``BillbridgeAPI``."""
    if os.environ.get("BILLBRIDGE_API_MEMBER"):
        return os.environ["BILLBRIDGE_API_MEMBER"]
    if connection is None or getattr(connection, "mode", "sandbox") == "sandbox":
        from billbridge.sandbox import CREDENTIALS

        return CREDENTIALS["full"]["member"]
    return demo_world.API_MEMBER


def snapshot_for(store: st.Store, month: str) -> dict[str, Any] | None:
    """The newest stored snapshot of ``month`` (records + ``meta``), or None."""
    meta = st.latest_snapshot(store, month)
    return st.load_snapshot(store, meta["id"]) if meta else None


@dataclass
class StoredPlan:
    """A plan as stored: metadata, JSON summary and the rows as a DataFrame (money as Decimal)."""

    id: int
    month: str
    created_at: str
    created_by: str | None
    snapshot_id: int | None
    summary: dict[str, Any]
    inputs: dict[str, Any]
    rows: pd.DataFrame = field(repr=False)


def plan_frame(rows: list[dict[str, Any]] | pd.DataFrame) -> pd.DataFrame:
    """Stored rows (dicts, or the frame :func:`billbridge.store.plan_table` reads) -> DataFrame with
    Decimal money/quantities (the columns reconcile uses), each distinct value converted once."""
    cols = list(ROW_COLUMNS) + list(PLAN_EXTRA_COLUMNS)
    frame = rows if isinstance(rows, pd.DataFrame) else pd.DataFrame(rows)
    df = frame.reindex(columns=cols + [c for c in frame.columns if c not in cols]).astype(object)
    for c in MONEY_FIELDS:
        values = df[c].to_numpy(dtype=object)
        if set(map(type, values.tolist())) <= {str, type(None)}:  # stored text: each distinct text once
            codes, uniques = pd.factorize(values, use_na_sentinel=True)
            conv = np.empty(len(uniques) + 1, dtype=object)
            conv[:-1] = [Decimal(v) for v in uniques]
            conv[-1] = None
            converted = conv[codes]
        else:  # numbers: one by one (31 and 31.0 are equal Decimals, not the same text)
            converted = np.empty(len(values), dtype=object)
            converted[:] = [None if v is None or (isinstance(v, float) and v != v) else Decimal(str(v)) for v in values]
        df[c] = pd.Series(converted, index=df.index, dtype=object)
    return df


def latest_plan(store: st.Store, month: str, *, rows: bool = True) -> StoredPlan | None:
    """The newest stored plan of ``month`` (rows loaded unless ``rows=False``), or None."""
    meta = st.latest_plan_meta(store, month)
    if meta is None:
        return None
    data = plan_frame(st.plan_table(store, meta["id"])) if rows else plan_frame([])
    return StoredPlan(id=meta["id"], month=month, created_at=meta["created_at"], created_by=meta["created_by"],
                      snapshot_id=meta["snapshot_id"], summary=meta["summary"], inputs=meta["inputs"], rows=data)


