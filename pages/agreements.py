"""Agreements: import agreements and additions from ConnectWise (one way) as contracts."""

import streamlit as st

import billbridge_ui as ui
from billbridge import agreements as ag
from billbridge import store as st_
from billbridge.connectwise import ConnectWiseError
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import blank_text, display_frame

st.title("Agreements")
st.caption("One-way import: ConnectWise → billbridge. Status, monthly amount, billing cycle, dates and "
           "quantities belong to ConnectWise and are read-only here; change them in ConnectWise and import again.")
ui.show_flash()
conn = ui.connection()
store = ui.store()
month = ui.billing_month()
AMOUNT = f"Monthly amount ({month})"
AMOUNT_HELP = (f"What the agreement's additions bill in {month} (quantity × unit price of each addition in effect "
               "that month), plus the agreement's own fee.")

bar = st.container(horizontal=True, wrap=True, vertical_alignment="center")
check = bar.button("Check ConnectWise for changes", key="ag_fetch", icon=":material/sync:")
full = bar.checkbox("Full pass (also finds additions deleted in ConnectWise)", key="ag_full")
if check or "ag_fetched" not in st.session_state:
    try:
        with st.spinner("Reading what changed in ConnectWise…"):
            res = ag.fetch_changes(conn.client, store, full=full)
        st.session_state["ag_fetched"] = res.to_dict()
    except ConnectWiseError as exc:
        ui.show_cw_error(exc, what="Reading agreements")
        st.session_state["ag_fetched"] = None
fetched = st.session_state.get("ag_fetched")
if fetched and (fetched["deleted_additions"] or fetched["deleted_agreements"]):
    st.warning(f"Deleted in ConnectWise since the last full pass: {len(fetched['deleted_agreements'])} agreements, "
               f"{len(fetched['deleted_additions'])} additions. They stay here, marked deleted.")

state = st_.contract_sync_state(store)
last = state["last_import"]
row = metric_row()
pending_a, pending_d = ag.pending(store, month)
row.metric("New or changed agreements", len(pending_a), width=METRIC)
row.metric("New or changed additions", len(pending_d), width=METRIC)
row.metric("Last imported", last["imported_at"][:16].replace("T", " ") if last else "never",
           help=f"UTC, {last['source']}" if last else None, width=METRIC)
st.caption(f"Last checked: {state['additions']['fetched_at'] or 'never'} · bookmark (newest lastUpdated stored): "
           f"{state['additions']['bookmark'] or '—'} · last full pass: {state['additions']['full_pass_at'] or 'never'}")

st.subheader("New or changed in ConnectWise")
if pending_a.empty:
    st.success("Everything ConnectWise holds is imported.")
