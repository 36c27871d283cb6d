"""SQLite store (sqlite-utils): schema, migrations, and every read and write billbridge makes.

* :class:`Store` wraps a :class:`sqlite_utils.Database` (WAL on); :meth:`Store.open` creates the
  parent folder and migrates. ``with store.atomic():`` is one transaction (nested blocks are
  savepoints): every multi-row write goes through it, so a failed load leaves nothing behind.
* Migrations are an ordered list, :data:`MIGRATIONS`; ``schema_version`` records which ran. To add
  tables, append a function ``def m00N_what(db): ...`` to the list, never reorder or edit one
  that has shipped.
* Money is stored as TEXT decimal strings (``"1234.50"``) and read back as :class:`~decimal.Decimal`.

Month imports (issue 3): ``imports`` (one row per loaded file version), ``import_blobs`` (its
canonical vendor lines as one compressed Arrow IPC blob per import; ``import_lines``, one row per
line, until migration ``m005_import_blobs``), ``formats`` (saved column mappings per vendor).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.ipc as pa_ipc
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


# ---- an import's lines: one Arrow IPC blob per import ------------------------------------------
#: how ``import_blobs.data`` is written: an Arrow IPC stream, zstd-compressed buffers (half the
#: size of LZ4 here, and the smaller SQLite write makes it the faster one to store)
BLOB_CODEC = "arrow-ipc/zstd"
_BLOB_COMPRESSION = "zstd"


def _text_array(col: pd.Series) -> pa.Array:
    """A frame column of text (str, pandas string or object; missing = null) as an Arrow string array."""
    arr = getattr(col.array, "_pa_array", None)
    if arr is not None and (pa.types.is_string(arr.type) or pa.types.is_large_string(arr.type)):
        return pc.cast(arr.combine_chunks() if isinstance(arr, pa.ChunkedArray) else arr, pa.string())
    values = col.to_numpy(dtype=object, na_value=None)
    try:
        return pa.array(values, type=pa.string(), from_pandas=True)
    except (pa.ArrowInvalid, pa.ArrowTypeError):  # numbers in a text column: stored as their text, as SQLite did
        return pa.array([None if v is None else str(v) for v in values], type=pa.string())


def _lines_table(lines: pd.DataFrame | pa.Table) -> pa.Table:
    """``line_no`` (int64) + :data:`LINE_COLUMNS` (text, null when missing) from a frame or an Arrow
    table of canonical lines (extra columns dropped; dictionary-encoded text kept as it is, except
    where nearly every value is distinct)."""
    n = len(lines) if isinstance(lines, pd.DataFrame) else lines.num_rows
    names = lines.columns if isinstance(lines, pd.DataFrame) else lines.column_names
    cols: dict[str, pa.Array | pa.ChunkedArray] = {}
    if "line_no" in names:
        ln = lines["line_no"]
        cols["line_no"] = pc.cast(ln, pa.int64()) if not isinstance(lines, pd.DataFrame) else pa.array(ln.to_numpy(dtype=np.int64))
    else:
        cols["line_no"] = pa.array(np.arange(1, n + 1, dtype=np.int64))
    for c in LINE_COLUMNS:
        if c not in names:
            cols[c] = pa.nulls(n, pa.string())
        elif isinstance(lines, pd.DataFrame):
            cols[c] = _text_array(lines[c])
        else:
            a = lines[c]
            if pa.types.is_dictionary(a.type):
                if sum(len(ch.dictionary) for ch in a.chunks) > n // 2:
                    a = pc.cast(a, pa.string())
            else:
                a = pc.cast(a, pa.string())
            cols[c] = a
    return pa.table(cols)


def _lines_blob(table: pa.Table) -> bytes:
    """An import's lines table -> the bytes stored in ``import_blobs.data``."""
    sink = pa.BufferOutputStream()
    with pa_ipc.new_stream(sink, table.schema, options=pa_ipc.IpcWriteOptions(compression=_BLOB_COMPRESSION)) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


