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



#: the blob format m005 wrote (frozen: imports.py no longer writes blobs; m006 reads them back)
_M005_BLOB_CODEC = "arrow-ipc/zstd"


def _m005_lines_blob(table: pa.Table) -> bytes:
    """An import's lines table -> the bytes m005 stored in ``import_blobs.data`` (as imports.py wrote
    them while blobs were the storage)."""
    import pyarrow.ipc as pa_ipc

    sink = pa.BufferOutputStream()
    with pa_ipc.new_stream(sink, table.schema, options=pa_ipc.IpcWriteOptions(compression="zstd")) as w:
        w.write_table(table)
    return sink.getvalue().to_pybytes()


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
    BLOB_CODEC, _lines_blob = _M005_BLOB_CODEC, _m005_lines_blob  # frozen above (imports.py writes rows again)

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


# ---- issue 9: the database answers questions (typed rows instead of blobs and JSON documents) ----
#: vendor-line columns of m006's ``vendor_lines`` (after ``import_id``, ``line_no``): all TEXT
#: (dates ISO, money and quantities decimal strings); these five are required by every source
_M006_LINE_COLUMNS = _M001_LINE_COLUMNS
_M006_REQUIRED = ("vendor_customer_id", "vendor_customer_name", "sku", "quantity", "unit_cost")


def m006_vendor_lines(db: sqlite_utils.Database) -> None:
    """Vendor lines one typed row per line again (``vendor_lines``), indexed by import, by
    (import, vendor customer) and by (import, SKU): every ``import_blobs`` blob is moved into rows
    (same text, same line numbers) and the blob table is dropped."""
    cols = ",\n".join(f"{c} TEXT" + (" NOT NULL" if c in _M006_REQUIRED else "") for c in _M006_LINE_COLUMNS)
    db.execute(
        f"""CREATE TABLE vendor_lines (
            import_id INTEGER NOT NULL REFERENCES imports(id),
            line_no INTEGER NOT NULL,
            {cols},
            PRIMARY KEY (import_id, line_no)
        ) WITHOUT ROWID"""
    )
    db.execute("CREATE INDEX vendor_lines_customer ON vendor_lines (import_id, vendor_customer_id)")
    db.execute("CREATE INDEX vendor_lines_sku ON vendor_lines (import_id, sku)")
    if "import_blobs" not in db.table_names():
        return
    import pyarrow.ipc as pa_ipc

    from billbridge.store.imports import _insert_lines, _line_columns

    for import_id, data in db.execute("SELECT import_id, data FROM import_blobs ORDER BY import_id").fetchall():
        table = pa_ipc.open_stream(data).read_all()
        table = table.select(["line_no", *_M006_LINE_COLUMNS])
        line_no, values = _line_columns(table)
        _insert_lines(db.conn, import_id, line_no, values)
    db.execute("DROP TABLE import_blobs")


