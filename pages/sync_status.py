"""Sync status: push runs over time, per-company status, per-row results, failures explained,
retry of selected failures and undo of a run (preview, then confirm)."""

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge.config import operator_name
from billbridge import journal as jo
from billbridge import push as pu
from billbridge import store as bst
from billbridge.connectwise import ConnectWiseError
from billbridge.model import label
from billbridge_ui import push_panel as pp
from billbridge_ui.tables import display_frame
from billbridge_ui.text import md

month = ui.billing_month()
vendor = ui.vendor_filter(month)
st.title("Sync status" + (f" · {ui.vendor_label(vendor)}" if vendor else ""))
ui.show_flash()
store = ui.store()
runs = bst.list_push_runs(store, month)
results = bst.push_row_results(store, month=month)
if vendor is not None:  # the sidebar's vendor: the runs that pushed its rows, and those rows
    results = results[pp.of_vendor(results, vendor)]
    runs = runs[runs["id"].isin(set(results["run_id"]))]
if runs.empty:
    st.info(f"No push runs for {month} yet" + (f" with {md(ui.vendor_label(vendor))}'s rows" if vendor else "")
            + f". Push plan rows from the Reconcile page (or `billbridge push {month}`).")
    st.stop()

st.plotly_chart(jo.runs_figure(runs), key="ss_runs_chart")

st.subheader("Companies")
companies = bst.company_push_status(store, month)
if vendor is not None:
    companies = companies[companies["company_name"].isin(set(results["company_name"].fillna("(no company)")))]
    st.caption(f"Companies with {md(ui.vendor_label(vendor))}'s rows; a company's status counts all its rows.")
if companies.empty:
    st.caption("No real (non dry-run) push results yet.")
else:
    st.dataframe(display_frame(companies.assign(status=companies["status"].map(jo.company_status_label)),
                               ["company_name", "status", "rows", "ok", "not_ok", "last_push", "company_id"],
                               rename={"ok": "Synced"}),
                 hide_index=True, key="ss_companies", width="stretch")

st.subheader("Row results")
run_status = {r["id"]: r["status_text"] for r in jo.status_summary(store, month)["runs"]}
run_labels = {int(r.id): f"#{r.id} {r.kind} · {r.started_at[:16].replace('T', ' ')} · {run_status[int(r.id)]}"
              for r in runs.itertuples()}
f1, f2, f3, f4 = st.columns(4)
run_id = f1.selectbox("Run", list(run_labels), format_func=run_labels.get, key="ss_run")
status_f = f2.multiselect("Result", list(pu.RESULTS), key="ss_status", format_func=lambda r: label(r, "value"),
                          placeholder="All")
company_f = f3.multiselect("Company", sorted(results["company_name"].dropna().unique()), key="ss_company",
                           placeholder="All")
code_f = f4.multiselect("Error code", sorted(results["error_code"].dropna().unique()), key="ss_code", placeholder="All")
shown = jo.filter_results(results, run_id=run_id, status=status_f or None, company=company_f or None,
                          error_code=code_f or None)
st.dataframe(display_frame(shown, ["result", "action", "company_name", "reason", "error_code", "http_status", "attempts",
                                   "writes", "finished_at", "key"]), hide_index=True, key="ss_rows", width="stretch")

failures = shown[shown["result"].isin(["failed", "conflict"]) | (shown["error_code"] == "PermissionMissing")]
if len(failures):
    st.subheader(f"Failures in run #{run_id} ({len(failures)})")
    for row in failures.head(25).to_dict("records"):
        with st.expander(f"{label(row['result'], 'value')}: {md(row.get('company_name'))} · {md(row['key'])}"):
            pp.render_failure(store, row, client_getter=lambda: ui.connection().client)
    retry_keys = st.multiselect("Retry these rows", list(failures["key"]), default=list(failures["key"]),
                                key="ss_retry_keys")
    if st.button(f"Retry {len(retry_keys)} selected", key="ss_retry", disabled=not retry_keys):
        try:
            run = pu.retry(store, ui.connection().client, run_id, retry_keys, operator=operator_name())
        except ConnectWiseError as exc:
            ui.show_cw_error(exc, what="Retry")
        else:
            ui.flash(f"Retry run {run.id}: " + ", ".join(f"{label(k, 'value')} {v}" for k, v in run.counts.items()) + ".",
                     "success" if run.all_ok else "warning")
            st.rerun()

st.subheader("Undo a run")
undoable = [i for i in run_labels if runs.set_index("id").loc[i, "writes"] and not runs.set_index("id").loc[i, "dry_run"]]
if not undoable:
    st.caption("No run with writes to undo.")
else:
    undo_id = st.selectbox("Run to undo", undoable, format_func=run_labels.get, key="ss_undo_run")
    if st.button("Preview undo", key="ss_undo_preview"):
        try:
            st.session_state["ss_undo_rows"] = (undo_id, pu.plan_undo(store, ui.connection().client, undo_id))
        except ConnectWiseError as exc:
            ui.show_cw_error(exc, what="Reading ConnectWise for the undo")
    pending = st.session_state.get("ss_undo_rows")
    if pending and pending[0] == undo_id:
        rows = pending[1]
        writes = [r for r in rows if r.get("request")]
        conflicts = [r for r in rows if r.get("cause") == "conflict"]
        st.dataframe(pd.DataFrame([{"Action": label(r["action"], "action"), "Reason": r.get("reason") or "",
                                    "Request": "" if not r.get("request") else
                                    f"{r['request']['method']} {r['request']['path']} {r['request']['body']}",
                                    "Line key": r["key"]}
                                   for r in rows]), hide_index=True, key="ss_undo_table", width="stretch")
        invoiced = [r for r in rows if r.get("cause") == "invoiced"]
        if conflicts:
            st.warning(f"{len(conflicts)} rows changed in ConnectWise after the push and will not be undone.")
        correct = False
        if invoiced:
            st.warning(f"{len(invoiced)} additions the push created were already invoiced by ConnectWise, so they "
                       "cannot be deleted; a correcting line can take the charge back on the next invoice.")
            correct = st.checkbox(f"Also add {len(invoiced)} correcting lines", key="ss_undo_correct")
        n = len(writes) + (len(invoiced) if correct else 0)
        ok = st.checkbox(f"I confirm: undo run #{undo_id} with {n} writes", key="ss_undo_ok")
        if st.button(f"Undo {n} rows", key="ss_undo_go", disabled=not (ok and n), type="primary"):
            run = pu.undo(store, ui.connection().client, undo_id, rows=rows, operator=operator_name(),
                          correct_invoiced=correct,
                          token=f"undo-{undo_id}-{n}-{st.session_state.get('ss_undo_nonce', 0)}")
            st.session_state.pop("ss_undo_rows", None)
            st.session_state["ss_undo_nonce"] = st.session_state.get("ss_undo_nonce", 0) + 1
            ui.flash(f"Undo run {run.id} of run {undo_id}: " + ", ".join(f"{label(k, 'value')} {v}" for k, v in run.counts.items())
                     + ".", "success" if run.all_ok else "warning")
            st.rerun()