def _blob_table(store: Store, import_id: int) -> pa.Table:
    """The lines of one import as stored (``line_no`` order); an empty table when it has none."""
    row = store.conn.execute("SELECT data FROM import_blobs WHERE import_id = ?", (import_id,)).fetchone()
    if row is None:
        return pa.table({"line_no": pa.array([], pa.int64()), **{c: pa.array([], pa.string()) for c in LINE_COLUMNS}})
    return pa_ipc.open_stream(row[0]).read_all()


def _objects(col: pa.ChunkedArray, convert: Callable[[str], Any] | None = None) -> np.ndarray:
    """A text column as a numpy object array of Python values (None when missing), each distinct
    value converted once (``convert``: e.g. ``Decimal``)."""
    enc = col if pa.types.is_dictionary(col.type) else col.dictionary_encode()
    enc = enc.combine_chunks() if isinstance(enc, pa.ChunkedArray) else enc
    values = np.empty(len(enc.dictionary) + 1, dtype=object)
    values[:-1] = enc.dictionary.to_pylist()
    if convert is not None:
        values[:-1] = [None if v is None or v == "" else convert(v) for v in values[:-1]]
    values[-1] = None
    return values[enc.indices.fill_null(len(enc.dictionary)).to_numpy()]


def _iso_date(v: str) -> date | None:
    try:
        return date.fromisoformat(v)
    except ValueError:
        return None


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
    decimal strings, empty = NULL) and optionally ``line_no`` (the row in the file): a DataFrame,
    or the Arrow table of :attr:`billbridge.sources.ParseResult.table`. They are written as one
    compressed Arrow blob (``import_blobs``). The version is the next one for ``(vendor, billing_month)``.
    """
    table = _lines_table(lines)
    if customer_count is None:
        customer_count = int(pc.count_distinct(pc.cast(table["vendor_customer_id"], pa.string())).as_py()) if table.num_rows else 0
    with store.atomic():
        row = store.conn.execute(
            "SELECT COALESCE(MAX(version), 0) + 1 FROM imports WHERE vendor = ? AND billing_month = ?",
            (vendor, billing_month),
        ).fetchone()
        version = int(row[0])
        record = {
            "vendor": vendor, "billing_month": billing_month, "version": version,
            "file_name": file_name, "sha256": sha256, "format": format, "line_count": int(table.num_rows),
            "customer_count": int(customer_count), "total_cost": str(total_cost),
            "total_price": str(total_price), "loaded_at": _utcnow(), "loaded_by": loaded_by,
        }
        cur = store.conn.execute(
            f"INSERT INTO imports ({', '.join(record)}) VALUES ({', '.join('?' * len(record))})",
            tuple(record.values()),
        )
        import_id = int(cur.lastrowid)
        store.conn.execute(
            "INSERT INTO import_blobs (import_id, line_count, codec, data) VALUES (?, ?, ?, ?)",
            (import_id, int(table.num_rows), BLOB_CODEC, _lines_blob(table)),
        )
    return {"id": import_id, **record}


def m005_import_blobs(db: sqlite_utils.Database) -> None:
    """An import's lines as one compressed Arrow blob (``import_blobs``) instead of one SQLite row
    per line: existing ``import_lines`` rows are moved into blobs and the table is dropped (the
    migration runs in one transaction)."""
    db.execute(
        """CREATE TABLE import_blobs (
            import_id INTEGER PRIMARY KEY REFERENCES imports(id),
            line_count INTEGER NOT NULL,
            codec TEXT NOT NULL,
            data BLOB NOT NULL
        )"""
    )
    if "import_lines" not in db.table_names():
        return
    names = ["line_no", *LINE_COLUMNS]
    for (import_id,) in db.execute("SELECT id FROM imports ORDER BY id").fetchall():
        rows = db.execute(
            f"SELECT {', '.join(names)} FROM import_lines WHERE import_id = ? ORDER BY line_no", [import_id]
        ).fetchall()
        columns = list(zip(*rows)) if rows else [()] * len(names)
        table = pa.table({
            "line_no": pa.array(columns[0], type=pa.int64()),
            **{c: pa.array([None if v is None else str(v) for v in vals], type=pa.string())
               for c, vals in zip(LINE_COLUMNS, columns[1:])},
        })
        db.execute(
            "INSERT INTO import_blobs (import_id, line_count, codec, data) VALUES (?, ?, ?, ?)",
            [import_id, table.num_rows, BLOB_CODEC, _lines_blob(table)],
        )
    db.execute("DROP TABLE import_lines")


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
    stored text, which is faster for large imports). Each distinct value is converted once.
    """
    table = _blob_table(store, import_id)
    line_no = table["line_no"].to_numpy()
    order = None if len(line_no) < 2 or bool(np.all(line_no[1:] > line_no[:-1])) else np.argsort(line_no, kind="stable")
    cols: dict[str, np.ndarray] = {"line_no": line_no.astype(object)}
    for c in LINE_COLUMNS:
        convert = None if raw else Decimal if c in MONEY_COLUMNS else _iso_date if c in DATE_COLUMNS else None
        values = _objects(table[c], convert)
        if raw or c not in DATE_COLUMNS:
            # as the row-per-line reads gave: NaN for a missing value in a column that has values
            missing = pd.isna(values)
            if missing.any() and not missing.all():
                values[missing] = np.nan
        cols[c] = values
    if order is not None:
        cols = {k: v[order] for k, v in cols.items()}
    df = pd.DataFrame(cols, dtype=object)
    if not raw:
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


