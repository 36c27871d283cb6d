"""Reading push results back: plain-words failure explanations, "why didn't this row sync?", the
runs-over-time figure and the filters the Sync status page and ``billbridge status`` share.

* :func:`explain_failure(entry)` takes a journal entry or a row result (dicts as
  :func:`billbridge.store.journal_entries` / :func:`billbridge.store.push_row_results` give them)
  and says what went wrong and how to fix it.
* :func:`trace_row(store, month, key, client=None)` follows one plan row through mapping, rules,
  plan action, push results and (with a client) the current ConnectWise state.
* :func:`runs_figure(runs)` is the plotly chart of runs over time (unit-tested, no Streamlit).
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from billbridge import store as st
from billbridge.connectwise.errors import required_permission
from billbridge.connectwise.redact import redact

__all__ = ["explain_failure", "trace_row", "runs_figure", "filter_results", "masked_request", "status_summary",
           "COMPANY_STATUS_LABELS", "COMPANY_STATUS_MARKS", "company_status_label", "company_status_text", "run_status_text", "run_link_text"]

#: what each per-company status means, in the words the Sync status page and ``billbridge status`` show
COMPANY_STATUS_LABELS = {
    "green": "OK: all rows synced",
    "red": "ATTENTION: some rows not synced",
    "undone": "UNDONE: the push was undone, so ConnectWise does not bill these rows; push again to bill them",
}


def _g(entry: Any, *names: str) -> Any:
    for n in names:
        v = entry.get(n) if isinstance(entry, dict) else getattr(entry, n, None)
        if v is not None and not (isinstance(v, float) and v != v):
            return v
    return None


def _field_errors(entry: Any) -> list[dict]:
    fe = _g(entry, "field_errors")
    if isinstance(fe, str):
        try:
            fe = json.loads(fe)
        except ValueError:
            fe = None
    return [e for e in fe or [] if isinstance(e, dict)]


_FIELD_FIX = {
    ("product", "inactive"): "the catalog item is inactive in ConnectWise: reactivate it (Procurement > Product "
                             "Catalog) or map the SKU to an active item, then retry",
    ("agreement", "cancelled"): "the agreement is cancelled in ConnectWise: map the customer to an active "
                                "agreement (or un-cancel it), then reconcile again",
    ("cancelleddate", "effective"): "the end date would fall before the start date: check the dates in the plan",
}


def _field_fix(e: dict) -> str:
    f = str(e.get("field") or "").lower()
    msg = str(e.get("message") or e.get("code") or "")
    for (field_, word), fix in _FIELD_FIX.items():
        if field_ == f and word in msg.lower():
            return f"{e.get('field')}: {msg} ({fix})"
    return f"{e.get('field') or 'record'}: {msg}"


def _count(v: Any) -> int:
    try:
        return int(v or 0)
    except (TypeError, ValueError):
        return 0


def explain_failure(entry: Any) -> str:
    """What happened to a row or a write attempt, in plain words, with the fix. Never a secret.

    A journal entry is one request (its method and path). A row result's own ``reason`` is written
    by the push when the row fails and names the request that failed (a write, or the re-read before
    it), how often it was sent and the writes made; that is what is shown for a failed row."""
    result = _g(entry, "result", "status")
    code = _g(entry, "error_code", "cw_code")
    status = _g(entry, "http_status")
    status = int(status) if status is not None else None
    is_row = _g(entry, "key") is not None and _g(entry, "result") is not None
    method, path = _g(entry, "method"), _g(entry, "path")
    where = f" ({method} {path})" if method and path else ""
    retries = _count(_g(entry, "retries"))
    msg = _g(entry, "cw_message") or ""
    if is_row and result == "failed" and _g(entry, "reason") and code not in ("Interrupted", "Conflict"):
        return redact(str(_g(entry, "reason")))
    if result == "ok":
        return _g(entry, "reason") or "Written to ConnectWise."
    if result == "skipped":
        return (_g(entry, "reason") or "Not pushed.") + " Nothing was sent for this row."
    if result == "conflict" or code == "Conflict":
        return ((_g(entry, "reason") or "A person edited this record in ConnectWise since the plan was made.")
                + " Fix: refresh from ConnectWise and reconcile again to see the new values, or push with "
                  "force to overwrite the person's change.")
    if code == "Interrupted":
        return ("The push was stopped (its process ended) before this row finished; the journal shows whether a "
                "request had been sent. Fix: push again: billbridge re-reads and looks every created line up by its "
                "key first, so nothing is written twice.")
    if status == 401:
        return ("ConnectWise rejected the API keys (401)" + where + ": the company ID, public or private key is "
                "wrong, or the keys were revoked. Fix: create new keys for the API member (System > Members > API "
                "Members > API Keys) and update CW_PUBLIC_KEY / CW_PRIVATE_KEY, then retry.")
    if status == 403 or code == "PermissionMissing":
        perm = None
        if not path and isinstance(_g(entry, "request"), dict):  # a row not sent: its planned request
            method, path = entry["request"].get("method"), entry["request"].get("path")
            where = f" ({method} {path})" if method and path else ""
        if method and path:
            req = required_permission(method, path)
            perm = f"'{req[1]}' in the {req[0]} module" if req else None
        perm = perm or "a security permission"
        return (f"The ConnectWise API member lacks {perm} (403){where}. Nothing was written. Fix: ask a "
                "ConnectWise administrator to grant it in the API member's security role (System > Security "
                "Roles), then retry the failed rows." + (f" ConnectWise said: {redact(msg)}" if msg else ""))
    if status == 404 or code == "NotFound":
        return ("The record was deleted in ConnectWise (404)" + where + ". Fix: refresh from ConnectWise and "
                "reconcile again; if the agreement was removed, map the customer to its new agreement.")
    if status == 429:
        return (f"ConnectWise throttled the requests (429){where}; billbridge waited as told and retried "
                f"{retries} time{'s' if retries != 1 else ''} before giving up. Fix: retry the failed rows in a "
                "minute, or push with a lower concurrency.")
    if status is not None and 400 <= int(status) < 500:
        fields = _field_errors(entry)
        if fields:
            return (f"ConnectWise refused the data ({status} {code or 'InvalidObject'}){where}. "
                    + "; ".join(_field_fix(e) for e in fields)
                    + ". ConnectWise re-validates the whole record, so a field billbridge did not change can be named.")
        return f"ConnectWise refused the request ({status} {code or ''}){where}: {redact(msg)}. Fix the data, then retry."
    if status is not None and int(status) >= 500:
        return (f"ConnectWise failed with a server error or timeout ({status}){where}"
                + (f" after {retries} retr{'y' if retries == 1 else 'ies'}" if retries else "")
                + ". Nothing half-done was left: billbridge checks the record before every new attempt. "
                  "Fix: retry the failed rows later; if it keeps failing, narrow the push or contact ConnectWise.")
    if code in ("Timeout", "ConnectionLost") or _g(entry, "error_class") == "CWConnectionError":
        return ("ConnectWise did not answer (timeout or dropped connection)" + where
                + ". billbridge looked the record up before deciding, so a retry never makes a duplicate. "
                  "Fix: check the network / CW_SITE and retry the failed rows.")
    if _g(entry, "status") == "unknown":
        return ("No answer was recorded for this attempt (lost response or stopped process); the next attempt "
                "looked the record up first.")
    return (_g(entry, "reason") or "The write failed.") + (f" ConnectWise said: {redact(msg)}" if msg else "")


def masked_request(entry: dict[str, Any]) -> dict[str, Any]:
    """A journal entry's request and response as sent (no header is ever stored; text redacted)."""
    def clean(v: Any) -> Any:
        return json.loads(redact(json.dumps(v))) if v is not None else None

    return {"request": {"method": entry.get("method"), "path": entry.get("path"), "body": clean(entry.get("body")),
                        "headers": {"Authorization": "Basic ****** (masked)", "clientId": "******"}},
            "response": {"status": entry.get("http_status"), "code": entry.get("cw_code"),
                         "message": redact(entry.get("cw_message") or "") or None,
                         "errors": clean(entry.get("field_errors")), "record": clean(entry.get("after"))}}


