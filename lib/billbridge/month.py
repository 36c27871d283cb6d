"""The month workflow the pages and the CLI share: snapshot -> plan -> stored plan.

::

    from billbridge import month
    snap = month.refresh_snapshot(store, client, "2026-11")      # reads ConnectWise, stores it
    snap.request_count                                            # what the refresh cost
    plan, plan_id = month.build_plan(store, "2026-11")           # imports in effect + mappings + snapshot
    stored = month.latest_plan(store, "2026-11")                  # what a push/review reads back

The plan lifecycle itself (when to read ConnectWise again, building and storing the plan, the one
call both front ends make: ``ensure_plan``) lives in :mod:`billbridge.plan.build`; its functions are
re-exported here. This module adds what the pages read around it: vendor names, the API member,
stored plans as frames and the dollar-impact view.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from billbridge import demo_world
from billbridge import store as st
from billbridge.model import MONEY_FIELDS, PLAN_EXTRA_COLUMNS, ROW_COLUMNS
from billbridge.plan.build import (EnsuredPlan, NoSnapshotError, SnapshotResult, build_plan, ensure_plan,
                                   ensure_snapshot, impact_by_customer, mapped_agreement_ids, month_vendor_lines,
                                   plan_is_stale, refresh_reason, refresh_snapshot, snapshot_is_stale,
                                   written_since_snapshot)

__all__ = [
    "NoSnapshotError", "SnapshotResult", "EnsuredPlan", "StoredPlan", "PLAN_EXTRA_COLUMNS", "MONEY_FIELDS",
    "VENDOR_NAMES", "vendor_name", "month_vendor_lines", "refresh_snapshot", "refresh_reason", "ensure_snapshot",
    "ensure_plan", "snapshot_for", "snapshot_is_stale", "written_since_snapshot", "mapped_agreement_ids",
    "build_plan", "latest_plan", "plan_is_stale", "plan_frame", "impact_by_customer", "impact_figure",
    "api_member_for",
]

#: display names of the vendors billbridge knows (others: the vendor key, title-cased)
VENDOR_NAMES = {"demo": demo_world.VENDOR_NAME, "intermedia": "Intermedia", "interworks": "interworks.cloud",
                "phin": "Phin", "generic": "Generic"}


def vendor_name(vendor: str) -> str:
    return VENDOR_NAMES.get(vendor) or vendor.replace("_", " ").title()


def api_member_for(connection: Any = None) -> str:
    """The member identifier billbridge writes as: the sandbox's full member, ``$BILLBRIDGE_API_MEMBER``
    for a real site (ConnectWise does not tell the keys' owner), else ``BillbridgeAPI``."""
    if os.environ.get("BILLBRIDGE_API_MEMBER"):
        return os.environ["BILLBRIDGE_API_MEMBER"]
    if connection is None or getattr(connection, "mode", "sandbox") == "sandbox":
        from billbridge.sandbox import CREDENTIALS

        return CREDENTIALS["full"]["member"]
    return demo_world.API_MEMBER


# ------------------------------------------------------------------------------------ snapshots
def snapshot_for(store: st.Store, month: str) -> dict[str, Any] | None:
    """The newest stored snapshot of ``month`` (records + ``meta``), or None."""
    meta = st.latest_snapshot(store, month)
    return st.load_snapshot(store, meta["id"]) if meta else None


# ------------------------------------------------------------------------------------ stored plans
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


# ------------------------------------------------------------------------------------ impact view
def impact_figure(impacts: list[dict[str, str]], *, top: int = 25):
    """Plotly horizontal bars: monthly customer-price change and margin change per customer (the
    ``top`` customers by size of change), plus vendor dollars still blocked."""
    import plotly.graph_objects as go

    data = [d for d in impacts if any(Decimal(d[k]) for k in ("price_impact", "margin_impact", "blocked_dollars"))][:top]
    data = list(reversed(data))  # largest at the top
    from billbridge.model import chart_text

    names = [chart_text(d["customer"]) for d in data]  # a vendor name is text, never plotly markup
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
