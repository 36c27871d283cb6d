"""Reconcile: what the vendor billed against what ConnectWise will bill, line by line, with the exact fix."""

import streamlit as st

import billbridge_ui as ui
from billbridge import review
from billbridge import store as bst
from billbridge.connectwise import ConnectWiseError
from billbridge.model import ACTION_LABELS
from billbridge.plan.build import ensure_plan
from billbridge_ui import links
from billbridge_ui import plan_views as pv
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.text import md

month = ui.billing_month()
vendor = ui.vendor_filter(month)
st.title("Reconcile" + (f" · {ui.vendor_label(vendor)}" if vendor else ""))
ui.show_flash()
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

# ---- headline: per currency (Rule 7.1), for the sidebar's vendor or all -----------------------
db_path = str(ui.config().db_path)
head = pv.plan_figures(db_path, plan_id)
by_vendor, impacts = head["figures"], head["impacts"]
# all vendors: the plan summary's figures per currency (their source); one vendor: that vendor's rows
figures = pv.summary_figures(s) if vendor is None else review.currency_figures(by_vendor[by_vendor["vendor"] == vendor])
customers = s["customers"] if vendor is None else int(figures["customers"].sum()) if len(figures) else 0
index = None if vendor is None else pv.plan_index(db_path, plan_id)
status_words = {"changes": "changes to make", "blocked": "blocked lines need you", "in_sync": "all in sync",
                "empty": "the vendor month is empty", "nothing_in_period": "no vendor line belongs to this month"}
words = status_words.get(s["status"], s["status"]) if vendor is None else f"{ui.vendor_label(vendor)}'s lines"
for f in figures.to_dict("records"):
    c = f["currency"]
    (st.success if s["status"] == "in_sync" else st.warning if s["status"] in ("empty", "nothing_in_period") else st.info)(
        f"**{month}: {words}.** Vendor total {ui.money(f['dollars'], c)} = reconciled {ui.money(f['reconciled'], c)} + "
        f"blocked {ui.money(f['blocked'], c)} + excluded {ui.money(f['excluded'], c)}.")
per = lambda col: {f["currency"]: f[col] for f in figures.to_dict("records")}  # noqa: E731
m = metric_row()
m.metric("Vendor lines", int(figures["lines"].sum()) if len(figures) else 0, width=METRIC,
         help=f"{customers} customers")
m.metric("Vendor dollars", ui.amounts(per("dollars")), width=METRIC)
coverage = {c: f"{float(v):.0%}" for c, v in per("coverage").items()}
m.metric("Coverage", " · ".join(f"{c} {v}" for c, v in coverage.items()) if len(coverage) > 1 else
         next(iter(coverage.values()), "0%"), help="share of vendor dollars reconciled (not blocked or excluded)",
         width=METRIC)
m.metric("Customer price change / month", ui.amounts(per("price_impact")),
         delta=f"margin {ui.amounts(per('margin_impact'))}", delta_color="off", width=METRIC)
creations = head["creations"].get(vendor, 0)
a = metric_row()
for act in ("in_sync", "update", "create", "cancel", "blocked"):
    acts = [f["by_action"].get(act, {"rows": 0, "dollars": 0}) for f in figures.to_dict("records")]
    rows = sum(d["rows"] for d in acts) + (creations if act == "create" else 0)
    dollars = ui.amounts({f["currency"]: d["dollars"] for f, d in zip(figures.to_dict("records"), acts)})
    extra = (f"; {creations} of them ConnectWise records requested from Mappings" if act == "create" and creations
             else " (blocked or excluded by a rule)" if act == "blocked" else "")
    a.metric(f"{pv.ACTION_ICONS[act]} {ACTION_LABELS[act]}", rows, help=f"vendor dollars {dollars}" + extra, width=METRIC)
if creations:
    st.info(f"{creations} ConnectWise record(s) requested from the Mappings page wait in this plan (action "
            f"{ACTION_LABELS['create']}).")

# ---- chart: one per currency ------------------------------------------------------------------
with st.expander("Dollar impact by customer", expanded=False):
    for c, per_customer in impacts.get(vendor, {}).items():
        st.plotly_chart(review.impact_figure(per_customer, c), key=f"impact_chart_{c}", width="stretch")
    if not impacts.get(vendor):
        st.write("No dollar impact.")

# ---- grid -------------------------------------------------------------------------------------
facets = pv.facets(db_path, plan_id) if vendor is None else pv.vendor_facets(index, vendor)
linked_flags = links.apply_row_filter(facets)  # a link from Month review: ?action= ?cause= ?flag=
f1, f2, f3, f4 = st.columns(4)
flt = {
    "actions": f1.multiselect("Action", facets["actions"], key="flt_action", placeholder="All",
                              format_func=lambda x: ACTION_LABELS.get(x, x)),
    "causes": f2.multiselect("Cause", facets["causes"], key="flt_cause", placeholder="All",
                             format_func=lambda x: pv.label(x, "cause")),
    "customers": f3.multiselect("Customer", facets["customers"], key="flt_customer", placeholder="All"),
    "products": f4.multiselect("Product", facets["products"], key="flt_product", placeholder="All"),
}
flt = {k: v or None for k, v in flt.items()} | {"flags": linked_flags}
links.show_flag_filter(linked_flags)
g = st.container(horizontal=True, wrap=True, vertical_alignment="center", gap="large")
show_all = g.toggle("Show every row", key="show_all", help="Rows are shown a page of 500 at a time unless you ask for all.")
keys = None if vendor is None else pv.vendor_rows(index, vendor, **flt)  # the store pages the whole plan
total = bst.plan_page(store, plan_id, limit=0, **flt)[1] if keys is None else len(keys)
pages = max(1, -(-total // pv.PAGE_SIZE))
page = 1 if show_all or pages == 1 else g.number_input(f"Page (of {pages})", 1, pages, 1, key="plan_page")
if keys is None:
    rows, total = bst.plan_page(store, plan_id, limit=None if show_all else pv.PAGE_SIZE,
                                offset=0 if show_all else (page - 1) * pv.PAGE_SIZE, **flt)
else:
    shown = keys if show_all else keys[(page - 1) * pv.PAGE_SIZE:page * pv.PAGE_SIZE]
    rows = bst.plan_rows(store, plan_id, shown)
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
    st.session_state["plan_selection"] = bst.plan_keys(store, plan_id, **flt) if keys is None else list(keys)
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
    from billbridge import month as mo

    render_push_panel(plan_id, mo.plan_frame(bst.plan_rows(store, plan_id, selected)), selected,
                      only_keys=None if vendor is None else set(index.loc[index["vendor"] == vendor, "key"]))