def filter_results(df: pd.DataFrame, *, run_id: int | None = None, status: list[str] | None = None,
                   company: list[str] | None = None, error_code: list[str] | None = None) -> pd.DataFrame:
    """Row results filtered by run, result status, company name and error code (None = all)."""
    out = df
    if run_id is not None:
        out = out[out["run_id"] == run_id]
    if status:
        out = out[out["result"].isin(status)]
    if company:
        out = out[out["company_name"].isin(company)]
    if error_code:
        out = out[out["error_code"].isin(error_code)]
    return out


def status_summary(store: st.Store, month: str | None = None) -> dict[str, Any]:
    """Runs and per-company status (what ``billbridge status --json`` prints)."""
    runs = st.list_push_runs(store, month)
    cols = ["id", "kind", "parent_run_id", "month", "operator", "started_at", "finished_at", "status", "dry_run",
            "rows_total", "ok", "failed", "conflict", "skipped", "writes"]
    ints = {"id", "parent_run_id", "dry_run", "rows_total", "ok", "failed", "conflict", "skipped", "writes"}
    records = [{c: (None if (isinstance(v, float) and v != v) else (int(v) if c in ints and v is not None else v))
                for c, v in r.items()} for r in runs[cols].to_dict("records")]
    undone_by = {r["parent_run_id"]: r["id"] for r in sorted(records, key=lambda r: r["id"])
                 if r["kind"] == "undo" and not r["dry_run"] and r["status"] in ("ok", "partial")}
    for r in records:
        r["undone_by"] = undone_by.get(r["id"])
        r["status_text"] = run_status_text(r)
    out: dict[str, Any] = {"month": month, "runs": records}
    if month:
        comp = st.company_push_status(store, month)
        out["companies"] = comp.astype(object).where(comp.notna(), None).to_dict("records")
    return out


