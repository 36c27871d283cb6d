"""The one ordered list of schema migrations.

Version N of a database means the first N functions of :data:`MIGRATIONS` have run, each in its own
transaction (:meth:`billbridge.store.Store.migrate`). A migration that has shipped is never edited or
reordered: add a new function at the end of the list. The column lists a migration needs are frozen
here as they were when it shipped, so a later change to a concern module cannot rewrite history.
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import sqlite_utils

# ---- the schema as each migration first wrote it (frozen) -------------------------------------
#: vendor-line columns of m001's ``import_lines`` table (after ``import_id``, ``line_no``)
_M001_LINE_COLUMNS = (
    "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "billing_frequency", "term", "quantity", "unit_cost",
    "unit_price", "period_start", "period_end", "effective_date", "currency",
    "extended_cost", "extended_price",
)
#: m002's mapping tables: kind -> (table, key columns after ``vendor``, value columns)
_M002_MAPPING_KINDS = {
    "company": ("map_companies", ("vendor_customer_id",), ("vendor_customer_name", "company_id")),
    "agreement": ("map_agreements", ("vendor_customer_id", "subscription_id"), ("agreement_id", "sync_mode", "period_rule")),
    "product": ("map_products", ("sku", "term", "billing_frequency"),
                ("product_name", "catalog_item_id", "own_cost", "own_price", "quantity_basis")),
    "rule": ("map_rules", ("vendor_customer_id", "sku", "rule"), ("value",)),
}
_M002_INTEGER_VALUES = {"company_id", "agreement_id", "catalog_item_id", "own_cost", "own_price"}
#: m003's contract tables
_M003_CONTRACT_COLUMNS = (
    "agreement_id", "name", "company_id", "company_name", "type_name", "status", "billing_cycle",
    "bill_amount", "start_date", "end_date", "cancelled_date", "parent_id", "cw_last_updated", "cw_updated_by",
)
_M003_CONTRACT_ADDITION_COLUMNS = (
    "addition_id", "agreement_id", "product_id", "product_identifier", "description", "quantity",
    "unit_price", "unit_cost", "effective_date", "cancelled_date", "bill_customer", "line_key",
    "cw_last_updated", "cw_updated_by",
)


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
        for c in _M001_LINE_COLUMNS
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


def m002_mappings(db: sqlite_utils.Database) -> None:
    """Mappings (+ history), rules, ConnectWise snapshots, plans and creation requests (issue 4)."""
    for kind, (table, keys, values) in _M002_MAPPING_KINDS.items():
        cols = ["vendor TEXT NOT NULL"] + [f"{k} TEXT NOT NULL" for k in keys]
        cols += [f"{v} {'INTEGER' if v in _M002_INTEGER_VALUES else 'TEXT'}" for v in values]
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
    a_cols = ",\n".join(f"{c} {'INTEGER' if c.endswith('_id') else 'TEXT'}" for c in _M003_CONTRACT_COLUMNS[1:])
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
    d_cols = ",\n".join(f"{c} {'INTEGER' if c.endswith('_id') else 'TEXT'}" for c in _M003_CONTRACT_ADDITION_COLUMNS[1:])
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
    from billbridge.store.imports import BLOB_CODEC, _lines_blob

    names = ["line_no", *_M001_LINE_COLUMNS]
    for (import_id,) in db.execute("SELECT id FROM imports ORDER BY id").fetchall():
        rows = db.execute(
            f"SELECT {', '.join(names)} FROM import_lines WHERE import_id = ? ORDER BY line_no", [import_id]
        ).fetchall()
        columns = list(zip(*rows)) if rows else [()] * len(names)
        table = pa.table({
            "line_no": pa.array(columns[0], type=pa.int64()),
            **{c: pa.array([None if v is None else str(v) for v in vals], type=pa.string())
               for c, vals in zip(_M001_LINE_COLUMNS, columns[1:])},
        })
        db.execute(
            "INSERT INTO import_blobs (import_id, line_count, codec, data) VALUES (?, ?, ?, ?)",
            [import_id, table.num_rows, BLOB_CODEC, _lines_blob(table)],
        )
    db.execute("DROP TABLE import_lines")


#: Ordered migrations; version N = the first N functions have run. Append only.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m001_imports,
    m002_mappings,
    m003_contracts,
    m004_push,
    m005_import_blobs,
]
