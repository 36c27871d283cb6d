"""The billbridge database: :class:`Store` (a :class:`sqlite_utils.Database` with WAL on) and its
schema version.

``Store.open(path)`` creates the parent folder and runs every migration of
:data:`billbridge.store.migrations.MIGRATIONS` not yet applied. ``with store.atomic():`` is one
transaction (nested blocks are savepoints): every multi-row write goes through it, so a failed load
or push leaves nothing behind. Every read and write is a function of a concern module
(``imports``, ``mappings``, ``snapshots``, ``plans``, ``contracts``, ``journal``) taking the store as
its first argument; ``billbridge.store`` re-exports them all.

The bulk paths (a month's vendor lines and a snapshot read into Arrow tables, a plan's rows written from
one) go through :meth:`Store.read_arrow` and :meth:`Store.bulk`: a second connection to the same file
(``adbc-driver-sqlite``) moves whole Arrow columns in C instead of one Python object per value. It is
opened for the one read or transaction and closed after it; an in-memory store, or a store inside a
transaction of its own connection (whose uncommitted rows the other connection could not see, and whose
lock it would wait for), takes the same SQL through the sqlite3 connection instead.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlite_utils

from billbridge.clock import utcnow
from billbridge.config import db_path_from_env

__all__ = ["Store", "Bulk", "default_db_path", "utcnow"]

#: pragmas every connection to the file runs with (the bulk connection too)
_PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL", "PRAGMA busy_timeout = 5000")
#: one batch for a whole result: the bulk connection types each column from every value it read
_ONE_BATCH = {"adbc.sqlite.query.batch_rows": str(2**31 - 1)}


def default_db_path(env: dict[str, str] | None = None) -> Path:
    """``$BILLBRIDGE_DB`` or ``data/billbridge.db`` (decided in :mod:`billbridge.config`)."""
    return db_path_from_env(env)


class Store:
    """The billbridge database. ``Store.open(path)`` for a ready (migrated) store."""

    def __init__(self, path: str | Path | None = None, *, memory: bool = False):
        self.path = None if memory else Path(path or default_db_path())
        if memory:
            self.db = sqlite_utils.Database(memory=True)
        else:
            self.db = sqlite_utils.Database(self.path)
            if self.db.journal_mode != "wal":
                self.db.enable_wal()
        for pragma in _PRAGMAS:
            self.db.execute(pragma)

    @classmethod
    def open(cls, path: str | Path | None = None) -> "Store":
        """Open (creating the parent folder) and migrate the database at ``path`` (default
        :func:`default_db_path`)."""
        p = Path(path or default_db_path())
        p.parent.mkdir(parents=True, exist_ok=True)
        store = cls(p)
        store.migrate()
        return store

    @classmethod
    def memory(cls) -> "Store":
        """A migrated in-memory store (tests, notebooks)."""
        store = cls(memory=True)
        store.migrate()
        return store

    @property
    def conn(self):
        return self.db.conn

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[sqlite_utils.Database]:
        """One transaction (savepoint when nested); rolled back on any exception."""
        with self.db.atomic() as db:
            yield db

    def schema_version(self) -> int:
        if "schema_version" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> int:
        """Run every migration not yet applied, each in its own transaction; returns the version."""
        from billbridge.store.migrations import MIGRATIONS

        if "schema_version" not in self.db.table_names():
            with self.atomic():
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
                    "applied_at TEXT NOT NULL)"
                )
        current = self.schema_version()
        for version, fn in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.atomic():
                fn(self.db)
                self.db.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, fn.__name__, utcnow()),
                )
        return self.schema_version()

    # ---- bulk reads and writes (Arrow) ---------------------------------------------------------
    def _bulk_connection(self):
        """A fresh Arrow connection to the file (adbc-driver-sqlite), or None when the sqlite3 one must do it."""
        if self.path is None or self.conn.in_transaction:
            return None
        import adbc_driver_sqlite.dbapi

        conn = adbc_driver_sqlite.dbapi.connect(str(self.path), autocommit=True)
        cur = conn.cursor()
        for pragma in _PRAGMAS:
            cur.execute(pragma)
        cur.close()
        return conn

    def read_arrow(self, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """The result of one query as an Arrow table. Columns come typed by their values: int64 for
        integers (and for a column that is all NULL), string for text (a column mixing both: string);
        callers cast to the types they need."""
        conn = self._bulk_connection()
        if conn is None:
            cur = self.conn.execute(sql, tuple(params))
            names = [d[0] for d in cur.description]
            rows = cur.fetchall()
            return _table(names, list(zip(*rows)) if rows else [()] * len(names))
        try:
            cur = conn.cursor()
            cur.adbc_statement.set_options(**_ONE_BATCH)
            cur.execute(sql, tuple(params) if params else None)
            table = cur.fetch_arrow_table()
            cur.close()
            return table
        finally:
            conn.close()

    @contextmanager
    def bulk(self) -> Iterator["Bulk"]:
        """One write transaction for a bulk write (``BEGIN IMMEDIATE``: it holds the write lock from its
        first statement), committed when the block ends, rolled back on any exception."""
        conn = self._bulk_connection()
        if conn is None:
            with self.atomic():
                yield Bulk(self.conn, None)
            return
        try:
            cur = conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                yield Bulk(None, cur)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
            cur.close()
        finally:
            conn.close()


def _table(names: list[str], columns: list[tuple]) -> pa.Table:
    """Python columns as the Arrow table the bulk connection would read (all-NULL columns as int64)."""
    arrays = []
    for values in columns:
        kinds = set(map(type, values)) - {type(None)}
        if not kinds or kinds <= {int}:
            arrays.append(pa.array(values, pa.int64()))
        elif kinds <= {str}:
            arrays.append(pa.array(values, pa.string()))
        elif kinds <= {int, str}:
            arrays.append(pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], pa.string()))
        else:
            arrays.append(pa.array(values))
    return pa.table(dict(zip(names, arrays))) if names else pa.table({})


class Bulk:
    """The statements of one :meth:`Store.bulk` transaction: the same SQL on either connection."""

    def __init__(self, conn, cursor):
        self._conn, self._cur = conn, cursor

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Run one statement; its rows (``INSERT ... RETURNING id`` included)."""
        if self._cur is None:
            return self._conn.execute(sql, tuple(params)).fetchall()
        self._cur.execute(sql, tuple(params) if params else None)
        return [tuple(r) for r in self._cur.fetchall()] if self._cur.description else []

    def insert(self, sql: str, table: pa.Table) -> None:
        """Run ``sql`` once per row of ``table``, its columns bound to ``?1, ?2, ...`` in order
        (int64 and string columns)."""
        if table.num_rows == 0:
            return
        if self._cur is None:
            self._conn.executemany(sql, zip(*[c.to_pylist() for c in table.columns]))
        else:
            self._cur.executemany(sql, table)
