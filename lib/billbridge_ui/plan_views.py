"""Reconcile page pieces: the plan grid (names, not ids) and the detail panel. The plan lifecycle is
the library's (:func:`billbridge.plan.build.ensure_plan`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

import billbridge_ui as ui

from billbridge import month as mo
from billbridge import store as bst
from billbridge.model import CAUSES, column_label, label, labels
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import display_frame, qty_text
from billbridge_ui.text import md, md_join

PAGE_SIZE = 500
SELECTION_KEY = "plan_selection"
_SELECTION_PLAN = "_plan_selection_plan"
#: Material icons for labels that render markdown (metrics); grid cells and pickers stay plain words
#: (emoji fonts are missing on some meeting-room machines and headless browsers)
ACTION_ICONS = {"in_sync": ":material/check_circle:", "update": ":material/edit:", "create": ":material/add_circle:",
                "cancel": ":material/stop_circle:", "blocked": ":material/block:"}


def by_method(result: mo.SnapshotResult) -> str:
    """'24 GET' for a snapshot refresh."""
    return ", ".join(f"{n} {m}" for m, n in result.requests.items())


def require_vendor_month(store, month: str) -> None:
    """Stop the page with a pointer to Load month when nothing is loaded for ``month``."""
    if not bst.month_imports(store, month):
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


qty = qty_text


def selection(store: bst.Store, plan_id: int | None) -> list[str]:
    """The rows selected for the push: kept in session state for one plan only. A new plan (another
    month, a rebuild after a push) starts with nothing selected, and keys the plan does not have
    are dropped, so "12 selected" can never show on a month of 3 rows."""
    if st.session_state.get(_SELECTION_PLAN) != plan_id:
        st.session_state[_SELECTION_PLAN] = plan_id
        st.session_state[SELECTION_KEY] = []
    chosen = list(st.session_state.get(SELECTION_KEY) or [])
    if chosen and plan_id is not None:
        known = set(bst.plan_keys(store, plan_id))
        kept = [k for k in chosen if k in known]
        if len(kept) != len(chosen):
            st.session_state[SELECTION_KEY] = kept
        chosen = kept
    return chosen


def clear_selection() -> None:
    """Nothing selected any more (after a push)."""
    st.session_state[SELECTION_KEY] = []


def create_count(summary: dict[str, Any]) -> int:
    """Rows the plan creates: new additions plus the ConnectWise records requested from Mappings."""
    return int((summary.get("by_action") or {}).get("create", {}).get("rows", 0)) + int(summary.get("creations") or 0)


def row_title(row: dict[str, Any]) -> str:
    """``Blocked: Evergreen Family Practice · Hosted PBX seat`` for pickers (plain text, not Markdown)."""
    what = row.get("product_description") or row.get("product_name") or label(row.get("target"), "value")
    parts = [row.get("vendor_customer_name") or row.get("company_name"), what, row.get("agreement_name")]
    return f"{label(row.get('action'), 'action')}: " + " · ".join(str(p) for p in parts if p and str(p) != "nan")


def grid_frame(rows: list[dict[str, Any]]) -> pd.DataFrame:
    """What the meeting reads: customer, product, agreement, action, quantities, money in the row's
    currency, reason."""
    def money(v: Any, r: dict[str, Any]) -> str:
        return ui.money(v, r.get("currency"))

    out = pd.DataFrame({
        "Action": [label(r["action"], "action") for r in rows],
        "Cause": [label(r.get("cause"), "cause") for r in rows],
        "Customer": [r.get("vendor_customer_name") or r.get("company_name") or "" for r in rows],
        "Product": [r.get("product_description") or r.get("product_name") or r.get("sku") or
                    label(r.get("target"), "value") for r in rows],
        "Agreement": [r.get("agreement_name") or "" for r in rows],
        "Vendor qty": [qty(r.get("vendor_quantity")) for r in rows],
        "CW qty": [qty(r.get("cw_quantity")) for r in rows],
        "New qty": [qty(r.get("new_quantity")) if r["action"] in ("create", "update") else "" for r in rows],
        "Vendor price": [money(r.get("vendor_unit_price"), r) for r in rows],
        "CW price": [money(r.get("cw_unit_price"), r) for r in rows],
        "Price impact": [money(r.get("price_impact"), r) for r in rows],
        "Margin impact": [money(r.get("margin_impact"), r) for r in rows],
        "Reason": [r.get("reason") or "" for r in rows],
    }, index=[r["key"] for r in rows])
    if len({r.get("vendor") for r in rows}) > 1:
        out.insert(2, "Vendor", [ui.vendor_label(r.get("vendor")) for r in rows])
    return out


def _coalesce(t: pd.DataFrame, *cols: str) -> pd.Series:
    out = pd.Series("", index=t.index, dtype=object)
    for c in reversed(cols):
        if c in t.columns:
            out = t[c].where(t[c].map(lambda v: isinstance(v, str) and v != ""), out)
    return out


def _read_plan(db_path: str, plan_id: int) -> pd.DataFrame:
    with bst.Store.open(db_path) as s:
        return bst.plan_table(s, plan_id)


def _index(t: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "key": t["key"], "vendor": t["vendor"], "action": t["action"], "cause": t["cause"].fillna(""),
        "customer": _coalesce(t, "vendor_customer_name", "company_name"),
        "product": _coalesce(t, "product_description", "product_name", "sku"),
        "target": t["target"] if "target" in t.columns else None,
        "flags": t["flags"] if "flags" in t.columns else [()] * len(t),
    })


@st.cache_data(max_entries=16, show_spinner=False)
def plan_figures(db_path: str, plan_id: int) -> dict[str, Any]:
    """A stored plan's headline (it never changes), cached and small: its figures per vendor and
    currency (:func:`billbridge.review.plan_figures`), its impact per customer per currency for all
    vendors (``None``) and each (:func:`billbridge.review.impacts_by_currency`), and the ConnectWise
    records requested from Mappings per vendor."""
    from billbridge import review

    t = _read_plan(db_path, plan_id)
    vendors = sorted({x for x in t["vendor"] if isinstance(x, str)})
    index = _index(t)
    created = index["target"].map(lambda x: isinstance(x, str) and x != "addition")
    return {"figures": review.plan_figures(t),
            "impacts": {v: review.impacts_by_currency(t, v) for v in [None, *vendors]},
            "creations": {v: int((created & ((index["vendor"] == v) if v else True)).sum()) for v in [None, *vendors]}}


def summary_figures(summary: dict[str, Any]) -> pd.DataFrame:
    """The plan's headline per currency as its stored summary has it (``by_currency``, Rule 7.1: the
    source of the figures for all vendors), in the columns of :func:`billbridge.review.plan_figures`
    (``customers`` and ``requests`` are the summary's own, for all currencies)."""
    from decimal import Decimal

    from billbridge.review import FIGURE_COLUMNS

    def d(v: Any) -> Decimal:
        return Decimal(str(v)) if v is not None else Decimal(0)

    out = []
    for cur, f in (summary.get("by_currency") or {}).items():
        acts = {a: {"rows": int(e["by_currency"][cur]["rows"]), "dollars": d(e["by_currency"][cur]["dollars"])}
                for a, e in (summary.get("by_action") or {}).items() if cur in (e.get("by_currency") or {})}
        out.append({"vendor": None, "currency": cur, "lines": int(f["lines_checked"]), "rows": int(f["rows"]),
                    "customers": None, "dollars": d(f["dollars_checked"]),
                    **{f"{b}_lines": int(f[f"lines_{b}"]) for b in ("reconciled", "blocked", "excluded")},
                    **{b: d(f[f"dollars_{b}"]) for b in ("reconciled", "blocked", "excluded")},
                    "coverage": d(f["coverage"]), "price_impact": d(f["price_impact"]),
                    "margin_impact": d(f["margin_impact"]), "requests": None, "by_action": acts})
    return pd.DataFrame(out, columns=list(FIGURE_COLUMNS))


@st.cache_data(max_entries=8, show_spinner=False)
def plan_index(db_path: str, plan_id: int) -> pd.DataFrame:
    """Every row's key, vendor, action, cause, customer, product and target (plan order), cached:
    what the grid filters when the sidebar narrows to one vendor (the store pages the whole plan)."""
    return _index(_read_plan(db_path, plan_id))


def vendor_rows(index: pd.DataFrame, vendor: str, *, actions=None, causes=None, customers=None,
                products=None, flags=None) -> list[str]:
    """Keys of ``vendor``'s rows matching the grid's filters (those of :func:`billbridge.store.plan_page`),
    in plan order: the page's vendor filter (the store pages the whole plan)."""
    m = index["vendor"] == vendor
    for col, values in (("action", actions), ("cause", causes), ("customer", customers), ("product", products)):
        if values:
            m &= index[col].isin(values)
    if flags:
        m &= index["flags"].map(lambda fs: bool(set(fs or ()) & set(flags)))
    return index.loc[m, "key"].tolist()


def vendor_facets(index: pd.DataFrame, vendor: str) -> dict[str, list[str]]:
    """The filter choices of one vendor's rows (as :func:`billbridge.store.plan_facets`)."""
    sub = index[index["vendor"] == vendor]
    pick = lambda c: sorted(v for v in set(sub[c]) if isinstance(v, str) and v)  # noqa: E731
    return {"actions": pick("action"), "causes": pick("cause"), "customers": pick("customer"), "products": pick("product")}


@st.cache_data(max_entries=16, show_spinner=False)
def facets(db_path: str, plan_id: int) -> dict[str, list[str]]:
    """Filter choices of a plan, cached: a stored plan never changes (~0.6 s on 50,000 rows)."""
    with bst.Store.open(db_path) as s:
        return bst.plan_facets(s, plan_id)


def _show(v: Any) -> str:
    """A diff value as the operator reads it: 12.0 -> 12, dates as they are, None -> blank."""
    if v is None or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, dict):  # a reference: its name, else its identifier or id
        return str(v.get("name") or v.get("identifier") or v.get("id") or "")
    try:
        return qty(v) if not isinstance(v, bool) and str(v).replace(".", "", 1).lstrip("-").isdigit() else str(v)
    except Exception:  # noqa: BLE001 - display only
        return str(v)