#: m007's ConnectWise tables: resource -> (table, typed columns as (name, SQL type)); each row also
#: has ``id`` (its place in the list ConnectWise returned), ``snapshot_id`` and ``record`` (the raw JSON)
_M007_SNAPSHOT_TABLES: dict[str, tuple[str, tuple[tuple[str, str], ...]]] = {
    "companies": ("cw_companies", (
        ("company_id", "INTEGER"), ("identifier", "TEXT"), ("name", "TEXT"), ("account_number", "TEXT"),
        ("deleted", "INTEGER"), ("status", "TEXT"), ("types", "TEXT"))),
    "agreements": ("cw_agreements", (
        ("agreement_id", "INTEGER"), ("name", "TEXT"), ("company_id", "INTEGER"), ("company_name", "TEXT"),
        ("type_name", "TEXT"), ("status", "TEXT"), ("cancelled", "INTEGER"), ("end_date", "TEXT"),
        ("no_end", "INTEGER"), ("prorate", "INTEGER"), ("parent_id", "INTEGER"), ("parent_name", "TEXT"),
        ("currency", "TEXT"))),
    "additions": ("cw_additions", (
        ("addition_id", "INTEGER"), ("agreement_id", "INTEGER"), ("product_id", "INTEGER"),
        ("product_identifier", "TEXT"), ("quantity", "TEXT"), ("unit_price", "TEXT"), ("unit_cost", "TEXT"),
        ("effective_date", "TEXT"), ("cancelled_date", "TEXT"), ("line_key", "TEXT"), ("updated_by", "TEXT"),
        ("last_updated", "TEXT"), ("entered_by", "TEXT"), ("date_entered", "TEXT"))),
    "catalog": ("cw_catalog_items", (
        ("catalog_item_id", "INTEGER"), ("identifier", "TEXT"), ("description", "TEXT"), ("inactive", "INTEGER"),
        ("price", "TEXT"), ("cost", "TEXT"), ("vendor_sku", "TEXT"))),
    "agreement_types": ("cw_agreement_types", (("type_id", "INTEGER"), ("name", "TEXT"))),
    "product_types": ("cw_product_types", (("type_id", "INTEGER"), ("name", "TEXT"))),
    "invoices": ("cw_invoices", (
        ("invoice_id", "INTEGER"), ("agreement_id", "INTEGER"), ("date", "TEXT"), ("type", "TEXT"))),
}
#: the column each table is looked up by within a snapshot (besides the snapshot itself)
_M007_LOOKUP = {"cw_companies": "company_id", "cw_agreements": "agreement_id", "cw_additions": "agreement_id",
                "cw_catalog_items": "catalog_item_id", "cw_invoices": "agreement_id"}


def m007_snapshot_tables(db: sqlite_utils.Database) -> None:
    """The ConnectWise snapshot in typed tables, one row per record (``cw_companies``,
    ``cw_agreements``, ``cw_additions``, ``cw_catalog_items``, ``cw_agreement_types``,
    ``cw_product_types``, ``cw_invoices``), each with the raw record as JSON, and the view
    ``month_additions`` (the additions of each month's newest snapshot); every stored
    ``snapshot_data`` list is moved into them in its order, and that table is dropped.

    The typed values come from the one conversion the reconciliation reads
    (:func:`billbridge.store.snapshots._snapshot_rows`); only the columns listed here are written,
    so a later change of that conversion must first freeze the old one here."""
    for table, columns in _M007_SNAPSHOT_TABLES.values():
        cols = ",\n".join(f"{c} {t}" for c, t in columns)
        db.execute(
            f"""CREATE TABLE {table} (
                id INTEGER PRIMARY KEY,
                snapshot_id INTEGER NOT NULL REFERENCES snapshots(id) ON DELETE CASCADE,
                {cols},
                record TEXT NOT NULL
            )"""
        )
        db.execute(f"CREATE INDEX {table}_snapshot ON {table} (snapshot_id)")
        if table in _M007_LOOKUP:
            db.execute(f"CREATE INDEX {table}_{_M007_LOOKUP[table]} ON {table} (snapshot_id, {_M007_LOOKUP[table]})")
    db.execute("""CREATE VIEW month_additions AS
        SELECT s.billing_month, a.* FROM cw_additions a JOIN snapshots s ON s.id = a.snapshot_id
        WHERE s.id = (SELECT MAX(t.id) FROM snapshots t WHERE t.billing_month = s.billing_month)""")
    if "snapshot_data" not in db.table_names():
        return
    import json

    from billbridge.store.snapshots import _snapshot_rows

    for (sid,) in db.execute("SELECT id FROM snapshots ORDER BY id").fetchall():
        records = {r: json.loads(t) for r, t in db.execute(
            "SELECT resource, records FROM snapshot_data WHERE snapshot_id = ?", [sid]).fetchall()}
        for resource, rows in _snapshot_rows(records).items():
            table, columns = _M007_SNAPSHOT_TABLES[resource]
            names = [c for c, _ in columns]
            db.conn.executemany(
                f"INSERT INTO {table} (snapshot_id, {', '.join(names)}, record) VALUES (?, {', '.join('?' * (len(names) + 1))})",
                ((sid, *[r[c] for c in names], r["record"]) for r in rows))
    db.execute("DROP TABLE snapshot_data")


