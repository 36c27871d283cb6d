"""Push runs, per-row results and the write journal."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from billbridge.clock import utcnow
from billbridge.config import operator_name
from billbridge.store.mappings import _store_value

if TYPE_CHECKING:  # the store's type only: the concern modules never import db at run time
    from billbridge.store.db import Store



# ---- push runs and journal (issue 5) -----------------------------------------------------------
# ``push_runs``: one row per push run (a push, a retry of failures, or an undo, linked to the run it
# retries/undoes by ``parent_run_id``). ``push_rows``: the result of each plan row in a run
# (ok / failed / conflict / skipped; ``pending`` while it runs). ``push_journal``: one entry per
# write attempt, inserted BEFORE the request is sent (status ``intent``) and completed after it
# (``ok`` / ``failed`` / ``unknown``), with the record before and after. JSON columns hold exactly
# what was sent and received (already redacted by billbridge.push; no header, key or token).
# ``addition_id`` + ``written_at`` (set when a write is confirmed) are what reconcile's manual-edit
# check reads as "billbridge's last write" (billbridge.month finds this table by those columns).

PUSH_RESULTS = ("ok", "failed", "conflict", "skipped")



_JSON_PUSH_COLS = {"body", "before", "after", "field_errors", "request", "plan_row", "requests"}


def _push_json(v: Any) -> str | None:
    if v is None:
        return None
    return json.dumps(v, default=lambda x: format(x, "f") if isinstance(x, Decimal) else str(x), sort_keys=True)


def _push_decode(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    for c in _JSON_PUSH_COLS & r.keys():
        if isinstance(r[c], str):
            r[c] = json.loads(r[c])
    return r


def create_push_run(store: Store, *, kind: str = "push", month: str | None = None, plan_id: int | None = None,
                    operator: str | None = None, token: str | None = None, parent_run_id: int | None = None,
                    site: str | None = None, dry_run: bool = False, force: bool = False, concurrency: int = 4,
                    rows: list[dict[str, Any]] | None = None) -> int:
    """Insert a ``running`` push run and its rows as ``pending`` (one transaction); returns the run id."""
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO push_runs (token, kind, parent_run_id, month, plan_id, operator, site, pid, dry_run, force, "
            "concurrency, started_at, status, rows_total) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'running', ?)",
            (token, kind, parent_run_id, month, plan_id, operator or operator_name(), site, os.getpid(), int(dry_run),
             int(force), concurrency, utcnow(), len(rows or [])))
        run_id = int(cur.lastrowid)
        store.conn.executemany(
            "INSERT INTO push_rows (run_id, key, seq, month, action, company_id, company_name, agreement_id, "
            "addition_id, result, price_impact, request, plan_row) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', ?, ?, ?)",
            [(run_id, r["key"], i, month, r.get("action"), r.get("company_id"), r.get("company_name"),
              r.get("agreement_id"), r.get("addition_id"), _store_value("price_impact", r.get("price_impact")),
              _push_json(r.get("request")), _push_json(r.get("plan_row"))) for i, r in enumerate(rows or [])])
    return run_id


def push_run_by_token(store: Store, token: str) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM push_runs WHERE token = ?", [token]))
    return _push_decode(rows[0]) if rows else None


def journal_intent(store: Store, *, run_id: int, key: str, operator: str | None, attempt: int, method: str,
                   path: str, body: Any, before: Any = None, addition_id: int | None = None, note: str | None = None,
                   override_reason: str | None = None) -> int:
    """Record a write BEFORE it is sent (status ``intent``); returns the journal entry id. ``override_reason``:
    the operator's reason when the write is made under an override (an invoiced month, a manual edit ...)."""
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO push_journal (run_id, key, operator, attempt, method, path, body, status, before, addition_id, "
            "started_at, note, override_reason) VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?, ?)",
            (run_id, key, operator, attempt, method, path, _push_json(body), _push_json(before), addition_id, utcnow(),
             note, override_reason))
    return int(cur.lastrowid)


def journal_result(store: Store, entry_id: int, *, status: str, http_status: int | None = None,
                   cw_code: str | None = None, cw_message: str | None = None, field_errors: Any = None,
                   error_class: str | None = None, retries: int | None = None, outcome_unknown: bool = False,
                   after: Any = None, addition_id: int | None = None, duration_ms: float | None = None,
                   note: str | None = None) -> None:
    """Complete a journal entry AFTER the request: ``ok`` / ``failed`` / ``unknown`` plus the answer."""
    now = utcnow()
    with store.atomic():
        store.conn.execute(
            "UPDATE push_journal SET status = ?, http_status = ?, cw_code = ?, cw_message = ?, field_errors = ?, "
            "error_class = ?, retries = ?, outcome_unknown = ?, after = ?, addition_id = COALESCE(?, addition_id), "
            "finished_at = ?, written_at = ?, duration_ms = ?, note = COALESCE(?, note) WHERE id = ?",
            (status, http_status, cw_code, cw_message, _push_json(field_errors), error_class, retries,
             int(bool(outcome_unknown)), _push_json(after), addition_id, now, now if status == "ok" else None,
             duration_ms, note, entry_id))