# ---- mappings, snapshots and plans (issue 4) --------------------------------------------------
# Mappings: four kinds, one table each, keyed per vendor (a vendor customer id only means something
# for its vendor). Optional key parts (subscription, term, frequency, rule SKU) are stored as ''
# so the primary key stays unique, and read back as None. Every change (set or delete) appends a
# row to ``mapping_history`` with who and when, in the same transaction; nothing is overwritten
# there. Snapshots keep ConnectWise's JSON per resource; plans keep one JSON document per row.

#: kind -> (table, key columns after ``vendor``, value columns)
MAPPING_KINDS: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "company": ("map_companies", ("vendor_customer_id",), ("vendor_customer_name", "company_id")),
    "agreement": ("map_agreements", ("vendor_customer_id", "subscription_id"), ("agreement_id", "sync_mode", "period_rule")),
    "product": ("map_products", ("sku", "term", "billing_frequency"),
                ("product_name", "catalog_item_id", "own_cost", "own_price", "quantity_basis")),
    "rule": ("map_rules", ("vendor_customer_id", "sku", "rule"), ("value",)),
}
_OPTIONAL_KEYS = {"subscription_id", "term", "billing_frequency", "sku"}
_INT_VALUES = {"company_id", "agreement_id", "catalog_item_id"}
_BOOL_VALUES = {"own_cost", "own_price"}
_DEFAULTS = {"sync_mode": "standing", "period_rule": "advance", "own_cost": 1, "own_price": 1}


