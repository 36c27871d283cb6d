"""The ConnectWise client over real HTTP against the sandbox on a free local port.

No mocks: every test talks to ``billbridge.sandbox`` through a socket, so it proves what the
client puts on the wire and how it reads what comes back.
"""

from __future__ import annotations

import json
import logging
import socket
import time
from datetime import date

import pytest
from hypothesis import HealthCheck, given, settings as hsettings
from hypothesis import strategies as st

from billbridge.connectwise import (
    AuthenticationError,
    CWClient,
    CWConnectionError,
    CWSettings,
    InvalidRequestError,
    NotFoundError,
    ObjectExistsError,
    PermissionDeniedError,
    RateLimitedError,
    check_connection,
    check_permissions,
    conditions as C,
    explain,
)
from billbridge.sandbox import SandboxConfig, start_sandbox
from client_support import FAST, client, faults, make_client  # noqa: F401  (fixtures)

@pytest.fixture(scope="module")
def sb():
    sandbox = start_sandbox(SandboxConfig(port=0, seed=42, retry_after_s=1))
    yield sandbox
    sandbox.stop()


def a_company(client, **over):
    body = {"identifier": f"T{time.monotonic_ns() % 10**12}", "name": "Test Co"}
    body.update(over)
    return client.post("/company/companies", body)


def an_agreement_id(client) -> int:
    rows = client.get("/finance/agreements", params={"pageSize": 1, "fields": "id", "conditions": "cancelledFlag=false"})
    return rows[0]["id"]


def a_catalog_item(client) -> dict:
    return client.get("/procurement/catalog", params={"pageSize": 1, "conditions": "inactiveFlag=false"})[0]


def an_addition(client, agreement_id=None, **over):
    agreement_id = agreement_id or an_agreement_id(client)
    item = a_catalog_item(client)
    body = {"product": {"id": item["id"]}, "billCustomer": "Billable", "quantity": 3,
            "effectiveDate": date(2026, 11, 1)}
    body.update(over)
    return client.post(f"/finance/agreements/{agreement_id}/additions", body)


# -- codebase, headers, basics ----------------------------------------------------------------

def test_codebase_is_looked_up_through_companyinfo_and_cached(sb):
    c = make_client(sb)
    info = c.company_info()
    assert info and info["Codebase"].strip("/") and "CompanyName" in info  # PascalCase, no auth needed
    c.reset_stats()
    assert c.base_url == f"{sb.base_url.rstrip('/')}/{info['Codebase'].strip('/')}/apis/3.0"
    c.system_info()
    c.system_info()
    assert c.stats["GET"] == 3  # one companyinfo lookup, then two API calls


def test_a_configured_codebase_skips_the_lookup(sb):
    s = CWSettings(site=sb.base_url, company_id=sb.company_id, public_key=sb.public_key,
                   private_key=sb.private_key, client_id="t", codebase="v4_6_release/")
    c = CWClient(s, **FAST)
    assert c.base_url.endswith("/v4_6_release/apis/3.0")
    assert c.system_info()["version"]
    assert c.stats["GET"] == 1


def test_company_info_for_an_unknown_company_is_none(sb):
    assert make_client(sb, company_id="no-such-company").company_info() is None


def test_system_info_reports_the_server_version(client):
    info = client.system_info()
    assert info["version"]


def test_count_matches_the_length_of_the_full_list(client):
    assert client.count("/company/companies") == len(client.list("/company/companies"))


# -- pagination -------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def big_sb():
    sandbox = start_sandbox(SandboxConfig(port=0, seed=7, extra_agreements=2345, retry_after_s=1))
    yield sandbox
    sandbox.stop()


