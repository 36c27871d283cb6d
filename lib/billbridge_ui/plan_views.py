"""Reconcile page pieces: the plan grid (names, not ids), the detail panel and the plan lifecycle."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

import billbridge_ui as ui

from billbridge import month as mo
from billbridge import store as bst
from billbridge.model import CAUSES

PAGE_SIZE = 500
ACTION_LABELS = {"in_sync": "in sync", "update": "update", "create": "create", "cancel": "cancel", "blocked": "blocked"}
#: Material icons for labels that render markdown (metrics); grid cells and pickers stay plain words
#: (emoji fonts are missing on some meeting-room machines and headless browsers)
ACTION_ICONS = {"in_sync": ":material/check_circle:", "update": ":material/edit:", "create": ":material/add_circle:",
                "cancel": ":material/stop_circle:", "blocked": ":material/block:"}


def by_method(result: mo.SnapshotResult) -> str:
    """'24 GET' for a snapshot refresh."""
    return ", ".join(f"{n} {m}" for m, n in result.requests.items())


def require_vendor_month(store, month: str) -> None:
    """Stop the page with a pointer to Load month when nothing is loaded for ``month``."""
    if not bst.list_imports(store, billing_month=month):
        st.info(f"No vendor month is loaded for **{month}**. Load one first (Month › Load month), "
                "or pick another month in the sidebar.")
        st.stop()


def refresh_snapshot(store, month: str) -> None:
    """Read ConnectWise again for ``month`` (Mappings and Reconcile pages): confirm with the number
    of requests it took and rerun; on a ConnectWise failure explain it and stop the page."""
    from billbridge.connectwise import ConnectWiseError

    try:
        with st.spinner("Reading ConnectWise…"):
            res = mo.refresh_snapshot(store, ui.connection().client, month)
    except ConnectWiseError as exc:
        ui.show_cw_error(exc, what="Reading ConnectWise")
        st.stop()
    ui.flash(f"Read ConnectWise: {res.request_count} requests ({by_method(res)}).")
    st.rerun()


money = ui.money


def qty(v: Any) -> str:
    if v is None or v == "" or (isinstance(v, float) and v != v):
        return ""
    d = Decimal(str(v))
    return format(d.normalize() if d == d.to_integral_value() else d, "f")


def grid_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """What the meeting reads: customer, product, agreement, action, quantities, money, reason."""
    out = pd.DataFrame({
        "action": [ACTION_LABELS.get(r["action"], r["action"]) for r in rows],
        "cause": [(r.get("cause") or "").replace("_", " ") for r in rows],
        "customer": [r.get("vendor_customer_name") or r.get("company_name") or "" for r in rows],
        "product": [r.get("product_description") or r.get("product_name") or r.get("sku") or
                    (r.get("target") or "").replace("_", " ") for r in rows],
        "agreement": [r.get("agreement_name") or "" for r in rows],
        "vendor qty": [qty(r.get("vendor_quantity")) for r in rows],
        "CW qty": [qty(r.get("cw_quantity")) for r in rows],
        "new qty": [qty(r.get("new_quantity")) if r["action"] in ("create", "update") else "" for r in rows],
        "vendor price": [money(r.get("vendor_unit_price")) for r in rows],
        "CW price": [money(r.get("cw_unit_price")) for r in rows],
        "price impact": [money(r.get("price_impact")) for r in rows],
        "margin impact": [money(r.get("margin_impact")) for r in rows],
        "reason": [r.get("reason") or "" for r in rows],
    }, index=[r["key"] for r in rows])
    return out


@st.cache_data(max_entries=16, show_spinner=False)
def facets(db_path: str, plan_id: int) -> dict[str, list[str]]:
    """Filter choices of a plan, cached: a stored plan never changes (~0.6 s on 50,000 rows)."""
    with bst.Store.open(db_path) as s:
        return bst.plan_facets(s, plan_id)


def ensure_plan(store: bst.Store, month: str, client_factory) -> tuple[int | None, str | None]:
    """Make sure the month has an up-to-date plan: read ConnectWise when there is no snapshot,
    agreements were mapped since it was taken, or billbridge pushed since; rebuild when imports,
    mappings, creation requests or the snapshot changed. Returns (plan id, note for the operator)."""
    note = None
    why = mo.refresh_reason(store, month)
    if why:
        res = mo.refresh_snapshot(store, client_factory(), month)
        note = f"Read ConnectWise ({res.request_count} requests): {why}."
    if mo.plan_is_stale(store, month):
        _plan, plan_id = mo.build_plan(store, month)
        return plan_id, note
    meta = bst.latest_plan_meta(store, month)
    return (meta["id"] if meta else None), note


def _show(v: Any) -> str:
    """A diff value as the operator reads it: 12.0 -> 12, dates as they are, None -> blank."""
    if v is None:
        return ""
    try:
        return qty(v) if not isinstance(v, bool) and str(v).replace(".", "", 1).lstrip("-").isdigit() else str(v)
    except Exception:  # noqa: BLE001 - display only
        return str(v)


def diff_frame(row: dict[str, Any]) -> pd.DataFrame:
    writes = row.get("writes") or []
    return pd.DataFrame([{"field": w.get("field"), "ConnectWise now": _show(w.get("from")),
                          "after the push": _show(w.get("to"))} for w in writes],
                        columns=["field", "ConnectWise now", "after the push"])


def render_detail(store: bst.Store, meta: dict[str, Any], row: dict[str, Any]) -> None:
    """The detail panel: reason, field-level diff, the exact request, and the vendor lines behind it."""
    st.markdown(f"{ACTION_ICONS.get(row['action'], '')} **{ACTION_LABELS.get(row['action'], row['action'])}: {row.get('vendor_customer_name') or row.get('company_name') or ''}"
                f" · {row.get('product_description') or row.get('product_name') or row.get('target')}"
                f" · {row.get('agreement_name') or ''}**")
    (st.warning if row["action"] == "blocked" else st.info)(row.get("reason") or "")
    if row.get("cause"):
        st.caption(f"Cause: {row['cause'].replace('_', ' ')}: {CAUSES.get(row['cause'], '')}")
    c1, c2, c3, c4 = st.columns(4)
    c1.metric("Vendor quantity", qty(row.get("vendor_quantity")) or "-")
    c2.metric("ConnectWise quantity", qty(row.get("cw_quantity")) or "-")
    c3.metric("Customer price impact", money(row.get("price_impact")) or "$0.00")
    c4.metric("Margin impact", money(row.get("margin_impact")) or "$0.00")
    flags = row.get("flags") or []
    if flags:
        st.caption("Flags: " + ", ".join(f.replace("_", " ") for f in flags))
    if row.get("cw_proration") is not None or row.get("vendor_proration") is not None:
        st.caption(f"Proration this month: ConnectWise will bill {money(row.get('cw_proration'))}, "
                   f"the vendor charged {money(row.get('vendor_proration'))}.")
    t1, t2, t3 = st.tabs(["Field changes", "Exact request", "Vendor lines"])
    with t1:
        d = diff_frame(row)
        if len(d):
            st.dataframe(d, hide_index=True, width="stretch")
        else:
            st.write("No field changes.")
    with t2:
        if row.get("request"):
            st.json(row["request"])
            if row.get("lookup"):
                st.caption("Before creating, push looks for an existing record with: " + json.dumps(row["lookup"]))
        else:
            st.write("No request: nothing is written to ConnectWise for this row.")
    with t3:
        lines = row.get("vendor_lines") or []
        import_id = (meta.get("inputs") or {}).get("imports", {}).get(row.get("vendor"))
        if lines and import_id:
            df = bst.import_lines_subset(store, import_id, lines)
            st.dataframe(df[["line_no", "vendor_customer_name", "subscription_id", "sku", "product_name", "charge_type",
                             "quantity", "unit_cost", "unit_price", "period_start", "period_end", "effective_date"]],
                         hide_index=True, width="stretch")
        else:
            st.write("No vendor line: this row comes from ConnectWise (a line the vendor no longer bills) or from a creation request.")