def m002_mappings(db: sqlite_utils.Database) -> None:
    """Mappings (+ history), rules, ConnectWise snapshots, plans and creation requests (issue 4)."""
    for kind, (table, keys, values) in MAPPING_KINDS.items():
        cols = ["vendor TEXT NOT NULL"] + [f"{k} TEXT NOT NULL" for k in keys]
        cols += [f"{v} {'INTEGER' if v in _INT_VALUES or v in _BOOL_VALUES else 'TEXT'}" for v in values]
        cols += ["updated_at TEXT NOT NULL", "updated_by TEXT"]
        db.execute(f"CREATE TABLE {table} ({', '.join(cols)}, PRIMARY KEY (vendor, {', '.join(keys)}))")
    db.execute(
        """CREATE TABLE mapping_history (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            vendor TEXT NOT NULL,
            key TEXT NOT NULL,
            change TEXT NOT NULL,
            old TEXT,
            new TEXT,
            changed_at TEXT NOT NULL,
            changed_by TEXT,
            source TEXT
        )"""
    )
    db.execute("CREATE INDEX mapping_history_kind ON mapping_history (kind, vendor, key)")
    db.execute(
        """CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            billing_month TEXT NOT NULL,
            taken_at TEXT NOT NULL,
            site TEXT,
            request_count INTEGER NOT NULL,
            requests TEXT NOT NULL,
            agreement_ids TEXT NOT NULL,
            counts TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE snapshot_data (
            snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
            resource TEXT NOT NULL,
            records TEXT NOT NULL,
            PRIMARY KEY (snapshot_id, resource)
        )"""
    )
    db.execute(
        """CREATE TABLE plans (
            id INTEGER PRIMARY KEY,
            billing_month TEXT NOT NULL,
            snapshot_id INTEGER REFERENCES snapshots(id),
            created_at TEXT NOT NULL,
            created_by TEXT,
            status TEXT NOT NULL,
            row_count INTEGER NOT NULL,
            summary TEXT NOT NULL,
            inputs TEXT NOT NULL
        )"""
    )
    db.execute(
        """CREATE TABLE plan_rows (
            plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
            seq INTEGER NOT NULL,
            key TEXT NOT NULL,
            action TEXT NOT NULL,
            cause TEXT,
            reason TEXT,
            target TEXT NOT NULL,
            row TEXT NOT NULL,
            PRIMARY KEY (plan_id, key)
        )"""
    )
    db.execute("CREATE INDEX plan_rows_seq ON plan_rows (plan_id, seq)")
    db.execute(
        """CREATE TABLE creation_requests (
            key TEXT PRIMARY KEY,
            vendor TEXT NOT NULL,
            target TEXT NOT NULL,
            status TEXT NOT NULL,
            row TEXT NOT NULL,
            requested_at TEXT NOT NULL,
            requested_by TEXT,
            resolved_at TEXT
        )"""
    )


MIGRATIONS.append(m002_mappings)


def operator_name(env: dict[str, str] | None = None) -> str:
    """Who is working: ``$BILLBRIDGE_OPERATOR``, else the OS user."""
    import getpass

    env = os.environ if env is None else env
    name = env.get("BILLBRIDGE_OPERATOR")
    if name:
        return name
    try:
        return getpass.getuser()
    except Exception:  # pragma: no cover - no user database (containers)
        return "unknown"


def _blank(v: Any) -> bool:
    return v is None or (isinstance(v, float) and v != v) or v is pd.NA or (isinstance(v, str) and not v.strip())


def _store_value(col: str, v: Any) -> Any:
    if _blank(v):
        return None
    if col in _INT_VALUES:
        return int(v)
    if col in _BOOL_VALUES:
        return 1 if bool(v) else 0
    if isinstance(v, Decimal):
        return format(v, "f")
    return str(v).strip() if isinstance(v, str) else (str(v) if not isinstance(v, (int, float)) else str(v))


def _mapping_record(kind: str, vendor: str, row: dict[str, Any]) -> dict[str, Any]:
    _, keys, values = MAPPING_KINDS[kind]
    rec: dict[str, Any] = {"vendor": vendor}
    for k in keys:
        v = row.get(k)
        rec[k] = "" if _blank(v) else str(v).strip()
    for v in values:
        if v in row:
            rec[v] = _store_value(v, row.get(v))
    return rec