def record_push_row(store: Store, run_id: int, key: str, *, result: str, reason: str | None = None,
                    http_status: int | None = None, error_code: str | None = None, error_class: str | None = None,
                    cw_message: str | None = None, field_errors: Any = None, retries: int | None = None,
                    attempts: int = 0, writes: int = 0, addition_id: int | None = None) -> None:
    """Set the result of one row of a run."""
    with store.atomic():
        store.conn.execute(
            "UPDATE push_rows SET result = ?, reason = ?, http_status = ?, error_code = ?, error_class = ?, "
            "cw_message = ?, field_errors = ?, retries = ?, attempts = ?, writes = ?, "
            "addition_id = COALESCE(?, addition_id), finished_at = ? WHERE run_id = ? AND key = ?",
            (result, reason, http_status, error_code, error_class, cw_message, _push_json(field_errors), retries,
             attempts, writes, addition_id, utcnow(), run_id, key))


def finish_push_run(store: Store, run_id: int, *, status: str, requests: dict[str, int] | None = None,
                    note: str | None = None) -> dict[str, Any]:
    """Count the run's row results, set its status and finish time; returns the run."""
    with store.atomic():
        counts = dict(store.conn.execute(
            "SELECT result, COUNT(*) FROM push_rows WHERE run_id = ? GROUP BY result", (run_id,)).fetchall())
        writes = store.conn.execute("SELECT COALESCE(SUM(writes), 0) FROM push_rows WHERE run_id = ?",
                                    (run_id,)).fetchone()[0]
        impact = sum((Decimal(r[0]) for r in store.conn.execute(
            "SELECT price_impact FROM push_rows WHERE run_id = ? AND result = 'ok' AND price_impact IS NOT NULL",
            (run_id,))), Decimal(0))
        store.conn.execute(
            "UPDATE push_runs SET status = ?, finished_at = ?, ok = ?, failed = ?, conflict = ?, skipped = ?, "
            "writes = ?, requests = ?, price_impact = ?, note = COALESCE(?, note) WHERE id = ?",
            (status, utcnow(), counts.get("ok", 0), counts.get("failed", 0), counts.get("conflict", 0),
             counts.get("skipped", 0), writes, _push_json(requests or {}), format(impact, "f"), note, run_id))
    return get_push_run(store, run_id)


def get_push_run(store: Store, run_id: int) -> dict[str, Any] | None:
    rows = list(store.db.query("SELECT * FROM push_runs WHERE id = ?", [run_id]))
    return _push_decode(rows[0]) if rows else None


def last_write_at(store: Store) -> str | None:
    """When billbridge last finished a run that wrote to ConnectWise (push, retry or undo; dry runs
    and runs with no write don't count), as a UTC ISO timestamp; None when it never has."""
    rows = list(store.db.query(
        "SELECT MAX(COALESCE(finished_at, started_at)) AS t FROM push_runs WHERE writes > 0 AND dry_run = 0"))
    return rows[0]["t"] if rows else None


def newest_pushed_month(store: Store) -> str | None:
    """The newest billing month billbridge pushed to ConnectWise (a push or retry run, not a dry run, that made
    at least one write), or None: a standing line holds that month's values (billing-rules section 9, "Rule 6.6
    for standing lines")."""
    row = store.conn.execute("SELECT MAX(month) FROM push_runs WHERE kind IN ('push', 'retry') AND dry_run = 0 "
                             "AND writes > 0 AND month IS NOT NULL").fetchone()
    return row[0] if row else None


def pushes_after(store: Store, month: str, since: str) -> list[dict[str, Any]]:
    """Push runs for a month later than ``month`` that wrote to ConnectWise after ``since`` (a UTC ISO
    timestamp): what makes an older month's plan out of date."""
    return [dict(r) for r in store.db.query(
        "SELECT id, month, finished_at FROM push_runs WHERE kind IN ('push', 'retry') AND dry_run = 0 AND writes > 0 "
        "AND month > ? AND COALESCE(finished_at, started_at) >= ? ORDER BY id", [month, since])]


