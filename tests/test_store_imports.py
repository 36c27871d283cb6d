"""Month imports in the store: all-or-nothing, identical = no-op, versions with a diff, formats."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from billbridge import sources
from billbridge.sources import ColumnMapping, load_demo, load_month, sample_bytes
from billbridge.store import MIGRATIONS, Store, default_db_path

M = "2026-11"
HEADER = "vendor_customer_id,vendor_customer_name,subscription_id,sku,quantity,unit_cost,period_start,period_end"


def f(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode()


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "data" / "billbridge.db")
    yield s
    s.close()


def counts(store):
    return (store.db["imports"].count, store.db["import_lines"].count)


def test_open_creates_the_folder_turns_on_wal_and_migrates_idempotently(tmp_path):
    path = tmp_path / "a" / "b" / "x.db"
    s = Store.open(path)
    assert path.exists() and s.db.journal_mode == "wal"
    assert s.schema_version() == len(MIGRATIONS)
    assert s.migrate() == len(MIGRATIONS)
    assert [r["name"] for r in s.db["schema_version"].rows] == [fn.__name__ for fn in MIGRATIONS]
    s.close()


def test_default_db_path_honours_billbridge_db():
    assert default_db_path({}) == Path("data/billbridge.db")
    assert default_db_path({"BILLBRIDGE_DB": "/tmp/x.db"}) == Path("/tmp/x.db")


def test_atomic_rolls_back_everything_on_error(store):
    with pytest.raises(RuntimeError):
        with store.atomic():
            store.db["formats"].insert({"vendor": "v", "name": "n", "mapping": "{}", "saved_at": "now"})
            raise RuntimeError("boom")
    assert store.db["formats"].count == 0


def test_invalid_file_stores_nothing(store):
    res = load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", "C2,Acme,S2,SKU,x,18.00,2026-11-04,2026-12-03"),
                     "bad.csv", "generic", vendor="acme")
    assert res.status == "invalid" and not res.ok
    assert [(p.row, p.column) for p in res.problems] == [(3, "quantity")]
    assert counts(store) == (0, 0)


def test_a_failure_while_writing_lines_leaves_no_import_row(store, monkeypatch):
    import billbridge.store as st

    def broken(import_id, lines):
        raise RuntimeError("disk full")

    monkeypatch.setattr(st, "_lines_to_rows", broken)
    with pytest.raises(RuntimeError):
        load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03"), "a.csv", vendor="acme")
    assert counts(store) == (0, 0)


def test_load_records_file_identity_totals_and_lines(store):
    res = load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", "C2,Blue,S2,SKU,2,0.125,2026-11-04,2026-12-03"),
                     "a.csv", "generic", vendor="acme", loaded_by="jsmith")
    assert res.status == "loaded" and res.version == 1
    imp = store.get_import(res.import_id)
    assert (imp["vendor"], imp["billing_month"], imp["file_name"], imp["line_count"], imp["customer_count"]) == ("acme", M, "a.csv", 2, 2)
    assert imp["total_cost"] == Decimal("54.25")  # 54.00 + round(0.25) per line
    assert len(imp["sha256"]) == 64 and imp["loaded_at"].endswith("Z") and imp["loaded_by"] == "jsmith"
    lines = store.import_lines(res.import_id)
    assert lines["line_no"].tolist() == [2, 3]
    assert lines.loc[1, "unit_cost"] == Decimal("0.125") and lines.loc[1, "extended_cost"] == Decimal("0.25")
    assert str(lines.loc[0, "period_start"]) == "2026-11-04"


def test_identical_file_again_is_a_no_op_that_says_so(store):
    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03")
    first = load_month(store, M, data, "a.csv", vendor="acme")
    again = load_month(store, M, data, "a-copy.csv", vendor="acme")
    assert again.status == "unchanged" and again.import_id == first.import_id
    assert "identical" in again.message
    assert counts(store) == (1, 1)


def test_changed_file_is_a_new_version_keeping_the_old_one_with_a_diff(store):
    v1 = load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", "C1,Acme,S2,EXCH,5,4.50,2026-11-04,2026-12-03"),
                    "a.csv", vendor="acme")
    v2 = load_month(store, M, f("C1,Acme,S1,SKU,4,18.00,2026-11-04,2026-12-03", "C2,Blue,S9,SKU,1,18.00,2026-11-04,2026-12-03"),
                    "a.csv", vendor="acme")
    assert (v2.status, v2.version, v2.previous_id) == ("loaded", 2, v1.import_id)
    assert [i["version"] for i in store.list_imports(billing_month=M, vendor="acme")] == [2, 1]
    assert store.latest_import("acme", M)["id"] == v2.import_id
    assert len(store.import_lines(v1.import_id)) == 2  # old version kept
    d = v2.diff
    assert d["added"]["subscription_id"].tolist() == ["S9"]
    assert d["removed"]["subscription_id"].tolist() == ["S2"]
    qc = d["quantity_changed"]
    assert qc[["subscription_id", "quantity_old", "quantity_new"]].values.tolist() == [["S1", Decimal(3), Decimal(4)]]


def test_out_of_month_lines_are_kept_unless_the_operator_excludes_them(store):
    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", "C1,Acme,S2,SKU,3,18.00,2026-12-04,2027-01-03")
    kept = load_month(store, M, data, "a.csv", vendor="keep")
    assert kept.status == "loaded" and store.get_import(kept.import_id)["line_count"] == 2
    assert kept.summary()["out_of_month_rows"] == [3]
    dropped = load_month(store, M, data, "a.csv", vendor="drop", exclude_out_of_month=True)
    assert dropped.excluded == [3]
    imp = store.get_import(dropped.import_id)
    assert imp["line_count"] == 1 and imp["total_cost"] == Decimal("54.00")


def test_vendors_and_months_version_independently(store):
    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03")
    a = load_month(store, M, data, "a.csv", vendor="a")
    b = load_month(store, M, data, "a.csv", vendor="b")
    assert (a.version, b.version, b.status) == (1, 1, "loaded")
    assert {i["vendor"] for i in store.list_imports(billing_month=M)} == {"a", "b"}


def test_saved_format_is_found_by_name_for_its_vendor(store):
    mapping = ColumnMapping(name="acme-export", columns={
        "Client No": "vendor_customer_id", "Client": "vendor_customer_name", "Code": "sku",
        "Seats": "quantity", "Cost": "unit_cost"}, delimiter=";", decimal_comma=True)
    store.save_format("acme", "acme-export", mapping)
    assert store.get_format("acme", "acme-export")["columns"]["Seats"] == "quantity"
    assert [r["name"] for r in store.list_formats("acme")] == ["acme-export"]
    data = "Client No;Client;Code;Seats;Cost\nA1;Acme;X;2;1.234,50\n".encode()
    res = load_month(store, M, data, "acme.csv", "acme-export", vendor="acme")
    assert res.status == "loaded" and store.get_import(res.import_id)["total_cost"] == Decimal("2469.00")
    assert store.delete_format("acme", "acme-export") and store.get_format("acme", "acme-export") is None


def test_demo_and_every_sample_load(store):
    assert load_demo(store, M).status == "loaded"
    assert load_demo(store, M).status == "unchanged"
    for fmt in ("intermedia", "interworks", "phin"):
        res = load_month(store, M, sample_bytes(fmt), f"{fmt}.csv", fmt)
        assert res.status == "loaded", res.problems
        assert res.vendor == fmt
    assert store.latest_import("demo", M)["line_count"] == 41


def test_unknown_format_name_is_an_error(store):
    with pytest.raises(ValueError):
        sources.load_month(store, M, b"x", "x.csv", "nope", vendor="v")
