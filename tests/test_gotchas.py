"""One test per ConnectWise gotcha (``shared/connectwise/gotchas.md``) that a client can get wrong,
over real HTTP against the sandbox."""

from __future__ import annotations

import time
from datetime import date, timedelta

import pytest

from billbridge.connectwise import (
    AuthenticationError,
    CWClient,
    CWSettings,
    InvalidRequestError,
    ObjectExistsError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    conditions as C,
)
from billbridge.sandbox import SandboxConfig, start_sandbox
from billbridge.sandbox.resources import now_utc
from client_support import FAST, client, faults, make_client  # noqa: F401  (fixtures)

@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(SandboxConfig(port=0, seed=42, extra_agreements=150, retry_after_s=1))
    yield sandbox
    sandbox.stop()


def an_agreement_id(client) -> int:
    return client.get("/finance/agreements", params={"pageSize": 1, "conditions": "cancelledFlag=false"})[0]["id"]


def an_addition(client, agreement_id, **over) -> dict:
    item = client.get("/procurement/catalog", params={"pageSize": 1, "conditions": "inactiveFlag=false"})[0]
    body = {"product": {"id": item["id"]}, "billCustomer": "Billable", "quantity": 2, "effectiveDate": date(2026, 10, 1)}
    body.update(over)
    return client.post(f"/finance/agreements/{agreement_id}/additions", body)


def test_gotcha_01_lists_are_not_truncated_at_the_servers_default_25_rows(client):
    raw = client.get("/company/companies")  # what a naive client sees: the server's default page
    assert len(raw) == 25
    total = client.count("/company/companies")
    assert total > 25
    assert len(client.list("/company/companies")) == total


def test_gotcha_02_later_pages_keep_the_filter_navigable_and_forward_only(client):
    cond = C.like("name", "Bulk Services%")
    expected = client.count("/finance/agreements", conditions=cond)
    assert expected == 150
    for forward_only in (False, True):
        rows = client.list("/finance/agreements", conditions=cond, page_size=20, forward_only=forward_only)
        assert len(rows) == expected and len({r["id"] for r in rows}) == expected
        assert all(r["name"].startswith("Bulk Services") for r in rows)


def test_gotcha_02_paging_survives_records_added_mid_scan_in_forward_only_mode(client):
    cond = C.like("name", "Bulk Services%")
    seen = []
    agreement = client.get(f"/finance/agreements/{an_agreement_id(client)}")
    for i, row in enumerate(client.iter("/finance/agreements", conditions=cond, page_size=25, forward_only=True)):
        seen.append(row["id"])
        if i == 30:  # a colleague renames an early record into the filter while we page
            client.patch_fields(f"/finance/agreements/{agreement['id']}", {"name": "Bulk Services late"})
    assert len(seen) == len(set(seen))  # nothing read twice
    client.patch_fields(f"/finance/agreements/{agreement['id']}", {"name": agreement["name"]})


def test_gotcha_03_rate_limiting_waits_for_retry_after_before_retrying(sb, faults):
    c = make_client(sb, max_retries=1)
    c.codebase
    faults(throttle_rate=1.0)
    started = time.monotonic()
    with pytest.raises(RateLimitedError):
        c.get("/system/info")
    assert time.monotonic() - started >= 0.95  # Retry-After: 1 was honoured (backoff alone is 0.05 s)
    assert c.stats["GET"] == 1 + 1 + 1  # companyinfo, the call, one retry


def test_gotcha_04_server_errors_are_retried_for_reads_but_a_post_is_never_resent(sb, faults):
    c = make_client(sb, max_retries=2)
    c.codebase
    c.reset_stats()
    faults(error_rate=1.0)
    with pytest.raises(ServerError) as got:
        c.get("/system/info")
    assert c.stats["GET"] == 3 and got.value.retries == 2
    with pytest.raises(ServerError) as posted:
        c.post("/company/companies", {"identifier": "G04", "name": "Gotcha 4"})
    assert c.stats["POST"] == 1 and posted.value.outcome_unknown


def test_gotcha_05_a_stale_codebase_is_looked_up_again_after_a_404(client):
    real = client.codebase
    client._codebase = "v2016_2"  # what the cache held before ConnectWise upgraded the cloud
    assert client.system_info()["version"]
    assert client.codebase == real


def test_gotcha_05_the_schema_version_is_pinned_in_the_accept_header(client):
    assert client.session.headers["Accept"] == "application/vnd.connectwise.com+json; version=2025.1"


