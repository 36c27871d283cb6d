"""The month workflow the pages and the CLI share: snapshot -> plan -> stored plan.

::

    from billbridge import month
    snap = month.refresh_snapshot(store, client, "2026-11")      # reads ConnectWise, stores it
    snap.request_count                                            # what the refresh cost
    plan, plan_id = month.build_plan(store, "2026-11")           # latest imports + mappings + snapshot
    stored = month.latest_plan(store, "2026-11")                  # what a push/review reads back

``build_plan`` reconciles every vendor loaded for the month (latest import version each) with
:func:`billbridge.plan.reconcile`, adds what push needs to be idempotent (``target`` and a
natural-key ``lookup`` on every create), appends the operator's queued "create missing record"
rows (:mod:`billbridge.mappings`) and stores the result, so the push, the sync status and the
month review all read the plan a push was made from.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from billbridge import clock, demo_world
from billbridge import store as st
from billbridge.errors import NotFoundError
from billbridge.model import MONEY_FIELDS, PLAN_EXTRA_COLUMNS, ROW_COLUMNS
from billbridge.plan import Context, Mappings, Plan, Summary, plan_to_json, reconcile
from billbridge.vendors import VENDOR_NAMES, month_vendor_lines, vendor_name

__all__ = [
    "NoSnapshotError", "SnapshotResult", "StoredPlan", "PLAN_EXTRA_COLUMNS", "MONEY_FIELDS", "VENDOR_NAMES",
    "vendor_name", "month_vendor_lines", "refresh_snapshot", "snapshot_for", "snapshot_is_stale",
    "build_plan", "latest_plan", "plan_is_stale", "plan_frame", "impact_by_customer", "impact_figure",
    "api_member_for",
]

class NoSnapshotError(NotFoundError):
    """No ConnectWise snapshot is stored for the month: refresh from ConnectWise first."""


def api_member_for(connection: Any = None) -> str:
    """The member identifier billbridge writes as: the sandbox's full member, ``$BILLBRIDGE_API_MEMBER``
    for a real site (ConnectWise does not tell the keys' owner), else ``BillbridgeAPI``."""
    import os

    if os.environ.get("BILLBRIDGE_API_MEMBER"):
        return os.environ["BILLBRIDGE_API_MEMBER"]
    if connection is None or getattr(connection, "mode", "sandbox") == "sandbox":
        from billbridge.sandbox import CREDENTIALS

        return CREDENTIALS["full"]["member"]
    return demo_world.API_MEMBER


# ------------------------------------------------------------------------------------ snapshots
@dataclass
class SnapshotResult:
    snapshot_id: int
    snapshot: Any  # billbridge.snapshot.Snapshot
    request_count: int
    requests: dict[str, int]


def mapped_agreement_ids(store: st.Store) -> list[int]:
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


def snapshot_for(store: st.Store, month: str) -> dict[str, Any] | None:
    """The newest stored snapshot of ``month`` (records + ``meta``), or None."""
    meta = st.latest_snapshot(store, month)
    return st.load_snapshot(store, meta["id"]) if meta else None


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


# ------------------------------------------------------------------------------------ plans
def _line_key_of(row: dict[str, Any]) -> str:
    body = (row.get("request") or {}).get("body") or {}
    for cf in body.get("customFields") or [] if isinstance(body, dict) else []:
        if cf.get("caption") == demo_world.LINE_KEY_FIELD or cf.get("id") == demo_world.LINE_KEY_FIELD_ID:
            if cf.get("value"):
                return str(cf["value"])
    return str(row["key"]).split("#")[0]


def _addition_lookup(row: dict[str, Any]) -> dict[str, Any] | None:
    """Natural key of an addition a create row would make: the line key custom field on its agreement."""
    req = row.get("request")
    if row.get("action") != "create" or not req or req.get("method") != "POST":
        return None
    key = _line_key_of(row).replace('"', '\\"')
    return {"path": req["path"], "conditions": None,
            "custom_field_conditions": f'caption="{demo_world.LINE_KEY_FIELD}" AND value="{key}"'}


def _inputs(store: st.Store, month: str, imports: dict[str, Any], snapshot_id: int | None) -> dict[str, Any]:
    return {
        "imports": {v: imp["id"] for v, (imp, _) in imports.items()},
        "snapshot_id": snapshot_id,
        "mappings_version": st.mappings_version(store),
        "creations": sorted(r["key"] + "@" + r["requested_at"] for r in st.creation_requests(store, status=None)),
    }


def _merge_summaries(summaries: list[Summary], month: str) -> Summary:
    if len(summaries) == 1:
        return summaries[0]
    if not summaries:
        return Summary(month=month, vendor="", status="empty", lines_checked=0, dollars_checked=Decimal(0),
                       lines_reconciled=0, dollars_reconciled=Decimal(0), lines_blocked=0, dollars_blocked=Decimal(0),
                       lines_excluded=0, dollars_excluded=Decimal(0), rows=0, customers=0, by_action={}, by_cause={},
                       price_impact=Decimal(0), margin_impact=Decimal(0), requests=0, coverage=Decimal(0))
    num = ("lines_checked", "dollars_checked", "lines_reconciled", "dollars_reconciled", "lines_blocked",
           "dollars_blocked", "lines_excluded", "dollars_excluded", "rows", "customers", "price_impact",
           "margin_impact", "requests")
    total = {k: sum((getattr(s, k) for s in summaries[1:]), getattr(summaries[0], k)) for k in num}

    def merge(attr: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for s in summaries:
            for name, d in getattr(s, attr).items():
                acc = out.setdefault(name, {k: (Decimal(0) if isinstance(v, Decimal) else 0) for k, v in d.items()})
                for k, v in d.items():
                    acc[k] = acc[k] + v
        return out

    statuses = [s.status for s in summaries]
    status = next((x for x in ("changes", "blocked", "in_sync", "nothing_in_period") if x in statuses), "empty")
    cov = (total["dollars_reconciled"] / total["dollars_checked"]).quantize(Decimal("0.0001")) \
        if total["dollars_checked"] else Decimal(0)
    return Summary(month=month, vendor=",".join(s.vendor for s in summaries), status=status,
                   by_action=merge("by_action"), by_cause=merge("by_cause"), coverage=cov, **total)


def _resolve_creations(store: st.Store, snapshot: dict[str, Any]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Pending creation rows, split into (still to create, already in ConnectWise). A record that
    now exists is marked done and, when the request named a mapping, that mapping is recorded."""
    from billbridge.mappings import creation_exists

    todo, done = [], []
    for req in st.creation_requests(store, "pending"):
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


def build_plan(store: st.Store, month: str, snapshot: dict[str, Any] | None = None, *,
               api_member: str | None = None, today: date | None = None,
               overrides: frozenset[str] = frozenset()) -> tuple[Plan, int]:
    """Reconcile ``month`` (every vendor's latest import) against the snapshot and store the plan.

    ``snapshot``: ConnectWise records (as :func:`snapshot_for` returns); default the month's newest
    stored one (:class:`NoSnapshotError` when there is none). Returns the plan (rows + ``target``,
    ``lookup``, ``depends_on``, ``maps``; queued creation rows appended) and its id.
    """
    if snapshot is None:
        snapshot = snapshot_for(store, month)
        if snapshot is None:
            raise NoSnapshotError(f"no ConnectWise snapshot for {month}: refresh from ConnectWise first")
    snapshot_id = (snapshot.get("meta") or {}).get("id")
    todo, done = _resolve_creations(store, snapshot)
    imports = month_vendor_lines(store, month)
    member = api_member or api_member_for()
    frames, summaries = [], []
    for vendor, (_imp, lines) in sorted(imports.items()):
        maps = Mappings(**st.mapping_frames(store, vendor))
        ctx = Context(month=month, vendor=vendor, api_member=member, today=today or clock.today(),
                      journal=st.written_lines(store), overrides=overrides, vendor_name=vendor_name(vendor),
                      line_key_field=demo_world.LINE_KEY_FIELD, line_key_field_id=demo_world.LINE_KEY_FIELD_ID)
        p = reconcile(lines, snapshot, maps, ctx)
        frames.append(p.rows)
        summaries.append(p.summary)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ROW_COLUMNS))
    summary = _merge_summaries(summaries, month)
    plan = Plan(rows=rows, summary=summary)
    doc = plan_to_json(plan)
    json_rows = doc["rows"]
    for r in json_rows:
        r["target"] = "addition"
        r["lookup"] = _addition_lookup(r)
        r["depends_on"] = []
        r["maps"] = None
    json_rows = list(todo) + json_rows + done  # creations first: additions may depend on them
    doc["summary"]["creations"] = len(todo)
    doc["summary"]["impact_by_customer"] = impact_by_customer(json_rows)
    inputs = _inputs(store, month, imports, snapshot_id)
    plan_id = st.save_plan(store, month, snapshot_id, doc["summary"], json_rows, inputs=inputs)
    extra = pd.DataFrame(json_rows[:len(todo)]) if todo else None
    rows = rows.assign(target="addition", lookup=[r["lookup"] for r in doc["rows"]], depends_on=[[]] * len(rows),
                       maps=None)
    if extra is not None or done:
        rows = pd.concat([plan_frame(list(todo)), rows, plan_frame(done)], ignore_index=True)
    return Plan(rows=rows, summary=summary), plan_id


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


def plan_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """Stored JSON rows -> DataFrame with Decimal money/quantities (the columns reconcile uses)."""
    cols = list(ROW_COLUMNS) + list(PLAN_EXTRA_COLUMNS)
    df = pd.DataFrame(rows).reindex(columns=cols + [c for c in (pd.DataFrame(rows).columns if rows else [])
                                                   if c not in cols]).astype(object)
    for c in MONEY_FIELDS:
        df[c] = df[c].map(lambda v: None if v is None or (isinstance(v, float) and v != v) else Decimal(str(v))).astype(object)
    return df


def latest_plan(store: st.Store, month: str, *, rows: bool = True) -> StoredPlan | None:
    """The newest stored plan of ``month`` (rows loaded unless ``rows=False``), or None."""
    meta = st.latest_plan_meta(store, month)
    if meta is None:
        return None
    data = plan_frame(st.plan_rows(store, meta["id"])) if rows else plan_frame([])
    return StoredPlan(id=meta["id"], month=month, created_at=meta["created_at"], created_by=meta["created_by"],
                      snapshot_id=meta["snapshot_id"], summary=meta["summary"], inputs=meta["inputs"], rows=data)


def plan_is_stale(store: st.Store, month: str) -> bool:
    """True when the imports, the snapshot, the mappings or the creation queue changed since the
    month's newest plan was built (or there is none)."""
    meta = st.latest_plan_meta(store, month)
    if meta is None:
        return True
    snap = st.latest_snapshot(store, month)
    now = _inputs(store, month, month_vendor_lines_meta(store, month), snap["id"] if snap else None)
    return now != meta["inputs"]


def month_vendor_lines_meta(store: st.Store, month: str) -> dict[str, tuple[dict[str, Any], None]]:
    out: dict[str, tuple[dict[str, Any], None]] = {}
    for imp in st.list_imports(store, billing_month=month):
        out.setdefault(imp["vendor"], (imp, None))
    return out


# ------------------------------------------------------------------------------------ impact view
def impact_by_customer(rows: list[dict[str, Any]] | pd.DataFrame) -> list[dict[str, str]]:
    """Customer-price and margin impact per customer (exact sums; JSON-ready strings), largest
    absolute price impact first. Blocked rows are counted as dollars at stake (vendor amount)."""
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    acc: dict[str, list[Decimal]] = {}
    for r in rows:
        name = r.get("vendor_customer_name") or r.get("company_name") or r.get("vendor_customer_id") or "(none)"
        a = acc.setdefault(str(name), [Decimal(0), Decimal(0), Decimal(0)])
        a[0] += Decimal(str(r.get("price_impact") or 0))
        a[1] += Decimal(str(r.get("margin_impact") or 0))
        if r.get("action") == "blocked" and r.get("bucket") == "blocked":
            a[2] += Decimal(str(r.get("vendor_amount") or 0))
    out = [{"customer": k, "price_impact": str(v[0]), "margin_impact": str(v[1]), "blocked_dollars": str(v[2])}
           for k, v in acc.items()]
    out.sort(key=lambda d: (-abs(Decimal(d["price_impact"])), -Decimal(d["blocked_dollars"]), d["customer"]))
    return out


def impact_figure(impacts: list[dict[str, str]], *, top: int = 25):
    """Plotly horizontal bars: monthly customer-price change and margin change per customer (the
    ``top`` customers by size of change), plus vendor dollars still blocked."""
    import plotly.graph_objects as go

    data = [d for d in impacts if any(Decimal(d[k]) for k in ("price_impact", "margin_impact", "blocked_dollars"))][:top]
    data = list(reversed(data))  # largest at the top
    names = [d["customer"] for d in data]
    fig = go.Figure()
    for key, label, color in (("price_impact", "Customer price change", "#1f77b4"),
                              ("margin_impact", "Margin change", "#2ca02c"),
                              ("blocked_dollars", "Vendor $ blocked", "#d62728")):
        vals = [float(Decimal(d[key])) for d in data]
        fig.add_bar(y=names, x=vals, name=label, orientation="h", marker_color=color,
                    text=[f"${v:,.2f}" if v else "" for v in vals], textposition="auto",
                    hovertemplate="%{y}: %{x:$,.2f}<extra>" + label + "</extra>")
    fig.update_layout(barmode="group", height=max(260, 28 * len(names) * 2 + 120),
                      margin=dict(l=10, r=10, t=40, b=10), title="Monthly dollar impact by customer",
                      xaxis_title="USD per month", legend=dict(orientation="h", y=-0.15))
    return fig