def diff_frame(row: dict[str, Any]) -> pd.DataFrame:
    writes = row.get("writes") or []
    return pd.DataFrame([{"field": column_label(w.get("field")), "ConnectWise now": _show(w.get("from")),
                          "after the push": _show(w.get("to"))} for w in writes],
                        columns=["field", "ConnectWise now", "after the push"])


def render_detail(store: bst.Store, meta: dict[str, Any], row: dict[str, Any]) -> None:
    """The detail panel: reason, field-level diff, the exact request, and the vendor lines behind it."""
    what = row.get("product_description") or row.get("product_name") or label(row.get("target"), "value")
    st.markdown(f"{ACTION_ICONS.get(row['action'], '')} **{md(label(row['action'], 'action'))}: "
                f"{md_join([row.get('vendor_customer_name') or row.get('company_name'), what, row.get('agreement_name')])}**")
    (st.warning if row["action"] == "blocked" else st.info)(md(row.get("reason")) or "No reason given.")
    if row.get("cause"):
        st.caption(f"Cause: {label(row['cause'], 'cause')}: {CAUSES.get(row['cause'], '')}")
    cur = row.get("currency")
    m = metric_row()
    m.metric("Vendor quantity", qty(row.get("vendor_quantity")) or "-", width=METRIC)
    m.metric("ConnectWise quantity", qty(row.get("cw_quantity")) or "-", width=METRIC)
    m.metric("Customer price impact", money(row.get("price_impact"), cur) or money(0, cur), width=METRIC)
    m.metric("Margin impact", money(row.get("margin_impact"), cur) or money(0, cur), width=METRIC)
    parts = row.get("impact_by_cause") or {}
    if any(Decimal(str(v)) for v in parts.values()):  # issue 12: the price impact by cause
        st.caption("Price impact by cause: " + " · ".join(f"{label(c, 'impact')} {money(v, cur)}" for c, v in parts.items()
                                                          if Decimal(str(v))))
    flags = row.get("flags") or []
    if flags:
        st.caption("Flags: " + md(labels(flags)))
    if row.get("margin_pct_after") is not None:
        before = f"{row['margin_pct_before']}% -> " if row.get("margin_pct_before") is not None else ""
        st.caption(f"Margin: {before}{row['margin_pct_after']}% (price rule: {label(row.get('price_rule'), 'value')}).")
    if row.get("cw_proration") is not None or row.get("vendor_proration") is not None:
        st.caption(f"Proration this month: ConnectWise will bill {money(row.get('cw_proration'), cur)}, "
                   f"the vendor charged {money(row.get('vendor_proration'), cur)}.")
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
                st.caption("Before creating, push looks for an existing record with:")
                st.code(json.dumps(row["lookup"]), language="json")
        else:
            st.write("No request: nothing is written to ConnectWise for this row.")
    with t3:
        lines = row.get("vendor_lines") or []
        import_id = (meta.get("inputs") or {}).get("imports", {}).get(row.get("vendor"))
        if lines and import_id:
            df = bst.import_lines_subset(store, import_id, lines)
            st.dataframe(display_frame(df, ["line_no", "vendor_customer_name", "subscription_id", "sku", "product_name",
                                            "charge_type", "quantity", "unit_cost", "unit_price", "period_start",
                                            "period_end", "effective_date", "currency", "tax", "vendor_charge_type",
                                            "vendor_line_id"], money={"tax"}),
                         hide_index=True, width="stretch")
        else:
            st.write("No vendor line: this row comes from ConnectWise (a line the vendor no longer bills) or from a creation request.")
    render_override(store, meta, row)