#: m008's plan tables. A plan row's who (vendor customer, company, agreement) and what (SKU,
#: catalog item) are stored once per plan in ``plan_accounts`` / ``plan_products``; ``plan_rows``
#: holds the rest; the view ``plan_lines`` joins them back into the full row (model.ROW_COLUMNS).
_M008_ACCOUNT_COLUMNS = (("vendor", "TEXT"), ("vendor_customer_id", "TEXT"), ("vendor_customer_name", "TEXT"),
                         ("company_id", "INTEGER"), ("company_name", "TEXT"), ("agreement_id", "INTEGER"),
                         ("agreement_name", "TEXT"), ("sync_mode", "TEXT"), ("currency", "TEXT"))
_M008_PRODUCT_COLUMNS = (("sku", "TEXT"), ("product_name", "TEXT"), ("charge_type", "TEXT"), ("term", "TEXT"),
                         ("billing_frequency", "TEXT"), ("quantity_basis", "TEXT"), ("catalog_item_id", "INTEGER"),
                         ("product_identifier", "TEXT"), ("product_description", "TEXT"))
_M008_ROW_COLUMNS = (
    ("key", "TEXT NOT NULL"), ("action", "TEXT NOT NULL"), ("cause", "TEXT"), ("bucket", "TEXT"),
    ("target", "TEXT NOT NULL"), ("reason", "TEXT"), ("flags", "TEXT"), ("subscription_id", "TEXT"),
    ("vendor_lines", "TEXT"), ("vendor_line_count", "INTEGER"), ("vendor_amount", "TEXT"),
    ("vendor_quantity_raw", "TEXT"), ("vendor_quantity", "TEXT"), ("vendor_unit_cost", "TEXT"),
    ("vendor_unit_price", "TEXT"), ("cw_addition_id", "INTEGER"), ("cw_quantity", "TEXT"), ("cw_unit_price", "TEXT"),
    ("cw_unit_cost", "TEXT"), ("cw_effective_date", "TEXT"), ("cw_cancelled_date", "TEXT"), ("new_quantity", "TEXT"),
    ("new_unit_price", "TEXT"), ("new_unit_cost", "TEXT"), ("effective_date", "TEXT"), ("cancelled_date", "TEXT"),
    ("price_impact", "TEXT"), ("margin_impact", "TEXT"), ("cw_proration", "TEXT"), ("vendor_proration", "TEXT"),
    ("credit_for", "TEXT"), ("writes", "TEXT"), ("request", "TEXT"), ("lookup", "TEXT"), ("depends_on", "TEXT"),
    ("maps", "TEXT"), ("extra", "TEXT"),
)
#: the view's columns, in the plan's display order (model.ROW_COLUMNS as of m008, then the lifecycle's)
_M008_VIEW_COLUMNS = (
    "key", "action", "cause", "reason", "bucket", "flags",
    "vendor", "vendor_customer_id", "vendor_customer_name", "subscription_id", "sku", "product_name",
    "charge_type", "term", "billing_frequency", "sync_mode", "quantity_basis",
    "company_id", "company_name", "agreement_id", "agreement_name",
    "catalog_item_id", "product_identifier", "product_description",
    "vendor_lines", "vendor_line_count", "vendor_amount", "vendor_quantity_raw",
    "vendor_quantity", "vendor_unit_cost", "vendor_unit_price",
    "cw_addition_id", "cw_quantity", "cw_unit_price", "cw_unit_cost", "cw_effective_date", "cw_cancelled_date",
    "new_quantity", "new_unit_price", "new_unit_cost", "effective_date", "cancelled_date",
    "writes", "request", "price_impact", "margin_impact",
    "cw_proration", "vendor_proration", "credit_for", "currency",
    "target", "lookup", "depends_on", "maps", "extra",
)