def set_mappings(store: Store, kind: str, vendor: str, rows: list[dict[str, Any]] | pd.DataFrame, *,
                 by: str | None = None, source: str = "page") -> int:
    """Upsert mappings of one kind for ``vendor`` in one transaction; every real change is appended
    to ``mapping_history``. Returns how many rows changed (unchanged rows are not recorded)."""
    table, keys, values = MAPPING_KINDS[kind]
    if isinstance(rows, pd.DataFrame):
        rows = rows.to_dict("records")
    by = by or operator_name()
    now = _utcnow()
    changed = 0
    with store.atomic():
        for row in rows:
            rec = _mapping_record(kind, vendor, row)
            old_d = _current_mapping(store, kind, rec)
            new_d = {v: rec.get(v, old_d.get(v) if old_d else _DEFAULTS.get(v)) for v in values}
            for v, default in _DEFAULTS.items():
                if v in new_d and new_d[v] is None:
                    new_d[v] = default
            if old_d == new_d:
                continue
            full = {**rec, **new_d, "updated_at": now, "updated_by": by}
            store.db[table].upsert(full, pk=("vendor", *keys))
            store.db["mapping_history"].insert({
                "kind": kind, "vendor": vendor, "key": json.dumps([rec[k] for k in keys]),
                "change": "set", "old": json.dumps(old_d) if old_d else None, "new": json.dumps(new_d),
                "changed_at": now, "changed_by": by, "source": source,
            })
            changed += 1
    return changed


def _current_mapping(store: Store, kind: str, rec: dict[str, Any]) -> dict[str, Any] | None:
    """The stored values of the mapping ``rec`` keys (vendor + key columns), or None."""
    table, keys, values = MAPPING_KINDS[kind]
    cols = ("vendor", *keys)
    where = " AND ".join(f"{k} = ?" for k in cols)
    old = store.conn.execute(f"SELECT {', '.join(values)} FROM {table} WHERE {where}", [rec[k] for k in cols]).fetchone()
    return dict(zip(values, old)) if old else None


def delete_mappings(store: Store, kind: str, vendor: str, keys_rows: list[dict[str, Any]], *,
                    by: str | None = None, source: str = "page") -> int:
    """Delete mappings (by their key columns) in one transaction, each deletion recorded in history."""
    table, keys, values = MAPPING_KINDS[kind]
    by = by or operator_name()
    now = _utcnow()
    n = 0
    with store.atomic():
        for row in keys_rows:
            rec = _mapping_record(kind, vendor, row)
            old_d = _current_mapping(store, kind, rec)
            if old_d is None:
                continue
            store.db[table].delete(tuple(rec[k] for k in ("vendor", *keys)))
            store.db["mapping_history"].insert({
                "kind": kind, "vendor": vendor, "key": json.dumps([rec[k] for k in keys]), "change": "delete",
                "old": json.dumps(old_d), "new": None, "changed_at": now, "changed_by": by,
                "source": source,
            })
            n += 1
    return n


def get_mappings(store: Store, kind: str, vendor: str | None = None) -> pd.DataFrame:
    """Mappings of one kind (columns: vendor, key columns, value columns, updated_at, updated_by).

    Blank optional key parts come back as None, ids as int, ``own_*`` as bool, rule values as
    Decimal: the shape :class:`billbridge.reconcile.Mappings` expects (plus vendor and who/when).
    """
    table, keys, values = MAPPING_KINDS[kind]
    cols = ["vendor", *keys, *values, "updated_at", "updated_by"]
    sql = f"SELECT {', '.join(cols)} FROM {table}"
    params: list[Any] = []
    if vendor is not None:
        sql += " WHERE vendor = ?"
        params.append(vendor)
    sql += f" ORDER BY vendor, {', '.join(keys)}"
    raw = store.conn.execute(sql, params).fetchall()
    data: dict[str, list[Any]] = {c: [r[i] for r in raw] for i, c in enumerate(cols)}
    for k in keys:
        if k in _OPTIONAL_KEYS:
            data[k] = [None if v in ("", None) else v for v in data[k]]
    for v in values:
        if v in _INT_VALUES:
            data[v] = [None if x is None else int(x) for x in data[v]]
        elif v in _BOOL_VALUES:
            data[v] = [True if x is None else bool(x) for x in data[v]]
        elif v == "value":
            data[v] = [None if x in (None, "") else Decimal(x) for x in data[v]]
    # object columns: None stays None (pandas would turn it into NaN when inferring types)
    df = pd.DataFrame({c: pd.Series(data[c], dtype=object) for c in cols}, columns=cols)
    return df


