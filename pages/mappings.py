"""Mappings: link vendor customers, agreements and SKUs to ConnectWise once; billbridge remembers them."""

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge.config import operator_name
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import store as bst
from billbridge.model import label
from billbridge.money import sum_by_currency
from billbridge_ui import mapping_views as mv
from billbridge_ui import plan_views as pv
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import display_frame
from billbridge_ui.text import md

month = ui.billing_month()
vendor = ui.vendor_filter(month)
st.title("Mappings" + (f" · {ui.vendor_label(vendor)}" if vendor else ""))
ui.show_flash()
store = ui.store()
pv.require_vendor_month(store, month)

snapshot = mo.snapshot_for(store, month)
if snapshot is None or st.button("Refresh from ConnectWise", key="map_refresh", icon=":material/refresh:"):
    pv.refresh_snapshot(store, month)
meta = snapshot["meta"]
st.caption(f"ConnectWise as read at {meta['taken_at']} ({meta['request_count']} requests). Operator: **{md(operator_name())}**.")

sug = mv.suggestions_for(mp.suggestions(store, month, snapshot), vendor)  # the sidebar's vendor, or all
q = mv.queue(sug)
companies_c = mp.company_choices(snapshot)
agreements_c = mp.agreement_choices(snapshot)
catalog_c = mp.catalog_choices(snapshot)

row = metric_row()
for kind, title in (("company", "Customers without a company"), ("agreement", "Customers without an agreement"),
                    ("product", "SKUs without a catalog item")):
    part = q[q["kind"] == kind] if len(q) else q
    at_stake = ui.amounts(sum_by_currency(part["_dollars"], part["_currency"])) if len(part) else ""
    row.metric(title, len(part), width=METRIC, help=f"Vendor dollars at stake this month: {at_stake}" if len(part) else None)

tab_q, tab_c, tab_a, tab_p, tab_r, tab_io, tab_h = st.tabs(
    ["Unmapped queue", "Companies", "Agreements", "Products", "Rules", "Import / export", "History"])

with tab_q:
    if not len(q):
        st.success("Everything the vendor bills this month is mapped.")
    else:
        f = st.container(horizontal=True, wrap=True, vertical_alignment="bottom", gap="medium")
        kinds = f.pills("Show", ["company", "agreement", "product"], default=["company", "agreement", "product"],
                        selection_mode="multi", key="q_kinds", format_func=lambda k: label(k, "value")) or []
        min_score = f.slider("Minimum score", 0, 100, 0, key="q_min", width=200)
        only_clean = f.checkbox("No flags only", key="q_clean")
        view = q[q["kind"].isin(kinds) & (q["score"] >= min_score) & ((q["flags"] == "") | (not only_clean))]
        st.data_editor(
            view[list(mv.QUEUE_COLUMNS)],
            key="queue_editor", hide_index=True, width="stretch",
            disabled=[c for c in mv.QUEUE_COLUMNS if c != "pick"],
            column_config=mv.queue_column_config(),
        )
        bar = st.container(horizontal=True, wrap=True, vertical_alignment="center")
        chosen = mv.picked(view, "queue_editor")
        if bar.button("Accept ticked", key="accept_picked", icon=":material/check:", disabled=False):
            n = mv.accept_rows(store, chosen)
            ui.flash(f"Recorded {n} mapping(s) from the ticked suggestions.")
            st.rerun()
        bulk = bar.number_input("Accept all at or above", 0, 100, 90, key="accept_score", label_visibility="collapsed",
                                width=120)
        if bar.button(f"Accept all ≥ {bulk} (no flags)", key="accept_bulk", icon=":material/done_all:"):
            counts = mp.accept(store, month, snapshot, min_score=int(bulk), vendor=vendor)
            ui.flash("Accepted " + ", ".join(f"{v} {k}" for k, v in counts.items()) + f" mapping(s) scoring {bulk} or more.")
            st.rerun()
        if bar.button("Create ticked in ConnectWise…", key="create_picked", icon=":material/add_business:"):
            rows, problems = mv.creation_rows(chosen, snapshot, month)
            for p in problems:
                st.warning(md(p))
            if rows:
                mp.request_creation(store, rows)
                ui.flash(f"Added {len(rows)} record(s) to create to the review: open Reconcile to check and push them.")
                st.rerun()
        st.caption("Flagged candidates (deleted, prospect, cancelled, expired, tie…) are never accepted in bulk. "
                   "Creating a record only adds it to the Reconcile review; nothing is written until you push it.")
        pending = bst.creation_requests(store)
        if pending:
            st.info("Waiting for review and push: " + "; ".join(md(r["row"]["reason"]) for r in pending[:5])
                    + (" …" if len(pending) > 5 else ""))


