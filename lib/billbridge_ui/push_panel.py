"""Push controls (under the Reconcile grid) and the pieces the Sync status page shows per failure.

``render_push_panel(plan_id, rows_df, selected_keys)``: "select all ready" and filters, the exact
preview of every write (method, path, body), an explicit confirmation naming the row count and the
dollar impact, then the push with a progress bar and live counts. Rerun-safe: each confirmation
gets a run token kept in session state; :func:`billbridge.push.push_events` returns the earlier run
for a token it has seen, so a rerun (or a double click) never pushes twice.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge.config import operator_name
from billbridge.errors import StalePlanError
from billbridge import journal as jo
from billbridge import push as pu
from billbridge import store as bst
from billbridge.model import label
from billbridge_ui.text import md

SELECTION_KEY = "plan_selection"
READY_ACTIONS = ("update", "create", "cancel")


def ready_keys(rows_df: pd.DataFrame) -> list[str]:
    return [r["key"] for r in pu.pushable(rows_df) if r.get("action") in READY_ACTIONS]


def _impact(rows: list[dict[str, Any]]) -> dict[str, Decimal]:
    """The rows' customer price impact per currency (Rule 7.1: never one sum of two currencies)."""
    from billbridge.money import sum_by_currency

    return sum_by_currency([r.get("price_impact") for r in rows], [r.get("currency") for r in rows])


def _token(plan_id: int | None, keys: list[str]) -> str:
    """One run token per (plan, selection, confirmation): kept until that push has run."""
    sig = json.dumps([plan_id, sorted(keys)])
    tokens = st.session_state.setdefault("_push_tokens", {})
    if sig not in tokens:
        tokens[sig] = pu.new_token()
    return tokens[sig]


def _forget_token(plan_id: int | None, keys: list[str]) -> None:
    st.session_state.get("_push_tokens", {}).pop(json.dumps([plan_id, sorted(keys)]), None)


def preview_frame(requests: list[pu.Request], currency: dict[str, Any] | None = None) -> pd.DataFrame:
    """The writes as the operator checks them; ``currency``: line key -> the row's currency."""
    cols = ["Action", "Company", "Method", "Path", "Body", "Price impact", "Line key"]
    cur = currency or {}
    return pd.DataFrame([{"Action": label(r.action, "action"), "Company": r.company_name or "", "Method": r.method,
                          "Path": r.path, "Body": json.dumps(r.body),
                          "Price impact": ui.money(r.price_impact, cur.get(r.key)), "Line key": r.key}
                         for r in requests], columns=cols)


def run_with_progress(events, total_hint: int) -> pu.PushRun | None:
    """Render :class:`billbridge.push.Progress` events with a progress bar and live counts."""
    bar = st.progress(0.0, text="Starting…")
    counts_box = st.empty()
    run = None
    with st.status("Pushing to ConnectWise…", expanded=False) as status:
        for ev in events:
            total = ev.total or total_hint or 1
            bar.progress(min(1.0, ev.done / total), text=f"{ev.done} of {total} rows")
            counts_box.caption(" · ".join(f"{label(k, 'value')} {v}" for k, v in ev.counts.items()))
            if ev.row is not None and ev.row.result != "ok":
                st.write(f"{label(ev.row.result, 'value')}: {md(ev.row.key)}")
            if ev.run is not None:
                run = ev.run
        state = "complete" if run is not None and run.all_ok else "error"
        status.update(label=f"Push finished: {run.status if run else 'stopped'}", state=state)
    return run


