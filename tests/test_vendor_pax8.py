"""Pax8 over real HTTP against the sandbox's emulator: OAuth2 and the published envelope, the month's
invoices and items pulled into the store like a file (vendor cost = the items' costTotal sum to the
cent), drafts before the invoice, retries through faults, and the token renewed on 401."""

from __future__ import annotations

import logging
from datetime import date
from decimal import Decimal

import pytest
import requests
from hypothesis import given, settings as hsettings
from hypothesis import strategies as hs

from billbridge import clock, demo_world
from billbridge import store as st
from billbridge.errors import InputError, NotFoundError
from billbridge.sandbox import PAX8_CREDENTIALS, SandboxConfig, start_sandbox
from billbridge.sandbox.pax8 import INVOICE_FIELDS, ITEM_FIELDS
from billbridge.sources import pax8, pull, registry
from billbridge.sources.http import VendorAuthError, forget_tokens
from billbridge.sources.settings import sandbox_settings
from billbridge.store import Store

#: the day these tests run on (the demo window 2026-08..2026-11; invoices dated the 4th)
SEED_TODAY = date(2026, 11, 22)

MONTH = "2026-11"  # the month of SEED_TODAY (2026-11-22): its invoice is dated 2026-11-04
FAST = {"backoff_factor": 0.01, "backoff_max": 0.05}


@pytest.fixture(scope="module")
def sb():
    box = start_sandbox(SandboxConfig(today=SEED_TODAY, retry_after_s=0))
    yield box
    box.stop()


@pytest.fixture
def emu(sb):
    forget_tokens()
    e = sb.vendors["pax8"]
    e.configure(filler_items=0)
    e.reset_counts()
    sb.set_faults(latency_ms=0, error_rate=0, throttle_rate=0, drop_rate=0, seed=7)
    yield e
    e.configure(filler_items=0)
    sb.set_faults(latency_ms=0, error_rate=0, throttle_rate=0, drop_rate=0)


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv(clock.ENV, SEED_TODAY.isoformat())


@pytest.fixture
def cfg(sb):
    return sandbox_settings("pax8", sb.base_url)


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "b.db")


def _token(sb) -> str:
    r = requests.post(f"{sb.base_url}/pax8/v1/token", json={
        "client_id": PAX8_CREDENTIALS["client_id"], "client_secret": PAX8_CREDENTIALS["client_secret"],
        "audience": "https://api.pax8.com", "grant_type": "client_credentials"}, timeout=10)
    assert r.status_code == 200
    body = r.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 86400
    return body["access_token"]


def _get(sb, path, token, **params):
    return requests.get(f"{sb.base_url}/pax8/v1/{path}", params=params, timeout=10,
                        headers={"Authorization": f"Bearer {token}"})


# ------------------------------------------------------------------------------------ emulator
def test_the_token_needs_the_sandbox_client_credentials_and_the_api_a_bearer_token(sb, emu):
    bad = requests.post(f"{sb.base_url}/pax8/v1/token", json={"client_id": "x", "client_secret": "y",
                                                            "audience": "https://api.pax8.com",
                                                            "grant_type": "client_credentials"}, timeout=10)
    assert bad.status_code == 401 and bad.json() == {"error": "access_denied", "error_description": "Unauthorized"}
    assert requests.get(f"{sb.base_url}/pax8/v1/invoices", timeout=10).status_code == 401
    assert _get(sb, "invoices", "not-a-token").status_code == 401
    assert _get(sb, "invoices", _token(sb)).status_code == 200


def test_invoices_come_in_the_published_envelope_dated_the_4th(sb, emu):
    body = _get(sb, "invoices", _token(sb), size=2, page=0, sort="invoiceDate,asc").json()
    assert set(body) == {"content", "page"} and set(body["page"]) == {"size", "totalElements", "totalPages", "number"}
    assert body["page"] == {"size": 2, "totalElements": 4, "totalPages": 2, "number": 0}
    dates = [i["invoiceDate"] for i in body["content"]]
    assert dates == ["2026-08-04", "2026-09-04"]
    assert all(set(i) == set(INVOICE_FIELDS) for i in body["content"])
    month = _get(sb, "invoices", _token(sb), invoiceDateRangeStart="2026-11-01", invoiceDateRangeEnd="2026-11-30").json()
    assert [i["invoiceDate"] for i in month["content"]] == ["2026-11-04"]