def mapping_frames(store: Store, vendor: str) -> dict[str, pd.DataFrame]:
    """``{"companies", "agreements", "products", "rules"}`` for one vendor, shaped for
    :class:`billbridge.reconcile.Mappings`."""
    names = {"company": "companies", "agreement": "agreements", "product": "products", "rule": "rules"}
    return {names[k]: get_mappings(store, k, vendor).drop(columns=["vendor", "updated_at", "updated_by"])
            for k in MAPPING_KINDS}


def mapping_history(store: Store, kind: str | None = None, vendor: str | None = None, limit: int | None = None) -> pd.DataFrame:
    """Every recorded change, newest first (``old``/``new`` as dicts, ``key`` as a list)."""
    where, params = [], []
    if kind:
        where.append("kind = ?")
        params.append(kind)
    if vendor:
        where.append("vendor = ?")
        params.append(vendor)
    sql = "SELECT * FROM mapping_history" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id DESC"
    if limit:
        sql += f" LIMIT {int(limit)}"
    df = pd.DataFrame(list(store.db.query(sql, params)),
                      columns=["id", "kind", "vendor", "key", "change", "old", "new", "changed_at", "changed_by", "source"])
    for c in ("key", "old", "new"):
        df[c] = pd.Series([json.loads(x) if isinstance(x, str) and x else None for x in df[c]], dtype=object, index=df.index)
    return df


def mappings_changed_at(store: Store) -> str | None:
    """When any mapping last changed (drives "the plan is out of date")."""
    row = store.conn.execute("SELECT MAX(changed_at) FROM mapping_history").fetchone()
    return row[0] if row else None


def mappings_version(store: Store) -> int:
    """A number that grows with every mapping change (the newest history id; 0 when none): what
    "the plan is out of date" compares, since two changes can share one second."""
    row = store.conn.execute("SELECT MAX(id) FROM mapping_history").fetchone()
    return int(row[0] or 0)


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


# plans -------------------------------------------------------------------------------------------
def save_plan(store: Store, billing_month: str, snapshot_id: int | None, summary: dict[str, Any],
              rows: list[dict[str, Any]], *, inputs: dict[str, Any] | None = None, created_by: str | None = None) -> int:
    """Store one reconcile run: its summary and every row (JSON-ready dicts with ``key``, ``action``,
    ``cause``, ``reason``, ``target``) in one transaction; returns the plan id."""
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO plans (billing_month, snapshot_id, created_at, created_by, status, row_count, summary, inputs) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (billing_month, snapshot_id, _utcnow(), created_by or operator_name(), str(summary.get("status", "")),
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
    now = _utcnow()
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
                                    (status, _utcnow(), k)).rowcount
    return n


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


def m003_contracts(db: sqlite_utils.Database) -> None:
    """Agreement import from ConnectWise (issue 6): feed, bookmarks, contracts, their additions."""
    db.execute(
        """CREATE TABLE contract_feed (
            kind TEXT NOT NULL CHECK (kind IN ('agreement', 'addition')),
            cw_id INTEGER NOT NULL,
            agreement_id INTEGER,
            last_updated TEXT,
            record TEXT NOT NULL,
            fetched_at TEXT NOT NULL,
            deleted_at TEXT,
            PRIMARY KEY (kind, cw_id)
        )"""
    )
    db.execute(
        """CREATE TABLE contract_sync (
            stream TEXT PRIMARY KEY,
            bookmark TEXT,
            fetched_at TEXT,
            full_pass_at TEXT
        )"""
    )
    a_cols = ",\n".join(f"{c} {'INTEGER' if c.endswith('_id') else 'TEXT'}" for c in CONTRACT_COLUMNS[1:])
    db.execute(
        f"""CREATE TABLE contracts (
            agreement_id INTEGER PRIMARY KEY,
            {a_cols},
            imported_at TEXT NOT NULL,
            imported_by TEXT,
            deleted_at TEXT,
            notes TEXT
        )"""
    )
    d_cols = ",\n".join(f"{c} {'INTEGER' if c.endswith('_id') else 'TEXT'}" for c in CONTRACT_ADDITION_COLUMNS[1:])
    db.execute(
        f"""CREATE TABLE contract_additions (
            addition_id INTEGER PRIMARY KEY,
            {d_cols},
            imported_at TEXT NOT NULL,
            imported_by TEXT,
            deleted_at TEXT,
            notes TEXT
        )"""
    )
    db.execute("CREATE INDEX contract_additions_agreement ON contract_additions (agreement_id)")
    db.execute(
        """CREATE TABLE contract_import_runs (
            id INTEGER PRIMARY KEY,
            imported_at TEXT NOT NULL,
            imported_by TEXT,
            source TEXT NOT NULL,
            agreements INTEGER NOT NULL,
            additions INTEGER NOT NULL
        )"""
    )


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
    now = fetched_at or _utcnow()

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
    now = _utcnow()

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


