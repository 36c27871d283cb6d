"""The month workflow the pages and the CLI share: snapshot -> plan -> stored plan.

::

    from billbridge import month
    snap = month.refresh_snapshot(store, client, "2026-11")      # reads ConnectWise, stores it
    snap.request_count                                            # what the refresh cost
    plan, plan_id = month.build_plan(store, "2026-11")           # imports in effect + mappings + snapshot
    stored = month.latest_plan(store, "2026-11")                  # what a push/review reads back

The plan lifecycle itself (when to read ConnectWise again, building and storing the plan, the one
call both front ends make: ``ensure_plan``) lives in :mod:`billbridge.plan.build`; its functions are
re-exported here with the stored plans as frames. This module adds the dollar-impact figure.
"""

from __future__ import annotations

from decimal import Decimal


from billbridge.model import MONEY_FIELDS, PLAN_EXTRA_COLUMNS
from billbridge.plan.build import (EnsuredPlan, NoSnapshotError, SnapshotResult, StoredPlan, api_member_for,
                                   build_plan, ensure_plan, ensure_snapshot, impact_by_customer, latest_plan,
                                   mapped_agreement_ids, plan_frame, plan_is_stale, refresh_reason, refresh_snapshot,
                                   snapshot_for, snapshot_is_stale, written_since_snapshot)
from billbridge.vendors import VENDOR_NAMES, month_vendor_lines, vendor_name

__all__ = [
    "NoSnapshotError", "SnapshotResult", "EnsuredPlan", "StoredPlan", "PLAN_EXTRA_COLUMNS", "MONEY_FIELDS",
    "VENDOR_NAMES", "vendor_name", "month_vendor_lines", "refresh_snapshot", "refresh_reason", "ensure_snapshot",
    "ensure_plan", "snapshot_for", "snapshot_is_stale", "written_since_snapshot", "mapped_agreement_ids",
    "build_plan", "latest_plan", "plan_is_stale", "plan_frame", "impact_by_customer", "impact_figure",
    "api_member_for",
]



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