def test_items_carry_every_published_field_and_size_is_capped_at_200(sb, emu):
    emu.configure(filler_items=450)
    tok = _token(sb)
    (inv,) = _get(sb, "invoices", tok, invoiceDate="2026-11-04").json()["content"]
    body = _get(sb, f"invoices/{inv['id']}/items", tok, size=500).json()
    assert body["page"]["size"] == 200 and len(body["content"]) == 200
    assert body["page"]["totalPages"] == 3 and body["page"]["totalElements"] > 450
    assert all(set(i) == set(ITEM_FIELDS) for i in body["content"])
    default = _get(sb, f"invoices/{inv['id']}/items", tok).json()
    assert default["page"]["size"] == 10


def test_the_emulator_bills_the_demo_worlds_customers_and_skus(sb, emu):
    tok = _token(sb)
    (inv,) = _get(sb, "invoices", tok, invoiceDate="2026-11-04").json()["content"]
    items = _get(sb, f"invoices/{inv['id']}/items", tok, size=200).json()["content"]
    assert {i["companyName"] for i in items} == {c.vendor_name for c in demo_world.CUSTOMERS if any(
        s.quantities[-1] for s in c.subscriptions)}
    assert {i["sku"] for i in items} <= set(demo_world.PRODUCTS_BY_SKU)
    assert {i["externalId"] for i in items} <= set(demo_world.CUSTOMERS_BY_ID)


def test_draft_items_exist_for_this_month_and_next_only(sb, emu):
    tok = _token(sb)
    assert _get(sb, "invoices/draftItems", tok, monthOffset=2).status_code == 422
    nxt = _get(sb, "invoices/draftItems", tok, size=200).json()  # default monthOffset=1
    assert {i["startPeriod"][:7] for i in nxt["content"]} == {"2026-12"}
    assert not any(i["term"] == "Arrears" for i in nxt["content"])  # no usage in drafts
    assert _get(sb, "invoices/00000000-0000-0000-0000-000000000000/items", tok).status_code == 404


def test_an_invoice_exists_only_from_the_4th(emu):
    from datetime import date

    emu.sandbox.config.today = date(2026, 11, 3)
    try:
        assert emu.invoice_months()[-1] == "2026-10"
    finally:
        emu.sandbox.config.today = SEED_TODAY


# ----------------------------------------------------------------------------------------- pull
def test_pulling_the_month_stores_it_and_the_vendor_cost_is_the_items_cost_total_sum(sb, emu, cfg, store):
    result = pull(store, "pax8", MONTH, settings=cfg)
    assert result.status == "loaded", result.problems
    items = emu.items(MONTH)
    expected = sum(Decimal(str(i["costTotal"])) for i in items)
    imp = st.get_import(store, result.import_id)
    assert imp["total_cost"] == expected and imp["vendor"] == "pax8" and imp["format"] == "pax8"
    assert imp["line_count"] == len(items)
    lines = result.parse.lines
    assert set(lines["vendor_customer_external_id"]) == {i["externalId"] for i in items}
    assert (lines["charge_type"] == "usage").sum() == sum(i["term"] == "Arrears" for i in items)
    assert set(lines.loc[lines["vendor_charge_type"] == "prorate", "vendor_prorated"].dropna()) == {"true"}
    assert lines.loc[lines["charge_type"] == "credit", "extended_cost"].tolist() == ["-13.50"]
    assert pull(store, "pax8", MONTH, settings=cfg).status == "unchanged"