def m008_plan_tables(db: sqlite_utils.Database) -> None:
    """Plan rows as typed columns instead of one JSON document each: ``plan_rows`` (one row per
    plan row, in plan order by ``id``), ``plan_accounts`` and ``plan_products`` (a plan's distinct
    customers/agreements and products, stored once) and the view ``plan_lines`` (the full row).
    JSON stays only in ``writes``, ``request``, ``lookup``, ``depends_on``, ``maps`` (documents by
    nature) and ``extra`` (fields a row carries beyond these columns). Every stored plan is
    converted (with the live writer :func:`billbridge.store.plans._insert_rows`, keeping only
    these columns) and the JSON table is dropped."""
    db.execute("ALTER TABLE plan_rows RENAME TO plan_rows_json")
    db.execute("DROP INDEX IF EXISTS plan_rows_seq")
    acols = ", ".join(f"{c} {t}" for c, t in _M008_ACCOUNT_COLUMNS)
    pcols = ", ".join(f"{c} {t}" for c, t in _M008_PRODUCT_COLUMNS)
    db.execute(f"""CREATE TABLE plan_accounts (
        plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        account_no INTEGER NOT NULL, {acols},
        PRIMARY KEY (plan_id, account_no)) WITHOUT ROWID""")
    db.execute(f"""CREATE TABLE plan_products (
        plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        product_no INTEGER NOT NULL, {pcols},
        PRIMARY KEY (plan_id, product_no)) WITHOUT ROWID""")
    rcols = ",\n".join(f"{c} {t}" for c, t in _M008_ROW_COLUMNS)
    db.execute(f"""CREATE TABLE plan_rows (
        id INTEGER PRIMARY KEY,
        plan_id INTEGER NOT NULL REFERENCES plans(id) ON DELETE CASCADE,
        account_no INTEGER NOT NULL,
        product_no INTEGER NOT NULL,
        {rcols}
    )""")
    db.execute("CREATE INDEX plan_rows_plan ON plan_rows (plan_id)")
    accounts = {c for c, _ in _M008_ACCOUNT_COLUMNS}
    products = {c for c, _ in _M008_PRODUCT_COLUMNS}
    select = ", ".join(("a." if c in accounts else "p." if c in products else "r.") + c for c in _M008_VIEW_COLUMNS)
    db.execute(f"""CREATE VIEW plan_lines AS SELECT r.id, r.plan_id, {select}
        FROM plan_rows r
        JOIN plan_accounts a ON a.plan_id = r.plan_id AND a.account_no = r.account_no
        JOIN plan_products p ON p.plan_id = r.plan_id AND p.product_no = r.product_no""")
    db.execute("""CREATE VIEW month_plan_lines AS
        SELECT p.billing_month, l.* FROM plan_lines l JOIN plans p ON p.id = l.plan_id
        WHERE p.id = (SELECT MAX(q.id) FROM plans q WHERE q.billing_month = p.billing_month)""")
    import json

    from billbridge.store.plans import _insert_rows

    for (pid,) in db.execute("SELECT id FROM plans ORDER BY id").fetchall():
        rows = [json.loads(r) for (r,) in db.execute("SELECT row FROM plan_rows_json WHERE plan_id = ? ORDER BY seq", [pid])]
        _insert_rows(db.conn, pid, rows)
    db.execute("DROP TABLE plan_rows_json")


