"""Agreement import (issue 6): incremental feed, bookmark with the data, selection, deletions, read-only fields."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from billbridge import agreements as ag
from billbridge import store as st_
from billbridge.connectwise import CWClient, CWSettings
from billbridge.sandbox import CREDENTIALS, SandboxConfig, start_sandbox
from billbridge.store import Store


@pytest.fixture
def sb():
    box = start_sandbox(SandboxConfig(port=0))
    yield box
    box.stop()


@pytest.fixture
def client(sb):
    full = CREDENTIALS["full"]
    c = CWClient(CWSettings(site=sb.base_url, company_id=sb.company_id, public_key=full["public_key"],
                            private_key=full["private_key"], client_id="test"))
    yield c
    c.close()


def test_first_fetch_is_full_and_bookmark_is_max_last_updated_of_stored_records(sb, client):
    store = Store.memory()
    res = ag.fetch_changes(client, store)
    assert res.full and res.agreements == len(sb.records("agreements")) and res.additions == len(sb.records("additions"))
    assert res.bookmarks["additions"] == max(a["_info"]["lastUpdated"] for a in sb.records("additions"))
    assert st_.contract_sync_state(store)["agreements"]["bookmark"] == max(
        a["_info"]["lastUpdated"] for a in sb.records("agreements"))


def test_second_fetch_reads_only_records_changed_since_bookmark(sb, client):
    store = Store.memory()
    ag.fetch_changes(client, store)
    ag.import_all(store)
    quiet = ag.fetch_changes(client, store)
    assert not quiet.full and quiet.agreements <= 1 and quiet.additions <= 1  # only the bookmark's own second
    assert ag.pending(store)[0].empty and ag.pending(store)[1].empty
    client.patch_fields("/finance/agreements/2/additions/3", {"quantity": 13})
    res = ag.fetch_changes(client, store)
    pa, pd_ = ag.pending(store)
    assert pd_["addition_id"].tolist() == [3] and pd_["change"].tolist() == ["changed"]
    assert pa["change"].tolist() == ["additions"]  # the agreement itself did not change
    assert res.bookmarks["additions"] > quiet.bookmarks["additions"]


def test_failed_feed_write_stores_nothing_and_keeps_bookmark():
    store = Store.memory()
    good = {"id": 1, "name": "A", "_info": {"lastUpdated": "2030-01-01T00:00:00Z"}}
    with pytest.raises(KeyError):
        st_.record_contract_feed(store, [good, {"name": "no id"}], [])
    assert st_.contract_feed_records(store, "agreement") == []
    assert st_.contract_sync_state(store)["agreements"]["bookmark"] is None


def test_full_pass_marks_deleted_addition_and_keeps_it(sb, client):
    store = Store.memory()
    ag.fetch_changes(client, store)
    ag.import_all(store)
    client.delete("/finance/agreements/2/additions/3")
    incremental = ag.fetch_changes(client, store)
    assert incremental.deleted_additions == []  # an incremental read cannot see deletions
    res = ag.fetch_changes(client, store, full=True)
    assert res.deleted_additions == [3]
    adds = st_.list_contract_additions(store, 2)
    row = adds[adds["addition_id"] == 3].iloc[0]
    assert row["deleted_at"] is not None and row["quantity"] == Decimal("12.0")


def test_importing_one_addition_of_a_new_agreement_brings_its_header_only(sb, client):
    store = Store.memory()
    ag.fetch_changes(client, store)
    res = ag.import_selected(store, addition_ids=[3])
    assert (res.agreement_ids, res.addition_ids) == ([2], [3])
    assert st_.list_contracts(store)["agreement_id"].tolist() == [2]
    pa, pd_ = ag.pending(store)
    assert 3 not in pd_["addition_id"].tolist() and 4 in pd_["addition_id"].tolist()


PA = pd.DataFrame({"agreement_id": [1, 2, 3], "change": ["new", "changed", "additions"]})
PD = pd.DataFrame({"addition_id": [10, 11, 20, 30], "agreement_id": [1, 1, 2, 3]})


@pytest.mark.parametrize("agreements, additions, expected", [
    ([1], [], ([1], [10, 11])),          # an agreement brings its pending additions
    ([], [11], ([1], [11])),             # an addition of a new agreement brings the header
    ([], [20], ([], [20])),              # ... not of an already imported one
    ([3], [], ([], [30])),               # listed only for its additions: the header is not rewritten
    ([99], [98], ([], [])),              # ids not pending are ignored
])
def test_selection_decides_what_an_import_writes(agreements, additions, expected):
    assert ag.selection(PA, PD, agreements, additions) == expected


def test_contract_notes_are_editable_but_connectwise_fields_are_not(sb, client):
    store = Store.memory()
    ag.fetch_changes(client, store)
    ag.import_selected(store, [2])
    before = st_.list_contracts(store).iloc[0]
    assert st_.save_contract_notes(store, {2: "renews in March"}) == 1
    after = st_.list_contracts(store).iloc[0]
    assert after["notes"] == "renews in March"
    assert all(before[c] == after[c] for c in ("status", "bill_amount", "billing_cycle", "start_date"))
    assert set(ag.READ_ONLY_FIELDS) >= {"status", "bill_amount", "billing_cycle", "quantity"}


def test_parse_since_takes_dates_and_utc_times():
    assert ag.parse_since("2026-11-01").isoformat() == "2026-11-01T00:00:00+00:00"
    assert ag.parse_since("2026-11-01T08:00:00Z").hour == 8
    assert ag.parse_since(None) is None
    with pytest.raises(ValueError):
        ag.parse_since("yesterday")


def test_monthly_amount_is_the_additions_in_effect_that_month_quantity_times_unit_price():
    adds = pd.DataFrame([
        {"agreement_id": 7, "quantity": Decimal("14"), "unit_price": Decimal("25.005"), "effective_date": "2026-01-01",
         "cancelled_date": None, "bill_customer": "Billable", "deleted_at": None},          # 350.07 (rounded once)
        {"agreement_id": 7, "quantity": Decimal("2"), "unit_price": Decimal("7"), "effective_date": "2026-12-01",
         "cancelled_date": None, "bill_customer": "Billable", "deleted_at": None},          # starts next month
        {"agreement_id": 7, "quantity": Decimal("1"), "unit_price": Decimal("9"), "effective_date": "2026-01-01",
         "cancelled_date": "2026-10-31", "bill_customer": "Billable", "deleted_at": None},   # ended last month
        {"agreement_id": 7, "quantity": Decimal("1"), "unit_price": Decimal("5"), "effective_date": "2026-01-01",
         "cancelled_date": "2026-11-30", "bill_customer": "Billable", "deleted_at": None},   # ends this month: billed
        {"agreement_id": 7, "quantity": Decimal("3"), "unit_price": Decimal("4"), "effective_date": None,
         "cancelled_date": None, "bill_customer": "DoNotBill", "deleted_at": None},          # not billed
        {"agreement_id": 8, "quantity": Decimal("1"), "unit_price": Decimal("100"), "effective_date": None,
         "cancelled_date": None, "bill_customer": "Billable", "deleted_at": "2026-11-02T00:00:00Z"},  # deleted
    ])
    assert ag.monthly_amounts(adds, "2026-11") == {7: Decimal("355.07")}


def test_pending_and_imported_agreements_show_their_real_monthly_amount_not_zero(sb, client):
    # was: "Bill amount $0.00" for every agreement (ConnectWise's billAmount is 0 when additions bill)
    store = Store.memory()
    ag.fetch_changes(client, store)
    month = "2026-11"
    pa, _ = ag.pending(store, month)
    expected = ag.monthly_amounts([ag.addition_row(a) for a in sb.records("additions")], month)
    amounts = dict(zip(pa["agreement_id"], pa["bill_amount"]))
    assert amounts[2] == expected[2] > 0
    assert sum(1 for v in amounts.values() if v > 0) >= len(amounts) // 2
    ag.import_all(store)
    contracts = ag.contracts_with_amounts(store, month).set_index("agreement_id")
    assert contracts.loc[2, "bill_amount"] == expected[2]