def run_status_text(run: dict[str, Any]) -> str:
    """A run's status as shown: ``ok``, or ``ok, undone by run 7`` once an undo run reversed it."""
    text = str(run.get("status") or "")
    if run.get("undone_by"):
        text += f", undone by run {run['undone_by']}"
    return text


def run_link_text(run: dict[str, Any]) -> str:
    """``undoes run 5`` / ``retries run 5`` for a run linked to another one ("" otherwise)."""
    if not run.get("parent_run_id"):
        return ""
    verb = {"undo": "undoes", "retry": "retries"}.get(str(run.get("kind")), "follows")
    return f"{verb} run {run['parent_run_id']}"


def company_status_label(status: str) -> str:
    """``green`` -> ``OK: all rows synced`` (see :data:`COMPANY_STATUS_LABELS`)."""
    return COMPANY_STATUS_LABELS.get(status, status)


#: the short mark ``billbridge status`` puts before each company
COMPANY_STATUS_MARKS = {"green": "OK", "red": "!!", "undone": "UNDONE"}


def company_status_text(company: dict[str, Any]) -> str:
    """One company's line in ``billbridge status``: a short mark (:data:`COMPANY_STATUS_MARKS`, whose
    meaning is :data:`COMPANY_STATUS_LABELS`), rows synced, last push."""
    status = str(company.get("status"))
    return (f"{COMPANY_STATUS_MARKS.get(status, status):<6} {company.get('company_name')}: "
            f"{_count(company.get('ok'))}/{_count(company.get('rows'))} rows synced, last push {company.get('last_push')}")


def runs_figure(runs: pd.DataFrame):
    """Stacked bars of row results per push run over time (x: run start, one bar per run)."""
    import plotly.graph_objects as go

    fig = go.Figure()
    colours = {"ok": "#2e7d32", "failed": "#c62828", "conflict": "#ef6c00", "skipped": "#9e9e9e"}
    df = runs.sort_values("id") if len(runs) else runs
    labels = [f"#{r.id} {r.kind} · {str(r.started_at)[:16].replace('T', ' ')}" for r in df.itertuples()] if len(df) else []
    for result in ("ok", "failed", "conflict", "skipped"):
        fig.add_trace(go.Bar(name=result, x=labels, y=list(df[result]) if len(df) else [],
                             marker_color=colours[result],
                             hovertemplate="%{x}<br>" + result + ": %{y} rows<extra></extra>"))
    fig.update_layout(barmode="stack", title="Push runs over time (rows by result)", xaxis_title="run",
                      yaxis_title="rows", height=320, margin=dict(l=40, r=10, t=50, b=40), legend_title="result")
    return fig