def test_gotcha_06_billing_dates_go_out_and_come_back_as_midnight_utc(client, monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a local-time shift would move the day
    time.tzset()
    try:
        agreement_id = an_agreement_id(client)
        add = an_addition(client, agreement_id, effectiveDate=date(2026, 12, 1))
        path = f"/finance/agreements/{agreement_id}/additions/{add['id']}"
        out = client.patch_fields(path, {"cancelledDate": date(2027, 1, 31)})
        assert add["effectiveDate"] == "2026-12-01T00:00:00Z"
        assert out["cancelledDate"] == "2027-01-31T00:00:00Z"
        rows = client.list(f"/finance/agreements/{agreement_id}/additions",
                           conditions=C.eq("cancelledDate", date(2027, 1, 31)))
        assert add["id"] in [r["id"] for r in rows]
    finally:
        monkeypatch.delenv("TZ")
        time.tzset()


def test_gotcha_07_last_updated_finds_modified_records_not_only_new_ones(client):
    agreement_id = an_agreement_id(client)
    old = client.get(f"/finance/agreements/{agreement_id}/additions", params={"pageSize": 1})[0]
    since = now_utc() - timedelta(seconds=1)  # the sandbox's clock (BILLBRIDGE_TODAY's date when pinned)
    client.patch_fields(f"/finance/agreements/{agreement_id}/additions/{old['id']}", {"quantity": old["quantity"] + 1})
    changed = client.list(f"/finance/agreements/{agreement_id}/additions", conditions=C.ge("lastUpdated", since))
    assert old["id"] in [r["id"] for r in changed]


def test_gotcha_08_patch_sends_one_replace_op_per_field_and_surfaces_field_errors(client):
    agreement_id = an_agreement_id(client)
    add = an_addition(client, agreement_id)
    path = f"/finance/agreements/{agreement_id}/additions/{add['id']}"
    out = client.patch(path, [{"op": "replace", "path": "quantity", "value": 9}])
    assert out["quantity"] == 9 and out["unitPrice"] == add["unitPrice"]  # only that field changed
    with pytest.raises(InvalidRequestError) as info:
        client.patch_fields(path, {"billCustomer": "NotAnOption"})
    assert "billCustomer" in [e.get("field") for e in info.value.errors]


def test_gotcha_09_a_cancelled_addition_stays_listed_and_the_active_filter_drops_it(client):
    agreement_id = an_agreement_id(client)
    add = an_addition(client, agreement_id, effectiveDate=date(2020, 1, 1))
    path = f"/finance/agreements/{agreement_id}/additions"
    client.patch_fields(f"{path}/{add['id']}", {"cancelledDate": date(2020, 1, 31)})
    assert add["id"] in [r["id"] for r in client.list(path)]
    active = C.any_of(C.eq("cancelledDate", None), C.gt("cancelledDate", date.today()))
    assert add["id"] not in [r["id"] for r in client.list(path, conditions=active)]


def test_gotcha_10_long_id_lists_are_split_to_keep_urls_short(client):
    ids = [r["id"] for r in client.list("/finance/agreements", fields="id")]
    client.reset_stats()
    rows = client.get_many("/finance/agreements", ids, fields="id", max_url=600)
    assert sorted(r["id"] for r in rows) == sorted(ids)
    assert client.stats["GET"] > 1


def test_gotcha_10_an_unknown_condition_field_is_reported_by_name(client):
    with pytest.raises(InvalidRequestError) as info:
        client.count("/company/companies", conditions=C.eq("typeids", 3))
    assert info.value.code == "ApiFindCondition" and "typeids" in str(info.value)


def test_gotcha_extra_403_is_not_401_for_a_member_without_the_role(sb):
    ro = make_client(sb, public_key="readonly-public", private_key="readonly-private")
    with pytest.raises(PermissionDeniedError):
        ro.patch_fields(f"/finance/agreements/{an_agreement_id(ro)}", {"name": "x"})
    with pytest.raises(AuthenticationError):
        make_client(sb, private_key="definitely-wrong").system_info()


def test_gotcha_extra_companyinfo_for_an_unknown_company_is_null_not_404(sb):
    s = CWSettings(site=sb.base_url, company_id="nobody-here", public_key="pppppppp", private_key="qqqqqqqq")
    assert CWClient(s, **FAST).company_info() is None


def test_gotcha_extra_duplicate_create_is_a_400_object_exists(client):
    ident = f"DUP{time.monotonic_ns() % 10**9}"
    client.post("/company/companies", {"identifier": ident, "name": "Dup one"})
    with pytest.raises(ObjectExistsError) as info:
        client.post("/company/companies", {"identifier": ident, "name": "Dup two"})
    assert info.value.status == 400
