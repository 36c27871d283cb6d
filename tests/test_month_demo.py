"""End to end over the library: the demo month loaded, suggestions accepted, the operator's own
choices recorded, ConnectWise read from the sandbox over HTTP -> the stored plan shows every
action and every cause, and a refresh costs a known, small number of requests."""

from __future__ import annotations

import pytest

from billbridge import clock
from billbridge import demo_world as dw
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import sources
from billbridge import store as st
from billbridge.connectwise import CWClient, CWSettings
from billbridge.sandbox import CREDENTIALS
from billbridge.store import Store
from sandbox_fixtures import new_sandbox

MONTH = dw.MONTHS[-1]  # the current month: the demo covers the four months ending with it


def client_for(sb) -> CWClient:
    full = CREDENTIALS["full"]
    return CWClient(CWSettings(site=sb.base_url, company_id=sb.company_id, public_key=full["public_key"],
                               private_key=full["private_key"], client_id="test", codebase=None, api_version="2025.1"))


@pytest.fixture(scope="module")
def world():
    sb = new_sandbox()
    client = client_for(sb)
    store = Store.memory()
    sources.load_demo(store, MONTH)
    first = mo.refresh_snapshot(store, client, MONTH)
    snap = mo.snapshot_for(store, MONTH)
    accepted = mp.accept(store, MONTH, snap, today=clock.today().isoformat(), by="ann")
    # what the operator decides by hand on the Mappings page
    agreements = {a["company"]["name"]: a["id"] for a in snap["agreements"] if a["name"] == "Demo Cloud Services"}
    st.set_mappings(store, "agreement", "demo", [
        {"vendor_customer_id": "DC-10008", "agreement_id": agreements["Harbor View Hotel"]},       # cancelled since
        {"vendor_customer_id": "DC-10009", "agreement_id": agreements["Ironwood Manufacturing"]},  # expired since
    ], by="ann")
    sms = next(p["id"] for p in snap["catalog"] if p["identifier"] == "SMS-PACK")
    st.set_mappings(store, "product", "demo", [{"sku": "SMS-PACK", "catalog_item_id": sms}], by="ann")  # inactive item
    st.set_mappings(store, "rule", "demo", [{"vendor_customer_id": "DC-10023", "rule": "do_not_sync"}], by="ann")
    second = mo.refresh_snapshot(store, client, MONTH)
    plan, plan_id = mo.build_plan(store, MONTH, today=clock.today())
    yield {"sb": sb, "client": client, "store": store, "first": first, "second": second, "accepted": accepted,
           "plan": plan, "plan_id": plan_id}
    client.close()
    sb.stop()


def test_demo_month_plan_shows_every_action_and_every_cause(world):
    rows = world["plan"].rows
    assert set(rows["action"]) == {"in_sync", "update", "create", "cancel", "blocked"}
    assert {"unmapped_customer", "unmapped_product", "no_agreement", "agreement_cancelled", "agreement_expired",
            "ambiguous", "manually_edited", "excluded_by_rule"} <= set(rows["cause"].dropna())
    assert world["accepted"] == {"company": 22, "agreement": 18, "product": 8}


def test_stored_plan_is_the_plan_a_push_reads_back(world):
    stored = mo.latest_plan(world["store"], MONTH)
    assert stored.id == world["plan_id"]
    assert list(stored.rows["key"]) == list(world["plan"].rows["key"])
    s = stored.summary
    assert s["status"] == "changes"
    from decimal import Decimal as D
    assert D(s["dollars_checked"]) == D(s["dollars_reconciled"]) + D(s["dollars_blocked"]) + D(s["dollars_excluded"])
    creates = stored.rows[(stored.rows["action"] == "create") & stored.rows["request"].notna()]
    assert len(creates) and all(r["path"].endswith("/additions") for r in creates["lookup"])
    assert (stored.rows["target"] == "addition").all()


def test_snapshot_refresh_costs_six_requests_plus_one_per_mapped_agreement(world):
    # nothing mapped yet: 6 list reads, plus the client's one-time codebase lookup on its first call
    assert world["first"].request_count == 7
    n_agreements = len(mo.mapped_agreement_ids(world["store"]))
    assert n_agreements == 20
    assert world["second"].request_count == 6 + n_agreements
    assert world["second"].requests == {"GET": 6 + n_agreements}


def test_addition_lookup_finds_the_line_by_its_key_in_connectwise(world):
    """The natural key push uses before a POST: an existing keyed addition is found by it."""
    rows = world["plan"].rows
    r = rows[rows["key"] == "demo|DC-10001|S-1002"].iloc[0]  # in sync: ConnectWise has this keyed line
    agreement_id = int(r["agreement_id"])
    found = world["client"].list(f"/finance/agreements/{agreement_id}/additions",
                                 custom_field_conditions=f'caption="{dw.LINE_KEY_FIELD}" AND value="demo|DC-10001|S-1002"')
    assert [a["id"] for a in found] == [int(r["cw_addition_id"])]


def test_plan_goes_stale_when_a_mapping_changes_and_not_before(world):
    store = world["store"]
    assert not mo.plan_is_stale(store, MONTH)
    st.set_mappings(store, "rule", "demo", [{"vendor_customer_id": "DC-10021", "rule": "cap", "value": "5"}], by="ann")
    assert mo.plan_is_stale(store, MONTH)
    plan, _ = mo.build_plan(store, MONTH)
    capped = plan.rows[plan.rows["key"] == "demo|DC-10021|S-1033"].iloc[0]
    assert capped["new_quantity"] == 5 and capped["action"] == "update"
    st.delete_mappings(store, "rule", "demo", [{"vendor_customer_id": "DC-10021", "rule": "cap"}], by="ann")
    mo.build_plan(store, MONTH)


def test_build_plan_without_a_snapshot_says_to_refresh_first():
    store = Store.memory()
    sources.load_demo(store, MONTH)
    with pytest.raises(mo.NoSnapshotError, match="refresh"):
        mo.build_plan(store, MONTH)


def test_impact_figure_has_price_margin_and_blocked_bars_largest_first(world):
    impacts = mo.latest_plan(world["store"], MONTH, rows=False).summary["impact_by_customer"]
    fig = mo.impact_figure(impacts, top=5)
    assert [t.name for t in fig.data] == ["Customer price change", "Margin change", "Vendor cost blocked"]
    assert "(USD)" in fig.layout.title.text and "$" in "".join(t for t in fig.data[0].text if t)
    names = list(fig.data[0].y)
    assert len(names) == 5 and names[-1] == impacts[0]["customer"]  # horizontal bars: largest at the top
    assert fig.data[0].x[-1] == float(impacts[0]["price_impact"])
