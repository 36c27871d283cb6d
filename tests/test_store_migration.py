"""A database of schema version 5 (the starting point of issue 9: import blobs, snapshot JSON, JSON
plan rows) filled with the demo month, migrated to today's typed tables: every read returns what it
returned before, nothing is lost, and the old document tables are gone.

The version-5 file is written with the writers of that version (``store_legacy``, copied unchanged
from commit 9fb2e08) from a demo month built on the sandbox over HTTP: two versions of the import,
the accepted mappings, two snapshots, a plan with a queued "create company" row and a push run.
"""

from __future__ import annotations

import sqlite3
from datetime import date

import pandas as pd
import pytest

import store_legacy as L
from billbridge import demo_world as dw
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import push, sources
from billbridge import store as st
from billbridge.plan.inputs import snapshot_frames
from billbridge.plan import plan_to_json
from billbridge.snapshot import Snapshot
from billbridge.sources.demo import demo_month
from billbridge.store import MIGRATIONS, Store
from sandbox_fixtures import new_sandbox
from test_month_demo import client_for

MONTH = dw.MONTHS[-1]
COPIED = ("formats", "map_companies", "map_agreements", "map_products", "map_rules", "mapping_history",
          "creation_requests", "push_runs", "push_rows", "push_journal")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """The demo month on a current store, as an operator builds it."""
    sb = new_sandbox()
    client = client_for(sb)
    src = Store.open(tmp_path_factory.mktemp("src") / "billbridge.db")
    sources.load_demo(src, MONTH)
    text = demo_month(MONTH).decode().splitlines()
    sources.load_month(src, MONTH, ("\n".join(text[:-1]) + "\n").encode(), "demo-v2.csv", "generic", vendor="demo")
    mo.refresh_snapshot(src, client, MONTH)
    mp.accept(src, MONTH, mo.snapshot_for(src, MONTH), by="ann")
    mo.refresh_snapshot(src, client, MONTH)
    snap = mo.snapshot_for(src, MONTH)
    mapped = set(st.get_mappings(src, "company", "demo")["vendor_customer_id"])
    cust = next(r for r in mp.vendor_customers(src, MONTH).to_dict("records") if r["vendor_customer_id"] not in mapped)
    st.add_creation_requests(src, mp.company_creation("demo", cust["vendor_customer_id"], cust["vendor_customer_name"], snap),
                             by="ann")
    plan, plan_id = mo.build_plan(src, MONTH, today=date(2026, 11, 20))
    updates = plan.rows[plan.rows["action"] == "update"].head(3)
    run = push.push(src, client, updates, month=MONTH, plan_id=plan_id, operator="ann")
    yield {"src": src, "plan": plan, "plan_id": plan_id, "run": run}
    src.close()
    client.close()
    sb.stop()


def _version5(path, src: Store, plan, monkeypatch) -> None:
    """Write ``src``'s month into a new version-5 database the way version 5 stored it."""
    import billbridge.store.migrations as migrations

    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS[:5])  # m001..m005, as they shipped
    old = Store.open(path)
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    assert old.schema_version() == 5 and "import_blobs" in old.db.table_names()
    for imp in sorted(st.list_imports(src), key=lambda i: i["id"]):
        L.record_import(old, vendor=imp["vendor"], billing_month=imp["billing_month"], file_name=imp["file_name"],
                        sha256=imp["sha256"], format=imp["format"], lines=st.import_lines(src, imp["id"], raw=True),
                        total_cost=imp["total_cost"], total_price=imp["total_price"],
                        customer_count=imp["customer_count"], loaded_by=imp["loaded_by"])
    for (sid,) in src.conn.execute("SELECT id FROM snapshots ORDER BY id").fetchall():
        rec = st.load_snapshot(src, sid)
        meta = rec.pop("meta")
        L.save_snapshot(old, meta["billing_month"], Snapshot(taken_at=meta["taken_at"], site=meta["site"],
                                                             requests=meta["requests"], **rec), meta["agreement_ids"])
    meta = st.get_plan(src, st.latest_plan_meta(src, MONTH)["id"])
    # what version 5's build_plan stored: one JSON document per row (without the columns of issue 12)
    rows = [{k: v for k, v in r.items() if k not in M012_ROW_COLUMNS} for r in plan_to_json(plan)["rows"]]
    assert L.save_plan(old, MONTH, meta["snapshot_id"], meta["summary"], rows, inputs=meta["inputs"],
                       created_by=meta["created_by"]) == meta["id"]
    with old.atomic():
        for table in COPIED:  # tables issue 9 does not change: copied as they are
            have = set(old.db[table].columns_dict)  # columns a later migration added are not in version 5
            rows_ = [{k: v for k, v in r.items() if k in have} for r in src.db[table].rows]
            if rows_:
                old.db[table].insert_all(rows_)
    old.close()