MIGRATIONS.append(m003_contracts)
__all__ += ["CONTRACT_COLUMNS", "CONTRACT_ADDITION_COLUMNS", "m003_contracts", "record_contract_feed",
            "contract_sync_state", "contract_feed_records", "pending_contract_changes", "import_contracts",
            "list_contracts", "list_contract_additions", "save_contract_notes"]
# ---- end contracts (issue 6) ------------------------------------------------------------------


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


def m004_push(db: sqlite_utils.Database) -> None:
    """Push runs, per-row results and the write journal (issue 5)."""
    db.execute(
        """CREATE TABLE push_runs (
            id INTEGER PRIMARY KEY,
            token TEXT UNIQUE,
            kind TEXT NOT NULL,
            parent_run_id INTEGER REFERENCES push_runs(id),
            month TEXT,
            plan_id INTEGER,
            operator TEXT,
            site TEXT,
            pid INTEGER,
            dry_run INTEGER NOT NULL DEFAULT 0,
            force INTEGER NOT NULL DEFAULT 0,
            concurrency INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            status TEXT NOT NULL,
            rows_total INTEGER NOT NULL DEFAULT 0,
            ok INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            conflict INTEGER NOT NULL DEFAULT 0,
            skipped INTEGER NOT NULL DEFAULT 0,
            writes INTEGER NOT NULL DEFAULT 0,
            requests TEXT,
            price_impact TEXT,
            note TEXT
        )"""
    )
    db.execute("CREATE INDEX push_runs_month ON push_runs (month, id)")
    db.execute(
        """CREATE TABLE push_rows (
            run_id INTEGER NOT NULL REFERENCES push_runs(id),
            key TEXT NOT NULL,
            seq INTEGER NOT NULL,
            month TEXT,
            action TEXT,
            company_id INTEGER,
            company_name TEXT,
            agreement_id INTEGER,
            addition_id INTEGER,
            result TEXT NOT NULL,
            reason TEXT,
            http_status INTEGER,
            error_code TEXT,
            error_class TEXT,
            cw_message TEXT,
            field_errors TEXT,
            retries INTEGER,
            attempts INTEGER NOT NULL DEFAULT 0,
            writes INTEGER NOT NULL DEFAULT 0,
            price_impact TEXT,
            request TEXT,
            plan_row TEXT,
            finished_at TEXT,
            PRIMARY KEY (run_id, key)
        )"""
    )
    db.execute("CREATE INDEX push_rows_month ON push_rows (month, key)")
    db.execute(
        """CREATE TABLE push_journal (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES push_runs(id),
            key TEXT NOT NULL,
            operator TEXT,
            attempt INTEGER NOT NULL,
            method TEXT NOT NULL,
            path TEXT NOT NULL,
            body TEXT,
            status TEXT NOT NULL,
            http_status INTEGER,
            cw_code TEXT,
            cw_message TEXT,
            field_errors TEXT,
            error_class TEXT,
            retries INTEGER,
            outcome_unknown INTEGER,
            before TEXT,
            after TEXT,
            addition_id INTEGER,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            written_at TEXT,
            duration_ms REAL,
            note TEXT
        )"""
    )
    db.execute("CREATE INDEX push_journal_run ON push_journal (run_id, key)")


