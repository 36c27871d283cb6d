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
def impact_figure(impacts: list[dict[str, str]], *, top: int = 25, currency: str | None = None):
    """Plotly horizontal bars: monthly customer-price change and margin change per customer (the
    ``top`` customers by size of change), plus vendor cost still blocked, in one currency (``currency``,
    else the first the entries name: :func:`impact_by_customer` gives each entry its ``currency``);
    :func:`billbridge.review.impact_figure` draws it (one chart, one currency, never two added)."""
    from billbridge import review

    cur = currency or next((d["currency"] for d in impacts if d.get("currency")), "USD")
    return review.impact_figure([d for d in impacts if d.get("currency", cur) == cur], cur, top=top)
