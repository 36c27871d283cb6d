"""Mapping store: who/when and an append-only history, CSV export/import round trip, and an invalid CSV stores nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest

from billbridge import mappings as mp
from billbridge import store as st
from billbridge.store import Store


@pytest.fixture
def store():
    s = Store.memory()
    yield s
    s.close()


def seed(store):
    st.set_mappings(store, "company", "demo", [{"vendor_customer_id": "DC-1", "vendor_customer_name": "Acme", "company_id": 11}], by="ann")
    st.set_mappings(store, "agreement", "demo", [{"vendor_customer_id": "DC-1", "agreement_id": 21, "sync_mode": "monthly",
                                                  "period_rule": "arrears"},
                                                 {"vendor_customer_id": "DC-1", "subscription_id": "S-9", "agreement_id": 22}], by="ann")
    st.set_mappings(store, "product", "demo", [{"sku": "SEAT", "term": "annual", "billing_frequency": "monthly",
                                                "product_name": "Seat, annual", "catalog_item_id": 31, "own_cost": True,
                                                "own_price": False, "quantity_basis": "peak in period"},
                                               {"sku": "MBX", "catalog_item_id": 32}], by="ann")
    st.set_mappings(store, "rule", "demo", [{"vendor_customer_id": "DC-1", "rule": "cap", "value": Decimal("40")},
                                            {"vendor_customer_id": "DC-2", "sku": "MBX", "rule": "do_not_sync"}], by="ann")


def test_every_change_is_appended_to_history_with_who_and_when_and_nothing_is_overwritten(store, monkeypatch):
    monkeypatch.setenv("BILLBRIDGE_OPERATOR", "bob")
    st.set_mappings(store, "company", "demo", [{"vendor_customer_id": "DC-1", "company_id": 11}], by="ann")
    st.set_mappings(store, "company", "demo", [{"vendor_customer_id": "DC-1", "company_id": 11}], by="ann")  # unchanged
    st.set_mappings(store, "company", "demo", [{"vendor_customer_id": "DC-1", "company_id": 12}])  # operator from env
    st.delete_mappings(store, "company", "demo", [{"vendor_customer_id": "DC-1"}], by="cy")
    hist = store_history = st.mapping_history(store, kind="company")
    assert list(hist["change"]) == ["delete", "set", "set"]
    assert list(hist["changed_by"]) == ["cy", "bob", "ann"]
    assert hist.iloc[1]["old"]["company_id"] == 11 and hist.iloc[1]["new"]["company_id"] == 12
    assert hist.iloc[0]["old"]["company_id"] == 12 and hist.iloc[0]["new"] is None
    assert store_history["changed_at"].notna().all()
    assert st.get_mappings(store, "company").empty


def test_mappings_come_back_shaped_for_reconcile(store):
    seed(store)
    frames = st.mapping_frames(store, "demo")
    agr = frames["agreements"].set_index("agreement_id")
    assert agr.loc[21, "subscription_id"] is None and agr.loc[21, "sync_mode"] == "monthly"
    assert agr.loc[22, "subscription_id"] == "S-9"
    prod = frames["products"].set_index("sku")
    assert prod.loc["MBX", "term"] is None and prod.loc["MBX", "own_price"] is True
    assert prod.loc["SEAT", "own_price"] is False and prod.loc["SEAT", "quantity_basis"] == "peak in period"
    rules = frames["rules"].set_index("vendor_customer_id")
    assert rules.loc["DC-1", "value"] == Decimal("40") and rules.loc["DC-2", "value"] is None


def test_csv_export_then_import_into_a_new_store_gives_the_same_mappings(store):
    seed(store)
    text = mp.export_csv(store)
    fresh = Store.memory()
    res = mp.import_csv(fresh, text.encode("utf-8"), by="restore")
    assert res.ok, res.problems
    assert res.rows == 7 and sum(res.counts.values()) == 7
    for kind in st.MAPPING_KINDS:
        a = st.get_mappings(store, kind).drop(columns=["updated_at", "updated_by"])
        b = st.get_mappings(fresh, kind).drop(columns=["updated_at", "updated_by"])
        assert a.to_dict("records") == b.to_dict("records"), kind
    again = mp.import_csv(fresh, text)
    assert again.ok and sum(again.counts.values()) == 0  # re-import changes nothing


def test_invalid_csv_stores_nothing_and_names_row_column_and_reason(store):
    text = (
        "kind,vendor,vendor_customer_id,company_id,agreement_id,sync_mode,sku,catalog_item_id,own_price,rule,value\n"
        "company,demo,DC-1,11,,,,,,,\n"                   # fine on its own
        "company,demo,DC-2,abc,,,,,,,\n"                  # bad id
        "agreement,demo,DC-1,,21,weekly,,,,,\n"          # bad sync mode
        "product,demo,,,,,SEAT,31,maybe,,\n"              # bad boolean
        "rule,demo,DC-1,,,,,,,cap,-3\n"                   # negative cap
        "company,demo,DC-1,12,,,,,,,\n"                   # duplicate of row 1
        "mystery,demo,DC-1,,,,,,,,\n"                     # unknown kind
    )
    res = mp.import_csv(store, text)
    assert not res.ok
    got = {(p.row, p.column) for p in res.problems}
    assert {(2, "company_id"), (3, "sync_mode"), (4, "own_price"), (5, "value"), (6, "vendor_customer_id"), (7, "kind")} <= got
    assert all(p.reason for p in res.problems)
    assert all(st.get_mappings(store, k).empty for k in st.MAPPING_KINDS)
    assert st.mapping_history(store).empty


def test_csv_without_kind_column_is_refused(store):
    res = mp.import_csv(store, "vendor,vendor_customer_id\ndemo,DC-1\n")
    assert not res.ok and res.problems[0].column == "kind"


def test_a_products_price_rule_and_threshold_round_trip_through_the_csv_and_bad_ones_are_named():
    s = Store.memory()
    st.set_mappings(s, "product", "demo", [{"sku": "SEAT", "catalog_item_id": 31, **mp.price_terms("markup", "25", "15")}])
    text = mp.export_csv(s)
    assert "markup,25,15" in text
    fresh = Store.memory()
    assert mp.import_csv(fresh, text).ok
    got = st.get_mappings(fresh, "product").iloc[0]
    assert (got["price_rule"], got["price_value"], got["margin_threshold"]) == ("markup", Decimal("25"), Decimal("15"))
    bad = ("kind,vendor,sku,catalog_item_id,price_rule,price_value,margin_threshold\n"
           "product,demo,A,31,markup,,\n"          # a markup needs its percent
           "product,demo,B,31,discount,5,\n"       # not a price rule
           "product,demo,C,31,fixed,9.50,101\n")   # a threshold above 100%
    res = mp.import_csv(fresh, bad)
    assert not res.ok
    assert {(p.row, p.column) for p in res.problems} == {(1, "price_value"), (2, "price_rule"), (3, "margin_threshold")}
    assert "needs" in res.problems[0].reason or "required" in res.problems[0].reason
