"""Plans (one reconcile run of a billing month and its rows) and the queue of "create this
ConnectWise record" requests from the Mappings page."""

from __future__ import annotations

import json
from typing import Any

from billbridge.config import operator_name
from billbridge.store.db import Store, utcnow



# plans -------------------------------------------------------------------------------------------
def save_plan(store: Store, billing_month: str, snapshot_id: int | None, summary: dict[str, Any],
              rows: list[dict[str, Any]], *, inputs: dict[str, Any] | None = None, created_by: str | None = None) -> int:
    """Store one reconcile run: its summary and every row (JSON-ready dicts with ``key``, ``action``,
    ``cause``, ``reason``, ``target``) in one transaction; returns the plan id."""
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO plans (billing_month, snapshot_id, created_at, created_by, status, row_count, summary, inputs) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot_id, utcnow(), created_by or operator_name(), str(summary.get("status", "")),
             len(rows), json.dumps(summary), json.dumps(inputs or {}, sort_keys=True)),
        )
        pid = int(cur.lastrowid)
        store.conn.executemany(
            "INSERT INTO plan_rows (plan_id, seq, key, action, cause, reason, target, row) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            ((pid, i, r["key"], r["action"], r.get("cause"), r.get("reason"), r.get("target") or "addition",
              json.dumps(r)) for i, r in enumerate(rows)),
        )
    return pid


def _plan_meta(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["summary"] = json.loads(r["summary"])
    r["inputs"] = json.loads(r["inputs"])
    return r


def get_plan(store: Store, plan_id: int) -> dict[str, Any] | None:
    """A plan's metadata (id, billing_month, snapshot_id, created_at/by, status, summary, inputs)."""
    rows = list(store.db.query("SELECT * FROM plans WHERE id = ?", [plan_id]))
    return _plan_meta(rows[0]) if rows else None


def latest_plan_meta(store: Store, billing_month: str) -> dict[str, Any] | None:
    """The newest plan of ``billing_month`` (metadata only), or None."""
    rows = list(store.db.query("SELECT * FROM plans WHERE billing_month = ? ORDER BY id DESC LIMIT 1", [billing_month]))
    return _plan_meta(rows[0]) if rows else None


def plan_rows(store: Store, plan_id: int, keys: list[str] | None = None) -> list[dict[str, Any]]:
    """The stored rows of a plan (JSON dicts, plan order), optionally only ``keys``."""
    if keys is None:
        cur = store.conn.execute("SELECT row FROM plan_rows WHERE plan_id = ? ORDER BY seq", (plan_id,))
        return [json.loads(r[0]) for r in cur]
    out = []
    for start in range(0, len(keys), 500):
        part = keys[start:start + 500]
        cur = store.conn.execute(
            f"SELECT row FROM plan_rows WHERE plan_id = ? AND key IN ({', '.join('?' * len(part))}) ORDER BY seq",
            (plan_id, *part))
        out.extend(json.loads(r[0]) for r in cur)
    return out


# creation requests ---------------------------------------------------------------------------------
def add_creation_requests(store: Store, rows: list[dict[str, Any]], *, by: str | None = None) -> int:
    """Queue "create this ConnectWise record" plan rows (keyed; a re-request replaces a pending one)."""
    by = by or operator_name()
    now = utcnow()
    with store.atomic():
        for r in rows:
            store.db["creation_requests"].upsert({
                "key": r["key"], "vendor": r.get("vendor") or "", "target": r["target"], "status": "pending",
                "row": json.dumps(r), "requested_at": now, "requested_by": by, "resolved_at": None,
            }, pk="key")
    return len(rows)


def creation_requests(store: Store, status: str | None = "pending") -> list[dict[str, Any]]:
    """Queued creation rows (``row`` decoded, plus ``status``, ``requested_at``/``by``), oldest first."""
    sql, params = "SELECT * FROM creation_requests", []
    if status:
        sql += " WHERE status = ?"
        params.append(status)
    out = []
    for r in store.db.query(sql + " ORDER BY requested_at, key", params):
        row = json.loads(r["row"])
        out.append({**r, "row": row})
    return out


def set_creation_status(store: Store, keys: list[str], status: str) -> int:
    """Mark creation requests ``done`` (ConnectWise has the record) or ``dismissed``."""
    with store.atomic():
        n = 0
        for k in keys:
            n += store.conn.execute("UPDATE creation_requests SET status = ?, resolved_at = ? WHERE key = ?",
                                    (status, utcnow(), k)).rowcount
    return n



def _plan_where(plan_id: int, actions=None, causes=None, customers=None, products=None) -> tuple[str, list[Any]]:
    where, params = ["plan_id = ?"], [plan_id]
    for expr, values in (("action", actions), ("COALESCE(cause, '')", causes),
                         ("COALESCE(json_extract(row, '$.vendor_customer_name'), json_extract(row, '$.company_name'), '')", customers),
                         (_PRODUCT_EXPR, products)):
        if values:
            where.append(f"{expr} IN ({', '.join('?' * len(values))})")
            params.extend(values)
    return " AND ".join(where), params


_PRODUCT_EXPR = ("COALESCE(json_extract(row, '$.product_description'), json_extract(row, '$.product_name'), "
                 "json_extract(row, '$.sku'), '')")


def plan_page(store: Store, plan_id: int, *, actions: list[str] | None = None, causes: list[str] | None = None,
              customers: list[str] | None = None, products: list[str] | None = None, limit: int | None = 500,
              offset: int = 0) -> tuple[list[dict[str, Any]], int]:
    """One page of a plan's rows matching the filters (plan order) and how many match in all, so a
    50,000-row plan is never loaded whole to show 500 rows. ``causes`` may include '' (no cause)."""
    where, params = _plan_where(plan_id, actions, causes, customers, products)
    total = store.conn.execute(f"SELECT COUNT(*) FROM plan_rows WHERE {where}", params).fetchone()[0]
    sql = f"SELECT row FROM plan_rows WHERE {where} ORDER BY seq"
    if limit is not None:
        sql += f" LIMIT {int(limit)} OFFSET {int(offset)}"
    return [json.loads(r[0]) for r in store.conn.execute(sql, params)], int(total)


def plan_keys(store: Store, plan_id: int, **filters: Any) -> list[str]:
    """Keys of every row matching the filters of :func:`plan_page` (for "select all")."""
    where, params = _plan_where(plan_id, **filters)
    return [r[0] for r in store.conn.execute(f"SELECT key FROM plan_rows WHERE {where} ORDER BY seq", params)]


def plan_facets(store: Store, plan_id: int) -> dict[str, list[str]]:
    """Distinct actions, causes, customers and products of a plan (filter choices)."""
    q = lambda expr: [r[0] for r in store.conn.execute(  # noqa: E731
        f"SELECT DISTINCT {expr} AS v FROM plan_rows WHERE plan_id = ? AND v IS NOT NULL AND v != '' ORDER BY v", (plan_id,))]
    return {"actions": q("action"), "causes": q("cause"),
            "customers": q("COALESCE(json_extract(row, '$.vendor_customer_name'), json_extract(row, '$.company_name'))"),
            "products": q(_PRODUCT_EXPR)}