else:
    everything = len(pending_a) + len(pending_d)
    if st.button(f"Import all {len(pending_a)} agreements and {len(pending_d)} additions", key="ag_import_all",
                 type="primary", icon=":material/download:", disabled=everything == 0):
        res = ag.import_all(store, source="page")
        ui.flash(f"Imported {len(res.agreement_ids)} agreements and {len(res.addition_ids)} additions.")
        st.rerun()
    st.caption("Or tick single agreements or additions below to import only those.")
    a_view = blank_text(pending_a.set_index("agreement_id").rename_axis("Agreement id"))
    a_view.insert(0, "import", False)
    a_edit = st.data_editor(
        a_view, key="ag_pick_agreements", width="stretch", height=300,
        disabled=[c for c in a_view.columns if c != "import"],
        column_order=["import", "name", "company_name", "bill_amount", "change", "status", "billing_cycle", "type_name",
                      "pending_additions", "cw_last_updated"],
        column_config={
            "import": st.column_config.CheckboxColumn("Import", help="Import this agreement and all its pending additions"),
            "change": st.column_config.TextColumn("Change", help="New, Changed, or Additions changed (only its additions)"),
            "name": "Agreement", "company_name": "Company", "type_name": "Type", "status": "Status",
            "billing_cycle": "Billing cycle", "pending_additions": "Pending additions",
            "bill_amount": st.column_config.TextColumn(AMOUNT, help=AMOUNT_HELP),
            "cw_last_updated": "Updated in ConnectWise",
        },
    )
    st.markdown("**Additions**")
    d_view = blank_text(pending_d.set_index("addition_id").rename_axis("Addition id"))
    d_view.insert(0, "import", False)
    d_edit = st.data_editor(
        d_view, key="ag_pick_additions", width="stretch", height=300,
        disabled=[c for c in d_view.columns if c != "import"],
        column_order=["import", "agreement_name", "product_identifier", "description", "quantity", "unit_price",
                      "change", "effective_date", "cancelled_date", "agreement_id", "cw_last_updated"],
        column_config={
            "import": st.column_config.CheckboxColumn("Import"), "agreement_id": "Agreement id",
            "agreement_name": "Agreement", "change": "Change", "product_identifier": "Catalog item",
            "description": "Description", "quantity": "Quantity", "unit_price": "Unit price",
            "effective_date": "Effective", "cancelled_date": "Cancelled", "cw_last_updated": "Updated in ConnectWise",
        },
    )
    chosen_a = a_edit.index[a_edit["import"]].tolist()
    chosen_d = d_edit.index[d_edit["import"]].tolist()
    a_ids, d_ids = ag.selection(pending_a, pending_d, chosen_a, chosen_d)
    n = len(a_ids) + len(d_ids)
    if st.button(f"Import {n} selected", key="ag_import", disabled=n == 0, icon=":material/download:"):
        res = ag.import_selected(store, chosen_a, chosen_d, source="page")
        ui.flash(f"Imported {len(res.agreement_ids)} agreements and {len(res.addition_ids)} additions.")
        st.rerun()
    st.caption("An agreement brings all its pending additions; an addition of an agreement not imported yet brings "
               "the agreement too.")

st.subheader("Imported contracts")
contracts = ag.contracts_with_amounts(store, month)
if contracts.empty:
    st.info("No contracts imported yet.")
else:
    view = blank_text(contracts.set_index("agreement_id").rename_axis("Agreement id")[
        ["company_name", "name", "bill_amount", "notes", "status", "billing_cycle", "start_date", "end_date",
         "type_name", "cw_last_updated", "imported_at", "deleted_at"]], keep=["notes"])
    st.data_editor(
        view, key="ag_contracts", width="stretch", height=320,
        disabled=[c for c in view.columns if c != "notes"],
        column_config={
            "notes": st.column_config.TextColumn("Notes (billbridge)", help="Your own note; the only editable field"),
            "company_name": "Company", "name": "Agreement", "type_name": "Type",
            "status": st.column_config.TextColumn("Status 🔒", help="Owned by ConnectWise (read-only)"),
            "billing_cycle": st.column_config.TextColumn("Billing cycle 🔒", help="Owned by ConnectWise (read-only)"),
            "bill_amount": st.column_config.TextColumn(f"{AMOUNT} 🔒", help=AMOUNT_HELP + " Owned by ConnectWise."),
            "start_date": "Start 🔒", "end_date": "End 🔒", "cw_last_updated": "Updated in ConnectWise",
            "imported_at": "Imported", "deleted_at": "Deleted in ConnectWise",
        },
    )
    if st.button("Save notes", key="ag_save_notes"):
        edits = st.session_state["ag_contracts"].get("edited_rows", {})
        notes = {int(view.index[pos]): row["notes"] for pos, row in edits.items() if "notes" in row}
        st_.save_contract_notes(store, notes)
        ui.flash(f"Saved {len(notes)} notes.")
        st.rerun()
    adds = st_.list_contract_additions(store)
    with st.expander(f"Contract additions ({len(adds)}, {int(adds['deleted_at'].notna().sum())} deleted in ConnectWise)"):
        st.dataframe(
            display_frame(adds, ["addition_id", "agreement_id", "product_identifier", "description", "quantity",
                                 "unit_price", "unit_cost", "effective_date", "cancelled_date", "line_key",
                                 "cw_last_updated", "deleted_at"]),
            hide_index=True, width="stretch",
        )