def test_list_reads_past_1000_rows_without_losing_or_repeating_any(big_sb):
    c = make_client(big_sb)
    total = c.count("/finance/agreements")
    assert total > 2000
    c.reset_stats()
    rows = c.list("/finance/agreements", fields="id,name")
    ids = [r["id"] for r in rows]
    assert len(ids) == total and len(set(ids)) == total
    assert c.stats["GET"] == -(-total // 1000)  # pageSize=1000 was sent: 3 requests, not total/25


def test_forward_only_paging_returns_every_row_in_id_order(big_sb):
    c = make_client(big_sb)
    rows = c.list("/finance/agreements", fields="id", forward_only=True, page_size=500)
    ids = [r["id"] for r in rows]
    assert ids == sorted(ids) and len(ids) == c.count("/finance/agreements")


def test_filtered_paging_keeps_the_filter_on_every_page(big_sb):
    c = make_client(big_sb)
    cond = C.like("name", "Bulk Services 01%")
    rows = c.list("/finance/agreements", conditions=cond, page_size=37, order_by="name desc")
    assert len(rows) == c.count("/finance/agreements", conditions=cond) == 1000
    assert all(r["name"].startswith("Bulk Services 01") for r in rows)
    assert [r["name"] for r in rows] == sorted((r["name"] for r in rows), reverse=True)


def test_get_many_batches_ids_under_the_url_limit(big_sb):
    c = make_client(big_sb)
    all_ids = [r["id"] for r in c.list("/finance/agreements", fields="id")]
    wanted = all_ids[::2][:900]
    c.reset_stats()
    rows = c.get_many("/finance/agreements", wanted, fields=["id", "name"], max_url=2000)
    assert sorted(r["id"] for r in rows) == sorted(wanted)
    assert 5 <= c.stats["GET"] <= 30  # batched: neither one request per id nor one huge URL


# -- conditions over the wire -----------------------------------------------------------------

TRICKY_NAMES = [
    "O'Brien \"Bob\" & Söhne",
    "back\\slash \\n not a newline",
    "Zürich ☃ 東京",
    "100% (real) [brackets] = and or not",
    "'; drop table companies; --",
]


@pytest.mark.parametrize("name", TRICKY_NAMES)
def test_conditions_with_quotes_unicode_and_operators_match_exactly_one_record(client, name):
    created = a_company(client, name=name)
    rows = client.list("/company/companies", conditions=C.eq("name", name))
    assert [r["id"] for r in rows] == [created["id"]]
    assert rows[0]["name"] == name


@hsettings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=40))
def test_any_operator_text_is_a_valid_condition_that_cannot_widen_the_query(client, text):
    # Never a 400 from the server, never more rows than an exact name match can give.
    n = client.count("/company/companies", conditions=C.all_of(C.eq("name", text), C.eq("id", -1)))
    assert n == 0
    n = client.count("/company/companies", conditions=C.eq("identifier", text + "\u2603zz"))
    assert n == 0


def test_date_conditions_select_by_calendar_date(client):
    agreement_id = an_agreement_id(client)
    add = an_addition(client, agreement_id, effectiveDate=date(2031, 2, 28))
    path = f"/finance/agreements/{agreement_id}/additions"
    hits = client.list(path, conditions=C.eq("effectiveDate", date(2031, 2, 28)))
    assert add["id"] in [r["id"] for r in hits]
    assert all(r["effectiveDate"] == "2031-02-28T00:00:00Z" for r in hits)
    assert add["id"] not in [r["id"] for r in client.list(path, conditions=C.lt("effectiveDate", date(2031, 2, 28)))]


# -- writes -----------------------------------------------------------------------------------

def test_post_patch_put_delete_round_trip_an_addition(client):
    agreement_id = an_agreement_id(client)
    add = an_addition(client, agreement_id)
    path = f"/finance/agreements/{agreement_id}/additions/{add['id']}"
    assert add["quantity"] == 3 and add["effectiveDate"] == "2026-11-01T00:00:00Z"
    from decimal import Decimal

    patched = client.patch_fields(path, {"quantity": Decimal("5"), "cancelledDate": date(2026, 11, 30)})
    assert patched["quantity"] == 5 and patched["cancelledDate"] == "2026-11-30T00:00:00Z"
    full = client.get(path)
    full["quantity"] = 7
    put = client.put(path, {k: v for k, v in full.items() if k not in ("_info",)})
    assert put["quantity"] == 7
    assert client.delete(path) is None
    with pytest.raises(NotFoundError):
        client.get(path)
    assert client.stats["POST"] == client.stats["PATCH"] == client.stats["PUT"] == client.stats["DELETE"] == 1


# -- error mapping ----------------------------------------------------------------------------

def test_wrong_private_key_is_an_authentication_error(sb):
    c = make_client(sb, private_key="wrong-private-key")
    with pytest.raises(AuthenticationError) as info:
        c.list("/company/companies")
    assert info.value.status == 401 and "keys" in explain(info.value)
    assert c.stats["GET"] == 2  # companyinfo + one call: a 401 is never retried


def test_read_only_member_writing_gets_permission_denied_naming_the_permission(sb):
    ro = make_client(sb, public_key="readonly-public", private_key="readonly-private")
    assert ro.list("/company/companies", page_size=5)  # it may read
    with pytest.raises(PermissionDeniedError) as info:
        ro.post("/finance/agreements", {"name": "x"})
    err = info.value
    assert err.status == 403 and err.permission and "Agreements" in err.permission and "Add" in err.permission
    assert "'Agreements: Add'" in explain(err)


def test_missing_record_is_not_found(client):
    with pytest.raises(NotFoundError) as info:
        client.get("/finance/agreements/987654321")
    assert info.value.status == 404 and "deleted in ConnectWise" in explain(info.value)


