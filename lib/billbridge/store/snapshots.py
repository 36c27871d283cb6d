"""ConnectWise snapshots: what billbridge read from ConnectWise for a billing month, when."""

from __future__ import annotations

import json
from typing import Any

from billbridge.store.db import Store



# snapshots ---------------------------------------------------------------------------------------
def save_snapshot(store: Store, billing_month: str, snapshot: Any, agreement_ids: list[int] | None = None) -> int:
    """Store a :class:`billbridge.snapshot.Snapshot` (records per resource as JSON); returns its id."""
    data = snapshot.as_dict()
    requests_ = dict(snapshot.requests)
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO snapshots (billing_month, taken_at, site, request_count, requests, agreement_ids, counts) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot.taken_at, getattr(snapshot, "site", ""), int(sum(requests_.values())),
             json.dumps(requests_), json.dumps(sorted(int(a) for a in (agreement_ids or []))),
             json.dumps({k: len(v) for k, v in data.items()})),
        )
        sid = int(cur.lastrowid)
        store.conn.executemany(
            "INSERT INTO snapshot_data (snapshot_id, resource, records) VALUES (?, ?, ?)",
            [(sid, k, json.dumps(v)) for k, v in data.items()],
        )
    return sid


def _snapshot_meta(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    for c in ("requests", "agreement_ids", "counts"):
        r[c] = json.loads(r[c])
    return r


def latest_snapshot(store: Store, billing_month: str | None = None) -> dict[str, Any] | None:
    """The newest snapshot's metadata (id, billing_month, taken_at, request_count, requests, counts)."""
    sql, params = "SELECT * FROM snapshots", []
    if billing_month:
        sql += " WHERE billing_month = ?"
        params.append(billing_month)
    rows = list(store.db.query(sql + " ORDER BY id DESC LIMIT 1", params))
    return _snapshot_meta(rows[0]) if rows else None


def load_snapshot(store: Store, snapshot_id: int) -> dict[str, Any]:
    """A stored snapshot: ``{"meta": {...}, "<resource>": [records], ...}``."""
    rows = list(store.db.query("SELECT * FROM snapshots WHERE id = ?", [snapshot_id]))
    if not rows:
        raise KeyError(f"no snapshot {snapshot_id}")
    out: dict[str, Any] = {"meta": _snapshot_meta(rows[0])}
    for r in store.db.query("SELECT resource, records FROM snapshot_data WHERE snapshot_id = ?", [snapshot_id]):
        out[r["resource"]] = json.loads(r["records"])
    return out