def _plain(row: dict) -> dict:
    """A plan row without its empty fields (a field a row does not carry reads as None / [])."""
    return {k: v for k, v in row.items() if v is not None and not (isinstance(v, list) and not v)}


#: plan row columns m012 adds (issue 12): version 5 plans have none of them
M012_ROW_COLUMNS = ("impact_by_cause", "override_reason", "margin_pct_before", "margin_pct_after", "price_rule",
                    "term_start", "term_end", "term_source", "window_end", "commitment_at_risk")
#: mapping columns m012 adds (issue 12: a product's price rule and margin threshold): not in version 5
M012_MAPPING_VALUES = ("price_rule", "price_value", "margin_threshold")


def _mappings(store: Store, kind: str, legacy: bool) -> pd.DataFrame:
    """A kind's mappings as version 5 had them (the columns later migrations add left out)."""
    if not legacy:
        df = st.get_mappings(store, kind)
        return df.drop(columns=[c for c in M012_MAPPING_VALUES if c in df.columns])
    import billbridge.store.mappings as mappings_mod

    table, keys, values = mappings_mod.MAPPING_KINDS[kind]
    saved = mappings_mod.MAPPING_KINDS[kind]
    mappings_mod.MAPPING_KINDS[kind] = (table, keys, tuple(v for v in values if v not in M012_MAPPING_VALUES))
    try:
        return st.get_mappings(store, kind)
    finally:
        mappings_mod.MAPPING_KINDS[kind] = saved


def _reads(store: Store, legacy: bool, plan_id: int, keys: list[str], customer: str, product: str) -> dict:
    imports = st.list_imports(store, billing_month=MONTH)
    ids = sorted(i["id"] for i in imports)
    lines = L if legacy else st
    plans = L if legacy else st
    snaps = L if legacy else st
    out = {
        "imports": [{k: v for k, v in i.items() if not k.startswith("withdrawn_")} for i in imports],
        # version 5 had only the canonical columns (m010 adds the vendor's extras, NULL for these lines)
        "raw": {i: lines.import_lines(store, i, raw=True, **({} if legacy else {"extras": False})) for i in ids},
        "typed": {i: lines.import_lines(store, i, **({} if legacy else {"extras": False})) for i in ids},
        "subset": lines.import_lines_subset(store, ids[0], [2, 5, 9, 10_000])[["line_no", *st.LINE_COLUMNS]],
        "diff": lines.diff_imports(store, ids[0], ids[1]),
        "snapshot_meta": snaps.latest_snapshot(store, MONTH),
        "snapshots": {sid: snaps.load_snapshot(store, sid)
                      for (sid,) in store.conn.execute("SELECT id FROM snapshots ORDER BY id").fetchall()},
        "plan": st.get_plan(store, plan_id),
        "rows": [_plain(r) for r in plans.plan_rows(store, plan_id)],
        "some_rows": [_plain(r) for r in plans.plan_rows(store, plan_id, keys)],
        "facets": plans.plan_facets(store, plan_id),
        "keys": plans.plan_keys(store, plan_id, actions=["update", "create"]),
    }
    for name, flt in {"blocked": {"actions": ["blocked"]}, "unmapped": {"causes": ["unmapped_customer"]},
                      "no_cause": {"causes": [""]}, "customer": {"customers": [customer]},
                      "product": {"products": [product], "actions": ["in_sync", "update"]}}.items():
        page, total = plans.plan_page(store, plan_id, limit=5, offset=1, **flt)
        out[f"page_{name}"] = ([_plain(r) for r in page], total)
    for kind in st.MAPPING_KINDS:
        out[f"map_{kind}"] = _mappings(store, kind, legacy)
    out["history"] = st.mapping_history(store)
    out["runs"] = st.list_push_runs(store, month=MONTH)
    out["results"] = st.push_row_results(store, month=MONTH)
    # m012 adds the reason of a write made under an override (none in version 5)
    out["journal"] = [{k: v for k, v in e.items() if legacy or k != "override_reason"}
                      for e in st.journal_entries(store, month=MONTH)]
    out["creations"] = st.creation_requests(store, status=None)
    return out