def list_push_runs(store: Store, month: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Push runs, newest first (optionally of one month)."""
    sql, params = "SELECT * FROM push_runs", []
    if month:
        sql += " WHERE month = ?"
        params.append(month)
    sql += " ORDER BY id DESC" + (f" LIMIT {int(limit)}" if limit else "")
    cols = [c[1] for c in store.conn.execute("PRAGMA table_info(push_runs)")]
    return pd.DataFrame([_push_decode(r) for r in store.db.query(sql, params)], columns=cols)


def push_row_results(store: Store, *, run_id: int | None = None, month: str | None = None,
                     keys: list[str] | None = None) -> pd.DataFrame:
    """Row results (newest run first), with the run's start time, kind and operator."""
    where, params = [], []
    if run_id is not None:
        where.append("r.run_id = ?")
        params.append(run_id)
    if month:
        where.append("r.month = ?")
        params.append(month)
    if keys:
        where.append(f"r.key IN ({', '.join('?' * len(keys))})")
        params.extend(keys)
    sql = ("SELECT r.*, u.started_at AS run_started_at, u.kind AS run_kind, u.operator, u.dry_run "
           "FROM push_rows r JOIN push_runs u ON u.id = r.run_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY r.run_id DESC, r.seq")
    rows = [_push_decode(r) for r in store.db.query(sql, params)]
    cols = [c[1] for c in store.conn.execute("PRAGMA table_info(push_rows)")] + [
        "run_started_at", "run_kind", "operator", "dry_run"]
    return pd.DataFrame(rows, columns=cols)


def written_lines(store: Store) -> pd.DataFrame:
    """What billbridge has written: one row per journal entry that reached ConnectWise (``key``,
    ``addition_id``, ``written_at``), for reconcile's manual-edit check."""
    return pd.read_sql_query(
        "SELECT key, addition_id, written_at FROM push_journal WHERE written_at IS NOT NULL", store.conn)


def journal_entries(store: Store, *, run_id: int | None = None, key: str | None = None,
                    month: str | None = None) -> list[dict[str, Any]]:
    """Journal entries (oldest first), JSON columns decoded."""
    where, params = [], []
    if run_id is not None:
        where.append("j.run_id = ?")
        params.append(run_id)
    if key is not None:
        where.append("j.key = ?")
        params.append(key)
    if month is not None:
        where.append("u.month = ?")
        params.append(month)
    sql = ("SELECT j.* FROM push_journal j JOIN push_runs u ON u.id = j.run_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY j.id")
    return [_push_decode(r) for r in store.db.query(sql, params)]


def mark_interrupted_runs(store: Store, alive: Callable[[int], bool] | None = None) -> list[int]:
    """Runs still ``running`` whose process is gone become ``interrupted``; their unanswered journal
    entries become ``unknown`` and their pending rows ``failed`` (one transaction). Returns the run ids."""
    def _alive(pid: int | None) -> bool:
        if not pid:
            return False
        try:
            os.kill(int(pid), 0)
        except (ProcessLookupError, PermissionError, OSError):
            return False
        return True

    check = alive or _alive
    stale = [r["id"] for r in store.db.query("SELECT id, pid FROM push_runs WHERE status = 'running'")
             if not check(r["pid"])]
    if not stale:
        return []
    now = utcnow()
    with store.atomic():
        for rid in stale:
            store.conn.execute(
                "UPDATE push_journal SET status = 'unknown', finished_at = ?, note = 'the process stopped before the "
                "answer was recorded; the next push looks the record up before writing' WHERE run_id = ? AND status = "
                "'intent'", (now, rid))
            store.conn.execute(
                "UPDATE push_rows SET result = 'failed', error_code = 'Interrupted', reason = 'the push was stopped "
                "(process ended) before this row finished', finished_at = ? WHERE run_id = ? AND result = 'pending'",
                (now, rid))
            counts = dict(store.conn.execute(
                "SELECT result, COUNT(*) FROM push_rows WHERE run_id = ? GROUP BY result", (rid,)).fetchall())
            store.conn.execute(
                "UPDATE push_runs SET status = 'interrupted', finished_at = ?, ok = ?, failed = ?, conflict = ?, "
                "skipped = ? WHERE id = ?", (now, counts.get("ok", 0), counts.get("failed", 0),
                                             counts.get("conflict", 0), counts.get("skipped", 0), rid))
    return stale


def latest_row_results(store: Store, month: str) -> pd.DataFrame:
    """The newest real (not dry-run) result per row key of ``month``, across push, retry and undo runs
    (a row whose latest result is an ``ok`` of an undo run was undone)."""
    df = push_row_results(store, month=month)
    if df.empty:
        return df
    df = df[(df["dry_run"] == 0) & (df["result"] != "pending")]
    return df.drop_duplicates("key", keep="first").reset_index(drop=True)


def company_push_status(store: Store, month: str) -> pd.DataFrame:
    """Per company of ``month``: rows, ok, not ok, status (``green`` when every row's latest result is
    an ok push, ``undone`` when the rest were undone, else ``red``) and the last push time."""
    df = latest_row_results(store, month)
    cols = ["company_id", "company_name", "rows", "ok", "not_ok", "status", "last_push"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    undone = (df["result"] == "ok") & (df["run_kind"] == "undo")
    df = df.assign(company_name=df["company_name"].fillna("(no company)"), is_ok=(df["result"] == "ok") & ~undone,
                   is_undone=undone)
    g = df.groupby("company_name", dropna=False).agg(
        company_id=("company_id", "first"), rows=("key", "count"), ok=("is_ok", "sum"), undone=("is_undone", "sum"),
        last_push=("finished_at", "max")).reset_index()
    g["not_ok"] = g["rows"] - g["ok"]
    g["status"] = ["green" if n == 0 else ("undone" if n == u else "red") for n, u in zip(g["not_ok"], g["undone"])]
    return g[cols].sort_values(["status", "company_name"], ascending=[False, True]).reset_index(drop=True)

