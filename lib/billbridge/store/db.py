"""The billbridge database: :class:`Store` (a :class:`sqlite_utils.Database` with WAL on) and its
schema version.

``Store.open(path)`` creates the parent folder and runs every migration of
:data:`billbridge.store.migrations.MIGRATIONS` not yet applied. ``with store.atomic():`` is one
transaction (nested blocks are savepoints): every multi-row write goes through it, so a failed load
or push leaves nothing behind. Every read and write is a function of a concern module
(``imports``, ``mappings``, ``snapshots``, ``plans``, ``contracts``, ``journal``) taking the store as
its first argument; ``billbridge.store`` re-exports them all.

:meth:`Store.read_arrow` reads a query's result as one Arrow table (the bulk reads: a month's vendor
lines, a snapshot's typed columns). Every access goes through this one sqlite3 connection: a second
SQLite library in the process (an Arrow driver bundling its own, such as ``adbc-driver-sqlite`` or
DuckDB's ``sqlite`` extension) would not share SQLite's per-process lock bookkeeping with it, and on
closing its connection would release this one's locks and delete the write-ahead log under it
("How To Corrupt An SQLite Database File", section 2.2.1; tried here: the other connection stopped
seeing new rows, then failed with "disk I/O error").
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

__all__ = ["Store", "default_db_path", "utcnow"]

_PRAGMAS = ("PRAGMA foreign_keys = ON", "PRAGMA synchronous = NORMAL", "PRAGMA busy_timeout = 5000")


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
        from billbridge.store.migrations import refresh_derived_views

        with self.atomic():
            refresh_derived_views(self.db, MIGRATIONS[:self.schema_version()])
        return self.schema_version()

    # ---- bulk reads (Arrow) ---------------------------------------------------------------------
    def read_arrow(self, sql: str, params: Sequence[Any] = (), types: dict[str, pa.DataType] | None = None
                   ) -> pa.Table:
        """The result of one query as an Arrow table, a column at a time (no frame, no dict per row).
        ``types``: the Arrow type of a column (default: int64 for integers and for a column that is all
        NULL, string for text)."""
        cur = self.conn.execute(sql, tuple(params))
        names = [d[0] for d in cur.description]
        rows = cur.fetchall()
        columns = list(zip(*rows)) if rows else [()] * len(names)
        types = types or {}
        return pa.table({name: _arrow(values, types.get(name)) for name, values in zip(names, columns)})


def _arrow(values: tuple, type_: pa.DataType | None) -> pa.Array:
    if type_ is not None:
        return pa.array(values, type_)
    kinds = set(map(type, values)) - {type(None)}
    if not kinds or kinds <= {int}:
        return pa.array(values, pa.int64())
    if kinds <= {str}:
        return pa.array(values, pa.string())
    return pa.array([v if v is None or isinstance(v, str) else str(v) for v in values], pa.string())