def _same(a, b, path="") -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b, obj=path)
    elif isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _same(a[k], b[k], f"{path}.{k}")
    elif isinstance(a, (list, tuple)) and a and isinstance(a[0], (pd.DataFrame, dict)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            _same(x, y, f"{path}[{i}]")
    else:
        assert a == b, path


def test_a_version_5_database_keeps_every_read_after_migrating_to_typed_tables(demo, tmp_path, monkeypatch):
    src, plan, plan_id = demo["src"], demo["plan"], demo["plan_id"]
    path = tmp_path / "billbridge.db"
    _version5(path, src, plan, monkeypatch)
    keys = list(plan.rows["key"].iloc[[0, 3, 7, -1]])
    customer = next(n for n in plan.rows["vendor_customer_name"] if isinstance(n, str))
    product = next(n for n in plan.rows["product_description"] if isinstance(n, str))

    old = Store(path)  # opened without migrating
    assert old.schema_version() == 5
    before = _reads(old, True, plan_id, keys, customer, product)
    old.close()
    assert before["rows"] and before["page_blocked"][1] and before["page_unmapped"][1] and before["page_customer"][1]
    assert any(r["target"] == "company" for r in before["rows"])  # the queued creation is in the plan
    assert len(before["runs"]) == 1 and len(before["journal"]) >= 3

    migrated = Store.open(path)
    assert migrated.schema_version() == len(MIGRATIONS)
    after = _reads(migrated, False, plan_id, keys, customer, product)
    _same(before, after)

    # nothing lost, the documents are gone, the same counts are in the typed tables
    tables = set(migrated.db.table_names())
    assert not {"import_blobs", "snapshot_data", "plan_rows_json"} & tables
    count = lambda sql, *p: migrated.conn.execute(sql, p).fetchone()[0]  # noqa: E731
    assert count("SELECT COUNT(*) FROM vendor_lines") == count("SELECT SUM(line_count) FROM imports")
    for sid, snap in after["snapshots"].items():
        for resource, (table, _attr, _cols) in st.SNAPSHOT_TABLES.items():
            assert count(f"SELECT COUNT(*) FROM {table} WHERE snapshot_id = ?", sid) == snap["meta"]["counts"][resource]
    assert count("SELECT COUNT(*) FROM plan_rows WHERE plan_id = ?", plan_id) == after["plan"]["row_count"] == len(plan.rows)
    # the migrated snapshot gives the reconciliation the frames its records give
    sid = after["snapshot_meta"]["id"]
    fast = st.load_snapshot_frames(migrated, sid)
    slow = snapshot_frames(before["snapshots"][sid], line_key_field=dw.LINE_KEY_FIELD, line_key_field_id=dw.LINE_KEY_FIELD_ID)
    for name in ("companies", "agreements", "additions", "catalog", "invoices", "agreement_types"):
        pd.testing.assert_frame_equal(getattr(fast, name), getattr(slow, name), obj=name)
    # and the month goes on: a new plan from the migrated store is the same plan
    again, _ = mo.build_plan(migrated, MONTH, today=date(2026, 11, 20))
    assert list(again.rows["key"]) == list(plan.rows["key"])
    migrated.close()


def test_the_old_database_is_untouched_when_a_migration_fails(demo, tmp_path, monkeypatch):
    """Each migration is one transaction: one that fails leaves the file at the version before it."""
    import billbridge.store.migrations as migrations

    path = tmp_path / "billbridge.db"
    _version5(path, demo["src"], demo["plan"], monkeypatch)

    def broken(db):
        raise sqlite3.OperationalError("disk I/O error")

    monkeypatch.setattr(migrations, "MIGRATIONS", [*MIGRATIONS[:6], broken])
    with pytest.raises(sqlite3.OperationalError):
        Store.open(path)
    s = Store(path)
    assert s.schema_version() == 6 and "snapshot_data" in s.db.table_names() and "vendor_lines" in s.db.table_names()
    s.close()
