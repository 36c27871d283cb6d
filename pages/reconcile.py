"""Reconcile: what the vendor billed against what ConnectWise will bill, line by line, with the exact fix."""

import streamlit as st

import billbridge_ui as ui
from billbridge import month as mo
from billbridge import store as bst
from billbridge.connectwise import ConnectWiseError
from billbridge.model import ACTION_LABELS
from billbridge.plan.build import ensure_plan
from billbridge_ui import plan_views as pv
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.text import md

st.title("Reconcile")
ui.show_flash()
month = ui.billing_month()
store = ui.store()
pv.require_vendor_month(store, month)

if st.button("Refresh from ConnectWise", key="refresh_cw", icon=":material/refresh:"):
    pv.refresh_snapshot(store, month)
try:
    with st.spinner("Reconciling…"):
        ensured = ensure_plan(store, lambda: ui.connection().client, month)
except ConnectWiseError as exc:
    ui.show_cw_error(exc, what="Reading ConnectWise")
    st.stop()
plan_id = ensured.plan_id
if ensured.note:
    st.toast(ensured.note)
meta = bst.get_plan(store, plan_id)
s = meta["summary"]
snap = bst.latest_snapshot(store, month)
st.caption(f"Plan #{plan_id} built {meta['created_at']} by {md(meta['created_by'])} · ConnectWise as read at "
           f"{snap['taken_at']} ({snap['request_count']} requests)")

# ---- headline ---------------------------------------------------------------------------------
status_words = {"changes": "changes to make", "blocked": "blocked lines need you", "in_sync": "all in sync",
                "empty": "the vendor month is empty", "nothing_in_period": "no vendor line belongs to this month"}
(st.success if s["status"] == "in_sync" else st.warning if s["status"] in ("empty", "nothing_in_period") else st.info)(
    f"**{month}: {status_words.get(s['status'], s['status'])}.** "
    f"Vendor total {ui.money(s['dollars_checked'])} = reconciled {ui.money(s['dollars_reconciled'])} + blocked "
    f"{ui.money(s['dollars_blocked'])} + excluded {ui.money(s['dollars_excluded'])}.")
m = metric_row()
m.metric("Vendor lines", s["lines_checked"], help=f"{s['customers']} customers", width=METRIC)
m.metric("Vendor dollars", ui.money(s["dollars_checked"]), width=METRIC)
m.metric("Coverage", f"{float(s['coverage']):.0%}", help="share of vendor dollars reconciled (not blocked or excluded)",
         width=METRIC)
m.metric("Customer price change / month", ui.money(s["price_impact"]), delta=f"margin {ui.money(s['margin_impact'])}",
         delta_color="off", width=METRIC)
a = metric_row()
for act in ("in_sync", "update", "create", "cancel", "blocked"):
    d = s["by_action"].get(act, {"rows": 0, "dollars": "0"})
    rows = pv.create_count(s) if act == "create" else d["rows"]
    extra = (f"; {s['creations']} of them ConnectWise records requested from Mappings" if act == "create" and s.get("creations")
             else " (blocked or excluded by a rule)" if act == "blocked" else "")
    a.metric(f"{pv.ACTION_ICONS[act]} {ACTION_LABELS[act]}", rows, help=f"vendor dollars {ui.money(d['dollars'])}" + extra,
             width=METRIC)
if s.get("creations"):
    st.info(f"{s['creations']} ConnectWise record(s) requested from the Mappings page wait in this plan (action "
            f"{ACTION_LABELS['create']}).")

# ---- chart ------------------------------------------------------------------------------------
with st.expander("Dollar impact by customer", expanded=False):
    impacts = s.get("impact_by_customer") or []
    if impacts:
        st.plotly_chart(mo.impact_figure(impacts), key="impact_chart", width="stretch")
    else:
        st.write("No dollar impact.")

# ---- grid -------------------------------------------------------------------------------------
facets = pv.facets(str(ui.config().db_path), plan_id)
f1, f2, f3, f4 = st.columns(4)
flt = {
    "actions": f1.multiselect("Action", facets["actions"], key="flt_action", placeholder="All",
                              format_func=lambda x: ACTION_LABELS.get(x, x)),
    "causes": f2.multiselect("Cause", facets["causes"], key="flt_cause", placeholder="All",
                             format_func=lambda x: pv.label(x, "cause")),
    "customers": f3.multiselect("Customer", facets["customers"], key="flt_customer", placeholder="All"),
    "products": f4.multiselect("Product", facets["products"], key="flt_product", placeholder="All"),
}
flt = {k: v or None for k, v in flt.items()}
g = st.container(horizontal=True, wrap=True, vertical_alignment="center", gap="large")
show_all = g.toggle("Show every row", key="show_all", help="Rows are shown a page of 500 at a time unless you ask for all.")
total = bst.plan_page(store, plan_id, limit=0, **flt)[1]
pages = max(1, -(-total // pv.PAGE_SIZE))
page = 1 if show_all or pages == 1 else g.number_input(f"Page (of {pages})", 1, pages, 1, key="plan_page")
rows, total = bst.plan_page(store, plan_id, limit=None if show_all else pv.PAGE_SIZE,
                            offset=0 if show_all else (page - 1) * pv.PAGE_SIZE, **flt)
st.caption(f"{total} row(s) match; showing {len(rows)}. Tick rows to select them for the push below.")
frame = pv.grid_frame(rows)
selected = pv.selection(store, plan_id)  # for this plan only: a new month or plan starts empty
event = st.dataframe(frame, key=f"plan_grid_{plan_id}", on_select="rerun", selection_mode="multi-row", hide_index=True,
                     width="stretch", height=min(600, 38 + 35 * max(1, len(frame))),
                     column_config={"Reason": st.column_config.TextColumn("Reason", width="large")})
picked = [frame.index[i] for i in (event.selection.rows if event is not None and hasattr(event, "selection") else [])
          if i < len(frame)]
sel = st.container(horizontal=True, wrap=True)
if sel.button(f"Select all {total} matching rows", key="select_all"):
    st.session_state["plan_selection"] = bst.plan_keys(store, plan_id, **flt)
elif picked:
    st.session_state["plan_selection"] = picked
if sel.button("Clear selection", key="clear_selection"):
    st.session_state["plan_selection"] = []
selected = pv.selection(store, plan_id)
st.caption(f"{len(selected)} row(s) selected.")

# ---- detail -----------------------------------------------------------------------------------
if rows:
    st.subheader("Row detail")
    by_key = {r["key"]: r for r in rows}
    options = list(by_key)
    default = next((k for k in selected if k in by_key), options[0])
    key = st.selectbox("Row", options, index=options.index(default), key="detail_key",
                       format_func=lambda k: pv.row_title(by_key[k]))
    pv.render_detail(store, meta, by_key[key])

# ---- push (billbridge_ui.push_panel, issue 5) ---------------------------------------------------
st.divider()
try:
    from billbridge_ui.push_panel import render_push_panel
except ImportError:
    st.info("Push controls not installed yet: this plan can be reviewed, not pushed.")
else:
    render_push_panel(plan_id, mo.plan_frame(bst.plan_rows(store, plan_id, selected)), selected)
