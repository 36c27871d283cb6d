"""Sherweb over real HTTP against the sandbox's emulator: form-encoded client credentials with the
subscription key on every call, the billing period's payable charges stored like a file, drafts
while the period is open, and deductions kept on the line."""

from __future__ import annotations

from datetime import date

import json
from decimal import Decimal

import pytest
import requests

from billbridge import clock, demo_world
from billbridge import store as st
from billbridge.errors import NotFoundError
from billbridge.sandbox import SHERWEB_CREDENTIALS, SandboxConfig, start_sandbox
from billbridge.sandbox.sherweb import CHARGE_FIELDS
from billbridge.sources import pull, registry, sherweb
from billbridge.sources.http import VendorAuthError, forget_tokens
from billbridge.sources.settings import sandbox_settings
from billbridge.store import Store

#: the day these tests run on (the demo window 2026-08..2026-11; invoices dated the 4th)
SEED_TODAY = date(2026, 11, 22)

KEY = {"Ocp-Apim-Subscription-Key": SHERWEB_CREDENTIALS["subscription_key"]}


@pytest.fixture(scope="module")
def sb():
    box = start_sandbox(SandboxConfig(today=SEED_TODAY, retry_after_s=0))
    yield box
    box.stop()


@pytest.fixture(autouse=True)
def today(monkeypatch):
    monkeypatch.setenv(clock.ENV, SEED_TODAY.isoformat())


@pytest.fixture
def cfg(sb):
    forget_tokens()
    return sandbox_settings("sherweb", sb.base_url)


@pytest.fixture
def store(tmp_path):
    return Store.open(tmp_path / "b.db")


def _token(sb) -> str:
    r = requests.post(f"{sb.base_url}/sherweb/auth/oidc/connect/token", headers=KEY, timeout=10, data={
        "client_id": SHERWEB_CREDENTIALS["client_id"], "client_secret": SHERWEB_CREDENTIALS["client_secret"],
        "scope": "distributor", "grant_type": "client_credentials"})
    assert r.status_code == 200, r.text
    return r.json()["access_token"]


def _charges(sb, token, date="2026-10-01", key=KEY):
    return requests.get(f"{sb.base_url}/sherweb/distributor/v1/billing/payable-charges", params={"date": date},
                        headers={**key, "Authorization": f"Bearer {token}"}, timeout=10)


def test_every_call_needs_the_subscription_key_and_a_token_from_form_encoded_credentials(sb):
    tok = _token(sb)
    assert _charges(sb, tok, key={}).status_code == 401
    assert _charges(sb, "nope").status_code == 401
    bad = requests.post(f"{sb.base_url}/sherweb/auth/oidc/connect/token", headers=KEY, timeout=10,
                        data={"client_id": "x", "client_secret": "y", "scope": "distributor",
                              "grant_type": "client_credentials"})
    assert bad.status_code == 400 and bad.json() == {"error": "invalid_client"}
    assert _charges(sb, tok).status_code == 200


def test_payable_charges_carry_every_published_field_for_the_period_holding_the_date(sb):
    body = _charges(sb, _token(sb), date="2026-10-17").json()
    assert (body["periodFrom"], body["periodTo"]) == ("2026-10-01", "2026-10-31")
    assert body["charges"] and all(set(c) == set(CHARGE_FIELDS) for c in body["charges"])
    assert {c["chargeType"] for c in body["charges"]} <= {"Setup", "Recurring", "Usage", "Unknown"}
    names = {t["value"] for c in body["charges"] for t in c["tags"] if t["name"] == "CustomerDisplayName"}
    assert names <= {c.vendor_name for c in demo_world.CUSTOMERS}
    assert all(c["isBilled"] and c["invoice"]["date"] == "2026-11-01" for c in body["charges"])


def test_a_billed_month_is_pulled_and_its_vendor_cost_is_the_charges_subtotal_sum(sb, cfg, store):
    result = pull(store, "sherweb", "2026-10", settings=cfg)
    assert result.status == "loaded", result.problems
    charges = sb.vendors["sherweb"].payable_charges(__import__("datetime").date(2026, 10, 1))["charges"]
    assert st.get_import(store, result.import_id)["total_cost"] == sum(Decimal(str(c["subTotal"])) for c in charges)
    lines = result.parse.lines
    assert set(lines["charge_type"]) == {"recurring", "usage"}
    assert set(lines["vendor_invoice_id"]) == {"SW-202610-0001"}


def test_deductions_are_kept_on_the_line_and_the_unit_cost_is_the_prorated_net_price(sb, cfg, store):
    lines = pull(store, "sherweb", "2026-10", settings=cfg).parse.lines
    promo = lines[lines["deductions"].notna()]
    assert promo["vendor_customer_name"].tolist() == ["Vantage Point Consulting"]
    row = promo.iloc[0]
    assert (row["list_unit_cost"], row["unit_cost"], row["deduction_total"]) == ("2.00", "1.80", "3.20")
    assert json.loads(row["deductions"])[0]["deductionType"] == "PromotionalPercentage"
    assert row["extended_cost"] == "28.80"  # 16 x 1.80


