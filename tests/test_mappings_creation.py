"""Create-missing-record requests: plan rows with the exact request and a natural-key lookup that a
generic push can use (look up, then POST only when absent); once ConnectWise has the record the
next plan maps it and drops the request. Real HTTP against the sandbox."""

from __future__ import annotations

import pytest

from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import sources
from billbridge import store as st
from billbridge.store import Store
from sandbox_fixtures import new_sandbox
from test_month_demo import MONTH, client_for


def push_like(client, rows):
    """What billbridge.push does for a creation row, generically: lookup by natural key, POST if absent."""
    done = {}
    for r in rows:
        lk = r["lookup"]
        found = client.list(lk["path"], conditions=lk.get("conditions"),
                            custom_field_conditions=lk.get("custom_field_conditions"))
        if found:
            done[r["key"]] = ("found", found[0]["id"])
            continue
        req = r["request"]
        done[r["key"]] = ("created", client.post(req["path"], req["body"])["id"])
    return done


@pytest.fixture
def env():
    sb = new_sandbox()
    client = client_for(sb)
    store = Store.memory()
    sources.load_demo(store, MONTH)
    mo.refresh_snapshot(store, client, MONTH)
    yield sb, client, store
    client.close()
    sb.stop()


def test_company_creation_row_carries_request_and_lookup_and_maps_the_customer_once_created(env):
    sb, client, store = env
    snap = mo.snapshot_for(store, MONTH)
    rows = mp.company_creation("demo", "DC-10005", "Evergreen Family Practice", snap)
    (row,) = rows
    assert row["action"] == "create" and row["target"] == "company"
    assert row["request"]["method"] == "POST" and row["request"]["path"] == "/company/companies"
    assert row["request"]["body"]["identifier"] == "EvergreenFamilyPractice"
    assert row["lookup"] == {"path": "/company/companies", "conditions": 'identifier="EvergreenFamilyPractice"'}
    mp.request_creation(store, rows, by="ann")
    plan, _ = mo.build_plan(store, MONTH)
    assert plan.rows.iloc[0]["key"] == row["key"] and plan.rows.iloc[0]["action"] == "create"  # reviewed first
    first = push_like(client, rows)
    again = push_like(client, rows)  # a retried push finds the record instead of creating it twice
    assert first[row["key"]][0] == "created" and again[row["key"]] == ("found", first[row["key"]][1])
    mo.refresh_snapshot(store, client, MONTH)
    plan, _ = mo.build_plan(store, MONTH)
    done = plan.rows[plan.rows["key"] == row["key"]].iloc[0]
    assert done["action"] == "in_sync"
    cm = st.get_mappings(store, "company", "demo").set_index("vendor_customer_id")
    assert cm.loc["DC-10005", "company_id"] == first[row["key"]][1]
    assert st.creation_requests(store) == []
    plan, _ = mo.build_plan(store, MONTH)
    assert row["key"] not in set(plan.rows["key"])


def test_agreement_creation_creates_the_vendor_agreement_type_first_then_the_agreement(env):
    sb, client, store = env
    snap = mo.snapshot_for(store, MONTH)
    juniper = next(c for c in snap["companies"] if c["name"] == "Juniper Accounting")
    rows = mp.agreement_creation("demo", "DC-10010", juniper["id"], snap, MONTH)
    assert [r["target"] for r in rows] == ["agreement_type", "agreement"]
    assert rows[1]["depends_on"] == [rows[0]["key"]]
    assert rows[1]["request"]["body"]["type"] == {"name": "Demo Cloud"}
    assert rows[1]["lookup"]["conditions"] == f'company/id={juniper["id"]} AND name="Demo Cloud Services"'
    mp.request_creation(store, rows)
    created = push_like(client, rows)
    assert {v[0] for v in created.values()} == {"created"}
    mo.refresh_snapshot(store, client, MONTH)
    plan, _ = mo.build_plan(store, MONTH)
    am = st.get_mappings(store, "agreement", "demo").set_index("vendor_customer_id")
    assert am.loc["DC-10010", "agreement_id"] == created[rows[1]["key"]][1]
    assert am.loc["DC-10010", "sync_mode"] == "standing"
    # the agreement type exists now: a second request needs no type row
    snap = mo.snapshot_for(store, MONTH)
    again = mp.agreement_creation("demo", "DC-10010", juniper["id"], snap, MONTH)
    assert [r["target"] for r in again] == ["agreement"]


def test_catalog_creation_uses_the_vendor_product_type_and_refuses_an_existing_identifier(env):
    sb, client, store = env
    snap = mo.snapshot_for(store, MONTH)
    rows = mp.catalog_creation("demo", "FAX-LINE", "Cloud fax line", snap, term="monthly", billing_frequency="monthly")
    assert [r["target"] for r in rows] == ["catalog"]  # Demo_Cloud_Services already exists in the seed
    assert rows[0]["request"]["body"]["type"] == {"name": "Demo_Cloud_Services"}
    created = push_like(client, rows)
    mp.request_creation(store, rows)
    mo.refresh_snapshot(store, client, MONTH)
    mo.build_plan(store, MONTH)
    pm = st.get_mappings(store, "product", "demo").set_index("sku")
    assert pm.loc["FAX-LINE", "catalog_item_id"] == created[rows[0]["key"]][1]
    with pytest.raises(mp.CreationError, match="map it instead"):
        mp.catalog_creation("demo", "HPBX-SEAT", "Hosted PBX seat", snap)
    other = mp.catalog_creation("acme_voice", "AV-1", "Voice line", snap)
    assert [r["target"] for r in other] == ["product_type", "catalog"]
    assert other[0]["request"]["body"] == {"name": "Acme_Voice_Services"}


def test_agreement_for_a_company_connectwise_does_not_have_yet_is_refused_with_what_to_do(env):
    _, _, store = env
    snap = mo.snapshot_for(store, MONTH)
    with pytest.raises(mp.CreationError, match="push its creation"):
        mp.agreement_creation("demo", "DC-10005", 999999, snap, MONTH)