def grid(tab, kind, frame, editor_key, config, disabled, *, dynamic=False, customer_ids=None):
    with tab:
        if not len(frame) and not dynamic:
            st.info("Nothing to map for this month.")
            return
        st.data_editor(frame, key=editor_key, width="stretch", hide_index=True, column_config={**LABELS, **config},
                       disabled=disabled, num_rows="dynamic" if dynamic else "fixed",
                       column_order=[c for c in frame.columns if c != "_key"])
        if st.button("Save", key=f"save_{kind}", icon=":material/save:", type="primary"):
            try:
                n = mv.save_grid(store, kind, frame, editor_key, customer_ids)
            except ValueError as exc:
                st.error(f"Nothing was saved: {exc}.")
                return
            ui.flash(f"Saved {n} {kind} mapping change(s).")
            st.rerun()


who = ["updated_by", "updated_at"]


def ui_label(code):
    return label(code, "value")


LABELS = {"vendor_customer_id": "vendor customer id", "vendor_customer_name": "vendor customer", "updated_by": "by",
          "updated_at": "when", "billing_frequency": "billed", "product_name": "vendor product"}
grid(tab_c, "company", mv.company_grid(store, month, companies_c, vendor), "companies_editor",
     {"company": st.column_config.SelectboxColumn("ConnectWise company", options=[mv.UNMAPPED, *companies_c["label"]], width="large"),
      "at_stake": "vendor $", "state": st.column_config.TextColumn("state", help="deleted, prospect, not_approved… are shown as such")},
     ["vendor", "vendor_customer_id", "vendor_customer_name", "at_stake", "state", *who])
grid(tab_a, "agreement", mv.agreement_grid(store, month, agreements_c, vendor), "agreements_editor",
     {"agreement": st.column_config.SelectboxColumn("ConnectWise agreement", options=[mv.UNMAPPED, *agreements_c["label"]], width="large"),
      "sync_mode": st.column_config.SelectboxColumn("sync mode", options=list(mp.SYNC_MODES), format_func=ui_label,
                                                    help="Standing line: one line kept current; Monthly: new lines each month"),
      "period_rule": st.column_config.SelectboxColumn("period rule", options=list(mp.PERIOD_RULES), format_func=ui_label,
                                                      help="In advance: the month the vendor period starts; in arrears: "
                                                           "the month it ends")},
     ["vendor", "vendor_customer_id", "vendor_customer_name", "state", *who])
grid(tab_p, "product", mv.product_grid(store, month, catalog_c, vendor), "products_editor",
     {"catalog_item": st.column_config.SelectboxColumn("ConnectWise catalog item", options=[mv.UNMAPPED, *catalog_c["label"]], width="large"),
      "own_cost": st.column_config.CheckboxColumn("owns cost"), "own_price": st.column_config.CheckboxColumn("owns price"),
      "quantity_basis": st.column_config.SelectboxColumn("quantity basis", options=list(mp.QUANTITY_BASES)), "at_stake": "vendor $",
      **mv.PRICE_COLUMNS},
     ["vendor", "sku", "term", "billing_frequency", "product_name", "at_stake", *who])
with tab_p:
    mv.threshold_editor(store)

vc = mv.only(mp.vendor_customers(store, month), vendor)
cust_labels = {(v, c): f"{n} ({c})" for v, c, n in zip(vc["vendor"], vc["vendor_customer_id"], vc["vendor_customer_name"])}
customer_ids = {label: key for key, label in cust_labels.items()}
grid(tab_r, "rule", mv.rule_grid(store, cust_labels, vendor), "rules_editor",
     {"customer": st.column_config.SelectboxColumn("vendor customer", options=sorted(customer_ids), required=True, width="large"),
      "sku": st.column_config.TextColumn("SKU (blank = every product)"),
      "rule": st.column_config.SelectboxColumn("rule", options=list(mp.RULES), required=True, format_func=ui_label),
      "value": st.column_config.TextColumn("quantity", help="For Fixed quantity and Cap: a number, 0 or more")},
     ["vendor", *who], dynamic=True, customer_ids=customer_ids)

with tab_io:
    st.download_button("Export all mappings (CSV)", mp.export_csv(store), file_name="billbridge-mappings.csv",
                       mime="text/csv", key="export_csv", icon=":material/download:")
    up = st.file_uploader("Import mappings (CSV, all or nothing)", type=["csv"], key="import_csv")
    if up is not None and st.button("Import", key="import_go", icon=":material/upload:"):
        res = mp.import_csv(store, up.getvalue())
        if res.ok:
            ui.flash(f"Imported {res.rows} rows: " + ", ".join(f"{n} {k}" for k, n in res.counts.items()) + " changed.")
            st.rerun()
        st.error(f"Nothing was imported: {len(res.problems)} problem(s).")
        st.dataframe(display_frame(pd.DataFrame([vars(p) for p in res.problems], columns=["row", "column", "reason"])),
                     hide_index=True, width="stretch")

with tab_h:
    hist = bst.mapping_history(store, limit=300)
    st.dataframe(mv.history_frame(hist), hide_index=True, width="stretch")