def test_the_open_period_is_refused_as_final_and_loads_as_a_draft_then_the_final_shows_the_change(sb, cfg, store):
    with pytest.raises(NotFoundError, match="Sherweb has not billed 2026-11 yet"):
        pull(store, "sherweb", "2026-11", settings=cfg)
    draft = pull(store, "sherweb", "2026-11", settings=cfg, draft=True)
    assert draft.status == "loaded" and st.get_import(store, draft.import_id)["format"] == "sherweb-draft"
    assert any("not billed yet" in w for w in draft.parse.warnings)
    sb.config.today = __import__("datetime").date(2026, 12, 2)  # the period closed and was billed
    try:
        final = pull(store, "sherweb", "2026-11", settings=cfg)
    finally:
        sb.config.today = SEED_TODAY
    assert final.status == "loaded" and final.version == 2 and final.diff is not None


def test_wrong_credentials_are_an_auth_error_without_the_key(sb, cfg, store):
    from dataclasses import replace

    with pytest.raises(VendorAuthError) as err:
        pull(store, "sherweb", "2026-10", settings=replace(cfg, subscription_key="wrong-key-123456"))
    assert "wrong-key-123456" not in str(err.value) and err.value.status == 401


def _charge(**over):
    base = {"productId": "p", "productName": "Thing", "sku": "SKU", "chargeId": "ch-1", "chargeName": "Monthly fee",
            "chargeType": "Recurring", "billingCycleType": "Monthly", "periodFrom": "2026-10-01",
            "periodTo": "2026-10-31", "quantity": "4", "listPrice": "5", "netPrice": "5", "netPriceProrated": "5",
            "subTotal": "20", "currency": "USD", "isBilled": True, "deductions": [],
            "tags": [{"name": "CustomerDisplayName", "value": "Acme"}, {"name": "CustomerId", "value": "A1"}]}
    base.update(over)
    return base


def _canon(*charges):
    return registry.validate(sherweb.canonical_charges(list(charges), "sherweb test"), "2026-10")


def test_an_unknown_charge_type_is_a_problem_naming_it():
    parsed = _canon(_charge(), _charge(chargeId="ch-2", sku="B", chargeType="Unknown"))
    (p,) = parsed.problems
    assert (p.row, p.column, p.value) == (2, "chargeType", "Unknown") and "older invoices" in p.reason


@pytest.mark.parametrize("ctype, cycle, charge, freq", [
    ("Setup", "OneTime", "one_time", "monthly"), ("Recurring", "Yearly", "recurring", "annual"),
    ("Usage", "Monthly", "usage", "monthly"), ("Recurring", "OneTime", "one_time", "monthly"),
])
def test_charge_types_and_billing_cycles_map(ctype, cycle, charge, freq):
    parsed = _canon(_charge(chargeType=ctype, billingCycleType=cycle))
    assert parsed.ok, parsed.problems
    assert parsed.lines[["charge_type", "billing_frequency"]].values.tolist() == [[charge, freq]]


def test_a_double_with_too_many_decimals_is_rounded_once_and_a_negative_subtotal_is_a_credit():
    parsed = _canon(_charge(quantity="3", netPriceProrated="4.1", subTotal="12.299999999999999"),
                    _charge(chargeId="ch-2", quantity="-1", netPriceProrated="5", subTotal="-5", periodFrom="2026-10-20"))
    assert parsed.ok, parsed.problems
    assert parsed.lines["extended_cost"].tolist() == ["12.30", "-5.00"]
    assert parsed.lines["charge_type"].tolist() == ["recurring", "credit"]
    assert parsed.total_cost == Decimal("7.30")


def test_a_charge_without_a_customer_id_tag_uses_the_display_name_and_says_so():
    parsed = _canon(_charge(tags=[{"name": "CustomerDisplayName", "value": "Acme"}]))
    assert parsed.ok and parsed.lines["vendor_customer_id"].tolist() == ["Acme"]
    assert any("without a CustomerId tag" in w for w in parsed.warnings)


def test_faults_on_the_sherweb_paths_are_retried(sb, cfg, store):
    sb.set_faults(error_rate=0.4, throttle_rate=0.3, seed=11)
    stats: dict = {}
    try:
        result = pull(store, "sherweb", "2026-10", settings=cfg, stats=stats, backoff_factor=0.01, backoff_max=0.05,
                      max_retries=8)
    finally:
        sb.set_faults(error_rate=0, throttle_rate=0)
    assert result.status == "loaded" and sum(stats["retries"].values()) >= 1
