"""SQLite store (sqlite-utils): schema, migrations, and every read and write billbridge makes.

* :class:`Store` wraps a :class:`sqlite_utils.Database` (WAL on); :meth:`Store.open` creates the
  parent folder and migrates. ``with store.atomic():`` is one transaction (nested blocks are
  savepoints): every multi-row write goes through it, so a failed load leaves nothing behind.
* Migrations are an ordered list, :data:`MIGRATIONS`; ``schema_version`` records which ran. To add
  tables, append a function ``def m00N_what(db): ...`` to the list, never reorder or edit one
  that has shipped.
* Money is stored as TEXT decimal strings (``"1234.50"``) and read back as :class:`~decimal.Decimal`.

Month imports (issue 3): ``imports`` (one row per loaded file version), ``import_lines`` (its
canonical vendor lines), ``formats`` (saved column mappings per vendor).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import repeat
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sqlite_utils

__all__ = [
    "DEFAULT_DB",
    "default_db_path",
    "Store",
    "MIGRATIONS",
    "LINE_COLUMNS",
    "MONEY_COLUMNS",
    "DATE_COLUMNS",
    "record_import",
    "list_imports",
    "get_import",
    "import_lines",
    "latest_import",
    "diff_imports",
    "save_format",
    "list_formats",
    "get_format",
    "delete_format",
]

DEFAULT_DB = Path("data") / "billbridge.db"

#: canonical vendor-line columns as stored in ``import_lines`` (after ``import_id``, ``line_no``)
LINE_COLUMNS: tuple[str, ...] = (
    "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "billing_frequency", "term", "quantity", "unit_cost",
    "unit_price", "period_start", "period_end", "effective_date", "currency",
    "extended_cost", "extended_price",
)
#: stored as TEXT decimal strings, read back as Decimal (``quantity`` too: usage can be fractional)
MONEY_COLUMNS: tuple[str, ...] = ("quantity", "unit_cost", "unit_price", "extended_cost", "extended_price")
#: stored as ISO ``YYYY-MM-DD`` TEXT, read back as ``datetime.date``
DATE_COLUMNS: tuple[str, ...] = ("customer_created", "period_start", "period_end", "effective_date")


def default_db_path(env: dict[str, str] | None = None) -> Path:
    """``$BILLBRIDGE_DB`` or ``data/billbridge.db``."""
    env = os.environ if env is None else env
    return Path(env.get("BILLBRIDGE_DB") or DEFAULT_DB)


def _utcnow() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


# ------------------------------------------------------------------------------------ migrations
def m001_imports(db: sqlite_utils.Database) -> None:
    """Month imports, their lines and saved file formats (issue 3)."""
    db.execute(
        """CREATE TABLE imports (
            id INTEGER PRIMARY KEY,
            vendor TEXT NOT NULL,
            billing_month TEXT NOT NULL,
            version INTEGER NOT NULL,
            file_name TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            format TEXT NOT NULL,
            line_count INTEGER NOT NULL,
            customer_count INTEGER NOT NULL,
            total_cost TEXT NOT NULL,
            total_price TEXT NOT NULL,
            loaded_at TEXT NOT NULL,
            loaded_by TEXT,
            UNIQUE (vendor, billing_month, version)
        )"""
    )
    cols = ",\n".join(
        f"{c} TEXT" + (" NOT NULL" if c in ("vendor_customer_id", "vendor_customer_name", "sku", "quantity", "unit_cost") else "")
        for c in LINE_COLUMNS
    )
    db.execute(
        f"""CREATE TABLE import_lines (
            import_id INTEGER NOT NULL REFERENCES imports(id),
            line_no INTEGER NOT NULL,
            {cols},
            PRIMARY KEY (import_id, line_no)
        ) WITHOUT ROWID"""
    )
    db.execute(
        """CREATE TABLE formats (
            vendor TEXT NOT NULL,
            name TEXT NOT NULL,
            mapping TEXT NOT NULL,
            saved_at TEXT NOT NULL,
            saved_by TEXT,
            PRIMARY KEY (vendor, name)
        )"""
    )


#: Ordered migrations; version N = the first N functions have run. Append only.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m001_imports,
]


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
        self.db.execute("PRAGMA foreign_keys = ON")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA busy_timeout = 5000")

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

    # ---------------------------------------------------------------------------- migrations
    def schema_version(self) -> int:
        if "schema_version" not in self.db.table_names():
            return 0
        row = self.db.execute("SELECT MAX(version) FROM schema_version").fetchone()
        return row[0] or 0

    def migrate(self) -> int:
        """Run every migration not yet applied, each in its own transaction; returns the version."""
        if "schema_version" not in self.db.table_names():
            with self.atomic():
                self.db.execute(
                    "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
                )
        current = self.schema_version()
        for version, fn in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            with self.atomic():
                fn(self.db)
                self.db.execute(
                    "INSERT INTO schema_version (version, name, applied_at) VALUES (?, ?, ?)",
                    (version, fn.__name__, _utcnow()),
                )
        return self.schema_version()

    # ------------------------------------------------------------------------ month imports
    record_import = property(lambda self: _bind(record_import, self))
    list_imports = property(lambda self: _bind(list_imports, self))
    get_import = property(lambda self: _bind(get_import, self))
    import_lines = property(lambda self: _bind(import_lines, self))
    latest_import = property(lambda self: _bind(latest_import, self))
    diff_imports = property(lambda self: _bind(diff_imports, self))
    save_format = property(lambda self: _bind(save_format, self))
    list_formats = property(lambda self: _bind(list_formats, self))
    get_format = property(lambda self: _bind(get_format, self))
    delete_format = property(lambda self: _bind(delete_format, self))


def _bind(fn: Callable[..., Any], store: Store) -> Callable[..., Any]:
    def bound(*args: Any, **kwargs: Any) -> Any:
        return fn(store, *args, **kwargs)

    bound.__doc__ = fn.__doc__
    bound.__name__ = fn.__name__
    return bound


def _lines_to_rows(import_id: int, lines: pd.DataFrame, chunk: int = 20_000) -> Iterator[tuple]:
    """Rows for ``import_lines`` from a frame of canonical TEXT columns, produced in chunks so that
    only ``chunk`` rows exist as Python objects at a time (column-wise conversion, no per-row
    pandas work). Missing values become NULL."""
    n = len(lines)
    line_no = lines["line_no"].to_numpy() if "line_no" in lines else np.arange(1, n + 1)
    for start in range(0, n, chunk):
        part = lines.iloc[start:start + chunk]
        cols = [
            part[c].to_numpy(dtype=object, na_value=None).tolist() if c in part else [None] * len(part)
            for c in LINE_COLUMNS
        ]
        yield from zip(repeat(import_id), line_no[start:start + chunk].tolist(), *cols)


def record_import(
    store: Store,
    *,
    vendor: str,
    billing_month: str,
    file_name: str,
    sha256: str,
    format: str,
    lines: pd.DataFrame,
    total_cost: Decimal | str,
    total_price: Decimal | str,
    customer_count: int | None = None,
    loaded_by: str | None = None,
) -> dict[str, Any]:
    """Store one import and all its lines in one transaction; returns the ``imports`` row.

    ``lines`` holds the canonical columns (:data:`LINE_COLUMNS`) as text (dates ISO, money as
    decimal strings, empty = NULL) and optionally ``line_no`` (the row in the file).
    The version is the next one for ``(vendor, billing_month)``.
    """
    if customer_count is None:
        customer_count = int(lines["vendor_customer_id"].nunique()) if len(lines) else 0
    with store.atomic():
        row = store.conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM imports WHERE vendor = ? AND billing_month = ?",
            (vendor, billing_month),
        ).fetchone()
        version = int(row[0])
        record = {
            "vendor": vendor, "billing_month": billing_month, "version": version,
            "file_name": file_name, "sha256": sha256, "format": format, "line_count": int(len(lines)),
            "customer_count": int(customer_count), "total_cost": str(total_cost),
            "total_price": str(total_price), "loaded_at": _utcnow(), "loaded_by": loaded_by,
        }
        cur = store.conn.execute(
            f"INSERT INTO imports ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            tuple(record.values()),
        )
        import_id = int(cur.lastrowid)
        placeholders = ", ".join("?" * (len(LINE_COLUMNS) + 2))
        store.conn.executemany(
            f"INSERT INTO import_lines (import_id, line_no, {', '.join(LINE_COLUMNS)}) VALUES ({placeholders})",
            _lines_to_rows(import_id, lines),
        )
    return {"id": import_id, **record}


def list_imports(store: Store, billing_month: str | None = None, vendor: str | None = None) -> list[dict[str, Any]]:
    """Imports, newest first, optionally for one month and/or vendor (money as Decimal)."""
    where, params = [], []
    if billing_month:
        where.append("billing_month = ?")
        params.append(billing_month)
    if vendor:
        where.append("vendor = ?")
        params.append(vendor)
    sql = "SELECT * FROM imports" + (" WHERE " + " AND ".join(where) if where else "")
    sql += " ORDER BY billing_month DESC, vendor, version DESC"
    return [_import_row(r) for r in store.db.query(sql, params)]


def _import_row(r: dict[str, Any]) -> dict[str, Any]:
    r = dict(r)
    r["total_cost"] = Decimal(r["total_cost"])
    r["total_price"] = Decimal(r["total_price"])
    return r


def get_import(store: Store, import_id: int) -> dict[str, Any] | None:
    """One ``imports`` row by id (money as Decimal), or None."""
    rows = list(store.db.query("SELECT * FROM imports WHERE id = ?", [import_id]))
    return _import_row(rows[0]) if rows else None


def latest_import(store: Store, vendor: str, billing_month: str) -> dict[str, Any] | None:
    """The newest version imported for ``vendor`` and ``billing_month``, or None."""
    rows = list(store.db.query(
        "SELECT * FROM imports WHERE vendor = ? AND billing_month = ? ORDER BY version DESC LIMIT 1",
        [vendor, billing_month],
    ))
    return _import_row(rows[0]) if rows else None


def _to_decimal(s: pd.Series) -> pd.Series:
    return s.map(lambda v: None if v is None or v == "" else Decimal(v), na_action="ignore").astype(object)


def _to_date(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, format="%Y-%m-%d", errors="coerce").dt.date.astype(object).where(s.notna(), None)


def import_lines(store: Store, import_id: int, *, raw: bool = False) -> pd.DataFrame:
    """The lines of one import: ``line_no`` + :data:`LINE_COLUMNS`.

    Money and quantities come back as Decimal, dates as ``datetime.date`` (``raw=True``: the
    stored text, which is faster for large imports).
    """
    df = pd.read_sql_query(
        f"SELECT line_no, {', '.join(LINE_COLUMNS)} FROM import_lines WHERE import_id = ? ORDER BY line_no",
        store.conn, params=(import_id,), dtype=object,
    )
    if raw:
        return df
    for c in MONEY_COLUMNS:
        df[c] = _to_decimal(df[c])
    for c in DATE_COLUMNS:
        df[c] = _to_date(df[c])
    df["line_no"] = df["line_no"].astype("int64")
    return df


#: what identifies "the same line" across two versions of a month (Rule: duplicates key)
LINE_KEY = ("vendor_customer_id", "subscription_id", "sku", "charge_type", "period_start", "period_end")


def diff_imports(store: Store, old_id: int, new_id: int) -> dict[str, pd.DataFrame]:
    """What changed between two imports: ``added`` and ``removed`` lines, and ``quantity_changed``
    (key columns + ``quantity_old``, ``quantity_new``, ``line_no_old``, ``line_no_new``).

    Lines are matched on customer, subscription, SKU, charge type and period.
    """
    old = import_lines(store, old_id, raw=True)
    new = import_lines(store, new_id, raw=True)
    key = list(LINE_KEY)
    for df in (old, new):
        for c in key:
            df[c] = df[c].fillna("")
    merged = old.merge(new, on=key, how="outer", suffixes=("_old", "_new"), indicator=True)
    removed = merged[merged["_merge"] == "left_only"]
    added = merged[merged["_merge"] == "right_only"]
    both = merged[merged["_merge"] == "both"]
    changed = both[both["quantity_old"].map(Decimal) != both["quantity_new"].map(Decimal)] if len(both) else both

    def side(df: pd.DataFrame, suffix: str) -> pd.DataFrame:
        cols = {f"{c}{suffix}": c for c in ["line_no", *LINE_COLUMNS] if f"{c}{suffix}" in df}
        out = df[key + list(cols)].rename(columns=cols)
        return out[["line_no", *[c for c in LINE_COLUMNS if c in out]]].reset_index(drop=True)

    qc = changed[key + ["quantity_old", "quantity_new", "line_no_old", "line_no_new"]].copy()
    for c in ("quantity_old", "quantity_new"):
        qc[c] = qc[c].map(Decimal)
    return {
        "added": side(added, "_new"),
        "removed": side(removed, "_old"),
        "quantity_changed": qc.reset_index(drop=True),
    }


# --------------------------------------------------------------------------------------- formats
def save_format(store: Store, vendor: str, name: str, mapping: dict[str, Any] | Any, saved_by: str | None = None) -> None:
    """Save (or replace) a named column mapping for ``vendor``. ``mapping`` is a dict or an object
    with ``to_dict()`` (:class:`billbridge.sources.ColumnMapping`)."""
    if hasattr(mapping, "to_dict"):
        mapping = mapping.to_dict()
    with store.atomic():
        store.db["formats"].upsert(
            {"vendor": vendor, "name": name, "mapping": json.dumps(mapping, sort_keys=True),
             "saved_at": _utcnow(), "saved_by": saved_by},
            pk=("vendor", "name"),
        )


def list_formats(store: Store, vendor: str | None = None) -> list[dict[str, Any]]:
    """Saved formats (vendor, name, mapping dict, saved_at), optionally for one vendor."""
    sql, params = "SELECT * FROM formats", []
    if vendor:
        sql += " WHERE vendor = ?"
        params.append(vendor)
    rows = list(store.db.query(sql + " ORDER BY vendor, name", params))
    for r in rows:
        r["mapping"] = json.loads(r["mapping"])
    return rows


def get_format(store: Store, vendor: str, name: str) -> dict[str, Any] | None:
    """The mapping dict saved as ``name`` for ``vendor``, or None."""
    rows = list(store.db.query("SELECT mapping FROM formats WHERE vendor = ? AND name = ?", [vendor, name]))
    return json.loads(rows[0]["mapping"]) if rows else None


def delete_format(store: Store, vendor: str, name: str) -> bool:
    """Delete a saved format; True when one existed."""
    with store.atomic():
        cur = store.conn.execute("DELETE FROM formats WHERE vendor = ? AND name = ?", (vendor, name))
    return cur.rowcount > 0