def test_invalid_body_is_an_invalid_request_with_field_errors(client):
    with pytest.raises(InvalidRequestError) as info:
        client.post("/finance/agreements", {"name": "only a name"})
    err = info.value
    assert err.status == 400 and err.code == "InvalidObject"
    fields = {e.get("field") for e in err.errors}
    assert {"type", "company"} <= fields
    assert "type" in explain(err) and "company" in explain(err)


def test_duplicate_company_identifier_is_object_exists(client):
    first = a_company(client)
    with pytest.raises(ObjectExistsError) as info:
        client.post("/company/companies", {"identifier": first["identifier"], "name": "Dup"})
    assert any(e.get("code") == "ObjectExists" for e in info.value.errors)


def test_unknown_field_in_conditions_is_an_invalid_request_naming_it(client):
    with pytest.raises(InvalidRequestError) as info:
        client.list("/company/companies", conditions=C.eq("typeids", 1))
    assert info.value.code == "ApiFindCondition" and "typeids" in info.value.message


def test_connection_refused_says_the_site_is_unreachable():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    c = CWClient(CWSettings(site=f"http://127.0.0.1:{port}", company_id="x", public_key="pppppppp",
                            private_key="qqqqqqqq", codebase="v4_6_release"), **FAST)
    with pytest.raises(CWConnectionError) as info:
        c.get("/system/info")
    assert info.value.reason == "refused" and not info.value.outcome_unknown
    assert "CW_SITE" in explain(info.value)
    assert c.stats["GET"] == 1 + FAST["max_retries"]  # refused connections are retried: nothing was sent


# -- retries ----------------------------------------------------------------------------------

def test_429_waits_retry_after_then_gives_up_with_rate_limited(sb, faults):
    c = make_client(sb, max_retries=2)
    c.codebase  # resolve before throttling starts
    faults(throttle_rate=1.0)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        c.get("/system/info")
    waited = time.monotonic() - started
    assert waited >= 2 * 1.0 * 0.95  # two waits of Retry-After: 1
    assert info.value.retries == 2 and c.stats_retries["429"] == 2
    assert "retried 2 times" in explain(info.value)


def test_429_is_retried_until_the_request_goes_through(sb, faults):
    c = make_client(sb, max_retries=12)
    c.codebase
    faults(throttle_rate=0.5, retry_after_s=0)  # Retry-After: 0 -> the (tiny) backoff applies
    for _ in range(5):
        assert c.system_info()["version"]
    assert c.stats_retries["429"] >= 1


def test_a_throttled_post_is_retried_because_the_server_refused_it_unprocessed(sb, faults):
    c = make_client(sb, max_retries=12)
    c.codebase
    faults(throttle_rate=0.5, retry_after_s=0)
    made = [a_company(c, name=f"Throttle {i}") for i in range(4)]
    faults(throttle_rate=0.0)
    for m in made:
        assert len(c.list("/company/companies", conditions=C.eq("identifier", m["identifier"]))) == 1


def test_5xx_is_retried_then_succeeds_for_reads(sb, faults):
    c = make_client(sb, max_retries=12)
    c.codebase
    faults(error_rate=0.5)
    for _ in range(6):
        assert c.system_info()["version"]
    assert sum(c.stats_retries.values()) >= 1


def test_a_post_whose_connection_drops_is_not_resent_and_reports_an_unknown_outcome(sb, faults):
    c = make_client(sb)
    agreement_id = an_agreement_id(c)
    item = a_catalog_item(c)
    c.reset_stats()
    faults(drop_rate=1.0)
    with pytest.raises(CWConnectionError) as info:
        c.post(f"/finance/agreements/{agreement_id}/additions", {"product": {"id": item["id"]}, "billCustomer": "Billable"})
    assert info.value.outcome_unknown and info.value.method == "POST"
    assert c.stats["POST"] == 1  # sent exactly once
    assert "may or may not" in explain(info.value)


def test_a_get_whose_connection_drops_is_retried(sb, faults):
    c = make_client(sb, max_retries=2)
    c.codebase
    c.reset_stats()
    faults(drop_rate=1.0)
    with pytest.raises(CWConnectionError) as info:
        c.get("/system/info")
    assert not info.value.outcome_unknown
    assert c.stats["GET"] == 3 and info.value.retries == 2


# -- permissions and connection report --------------------------------------------------------

def _snapshot(sb):
    return {k: json.dumps(sorted(sb.records(k), key=lambda r: r["id"]), sort_keys=True, default=str)
            for k in ("companies", "agreements", "additions")}