def m009_import_withdrawal(db: sqlite_utils.Database) -> None:
    """Imports can be withdrawn and restored (issue 10): the current state on ``imports``
    (``withdrawn_at``/``_by``/``_reason``, NULL while the import is in effect) and every act in
    ``import_events`` (who, when, why); nothing is deleted. The view ``month_lines`` is the vendor
    lines each month uses: those of every vendor's newest import not withdrawn."""
    for c in ("withdrawn_at", "withdrawn_by", "withdrawn_reason"):
        db.execute(f"ALTER TABLE imports ADD COLUMN {c} TEXT")
    db.execute(
        """CREATE TABLE import_events (
            id INTEGER PRIMARY KEY,
            import_id INTEGER NOT NULL REFERENCES imports(id),
            event TEXT NOT NULL CHECK (event IN ('withdrawn', 'restored')),
            reason TEXT NOT NULL,
            at TEXT NOT NULL,
            by TEXT
        )"""
    )
    db.execute("CREATE INDEX import_events_import ON import_events (import_id, id)")
    db.execute("CREATE INDEX imports_month ON imports (billing_month, vendor, version)")
    db.execute("""CREATE VIEW month_lines AS
        SELECT i.billing_month, i.vendor, i.version, l.* FROM vendor_lines l JOIN imports i ON i.id = l.import_id
        WHERE i.withdrawn_at IS NULL AND i.version = (SELECT MAX(j.version) FROM imports j WHERE j.vendor = i.vendor
              AND j.billing_month = i.billing_month AND j.withdrawn_at IS NULL)""")


#: m010's extra vendor-line columns (``sources.registry.EXTRA_COLUMNS`` as of issue 11), all TEXT, NULL when missing
_M010_EXTRA_LINE_COLUMNS = (
    "vendor_line_id", "vendor_invoice_id", "vendor_charge_type", "vendor_customer_external_id",
    "vendor_customer_domain", "tax", "exchange_rate", "pricing_currency", "list_unit_cost", "deductions",
    "deduction_total", "vendor_prorated", "credit_for_line",
)


def m010_vendor_line_extras(db: sqlite_utils.Database) -> None:
    """The vendor's own fields a source knows beyond the canonical ones (issue 11: its line and invoice
    ids, its charge type, the customer's external id and domain, tax, exchange rate, pricing currency,
    list price, deductions, whether it prorated the line, the charge a credit refunds) are kept on
    ``vendor_lines``: TEXT columns, NULL for the lines loaded before and for sources that lack them.
    The views over ``vendor_lines`` (``month_lines``) show them too."""
    for c in _M010_EXTRA_LINE_COLUMNS:
        db.execute(f"ALTER TABLE vendor_lines ADD COLUMN {c} TEXT")


def m011_derived_in_sync_reason(db: sqlite_utils.Database) -> None:
    """A plan row in sync whose reason is the in-sync template (``Acme: Seat on Agreement is 5 in
    ConnectWise, as the vendor bills.``, ~45,000 of a 50,000-row plan) no longer stores it: the view
    ``plan_lines`` (and ``month_plan_lines``) renders it from the row's names and quantity
    (:func:`billbridge.store.plans.plan_views`; the writer stores the reason only where it reads
    otherwise). Stored rows keep their text: they read the same."""
    from billbridge.store.plans import ensure_plan_views

    ensure_plan_views(db)


#: m012's new ``plan_rows`` columns (model.ROW_COLUMNS of issue 12), all TEXT, NULL when a row has none
_M012_PLAN_ROW_COLUMNS = ("impact_by_cause", "override_reason", "margin_pct_before", "margin_pct_after", "price_rule",
                          "term_start", "term_end", "term_source", "window_end", "commitment_at_risk")
#: m012's new ``map_products`` columns (the price rule and the margin threshold of a product mapping)
_M012_PRODUCT_COLUMNS = ("price_rule", "price_value", "margin_threshold")