def test_a_month_with_many_pages_is_fetched_page_by_page_concurrently(sb, emu, cfg, store):
    emu.configure(filler_items=1000)
    stats: dict = {}
    lines = pax8.fetch(cfg, MONTH, concurrency=3, stats=stats)
    n = len(emu.items(MONTH))
    assert len(lines.lines) == n and stats["item_pages"] == -(-n // 200) and stats["invoice_pages"] == 1
    assert emu.requests["items"] == -(-n // 200) and emu.requests["token"] == 1
    assert lines.vendor_total == sum(Decimal(str(i["costTotal"])) for i in emu.items(MONTH))


def test_faults_are_retried_and_the_pull_still_matches_to_the_cent(sb, emu, cfg, store):
    emu.configure(filler_items=800)
    sb.set_faults(error_rate=0.15, throttle_rate=0.15, drop_rate=0.05, seed=3)
    stats: dict = {}
    result = pull(store, "pax8", MONTH, settings=cfg, stats=stats, **FAST)
    sb.set_faults(error_rate=0, throttle_rate=0, drop_rate=0)
    assert result.status == "loaded", result.problems
    assert set(stats["retries"]) & {"429", "500", "502", "503", "504"} and sum(stats["retries"].values()) >= 2
    assert result.parse.total_cost == sum(Decimal(str(i["costTotal"])) for i in emu.items(MONTH))


def test_the_token_is_fetched_once_and_renewed_on_401(sb, emu, cfg):
    client = pax8.client_for(cfg)
    client.get("invoices")
    client.get("invoices")
    assert emu.requests["token"] == 1
    emu.tokens.expire_all()
    assert client.get("invoices")["page"]["totalElements"] == "4"  # numbers arrive as their exact text
    assert emu.requests["token"] == 2 and emu.requests["unauthorized"] == 1
    client.close()


def test_the_token_lives_24_hours_so_the_next_pull_reuses_it(emu, cfg, store):
    pull(store, "pax8", MONTH, settings=cfg)
    stats: dict = {}
    pull(store, "pax8", "2026-10", settings=cfg, stats=stats)
    assert emu.requests["token"] == 1 and stats["token"] == 0


def test_wrong_credentials_are_an_auth_error_that_never_shows_the_secret(sb, emu, cfg, store, caplog):
    from dataclasses import replace

    wrong = replace(cfg, client_secret="s3cret-never-shown-anywhere")
    caplog.set_level(logging.DEBUG)
    with pytest.raises(VendorAuthError) as err:
        pull(store, "pax8", MONTH, settings=wrong)
    assert err.value.exit_code == 3 and err.value.status == 401
    assert "s3cret-never-shown-anywhere" not in str(err.value) + repr(wrong) + caplog.text
    assert st.list_imports(store) == []


def test_a_draft_then_the_final_invoice_are_two_versions_and_the_diff_shows_the_change(sb, emu, cfg, store, monkeypatch):
    from datetime import date

    # 2 Nov: the November invoice does not exist yet; the draft (monthOffset 0) does
    sb.config.today = date(2026, 11, 2)
    monkeypatch.setenv(clock.ENV, "2026-11-02")
    try:
        with pytest.raises(NotFoundError, match="no invoice dated in 2026-11"):
            pull(store, "pax8", MONTH, settings=cfg)
        draft = pull(store, "pax8", MONTH, settings=cfg, draft=True)
        assert draft.status == "loaded" and draft.version == 1
        assert st.get_import(store, draft.import_id)["format"] == "pax8-draft"
    finally:
        sb.config.today = SEED_TODAY
        monkeypatch.setenv(clock.ENV, SEED_TODAY.isoformat())
    final = pull(store, "pax8", MONTH, settings=cfg)
    assert final.status == "loaded" and final.version == 2 and final.previous_id == draft.import_id
    added = final.diff["added"]
    assert "usage" in set(added["charge_type"])  # usage is only on the invoice, never on a draft
    with pytest.raises(InputError, match="final Pax8 bill for 2026-11 is already loaded"):
        pull(store, "pax8", MONTH, settings=cfg, draft=True)


def test_a_draft_for_a_month_pax8_has_no_draft_of_is_refused(cfg, store):
    with pytest.raises(InputError, match="draft items only for this month"):
        pull(store, "pax8", "2027-03", settings=cfg, draft=True)


def test_progress_is_reported_as_pages_arrive(emu, cfg, store):
    emu.configure(filler_items=450)
    seen = []
    pull(store, "pax8", MONTH, settings=cfg, progress=lambda done, total, text: seen.append((done, total, text)))
    item_steps = [s for s in seen if "invoice items" in s[2]]
    assert item_steps[-1][0] == item_steps[-1][1] == 3
    assert seen[-1][0] == seen[-1][1] == 1 and "Loaded" in seen[-1][2]


# --------------------------------------------------------------------------------- the mapping
def _item(**over):
    base = {"id": "i-1", "type": "subscription", "companyId": "c-1", "externalId": "X1", "companyName": "Acme",
            "startPeriod": "2026-11-01", "endPeriod": "2026-11-30", "quantity": "3", "term": "Monthly", "sku": "SKU-1",
            "productName": "Thing", "price": "5.00", "cost": "4.00", "costTotal": "12.00", "currencyCode": "USD",
            "salesTax": "0.60", "subscriptionId": "s-1"}
    base.update(over)
    return base


def _canon(*items):
    return registry.validate(pax8.canonical_items([{"id": "inv-1"}], [list(items)], "pax8 test"), MONTH)


def test_an_unknown_pax8_type_is_a_problem_naming_the_value_and_the_row():
    parsed = _canon(_item(), _item(id="i-2", type="loyalty-bonus", subscriptionId="s-2"))
    (p,) = parsed.problems
    assert (p.row, p.column, p.value) == (2, "type", "loyalty-bonus")
    assert "unknown Pax8 item type 'loyalty-bonus'" in p.reason and p.reason.endswith("(Pax8 item i-2)")


@pytest.mark.parametrize("kind, term, charge", [
    ("subscription", "Monthly", "recurring"), ("subscription", "Arrears", "usage"), ("prorate", "Annual", "recurring"),
    ("one-time", "One-Time", "one_time"), ("service-charge", "One-time", "one_time"),
])
def test_pax8_types_and_terms_map_to_charge_types(kind, term, charge):
    parsed = _canon(_item(type=kind, term=term))
    assert parsed.ok, parsed.problems
    assert parsed.lines["charge_type"].tolist() == [charge]


@pytest.mark.parametrize("kind", ["rebate", "service-credit", "invoice-credit", "payment-credit"])
def test_pax8_credit_types_are_credits_and_must_not_be_positive(kind):
    neg = _canon(_item(type=kind, quantity="-3", costTotal="-12.00", term="Rebate"))
    assert neg.ok and neg.lines["charge_type"].tolist() == ["credit"] and neg.total_cost == Decimal("-12.00")
    (p,) = _canon(_item(type=kind, term="Rebate")).problems
    assert p.column == "costTotal"


def test_a_negative_prorate_is_the_refund_of_removed_seats():
    parsed = _canon(_item(), _item(id="i-2", type="prorate", quantity="-1", costTotal="-2.13", cost="2.13",
                                   startPeriod="2026-11-16"))
    assert parsed.ok, parsed.problems
    assert parsed.lines["charge_type"].tolist() == ["recurring", "credit"]
    assert parsed.lines["credit_for_line"].tolist()[1] == "1"


def test_a_two_year_term_has_no_billbridge_term_and_is_refused():
    (p,) = _canon(_item(term="2 Year")).problems
    assert p.column == "term" and "has no billbridge term" in p.reason


def test_an_end_period_that_is_the_next_periods_first_day_is_read_as_exclusive():
    parsed = _canon(_item(startPeriod="2019-04-01", endPeriod="2019-05-01"),
                    _item(id="i-2", subscriptionId="s-2", startPeriod="2026-11-01", endPeriod="2027-11-01",
                          term="Annual"))
    assert parsed.lines["period_end"].tolist() == ["2019-04-30", "2027-10-31"]
    assert parsed.lines["billing_frequency"].tolist() == ["monthly", "annual"]


def test_the_vendors_cost_total_is_kept_even_when_it_is_not_quantity_times_cost():
    lines = pax8.canonical_items([{"id": "inv"}], [[_item(costTotal="11.00")]], "t")
    parsed = registry.validate(lines, MONTH)
    assert parsed.ok and parsed.total_cost == Decimal("11.00")
    assert any("costTotal differs" in w for w in parsed.warnings)


def test_a_rate_limit_that_never_lifts_ends_as_a_429_error_after_the_retry_budget(sb, emu, cfg, store):
    from billbridge.sources.http import VendorAPIError

    client = pax8.client_for(cfg, max_retries=2, **FAST)
    client.token()
    sb.set_faults(throttle_rate=1.0)
    try:
        with pytest.raises(VendorAPIError) as err:
            client.get("invoices")
    finally:
        sb.set_faults(throttle_rate=0)
        client.close()
    assert err.value.status == 429 and "rate limited" in str(err.value)
    assert client.retries["429"] == 2 and client.stats["requests"] == 1 + 3


@hsettings(max_examples=40, deadline=None)
@given(hs.lists(hs.tuples(hs.integers(-20, 400), hs.decimals("0.01", "900", places=4)), min_size=1, max_size=15))
def test_property_the_pulled_vendor_cost_is_the_items_cost_total_sum(pairs):
    items = []
    for k, (qty, cost) in enumerate(pairs):
        qty = qty or 1
        total = (cost * qty).quantize(Decimal("0.01"))
        items.append(_item(id=f"i-{k}", subscriptionId=f"s-{k}", quantity=str(qty), cost=str(cost),
                           costTotal=str(total), type="subscription" if qty > 0 else "prorate"))
    parsed = _canon(*items)
    assert parsed.ok, parsed.problems
    assert parsed.total_cost == sum(Decimal(i["costTotal"]) for i in items)