def test_check_permissions_full_member_has_everything_and_nothing_changes(sb):
    before = _snapshot(sb)
    checks = check_permissions(make_client(sb))
    assert _snapshot(sb) == before
    assert checks and all(c.ok for c in checks), [c for c in checks if not c.ok]
    assert {c.area for c in checks} >= {"Companies", "Agreements", "Agreement additions", "Catalog", "Product types"}


def test_check_permissions_read_only_member_lacks_add_and_edit_by_name(sb):
    before = _snapshot(sb)
    checks = check_permissions(make_client(sb, public_key="readonly-public", private_key="readonly-private"))
    assert _snapshot(sb) == before
    granted = {(c.area, c.permission) for c in checks if c.ok}
    missing = {(c.area, c.permission) for c in checks if not c.ok}
    assert granted == {
        ("Companies", "Company Maintenance: Inquire"),
        ("Agreements", "Agreements: Inquire"),
        ("Agreement additions", "Agreements: Inquire"),
        ("Catalog", "Product Catalog: Inquire"),
        ("Product types", "Table Setup: Inquire"),
    }
    assert missing == {
        ("Agreements", "Agreements: Add"),
        ("Agreements", "Agreements: Edit"),
        ("Agreement additions", "Agreements: Add"),
        ("Agreement additions", "Agreements: Edit"),
        ("Agreement additions", "Agreements: Delete"),  # needed to undo a push
    }
    for c in checks:
        if not c.ok:
            assert f"'{c.permission}'" in c.detail and "Finance" in c.detail and "grant" in c.detail


def test_check_permissions_names_the_one_permission_a_partial_role_lacks():
    from billbridge.sandbox import Member

    member = Member("NoCatalog", "nocat-public", "nocat-private", {
        "Companies > Company Maintenance": {"inquire"},
        "Finance > Agreements": {"inquire", "add", "edit", "delete"},
        "System > Table Setup": {"inquire"},
    })
    sandbox = start_sandbox(SandboxConfig(port=0, seed=42, members=[member]))
    try:
        checks = check_permissions(make_client(sandbox, public_key="nocat-public", private_key="nocat-private"))
    finally:
        sandbox.stop()
    assert [(c.area, c.permission) for c in checks if not c.ok] == [("Catalog", "Product Catalog: Inquire")]
    assert "Procurement" in next(c.detail for c in checks if not c.ok)


def test_check_connection_reports_mode_masked_keys_version_and_permissions(sb):
    report = check_connection(make_client(sb))
    assert report.mode == "sandbox" and report.ok and report.server_version and report.codebase
    assert sb.private_key not in json.dumps(report.to_dict()) and sb.public_key not in json.dumps(report.to_dict())


def test_check_connection_with_bad_keys_reports_an_auth_error_instead_of_raising(sb):
    report = check_connection(make_client(sb, private_key="nope-nope-nope"))
    assert report.error_kind == "auth" and not report.ok and "keys" in report.error


# -- secrets ----------------------------------------------------------------------------------

def test_no_secret_reaches_logs_reprs_or_errors_over_a_whole_run(sb, faults, caplog):
    caplog.set_level(logging.DEBUG)
    texts = []
    c = make_client(sb)
    texts += [repr(c), str(c), repr(c.settings), str(c.settings)]
    c.list("/company/companies", page_size=10)
    agreement_id = an_agreement_id(c)
    add = an_addition(c, agreement_id)
    c.patch_fields(f"/finance/agreements/{agreement_id}/additions/{add['id']}", {"quantity": 4})
    failures = []
    for bad in (make_client(sb, private_key="bad-private-key-x"),
                make_client(sb, public_key="readonly-public", private_key="readonly-private")):
        try:
            bad.post("/finance/agreements", {})
        except Exception as exc:  # noqa: BLE001 - collecting every failure's text
            failures.append(exc)
    try:
        c.get("/finance/agreements/99999999")
    except Exception as exc:  # noqa: BLE001
        failures.append(exc)
    faults(drop_rate=1.0)
    try:
        c.post("/company/companies", {"identifier": "X", "name": "x"})
    except Exception as exc:  # noqa: BLE001
        failures.append(exc)
    faults(drop_rate=0.0)
    assert len(failures) == 4
    for exc in failures:
        texts += [str(exc), repr(exc), explain(exc)]
    texts += [r.getMessage() for r in caplog.records] + [caplog.text]
    assert any("GET /company/companies" in r.getMessage() for r in caplog.records)  # requests are logged
    blob = "\n".join(texts)
    import base64

    token = base64.b64encode(f"{sb.company_id}+{sb.public_key}:{sb.private_key}".encode()).decode()
    for secret in (sb.private_key, sb.public_key, "readonly-private", "bad-private-key-x", token):
        assert secret not in blob