def render_override(store: bst.Store, meta: dict[str, Any], row: dict[str, Any]) -> None:
    """Override a blocked row (a past month's correction, an invoiced month, a line below cost, a manual edit)
    or take an override back; the reason goes to the push journal (required for an invoiced month)."""
    from billbridge import guardrails
    from billbridge.model import OVERRIDE_CAUSES, REASON_REQUIRED_CAUSES

    month, key = meta["billing_month"], row["key"]
    current = bst.month_overrides(store, month)
    # a past month offers a correction only when there are dollars to correct (its reason says how)
    offered = row.get("cause") in OVERRIDE_CAUSES and (row.get("cause") != "past_month"
                                                       or "billbridge override" in str(row.get("reason")))
    if not offered and key not in current:
        return
    box = st.container(horizontal=True, vertical_alignment="bottom")
    flags = row.get("flags") or ()
    # an override without a reason does not open an invoiced month: the row stays blocked until one is given
    still_needs_reason = key in current and row.get("cause") in REASON_REQUIRED_CAUSES
    if key in current and not still_needs_reason:
        box.caption(f"Overridden{': ' + md(current[key]) if current[key] else ''}.")
        if box.button("Take back the override", key=f"unoverride_{key}"):
            bst.remove_override(store, month, [key])
            ui.flash("Override taken back: the plan is rebuilt with the row blocked again.")
            st.rerun()
        return
    if still_needs_reason:
        box.caption("Overridden, but ConnectWise already invoiced this month: give the reason to write it anyway.")
    need = guardrails.needs_reason(row["cause"], flags)
    reason = box.text_input("Reason (kept in the push journal)" + (" - required" if need else ""),
                            key=f"override_reason_{key}", width=360)
    verb = "Confirm the correction line" if row["cause"] == "past_month" else "Override"
    if box.button(verb, key=f"override_{key}", disabled=need and not reason.strip()):
        bst.set_override(store, month, [key], reason)
        ui.flash(f"{verb}: {md(row.get('vendor_customer_name') or key)}. The plan is rebuilt with it.")
        st.rerun()