def render_push_panel(plan_id: int | None, rows_df: pd.DataFrame, selected_keys: list[str] | None,
                      only_keys: set[str] | None = None) -> None:
    """The push controls for the plan rows ``rows_df`` (``selected_keys`` from the page's grid;
    ``only_keys``: the rows the page shows, e.g. one vendor's, that "select all ready" may pick)."""
    st.subheader("Push to ConnectWise")
    if plan_id is not None:  # the page may pass only the selected rows: "ready" means the whole plan
        ready = bst.plan_keys(ui.store(), plan_id, actions=list(READY_ACTIONS))
    else:
        ready = ready_keys(rows_df)
    if only_keys is not None:
        ready = [k for k in ready if k in only_keys]
    top = st.container(horizontal=True, wrap=True, vertical_alignment="bottom")
    if top.button(f"Select all ready ({len(ready)})", key="push_select_ready"):
        st.session_state[SELECTION_KEY] = list(ready)
        st.rerun()
    actions = top.multiselect("Only actions", list(READY_ACTIONS), default=list(READY_ACTIONS), key="push_f_action",
                             format_func=lambda a: label(a, "action"), width=320)
    companies = sorted({str(c) for c in rows_df.get("company_name", pd.Series(dtype=object)).dropna()})
    only = top.multiselect("Only companies", companies, key="push_f_company", placeholder="All", width=280)
    keys = list(selected_keys if selected_keys is not None else st.session_state.get(SELECTION_KEY, []))
    sel = rows_df[rows_df["key"].isin(keys) & rows_df["action"].isin(actions)]
    if only:
        sel = sel[sel["company_name"].isin(only)]
    blocked = int((sel["action"] == "blocked").sum()) if len(sel) else 0
    requests = pu.preview(sel)
    if not requests:
        st.info("Select plan rows with a change (or use **Select all ready**) to preview the writes."
                + (f" {blocked} blocked rows are never pushed." if blocked else ""))
        return
    rows = pu.pushable(sel)
    impact = _impact(rows)
    st.caption(f"Exactly what will be sent: {len(requests)} requests. Rows already applied in ConnectWise are "
               "skipped with no write; rows a person changed since the plan are reported as conflicts.")
    currency = dict(zip(sel["key"], sel["currency"])) if "currency" in sel.columns else {}
    st.dataframe(preview_frame(requests, currency), hide_index=True, key="push_preview", width="stretch")
    with st.expander("Request bodies (JSON)"):
        st.json([r.to_dict() for r in requests[:200]], expanded=False)
    force = st.checkbox("Overwrite rows a person changed since the plan (force)", key="push_force")
    if st.session_state.pop("_push_reset_confirm", False):
        st.session_state["push_confirm"] = False
    confirm_text = f"I confirm: push {len(requests)} rows to ConnectWise, customer price impact {ui.amounts(impact)} per month"
    confirmed = st.checkbox(confirm_text, key="push_confirm")
    keys_now = [r["key"] for r in rows]
    if st.button(f"Push {len(requests)} rows", type="primary", disabled=not confirmed, key="push_go"):
        token = _token(plan_id, keys_now)
        conn = ui.connection()
        store = ui.store()
        events = pu.push_events(store, conn.client, rows, month=ui.billing_month(), plan_id=plan_id, force=force,
                                token=token, operator=operator_name())
        try:
            run = run_with_progress(events, len(rows))
        except StalePlanError as exc:  # the plan is out of date (a newer read, a newer month pushed): the fix
            st.error(md(str(exc)))
            return
        if run is not None:
            _forget_token(plan_id, keys_now)
            st.session_state[SELECTION_KEY] = []  # pushed: nothing stays selected for the next push
            st.session_state["push_last_run"] = run.id
            st.session_state["_push_reset_confirm"] = True  # a new confirmation for the next push
            msg = (f"Push run {run.id}: " + ", ".join(f"{label(k, 'value')} {v}" for k, v in run.counts.items())
                   + f" ({run.writes} writes)." + (" Already pushed: nothing sent again." if run.reused else ""))
            ui.flash(msg, "success" if run.all_ok else "warning")
            st.rerun()
    last = st.session_state.get("push_last_run")
    if last:
        try:
            st.page_link("pages/sync_status.py", label=f"See run {last} on Sync status", icon=":material/sync:")
        except Exception:  # noqa: BLE001 - rendered outside the app's navigation (tests, notebooks)
            st.caption(f"Run {last} is on the Sync status page.")


# ------------------------------------------------------------------------------ Sync status pieces
def render_failure(store: bst.Store, row: dict[str, Any], client_getter=None) -> None:
    """One failed/conflict row: explanation with the fix, request/response (masked), before/after, trace."""
    st.error(md(jo.explain_failure(row)))
    entries = bst.journal_entries(store, run_id=int(row["run_id"]), key=row["key"])
    if entries:
        last = entries[-1]
        st.caption(f"{len(entries)} attempt(s); last: attempt {last['attempt']}, status {last['status']}, "
                   f"HTTP {last['http_status'] or '-'}, {last['duration_ms'] or 0:.0f} ms")
        st.json(jo.masked_request(last), expanded=False)
        b, a = st.columns(2)
        b.markdown("**Record before**")
        b.json(last.get("before") or {}, expanded=False)
        a.markdown("**Record after**")
        a.json(last.get("after") or {}, expanded=False)
    if st.button("Why didn't this row sync?", key=f"trace_{row['run_id']}_{row['key']}"):
        client = client_getter() if client_getter else None
        for step in jo.trace_row(store, row.get("month") or ui.billing_month(), row["key"], client):
            st.markdown(f"- **{md(step['step'])}** ({md(step['status'])}): {md(step['detail'])}")


def status_badge(status: str) -> str:
    return {"green": "OK: all rows synced", "red": "ATTENTION: some rows not synced"}.get(status, status)


def of_vendor(results: pd.DataFrame, vendor: str) -> pd.Series:
    """Which push row results belong to ``vendor``: the pushed plan row's vendor, else its line key
    (billbridge's keys start with the vendor; a creation's key names it third)."""
    from billbridge.linekey import is_vendor_key

    def belongs(key: Any, plan_row: Any) -> bool:
        if isinstance(plan_row, dict) and plan_row.get("vendor"):
            return plan_row["vendor"] == vendor
        if isinstance(key, str) and key.startswith("create|"):
            parts = key.split("|")
            return len(parts) > 2 and parts[2] == vendor
        return is_vendor_key(key, vendor)

    rows = results["plan_row"] if "plan_row" in results.columns else [None] * len(results)
    return pd.Series([belongs(k, r) for k, r in zip(results["key"], rows)], index=results.index, dtype=bool)
