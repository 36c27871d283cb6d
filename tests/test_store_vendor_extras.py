"""The vendor's own fields beyond the canonical columns (``sources.EXTRA_COLUMNS``: line and invoice
ids, charge type as written, customer external id and domain, tax, exchange rate, list price,
deductions, vendor proration, the charge a credit refunds) reach the store: written by
``record_import``, read back by ``import_lines`` and visible to SQL, NULL where a source has none."""

from __future__ import annotations

import json
import sqlite3
from datetime import date
from decimal import Decimal

import pytest

from billbridge import sources
from billbridge import store as st
from billbridge.sandbox import SandboxConfig, start_sandbox
from billbridge.sources.http import forget_tokens
from billbridge.sources.settings import sandbox_settings
from billbridge.store import MIGRATIONS, Store

MONTH = "2026-10"  # Sherweb has billed it on SEED_TODAY (its current month is still open)
SEED_TODAY = date(2026, 11, 22)


@pytest.fixture(scope="module")
def sb():
    box = start_sandbox(SandboxConfig(today=SEED_TODAY, retry_after_s=0))
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv("BILLBRIDGE_TODAY", SEED_TODAY.isoformat())
    forget_tokens()


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "b.db")


def test_the_store_keeps_exactly_the_columns_the_sources_declare():
    assert st.EXTRA_LINE_COLUMNS == tuple(sources.EXTRA_COLUMNS)
    assert not set(st.EXTRA_LINE_COLUMNS) & set(st.LINE_COLUMNS)


def test_a_pax8_pull_stores_item_and_invoice_ids_external_id_tax_and_vendor_type(sb, store):
    res = sources.pull(store, "pax8", "2026-11", settings=sandbox_settings("pax8", sb.base_url))
    assert res.status == "loaded"
    lines = st.import_lines(store, res.import_id)
    preview = res.parse.rows.reset_index(drop=True)
    for col in ("vendor_line_id", "vendor_invoice_id", "vendor_charge_type", "vendor_customer_external_id", "tax"):
        assert lines[col].notna().all(), col
        assert lines[col].tolist() == preview[col].tolist(), col  # exactly what the preview showed
    assert set(lines["vendor_customer_external_id"]) >= {"DC-10001", "DC-10002"}
    assert Decimal(lines["tax"].iloc[0]) >= 0
    assert lines["vendor_customer_domain"].isna().all() and lines["exchange_rate"].isna().all()
    credit = lines[lines["charge_type"] == "credit"]
    assert len(credit) and credit["vendor_charge_type"].notna().all()


def test_a_sherweb_pull_stores_list_price_and_deductions_as_json_text(sb, store):
    res = sources.pull(store, "sherweb", MONTH, settings=sandbox_settings("sherweb", sb.base_url))
    assert res.status == "loaded", res.problems[:3]
    lines = st.import_lines(store, res.import_id)
    assert lines["list_unit_cost"].notna().all()
    promo = lines[lines["deductions"].notna() & (lines["deductions"] != "[]")]
    assert len(promo)
    assert json.loads(promo["deductions"].iloc[0])[0]["deductionType"] == "PromotionalPercentage"
    assert Decimal(promo["deduction_total"].iloc[0]) != 0


def test_a_microsoft_file_stores_domain_exchange_rate_pricing_currency_and_proration(store):
    res = sources.load_month(store, "2026-11", sources.sample_bytes("microsoft"), "recon.csv", "microsoft")
    assert res.status == "loaded"
    lines = st.import_lines(store, res.import_id, raw=True)
    assert lines["vendor_customer_domain"].str.endswith(".onmicrosoft.com").all()
    assert lines["exchange_rate"].notna().all() and lines["pricing_currency"].notna().all()
    assert (lines["vendor_prorated"] == "true").any()
    rows = list(store.db.query("SELECT DISTINCT vendor_customer_domain FROM month_lines WHERE billing_month = '2026-11' "
                               "AND vendor = 'microsoft' AND vendor_customer_domain LIKE 'delta%'"))
    assert rows == [{"vendor_customer_domain": "deltaveterinaryclinic.onmicrosoft.com"}]


def test_a_plain_file_has_no_extras_and_they_are_null_not_empty_text(store):
    res = sources.load_month(store, "2026-11", sources.sample_bytes("generic"), "g.csv", "generic")
    lines = st.import_lines(store, res.import_id)
    assert lines[list(st.EXTRA_LINE_COLUMNS)].isna().all().all()
    n = store.conn.execute("SELECT COUNT(*) FROM vendor_lines WHERE tax = '' OR vendor_line_id = ''").fetchone()[0]
    assert n == 0
    assert list(st.import_lines(store, res.import_id, extras=False).columns) == ["line_no", *st.LINE_COLUMNS]


def test_lines_stored_before_the_migration_keep_their_values_and_read_null_extras(tmp_path, monkeypatch):
    path = tmp_path / "old.db"
    import billbridge.store.migrations as mig

    monkeypatch.setattr(mig, "MIGRATIONS", MIGRATIONS[:9])
    monkeypatch.setattr("billbridge.store.imports.STORED_LINE_COLUMNS", st.LINE_COLUMNS)
    monkeypatch.setattr("billbridge.store.imports._SELECT_LINES",
                        f"SELECT line_no, {', '.join(st.LINE_COLUMNS)} FROM vendor_lines")
    old = Store.open(path)
    res = sources.load_month(old, "2026-11", sources.sample_bytes("intermedia"), "i.csv", "intermedia")
    before = st.import_lines(old, res.import_id)
    old.close()
    assert sqlite3.connect(path).execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == 9
    monkeypatch.undo()
    new = Store.open(path)
    after = st.import_lines(new, res.import_id)
    assert after[list(before.columns)].equals(before)
    assert after[list(st.EXTRA_LINE_COLUMNS)].isna().all().all()
    assert new.conn.execute("SELECT MAX(version) FROM schema_version").fetchone()[0] == len(MIGRATIONS)
