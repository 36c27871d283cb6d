"""Record storage: every collection in memory, written through to SQLite (sqlite-utils).

One table per collection (``id`` primary key, ``body`` JSON). Reads never touch SQLite; each write
request is one SQLite transaction (:meth:`Store.transaction`). ``data_path=None`` keeps everything
in memory only (no SQLite mirror: nothing would survive the process anyway).
"""

from __future__ import annotations

import json
import sqlite3
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Iterable, Iterator

import sqlite_utils

#: Every collection the sandbox keeps (internal ones such as contacts are not served over HTTP).
COLLECTIONS = (
    "companies", "contacts", "company_statuses", "company_types", "agreements", "additions",
    "agreement_types", "catalog", "product_types", "billing_cycles", "invoices",
)

SCHEMA_VERSION = 1


class Store:
    """In-memory records (``collection -> {id: record}``) with SQLite write-through."""

    def __init__(self, data_path: Path | str | None):
        self.path = Path(data_path) if data_path else None
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db: sqlite_utils.Database | None = None
        if self.path is not None:
            conn = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            self.db = sqlite_utils.Database(conn)
        self.lock = threading.RLock()
        self.data: dict[str, dict[int, dict]] = {c: {} for c in COLLECTIONS}
        self.next_ids: dict[str, int] = {c: 1 for c in COLLECTIONS}
        #: agreement id -> ids of its additions
        self.additions_by_agreement: dict[int, list[int]] = {}
        self._pending: dict[str, dict[int, dict | None]] | None = None

    # ------------------------------------------------------------------ lifecycle
    def is_seeded(self) -> bool:
        """True when the database holds a complete seed (from an earlier run)."""
        if self.db is None or "meta" not in self.db.table_names():
            return False
        row = self.db.execute("select value from meta where key='seeded'").fetchone()
        return bool(row and row[0] == str(SCHEMA_VERSION))

    def meta(self, key: str) -> str | None:
        """A value stored with the records (e.g. ``seed_window``), or None."""
        if self.db is None or "meta" not in self.db.table_names():
            return None
        row = self.db.execute("select value from meta where key=?", [key]).fetchone()
        return row[0] if row else None

    def load(self) -> None:
        """Load every collection from SQLite into memory."""
        with self.lock:
            for c in COLLECTIONS:
                self.data[c] = {}
                if c in self.db.table_names():
                    for rid, body in self.db.execute(f"select id, body from [{c}]"):
                        self.data[c][rid] = json.loads(body)
            for c in COLLECTIONS:
                row = self.db.execute("select value from meta where key=?", [f"next_id:{c}"]).fetchone()
                self.next_ids[c] = max(int(row[0]) if row else 1, max(self.data[c], default=0) + 1)
            self._reindex()

    def replace_all(self, data: dict[str, dict[int, dict]], next_ids: dict[str, int],
                    meta: dict[str, str] | None = None) -> None:
        """Drop everything and store ``data`` (used by seeding and reset) with ``meta`` (e.g. the
        seed's window), in one transaction."""
        with self.lock:
            self.data = {c: dict(data.get(c, {})) for c in COLLECTIONS}
            self.next_ids = {c: max(next_ids.get(c, 1), max(self.data[c], default=0) + 1) for c in COLLECTIONS}
            self._reindex()
            if self.db is None:
                return
            conn = self.db.conn
            conn.execute("BEGIN")
            try:
                for t in list(self.db.table_names()):
                    conn.execute(f"DROP TABLE [{t}]")
                conn.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")
                for c in COLLECTIONS:
                    conn.execute(f"CREATE TABLE [{c}] (id INTEGER PRIMARY KEY, body TEXT NOT NULL)")
                    conn.executemany(f"INSERT INTO [{c}] (id, body) VALUES (?, ?)",
                                     ((rid, json.dumps(rec, separators=(",", ":"))) for rid, rec in self.data[c].items()))
                conn.executemany("INSERT INTO meta (key, value) VALUES (?, ?)",
                                 [(f"next_id:{c}", str(self.next_ids[c])) for c in COLLECTIONS]
                                 + [("seeded", str(SCHEMA_VERSION))] + sorted((meta or {}).items()))
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise

    def close(self) -> None:
        """Close the SQLite connection."""
        with self.lock:
            if self.db is not None:
                self.db.conn.close()

    def _reindex(self) -> None:
        idx: dict[int, list[int]] = {}
        for rid, rec in self.data["additions"].items():
            idx.setdefault(rec.get("agreementId"), []).append(rid)
        for ids in idx.values():
            ids.sort()
        self.additions_by_agreement = idx

    # ------------------------------------------------------------------ reads
    def get(self, collection: str, rid: int) -> dict | None:
        return self.data[collection].get(rid)

    def all(self, collection: str) -> Iterable[dict]:
        return self.data[collection].values()

    def additions_of(self, agreement_id: int) -> list[dict]:
        adds = self.data["additions"]
        return [adds[i] for i in self.additions_by_agreement.get(agreement_id, ()) if i in adds]

    # ------------------------------------------------------------------ writes
    def new_id(self, collection: str) -> int:
        with self.lock:
            rid = self.next_ids[collection]
            self.next_ids[collection] = rid + 1
            return rid

    @contextmanager
    def transaction(self) -> Iterator["Store"]:
        """Group the writes of one request; SQLite is written in one transaction at the end."""
        with self.lock:
            outer = self._pending is None
            if outer:
                self._pending = {}
            try:
                yield self
                if outer:
                    self._flush()
            finally:
                if outer:
                    self._pending = None

    def put(self, collection: str, rec: dict) -> None:
        """Insert or replace ``rec`` (keyed by ``rec['id']``)."""
        with self.transaction():
            rid = rec["id"]
            if collection == "additions" and rid not in self.data["additions"]:
                self.additions_by_agreement.setdefault(rec.get("agreementId"), []).append(rid)
            self.data[collection][rid] = rec
            self._pending.setdefault(collection, {})[rid] = rec

    def delete(self, collection: str, rid: int) -> None:
        """Remove a record."""
        with self.transaction():
            rec = self.data[collection].pop(rid, None)
            if collection == "additions" and rec is not None:
                ids = self.additions_by_agreement.get(rec.get("agreementId"), [])
                if rid in ids:
                    ids.remove(rid)
            self._pending.setdefault(collection, {})[rid] = None

    def _flush(self) -> None:
        pending = self._pending or {}
        if not pending or self.db is None:
            return
        conn = self.db.conn
        conn.execute("BEGIN")
        try:
            for c, rows in pending.items():
                ups = [(rid, json.dumps(rec, separators=(",", ":"))) for rid, rec in rows.items() if rec is not None]
                dels = [(rid,) for rid, rec in rows.items() if rec is None]
                if ups:
                    conn.executemany(f"INSERT OR REPLACE INTO [{c}] (id, body) VALUES (?, ?)", ups)
                if dels:
                    conn.executemany(f"DELETE FROM [{c}] WHERE id = ?", dels)
                conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)",
                             (f"next_id:{c}", str(self.next_ids[c])))
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise
