"""SQLite store (sqlite-utils): one module per concern, one ordered list of migrations.

=================  ==========================================================================
``db``             :class:`Store` (open, migrate, ``atomic()`` transactions), timestamps
``migrations``     :data:`MIGRATIONS`, the one ordered list of schema changes (append only)
``imports``        loaded vendor months (versions, their lines as rows, diffs, withdrawals) and saved file formats
``mappings``       vendor -> ConnectWise mappings and their history
``snapshots``      what billbridge read from ConnectWise, per billing month (typed ``cw_*`` tables)
``plans``          stored plans and their typed rows (retention); the "create missing record" queue
``contracts``      the one-way agreement import from ConnectWise
``journal``        push runs, per-row results and the write journal
=================  ==========================================================================

One calling style throughout: every read and write is a function taking the store first,
``st.list_imports(store, billing_month="2026-11")``; this package re-exports them all so callers
write ``from billbridge import store as st``.
"""

from billbridge.store.contracts import (
                                        CONTRACT_ADDITION_COLUMNS,
                                        CONTRACT_COLUMNS,
                                        contract_feed_records,
                                        contract_sync_state,
                                        import_contracts,
                                        list_contract_additions,
                                        list_contracts,
                                        pending_contract_changes,
                                        record_contract_feed,
                                        save_contract_notes,
)
from billbridge.store.db import Store, default_db_path, utcnow
from billbridge.store.imports import (
                                        DATE_COLUMNS,
                                        EXTRA_LINE_COLUMNS,
                                        LINE_COLUMNS,
                                        LINE_KEY,
                                        MONEY_COLUMNS,
                                        delete_format,
                                        diff_imports,
                                        get_format,
                                        get_import,
                                        import_currencies,
                                        import_events,
                                        import_line_table,
                                        import_lines,
                                        import_lines_subset,
                                        latest_import,
                                        list_formats,
                                        list_imports,
                                        month_imports,
                                        record_import,
                                        restore_import,
                                        save_format,
                                        withdraw_import,
)
from billbridge.store.journal import (
                                        PUSH_RESULTS,
                                        company_push_status,
                                        create_push_run,
                                        finish_push_run,
                                        get_push_run,
                                        journal_entries,
                                        journal_intent,
                                        journal_result,
                                        last_write_at,
                                        latest_row_results,
                                        list_push_runs,
                                        mark_interrupted_runs,
                                        newest_pushed_month,
                                        push_row_results,
                                        pushes_after,
                                        push_run_by_token,
                                        record_push_row,
                                        written_lines,
)
from billbridge.store.mappings import (
                                        MAPPING_KINDS,
                                        SETTINGS,
                                        delete_mappings,
                                        get_mappings,
                                        get_setting,
                                        mapping_frames,
                                        mapping_history,
                                        mappings_changed_at,
                                        mappings_version,
                                        set_mappings,
                                        set_setting,
)
from billbridge.store.migrations import MIGRATIONS
from billbridge.store.plans import (
                                        KEEP_UNPUSHED,
                                        add_creation_requests,
                                        creation_requests,
                                        get_plan,
                                        latest_plan_meta,
                                        month_overrides,
                                        overrides_version,
                                        plan_facets,
                                        plan_keys,
                                        plan_page,
                                        plan_rows,
                                        plan_table,
                                        prune_plans,
                                        remove_override,
                                        save_plan,
                                        set_creation_status,
                                        set_override,
)
from billbridge.store.snapshots import (
                                        SNAPSHOT_TABLES,
                                        latest_snapshot,
                                        load_snapshot,
                                        load_snapshot_frames,
                                        load_snapshot_tables,
                                        save_snapshot,
)

__all__ = [
    "Store", "default_db_path", "utcnow", "MIGRATIONS",
    "LINE_COLUMNS", "EXTRA_LINE_COLUMNS", "MONEY_COLUMNS", "DATE_COLUMNS", "LINE_KEY", "record_import", "list_imports",
    "get_import", "latest_import", "month_imports", "import_lines", "import_line_table", "import_lines_subset",
    "diff_imports", "withdraw_import", "restore_import", "import_currencies", "import_events", "save_format",
    "list_formats", "get_format", "delete_format",
    "MAPPING_KINDS", "set_mappings", "delete_mappings", "get_mappings", "mapping_frames", "mapping_history",
    "mappings_changed_at", "mappings_version", "SETTINGS", "get_setting", "set_setting",
    "SNAPSHOT_TABLES", "save_snapshot", "latest_snapshot", "load_snapshot", "load_snapshot_frames",
    "load_snapshot_tables",
    "KEEP_UNPUSHED", "save_plan", "prune_plans", "get_plan", "latest_plan_meta", "plan_rows", "plan_table", "plan_page",
    "plan_keys", "plan_facets",
    "add_creation_requests", "creation_requests", "set_creation_status", "set_override", "remove_override",
    "month_overrides", "overrides_version",
    "CONTRACT_COLUMNS", "CONTRACT_ADDITION_COLUMNS", "record_contract_feed", "contract_sync_state",
    "contract_feed_records", "pending_contract_changes", "import_contracts", "list_contracts",
    "list_contract_additions", "save_contract_notes",
    "PUSH_RESULTS", "create_push_run", "push_run_by_token", "journal_intent", "journal_result", "record_push_row",
    "finish_push_run", "get_push_run", "last_write_at", "list_push_runs", "push_row_results", "written_lines",
    "journal_entries", "mark_interrupted_runs", "latest_row_results", "company_push_status", "newest_pushed_month",
    "pushes_after",
]
