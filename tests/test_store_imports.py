"""Month imports in the store: all-or-nothing, identical = no-op, versions with a diff, formats."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pandas as pd
import pytest

from billbridge import store as st
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
    """(imports, stored lines)."""
    lines = store.conn.execute("SELECT COUNT(*) FROM vendor_lines").fetchone()[0]
    return (store.db["imports"].count, lines)


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
    import billbridge.store.imports as st

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(st, "_insert_lines", broken)
    with pytest.raises(RuntimeError):
        load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03"), "a.csv", vendor="acme")
    assert counts(store) == (0, 0)


def test_load_records_file_identity_totals_and_lines(store):
    res = load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", "C2,Blue,S2,SKU,2,0.125,2026-11-04,2026-12-03"),
                     "a.csv", "generic", vendor="acme", loaded_by="jsmith")
    assert res.status == "loaded" and res.version == 1
    imp = st.get_import(store, res.import_id)
    assert (imp["vendor"], imp["billing_month"], imp["file_name"], imp["line_count"], imp["customer_count"]) == ("acme", M, "a.csv", 2, 2)
    assert imp["total_cost"] == Decimal("54.25")  # 54.00 + round(0.25) per line
    assert len(imp["sha256"]) == 64 and imp["loaded_at"].endswith("Z") and imp["loaded_by"] == "jsmith"
    lines = st.import_lines(store, res.import_id)
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
    assert [i["version"] for i in st.list_imports(store, billing_month=M, vendor="acme")] == [2, 1]
    assert st.latest_import(store, "acme", M)["id"] == v2.import_id
    assert len(st.import_lines(store, v1.import_id)) == 2  # old version kept
    d = v2.diff
    assert d["added"]["subscription_id"].tolist() == ["S9"]
    assert d["removed"]["subscription_id"].tolist() == ["S2"]
    qc = d["quantity_changed"]
    assert qc[["subscription_id", "quantity_old", "quantity_new"]].values.tolist() == [["S1", Decimal(3), Decimal(4)]]


def test_out_of_month_lines_are_kept_unless_the_operator_excludes_them(store):
    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", "C1,Acme,S2,SKU,3,18.00,2026-12-04,2027-01-03")
    kept = load_month(store, M, data, "a.csv", vendor="keep")
    assert kept.status == "loaded" and st.get_import(store, kept.import_id)["line_count"] == 2
    assert kept.summary()["out_of_month_rows"] == [3]
    # another vendor's bill with the same shape (the same lines would be refused as the month counted twice)
    dropped = load_month(store, M, data.replace(b"C1,", b"C7,"), "a.csv", vendor="drop", exclude_out_of_month=True)
    assert dropped.excluded == [3]
    imp = st.get_import(store, dropped.import_id)
    assert imp["line_count"] == 1 and imp["total_cost"] == Decimal("54.00")


def test_vendors_and_months_version_independently(store):
    a = load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03"), "a.csv", vendor="a")
    b = load_month(store, M, f("C2,Bolt,S1,SKU,3,18.00,2026-11-04,2026-12-03"), "b.csv", vendor="b")
    assert (a.version, b.version, b.status) == (1, 1, "loaded")
    assert {i["vendor"] for i in st.list_imports(store, billing_month=M)} == {"a", "b"}
    c = load_month(store, "2026-12", f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03"), "a.csv", vendor="b")
    assert (c.version, c.status) == (1, "loaded")  # the same file for another month is that month's business


def test_the_same_file_under_a_second_vendor_name_for_the_month_is_refused_naming_the_first_import(store):
    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03")
    first = load_month(store, M, data, "nov.csv", vendor="intermedia", loaded_by="jsmith")
    again = load_month(store, M, data, "nov-copy.csv", vendor="Intermedia US", loaded_by="mgarcia")
    assert first.status == "loaded" and again.status == "duplicate" and not again.ok
    assert "intermedia" in again.message and "version 1" in again.message and "nov.csv" in again.message
    assert "jsmith" in again.message and first.parse.sha256 == again.parse.sha256
    assert again.summary()["duplicate_of"]["id"] == first.import_id
    assert [i["vendor"] for i in st.list_imports(store, billing_month=M)] == ["intermedia"]  # the month did not double


def test_the_same_lines_resaved_under_a_second_vendor_are_refused_though_the_bytes_differ(store):
    first = load_month(store, M, f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03",
                                   "C2,Bolt,S2,SKU,2,9.50,2026-11-04,2026-12-03"), "nov.csv", vendor="intermedia")
    # re-saved by Excel: another line order, 18 for 18.00, a trailing blank row
    resaved = f("C2,Bolt,S2,SKU,2,9.5,2026-11-04,2026-12-03", "C1,Acme,S1,SKU,3,18,2026-11-04,2026-12-03") + b",,,,,,,\r\n"
    again = load_month(store, M, resaved, "nov-copy.csv", vendor="other")
    assert first.status == "loaded" and again.status == "duplicate" and first.parse.sha256 != again.parse.sha256
    assert "holds the same lines" in again.message and "intermedia" in again.message and "nov.csv" in again.message
    assert [i["vendor"] for i in st.list_imports(store, billing_month=M)] == ["intermedia"]
    # one quantity differs: another vendor's own bill, stored
    other = load_month(store, M, f("C2,Bolt,S2,SKU,2,9.5,2026-11-04,2026-12-03",
                                   "C1,Acme,S1,SKU,4,18,2026-11-04,2026-12-03"), "own.csv", vendor="other")
    assert other.status == "loaded"


def test_blank_rows_are_skipped_and_counted_in_the_load_message(store):
    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", ",,,,,,,", "C2,Bolt,S1,SKU,3,18.00,2026-11-04,2026-12-03")
    res = load_month(store, M, data + b",,,,,,,\r\n\r\n", "x.csv", vendor="acme")
    assert res.status == "loaded" and res.parse.line_count == 2 and res.parse.blank_rows == 3
    assert "3 blank rows skipped" in res.message
    assert st.import_lines(store, res.import_id)["line_no"].tolist() == [2, 4]


def test_saved_format_is_found_by_name_for_its_vendor(store):
    mapping = ColumnMapping(name="acme-export", columns={
        "Client No": "vendor_customer_id", "Client": "vendor_customer_name", "Code": "sku",
        "Seats": "quantity", "Cost": "unit_cost"}, delimiter=";", decimal_comma=True)
    st.save_format(store, "acme", "acme-export", mapping)
    assert st.get_format(store, "acme", "acme-export")["columns"]["Seats"] == "quantity"
    assert [r["name"] for r in st.list_formats(store, "acme")] == ["acme-export"]
    data = "Client No;Client;Code;Seats;Cost\nA1;Acme;X;2;1.234,50\n".encode()
    res = load_month(store, M, data, "acme.csv", "acme-export", vendor="acme")
    assert res.status == "loaded" and st.get_import(store, res.import_id)["total_cost"] == Decimal("2469.00")
    assert st.delete_format(store, "acme", "acme-export") and st.get_format(store, "acme", "acme-export") is None


def test_demo_and_every_sample_load(store):
    assert load_demo(store, M).status == "loaded"
    assert load_demo(store, M).status == "unchanged"
    for fmt in ("intermedia", "interworks", "phin"):
        res = load_month(store, M, sample_bytes(fmt), f"{fmt}.csv", fmt)
        assert res.status == "loaded", res.problems
        assert res.vendor == fmt
    assert st.latest_import(store, "demo", M)["line_count"] == 41


def test_unknown_format_name_is_an_error(store):
    with pytest.raises(ValueError):
        sources.load_month(store, M, b"x", "x.csv", "nope", vendor="v")


def test_a_database_from_before_line_blobs_keeps_its_imports_through_blobs_and_back_to_rows(tmp_path, monkeypatch):
    """m005_import_blobs moves the one-row-per-line ``import_lines`` of an older database into
    blobs and m006_vendor_lines moves them back into typed rows (each in one transaction); every
    read gives what it gave before."""
    import billbridge.store as st
    import billbridge.store.migrations as migrations

    path = tmp_path / "old.db"
    before = MIGRATIONS[:MIGRATIONS.index(migrations.m005_import_blobs)]  # m001..m004: lines as rows
    monkeypatch.setattr(migrations, "MIGRATIONS", before)
    old = Store.open(path)
    cols = ", ".join(st.LINE_COLUMNS)
    lines = {
        1: [(2, "C1", "Acme", None, "S1", "SKU", None, "recurring", "monthly", "monthly", "3", "18.00", None,
             "2026-11-04", "2026-12-03", None, "USD", "54.00", None),
            (3, "C2", "Blue", None, "S2", "SKU", None, "usage", "monthly", "none", "0.5", "0.125", "0.20",
             "2026-10-04", "2026-11-03", None, "USD", "0.06", "0.10")],
        2: [(2, "C1", "Acme", None, "S1", "SKU", None, "recurring", "monthly", "monthly", "4", "18.00", None,
             "2026-11-04", "2026-12-03", None, "USD", "72.00", None)],
        3: [],
    }
    with old.atomic():
        for i, rows in lines.items():
            old.conn.execute(
                "INSERT INTO imports (id, vendor, billing_month, version, file_name, sha256, format, line_count, "
                "customer_count, total_cost, total_price, loaded_at) VALUES (?, 'acme', ?, ?, 'a.csv', ?, 'generic', ?, 1, '0', '0', 'now')",
                (i, M, i, str(i) * 64, len(rows)))
            old.conn.executemany(f"INSERT INTO import_lines (import_id, line_no, {cols}) VALUES ({', '.join('?' * 20)})",
                                 [(i, *r) for r in rows])
    # what the one-row-per-line reads returned (the same queries)
    raw_before = {i: pd.read_sql_query(f"SELECT line_no, {cols} FROM import_lines WHERE import_id = ? ORDER BY line_no",
                                       old.conn, params=(i,), dtype=object) for i in lines}
    subset_before = pd.DataFrame(old.conn.execute(f"SELECT line_no, {cols} FROM import_lines WHERE import_id = 1 AND line_no IN (3, 9)").fetchall(),
                                 columns=["line_no", *st.LINE_COLUMNS])
    old.close()
    monkeypatch.setattr(migrations, "MIGRATIONS", MIGRATIONS)
    s = Store.open(path)
    assert s.schema_version() == len(MIGRATIONS)
    assert not {"import_lines", "import_blobs"} & set(s.db.table_names()) and counts(s) == (3, 3)
    for i in lines:
        pd.testing.assert_frame_equal(st.import_lines(s, i, raw=True, extras=False), raw_before[i])
        assert st.import_lines(s, i)[list(st.EXTRA_LINE_COLUMNS)].isna().all().all()  # m010: NULL for old lines
    typed = st.import_lines(s, 1)
    assert typed["line_no"].tolist() == [2, 3] and typed.loc[1, "extended_price"] == Decimal("0.10")
    assert pd.isna(typed.loc[0, "unit_price"]) and str(typed.loc[1, "period_start"]) == "2026-10-04"
    pd.testing.assert_frame_equal(st.import_lines_subset(s, 1, [3, 9])[list(subset_before.columns)], subset_before)
    diff = st.diff_imports(s, 1, 2)
    assert diff["removed"]["subscription_id"].tolist() == ["S2"] and diff["added"].empty
    assert diff["quantity_changed"][["quantity_old", "quantity_new"]].values.tolist() == [[Decimal(3), Decimal(4)]]
    # and it keeps working: a new version on top of the migrated ones
    res = load_month(s, M, f("C1,Acme,S1,SKU,5,18.00,2026-11-04,2026-12-03"), "b.csv", vendor="acme")
    assert res.version == 4 and res.diff["added"]["subscription_id"].tolist() == ["S1"]  # version 3 had no lines
    s.close()


def test_lines_read_back_exactly_as_loaded_from_frame_or_file(store):
    """A frame given to record_import and a parsed file store the same text; subsets keep file order."""
    import billbridge.store as st

    data = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03", " C2 ,Blue,,EXCH,1.5,$4.50,2026-11-04,2026-12-03",
             "C3,=Cee,S3,SKU,2,0.125,2026-11-04,")
    res = load_month(store, M, data, "a.csv", vendor="acme")
    raw = st.import_lines(store, res.import_id, raw=True)
    assert raw["vendor_customer_id"].tolist() == ["C1", "C2", "C3"]
    assert raw["subscription_id"].fillna("-").tolist() == ["S1", "-", "S3"]
    assert raw["unit_cost"].tolist() == ["18.00", "4.50", "0.125"] and raw["extended_cost"].tolist() == ["54.00", "6.75", "0.25"]
    assert raw["vendor_customer_name"].tolist()[2] == "=Cee" and pd.isna(raw["period_end"].tolist()[2])
    again = st.record_import(store, vendor="frame", billing_month=M, file_name="a.csv", sha256="x" * 64, format="generic",
                                lines=res.parse.lines, total_cost="60.25", total_price="0.00")
    pd.testing.assert_frame_equal(st.import_lines(store, again["id"], raw=True), raw)
    sub = st.import_lines_subset(store, res.import_id, [4, 2, 99])
    assert sub["line_no"].tolist() == [2, 4] and sub.loc[1, "vendor_customer_name"] == "=Cee"