MIGRATIONS.append(m004_push)

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
             int(force), concurrency, _utcnow(), len(rows or [])))
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
                   path: str, body: Any, before: Any = None, addition_id: int | None = None, note: str | None = None) -> int:
    """Record a write BEFORE it is sent (status ``intent``); returns the journal entry id."""
    with store.atomic():
        cur = store.conn.execute(
            "INSERT INTO push_journal (run_id, key, operator, attempt, method, path, body, status, before, addition_id, "
            "started_at, note) VALUES (?, ?, ?, ?, ?, ?, ?, 'intent', ?, ?, ?, ?)",
            (run_id, key, operator, attempt, method, path, _push_json(body), _push_json(before), addition_id, _utcnow(),
             note))
    return int(cur.lastrowid)


def journal_result(store: Store, entry_id: int, *, status: str, http_status: int | None = None,
                   cw_code: str | None = None, cw_message: str | None = None, field_errors: Any = None,
                   error_class: str | None = None, retries: int | None = None, outcome_unknown: bool = False,
                   after: Any = None, addition_id: int | None = None, duration_ms: float | None = None,
                   note: str | None = None) -> None:
    """Complete a journal entry AFTER the request: ``ok`` / ``failed`` / ``unknown`` plus the answer."""
    now = _utcnow()
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
             attempts, writes, addition_id, _utcnow(), run_id, key))


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
            (status, _utcnow(), counts.get("ok", 0), counts.get("failed", 0), counts.get("conflict", 0),
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
    now = _utcnow()
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
    """The newest real (not dry-run) result per row key of ``month``, across push and retry runs."""
    df = push_row_results(store, month=month)
    if df.empty:
        return df
    df = df[(df["dry_run"] == 0) & (df["result"] != "pending") & (df["run_kind"] != "undo")]
    return df.drop_duplicates("key", keep="first").reset_index(drop=True)


def company_push_status(store: Store, month: str) -> pd.DataFrame:
    """Per company of ``month``: rows, ok, not ok, status (``green`` when every row's latest result is
    ok, else ``red``) and the last push time."""
    df = latest_row_results(store, month)
    cols = ["company_id", "company_name", "rows", "ok", "not_ok", "status", "last_push"]
    if df.empty:
        return pd.DataFrame(columns=cols)
    df = df.assign(company_name=df["company_name"].fillna("(no company)"), is_ok=df["result"] == "ok")
    g = df.groupby("company_name", dropna=False).agg(
        company_id=("company_id", "first"), rows=("key", "count"), ok=("is_ok", "sum"),
        last_push=("finished_at", "max")).reset_index()
    g["not_ok"] = g["rows"] - g["ok"]
    g["status"] = g["not_ok"].map(lambda n: "green" if n == 0 else "red")
    return g[cols].sort_values(["status", "company_name"], ascending=[False, True]).reset_index(drop=True)

# ---- end push runs and journal (issue 5) -------------------------------------------------------


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


def import_lines_subset(store: Store, import_id: int, line_nos: list[int]) -> pd.DataFrame:
    """Only the given lines of an import (as :func:`import_lines`, text values): the vendor lines
    behind one plan row without converting the whole month."""
    cols = ["line_no", *LINE_COLUMNS]
    table = _blob_table(store, import_id)
    wanted = pa.array(sorted({int(x) for x in line_nos}), type=pa.int64())
    part = table.filter(pc.is_in(table["line_no"], value_set=wanted))
    part = part.take(pc.sort_indices(part["line_no"])) if part.num_rows > 1 else part
    values = [pc.cast(part[c], pa.string()).to_pylist() if c != "line_no" else part[c].to_pylist() for c in cols]
    return pd.DataFrame(list(zip(*values)), columns=cols)


# Appended last on purpose: a migration's version is its position in the list.
MIGRATIONS.append(m005_import_blobs)