def trace_row(store: st.Store, month: str, key: str, client: Any = None) -> list[dict[str, str]]:
    """Why didn't this row sync? Steps ``{step, status, detail}``: mapping, rules, plan, push, ConnectWise."""
    steps: list[dict[str, str]] = []
    plan_meta = st.latest_plan_meta(store, month) if "plans" in store.db.table_names() else None
    row = None
    if plan_meta:
        rows = st.plan_rows(store, plan_meta["id"], [key])
        row = rows[0] if rows else None
    if row is None:
        results = st.push_row_results(store, month=month, keys=[key])
        if len(results):
            row = results.iloc[0]["plan_row"] or None
    if row is None:
        return [{"step": "plan", "status": "missing",
                 "detail": f"No plan row {key!r} for {month}: reconcile the month first."}]
    cause = row.get("cause")
    mapped = {"company": row.get("company_id"), "agreement": row.get("agreement_id"),
              "catalog item": row.get("catalog_item_id")}
    missing = [k for k, v in mapped.items() if v in (None, "")]
    steps.append({"step": "mapping", "status": "ok" if not missing else "missing",
                  "detail": ("vendor customer " + str(row.get("vendor_customer_id")) + " -> company "
                             + str(row.get("company_name") or row.get("company_id")) + ", agreement "
                             + str(row.get("agreement_name") or row.get("agreement_id")) + ", product "
                             + str(row.get("product_identifier") or row.get("catalog_item_id")))
                  if not missing else "not mapped: " + ", ".join(missing) + ". Map it on the Mappings page."})
    if cause in ("excluded_by_rule",):
        steps.append({"step": "rules", "status": "excluded", "detail": row.get("reason") or "a rule excludes it"})
    else:
        steps.append({"step": "rules", "status": "ok", "detail": "no rule stops this row"})
    steps.append({"step": "plan", "status": row.get("action") or "?",
                  "detail": (f"{cause}: " if cause else "") + (row.get("reason") or "")})
    results = st.push_row_results(store, month=month, keys=[key])
    if results.empty:
        steps.append({"step": "push", "status": "not pushed",
                      "detail": "No push run included this row yet." if row.get("action") != "blocked"
                      else "Blocked rows are never pushed; fix the cause above and reconcile again."})
    else:
        last = results.iloc[0].to_dict()
        steps.append({"step": "push", "status": str(last["result"]),
                      "detail": f"run #{last['run_id']} ({last['run_kind']}, {str(last['run_started_at'])[:16]}): "
                                + explain_failure(last)})
    if client is not None and row.get("agreement_id"):
        try:
            recs = client.list(f"/finance/agreements/{int(row['agreement_id'])}/additions", page_size=1000)
            aid = row.get("cw_addition_id")
            if not results.empty and results.iloc[0].get("addition_id") == results.iloc[0].get("addition_id"):
                aid = results.iloc[0].get("addition_id") or aid
            cur = next((r for r in recs if aid is not None and r.get("id") == int(aid)), None)
            if cur is None:
                cur = next((r for r in recs if any(cf.get("value") == key for cf in r.get("customFields") or [])), None)
            if cur is None:
                steps.append({"step": "ConnectWise now", "status": "absent",
                              "detail": "No addition on the agreement carries this line."})
            else:
                info = cur.get("_info") or {}
                steps.append({"step": "ConnectWise now", "status": "present",
                              "detail": f"addition {cur['id']}: quantity {cur.get('quantity')}, unit price "
                                        f"{cur.get('unitPrice')}, unit cost {cur.get('unitCost')}, effective "
                                        f"{str(cur.get('effectiveDate'))[:10]}, cancelled "
                                        f"{str(cur.get('cancelledDate') or '-')[:10]}; last updated "
                                        f"{info.get('lastUpdated')} by {info.get('updatedBy')}"})
        except Exception as exc:  # noqa: BLE001 - the trace still shows what we know
            from billbridge.connectwise import explain

            steps.append({"step": "ConnectWise now", "status": "unknown", "detail": explain(exc)})
    return steps
