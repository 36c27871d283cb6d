"""Contracts: the one-way agreement import ConnectWise -> billbridge (see :mod:`billbridge.agreements`)."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import pandas as pd

from billbridge.clock import utcnow

if TYPE_CHECKING:  # the store's type only: the concern modules never import db at run time
    from billbridge.store.db import Store


def _to_decimal(s: pd.Series) -> pd.Series:
    return s.map(lambda v: None if v is None or v == "" else Decimal(v), na_action="ignore").astype(object)


# ---- contracts (issue 6) ----------------------------------------------------------------------
# One-way agreement import ConnectWise -> billbridge (see billbridge.agreements).
#   contract_feed       the latest ConnectWise record seen per agreement / addition (raw JSON),
#                       written by an incremental fetch; ``deleted_at`` when a full pass missed it
#   contract_sync       one bookmark per stream (agreements, additions) = MAX(lastUpdated) of the
#                       feed rows actually stored, written in the SAME transaction as those rows
#   contracts / contract_additions   what the operator imported; the cw_* columns and every
#                       ConnectWise-owned field are read-only in billbridge, ``notes`` is ours
#   contract_import_runs  who imported how much, when

#: contract columns ConnectWise owns (read-only in billbridge); ``notes`` is billbridge's own
CONTRACT_COLUMNS: tuple[str, ...] = (
    "agreement_id", "name", "company_id", "company_name", "type_name", "status", "billing_cycle",
    "bill_amount", "start_date", "end_date", "cancelled_date", "parent_id", "cw_last_updated", "cw_updated_by",
)
CONTRACT_ADDITION_COLUMNS: tuple[str, ...] = (
    "addition_id", "agreement_id", "product_id", "product_identifier", "description", "quantity",
    "unit_price", "unit_cost", "effective_date", "cancelled_date", "bill_customer", "line_key",
    "cw_last_updated", "cw_updated_by",
)
_CONTRACT_MONEY = ("bill_amount", "quantity", "unit_price", "unit_cost")
FEED_KINDS = ("agreement", "addition")



def record_contract_feed(
    store: Store,
    agreements: list[dict[str, Any]],
    additions: list[dict[str, Any]],
    *,
    full: bool = False,
    fetched_at: str | None = None,
) -> dict[str, Any]:
    """Store ConnectWise agreement / addition records read by one fetch, in ONE transaction with
    the stream bookmarks (``MAX(lastUpdated)`` of the stored rows, so never ahead of the data).

    ``full=True``: the records are every agreement and addition ConnectWise holds; stored ids
    missing from them are marked ``deleted_at`` (feed and imported contracts), never dropped.
    Returns counts: ``agreements`` / ``additions`` read, ``deleted_agreements`` /
    ``deleted_additions`` (ids newly marked) and the ``bookmarks``.
    """
    now = fetched_at or utcnow()

    def rows(kind: str, recs: list[dict[str, Any]]) -> list[tuple]:
        out = []
        for r in recs:
            info = r.get("_info") or {}
            agreement_id = r.get("agreementId") if kind == "addition" else r.get("id")
            out.append((kind, int(r["id"]), agreement_id, info.get("lastUpdated"),
                        json.dumps(r, sort_keys=True, default=str), now))
        return out

    deleted: dict[str, list[int]] = {"agreement": [], "addition": []}
    with store.atomic():
        for kind, recs in (("agreement", agreements), ("addition", additions)):
            store.conn.executemany(
                """INSERT INTO contract_feed (kind, cw_id, agreement_id, last_updated, record, fetched_at, deleted_at)
                   VALUES (?, ?, ?, ?, ?, ?, NULL)
                   ON CONFLICT (kind, cw_id) DO UPDATE SET agreement_id = excluded.agreement_id,
                     last_updated = excluded.last_updated, record = excluded.record,
                     fetched_at = excluded.fetched_at, deleted_at = NULL""",
                rows(kind, recs),
            )
            if full:
                seen = {int(r["id"]) for r in recs}
                known = [r[0] for r in store.conn.execute(
                    "SELECT cw_id FROM contract_feed WHERE kind = ? AND deleted_at IS NULL", (kind,))]
                gone = sorted(set(known) - seen)
                deleted[kind] = gone
                table, pk = ("contracts", "agreement_id") if kind == "agreement" else ("contract_additions", "addition_id")
                store.conn.executemany(
                    "UPDATE contract_feed SET deleted_at = ? WHERE kind = ? AND cw_id = ?",
                    [(now, kind, i) for i in gone])
                store.conn.executemany(
                    f"UPDATE {table} SET deleted_at = ? WHERE {pk} = ? AND deleted_at IS NULL",
                    [(now, i) for i in gone])
        bookmarks = {}
        for kind in FEED_KINDS:
            stream = kind + "s"
            bm = store.conn.execute(
                "SELECT MAX(last_updated) FROM contract_feed WHERE kind = ?", (kind,)).fetchone()[0]
            bookmarks[stream] = bm
            store.conn.execute(
                """INSERT INTO contract_sync (stream, bookmark, fetched_at, full_pass_at) VALUES (?, ?, ?, ?)
                   ON CONFLICT (stream) DO UPDATE SET bookmark = excluded.bookmark, fetched_at = excluded.fetched_at,
                     full_pass_at = COALESCE(excluded.full_pass_at, contract_sync.full_pass_at)""",
                (stream, bm, now, now if full else None),
            )
    return {
        "agreements": len(agreements), "additions": len(additions),
        "deleted_agreements": deleted["agreement"], "deleted_additions": deleted["addition"],
        "bookmarks": bookmarks, "fetched_at": now,
    }


def contract_sync_state(store: Store) -> dict[str, Any]:
    """Bookmarks and times: ``{"agreements": {bookmark, fetched_at, full_pass_at}, "additions": {...},
    "last_import": the newest contract_import_runs row or None}``."""
    out: dict[str, Any] = {s: {"bookmark": None, "fetched_at": None, "full_pass_at": None} for s in ("agreements", "additions")}
    for r in store.db.query("SELECT * FROM contract_sync"):
        out[r["stream"]] = {k: r[k] for k in ("bookmark", "fetched_at", "full_pass_at")}
    runs = list(store.db.query("SELECT * FROM contract_import_runs ORDER BY id DESC LIMIT 1"))
    out["last_import"] = runs[0] if runs else None
    return out


def contract_feed_records(store: Store, kind: str, ids: list[int] | None = None) -> list[dict[str, Any]]:
    """Stored feed rows of ``kind`` (``agreement``/``addition``), optionally only ``ids``: dicts with
    ``cw_id``, ``agreement_id``, ``last_updated``, ``deleted_at`` and ``record`` (the CW JSON)."""
    sql, params = "SELECT * FROM contract_feed WHERE kind = ?", [kind]
    if ids is not None:
        ids = [int(i) for i in ids]
        if not ids:
            return []
        sql += f" AND cw_id IN ({', '.join('?' * len(ids))})"
        params += ids
    rows = list(store.db.query(sql + " ORDER BY cw_id", params))
    for r in rows:
        r["record"] = json.loads(r["record"])
    return rows


def pending_contract_changes(store: Store) -> dict[str, dict[int, str]]:
    """Feed records not imported yet (``new``) or newer in ConnectWise than the imported copy
    (``changed``): ``{"agreements": {id: state}, "additions": {id: state}}``. Records deleted in
    ConnectWise before anyone imported them are not offered."""
    out: dict[str, dict[int, str]] = {}
    for kind, table, pk in (("agreement", "contracts", "agreement_id"), ("addition", "contract_additions", "addition_id")):
        q = f"""SELECT f.cw_id, CASE WHEN c.{pk} IS NULL THEN 'new' ELSE 'changed' END AS state
                FROM contract_feed f LEFT JOIN {table} c ON c.{pk} = f.cw_id
                WHERE f.kind = ? AND f.deleted_at IS NULL
                  AND (c.{pk} IS NULL OR COALESCE(f.last_updated, '') > COALESCE(c.cw_last_updated, ''))
                ORDER BY f.cw_id"""
        out[kind + "s"] = {int(r[0]): r[1] for r in store.conn.execute(q, (kind,))}
    return out


def import_contracts(
    store: Store,
    agreements: list[dict[str, Any]],
    additions: list[dict[str, Any]],
    *,
    source: str = "page",
    imported_by: str | None = None,
) -> dict[str, Any]:
    """Upsert imported contracts (:data:`CONTRACT_COLUMNS` dicts) and contract additions
    (:data:`CONTRACT_ADDITION_COLUMNS` dicts) in one transaction, keeping billbridge's own ``notes``;
    records one ``contract_import_runs`` row and returns it."""
    now = utcnow()

    def text(row: dict[str, Any], cols: tuple[str, ...]) -> tuple:
        return tuple(None if row.get(c) is None else (str(row[c]) if c in _CONTRACT_MONEY else row[c]) for c in cols)

    with store.atomic():
        for table, cols, recs in (("contracts", CONTRACT_COLUMNS, agreements),
                                  ("contract_additions", CONTRACT_ADDITION_COLUMNS, additions)):
            if not recs:
                continue
            names = ", ".join(cols)
            updates = ", ".join(f"{c} = excluded.{c}" for c in cols[1:])
            store.conn.executemany(
                f"""INSERT INTO {table} ({names}, imported_at, imported_by, deleted_at) VALUES
                    ({', '.join('?' * (len(cols) + 3))})
                    ON CONFLICT ({cols[0]}) DO UPDATE SET {updates}, imported_at = excluded.imported_at,
                      imported_by = excluded.imported_by""",
                [text(r, cols) + (now, imported_by, None) for r in recs],
            )
        cur = store.conn.execute(
            "INSERT INTO contract_import_runs (imported_at, imported_by, source, agreements, additions) VALUES (?, ?, ?, ?, ?)",
            (now, imported_by, source, len(agreements), len(additions)),
        )
    return {"id": int(cur.lastrowid), "imported_at": now, "imported_by": imported_by, "source": source,
            "agreements": len(agreements), "additions": len(additions)}


def _contract_frame(store: Store, table: str, where: str = "", params: tuple = ()) -> pd.DataFrame:
    df = pd.read_sql_query(f"SELECT * FROM {table} {where} ORDER BY 1", store.conn, params=params, dtype=object)
    for c in _CONTRACT_MONEY:
        if c in df:
            df[c] = _to_decimal(df[c])
    return df


def list_contracts(store: Store) -> pd.DataFrame:
    """Imported contracts (one row per agreement; money as Decimal; ``deleted_at`` when gone in CW)."""
    return _contract_frame(store, "contracts")


def list_contract_additions(store: Store, agreement_id: int | None = None) -> pd.DataFrame:
    """Imported contract additions, optionally of one agreement (deleted ones included, marked)."""
    if agreement_id is None:
        return _contract_frame(store, "contract_additions")
    return _contract_frame(store, "contract_additions", "WHERE agreement_id = ?", (int(agreement_id),))


def save_contract_notes(store: Store, notes: dict[int, str | None]) -> int:
    """Save billbridge's own ``notes`` per imported agreement id (the only editable contract
    field; ConnectWise-owned fields cannot be written here). Returns rows updated."""
    with store.atomic():
        n = 0
        for agreement_id, text in notes.items():
            n += store.conn.execute("UPDATE contracts SET notes = ? WHERE agreement_id = ?",
                                    (text or None, int(agreement_id))).rowcount
    return n