def m012_billing_guardrails(db: sqlite_utils.Database) -> None:
    """Billing guardrails (issue 12). ``plan_rows`` gains the columns of a row's impact by cause (JSON text,
    like ``writes``), the override reason it was written under, its margin before and after, the price rule
    that set its price and its commitment term (start, end, where the dates came from, the cancellation
    window, the dollars at risk); the views ``plan_lines`` / ``month_plan_lines`` follow the code
    (:func:`refresh_derived_views`). ``map_products`` gains a price rule (``price_rule``, ``price_value``) and
    a margin threshold per product mapping; ``settings`` holds the global defaults (the margin threshold),
    each change recorded in ``mapping_history`` (kind ``setting``). ``plan_overrides`` keeps the operator's
    overrides per month and plan key, with the reason, who and when (a removed one keeps its row:
    ``removed_at``/``removed_by``); ``push_journal.override_reason`` keeps the reason on every write made
    under an override."""
    for c in _M012_PLAN_ROW_COLUMNS:
        db.execute(f"ALTER TABLE plan_rows ADD COLUMN {c} TEXT")
    for c in _M012_PRODUCT_COLUMNS:
        db.execute(f"ALTER TABLE map_products ADD COLUMN {c} TEXT")
    db.execute("""CREATE TABLE settings (
        name TEXT PRIMARY KEY,
        value TEXT,
        updated_at TEXT NOT NULL,
        updated_by TEXT
    )""")
    db.execute("""CREATE TABLE plan_overrides (
        id INTEGER PRIMARY KEY,
        billing_month TEXT NOT NULL,
        key TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL,
        created_by TEXT,
        removed_at TEXT,
        removed_by TEXT
    )""")
    db.execute("CREATE INDEX plan_overrides_month ON plan_overrides (billing_month, key)")
    db.execute("ALTER TABLE push_journal ADD COLUMN override_reason TEXT")


def m013_terms_commitment_end(db: sqlite_utils.Database) -> None:
    """A vendor line keeps the last day of its subscription's commitment term when the vendor gives it (issue 12,
    commitment terms: Pax8 ``commitmentTerm.endDate``): ``vendor_lines.commitment_end``, TEXT ISO date, NULL for
    the lines loaded before and for sources without it."""
    db.execute("ALTER TABLE vendor_lines ADD COLUMN commitment_end TEXT")


def m014_plan_price_rule_per_product(db: sqlite_utils.Database) -> None:
    """A plan's price rule is its product mapping's: ``plan_products`` holds it (once per product of a plan,
    not once per row), copied from the rows of the plans stored since m012; a row's bucket is derived from its
    cause by the view (``plan_lines``), so only a row whose bucket is not its cause's (a record creation)
    stores one. Nothing is lost: every row reads back as before."""
    db.execute("ALTER TABLE plan_products ADD COLUMN price_rule TEXT")
    db.execute("""UPDATE plan_products SET price_rule = (
        SELECT r.price_rule FROM plan_rows r WHERE r.plan_id = plan_products.plan_id
        AND r.product_no = plan_products.product_no AND r.price_rule IS NOT NULL LIMIT 1)""")
    db.execute("UPDATE plan_rows SET price_rule = NULL WHERE price_rule IS NOT NULL")


def refresh_derived_views(db: sqlite_utils.Database, applied: list[Callable[[sqlite_utils.Database], None]]) -> None:
    """After the migrations: the views rendered from the code follow it (``plan_lines`` renders the
    in-sync template of :mod:`billbridge.plan.reasons`; when its words change, every stored plan reads
    them), once the migration creating them has run."""
    if m011_derived_in_sync_reason in applied:
        from billbridge.store.plans import ensure_plan_views

        ensure_plan_views(db)


#: Ordered migrations; version N = the first N functions have run. Append only.
MIGRATIONS: list[Callable[[sqlite_utils.Database], None]] = [
    m001_imports,
    m002_mappings,
    m003_contracts,
    m004_push,
    m005_import_blobs,
    m006_vendor_lines,
    m007_snapshot_tables,
    m008_plan_tables,
    m009_import_withdrawal,
    m010_vendor_line_extras,
    m011_derived_in_sync_reason,
    m012_billing_guardrails,
    m013_terms_commitment_end,
    m014_plan_price_rule_per_product,
]
