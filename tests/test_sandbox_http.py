"""The sandbox over real HTTP: paging, auth, permissions, writes, persistence, faults, seed."""

from __future__ import annotations

import base64
from collections import Counter

import pytest
import requests

from billbridge import demo_world as dw
from billbridge.sandbox import AREAS, CREDENTIALS, Member, SandboxConfig, demo_line_key, start_sandbox

from sandbox_fixtures import api, make_session, new_sandbox, sb  # noqa: F401


def agreement_of(api, sb, company_ident: str, name: str = "Demo Cloud Services") -> dict:
    got = api.get(f"{sb.api_root}/finance/agreements",
                  params={"conditions": f"company/identifier='{company_ident}' and name='{name}'"}).json()
    assert len(got) == 1, got
    return got[0]


# ------------------------------------------------------------------ protocol basics

def test_companyinfo_needs_no_auth_and_unknown_company_is_null(sb):
    r = requests.get(f"{sb.base_url}/login/companyinfo/sandbox")
    assert r.status_code == 200
    assert r.json()["Codebase"] == "v4_6_release/" == sb.codebase
    assert {"CompanyName", "VersionCode", "VersionNumber", "CompanyID", "IsCloud", "SiteUrl"} <= set(r.json())
    r = requests.get(f"{sb.base_url}/login/companyinfo/nobody")
    assert r.status_code == 200 and r.text == "null"


def test_response_headers(sb, api):
    r = api.get(f"{sb.api_root}/system/info")
    assert r.headers["Content-Type"] == "application/json; charset=utf-8"
    assert r.headers["api-current-version"]
    assert r.headers["x-cw-request-id"]
    assert r.headers["Cache-Control"] == "no-cache"


def test_trailing_slash_case_insensitive_params_and_alternate_codebase(sb, api):
    a = api.get(f"{sb.api_root}/company/companies/", params={"PAGESIZE": 3}).json()
    b = api.get(f"{sb.base_url}/v2026_4/apis/3.0/company/companies", params={"pagesize": 3}).json()
    assert len(a) == 3 and [x["id"] for x in a] == [x["id"] for x in b]


@pytest.mark.parametrize("how", ["no_client_id", "empty_client_id", "bad_private", "bad_company", "no_auth",
                                 "garbage_auth"])
def test_auth_failures_are_401(sb, how):
    s = make_session(sb, client_id=None if how == "no_client_id" else ("" if how == "empty_client_id" else "c"))
    if how == "bad_private":
        s.auth = ("sandbox+sandbox-public", "wrong")
    elif how == "bad_company":
        s.auth = ("acme+sandbox-public", "sandbox-private")
    elif how == "no_auth":
        s.auth = None
    elif how == "garbage_auth":
        s.auth = None
        s.headers["Authorization"] = "Basic " + base64.b64encode(b"nocolon").decode()
    r = s.get(f"{sb.api_root}/company/companies")
    assert r.status_code == 401
    assert r.json() == {"code": "Unauthorized", "message": "Authentication failed.", "errors": None}


WRITES = [
    ("POST", "/company/companies", "Companies > Company Maintenance: Add level is required."),
    ("PATCH", "/company/companies/1", "Companies > Company Maintenance: Edit level is required."),
    ("PUT", "/company/companies/1", "Companies > Company Maintenance: Edit level is required."),
    ("DELETE", "/company/companies/1", "Companies > Company Maintenance: Delete level is required."),
    ("POST", "/finance/agreements", "Finance > Agreements: Add level is required."),
    ("PATCH", "/finance/agreements/2", "Finance > Agreements: Edit level is required."),
    ("PUT", "/finance/agreements/2", "Finance > Agreements: Edit level is required."),
    ("DELETE", "/finance/agreements/2", "Finance > Agreements: Delete level is required."),
    ("POST", "/finance/agreements/2/additions", "Finance > Agreements: Add level is required."),
    ("PATCH", "/finance/agreements/2/additions/3", "Finance > Agreements: Edit level is required."),
    ("PUT", "/finance/agreements/2/additions/3", "Finance > Agreements: Edit level is required."),
    ("DELETE", "/finance/agreements/2/additions/3", "Finance > Agreements: Delete level is required."),
    ("POST", "/finance/agreements/types", "System > Table Setup: Add level is required."),
    ("PATCH", "/finance/agreements/types/1", "System > Table Setup: Edit level is required."),
    ("POST", "/procurement/catalog", "Procurement > Product Catalog: Add level is required."),
    ("PUT", "/procurement/catalog/1", "Procurement > Product Catalog: Edit level is required."),
    ("DELETE", "/procurement/catalog/1", "Procurement > Product Catalog: Delete level is required."),
    ("POST", "/procurement/types", "System > Table Setup: Add level is required."),
    ("DELETE", "/procurement/types/1", "System > Table Setup: Delete level is required."),
]


@pytest.mark.parametrize("method,path,perm", WRITES)
def test_read_only_member_gets_403_on_every_write_before_validation(sb, method, path, perm):
    ro = make_session(sb, "readonly")
    # an invalid body: the security check must come first, so this is 403, not 400
    r = ro.request(method, sb.api_root + path, json=[] if method == "PATCH" else {})
    assert r.status_code == 403, r.text
    assert r.json() == {"code": "Forbidden", "errors": None,
                        "message": f"You do not have permission to perform this action. {perm}"}
    assert ro.get(sb.api_root + path.rsplit("/", 1)[0] if method != "POST" else sb.api_root + path).status_code == 200


def test_custom_member_with_agreements_inquire_only():
    perms = {a: {"inquire", "add", "edit", "delete"} for a in AREAS}
    perms["Finance > Agreements"] = {"inquire"}
    perms.pop("Procurement > Product Catalog")
    members = [Member("LimitedAPI", "lim-public", "lim-private", perms)]
    box = start_sandbox(SandboxConfig(members=members))
    try:
        s = requests.Session()
        s.auth = ("sandbox+lim-public", "lim-private")
        s.headers["clientId"] = "x"
        root = box.api_root
        assert s.get(f"{root}/finance/agreements").status_code == 200
        assert s.get(f"{root}/procurement/catalog").json()["message"].endswith(
            "Procurement > Product Catalog: Inquire level is required.")
        r = s.patch(f"{root}/finance/agreements/2", json=[{"op": "replace", "path": "name", "value": "x"}])
        assert r.status_code == 403 and "Finance > Agreements: Edit level is required." in r.json()["message"]
        assert s.post(f"{root}/procurement/types", json={"name": "ok"}).status_code == 201
        assert s.get(f"{root}/system/info").status_code == 200
    finally:
        box.stop()


def test_not_found_shapes(sb, api):
    r = api.get(f"{sb.api_root}/finance/agreements/123456")
    assert r.status_code == 404
    assert r.json() == {"code": "NotFound", "message": "Agreement with id 123456 not found", "errors": None}
    r = api.get(f"{sb.api_root}/finance/agreements/123456/additions")
    assert r.json()["message"] == "Agreement with id 123456 not found"
    r = api.get(f"{sb.api_root}/finance/agreements/2/additions/999999")
    assert r.json()["message"] == "Addition with id 999999 not found"
    assert api.get(f"{sb.api_root}/finance/agreementTypes").status_code == 404
    r = api.post(f"{sb.api_root}/finance/invoices", json={})
    assert r.status_code == 405


# ------------------------------------------------------------------ paging

@pytest.fixture(scope="module")
def big():
    box = new_sandbox(extra_agreements=1100, extra_additions=2000)
    yield box
    box.stop()


def test_default_page_size_is_25_and_max_1000(big):
    s = make_session(big)
    root = big.api_root
    total = s.get(f"{root}/finance/agreements/count").json()["count"]
    assert total > 1100
    assert len(s.get(f"{root}/finance/agreements").json()) == 25
    assert len(s.get(f"{root}/finance/agreements", params={"pageSize": 5000}).json()) == 1000
    r = s.get(f"{root}/finance/agreements", params={"pageSize": 1000, "page": 2})
    assert len(r.json()) == total - 1000


def test_link_headers_are_absolute_keep_every_parameter_and_page_last(big):
    s = make_session(big)
    root = big.api_root
    cond = "name like 'Bulk%' and company/id != 0"
    r = s.get(f"{root}/finance/agreements", params={"conditions": cond, "orderBy": "name desc", "pageSize": 400})
    links = requests.utils.parse_header_links(r.headers["Link"])
    assert [l["rel"] for l in links] == ["next", "last"]
    for link in links:
        assert link["url"].startswith(f"{big.base_url}/v4_6_release/apis/3.0/finance/agreements?conditions=")
        assert "orderBy=name+desc" in link["url"]
    assert links[0]["url"].endswith("&pageSize=400&page=2")
    assert links[1]["url"].endswith("&pageSize=400&page=3")
    seen = [a["id"] for a in r.json()]
    url = links[0]["url"]
    while url:
        r = s.get(url)
        seen += [a["id"] for a in r.json()]
        rels = {l["rel"]: l["url"] for l in requests.utils.parse_header_links(r.headers.get("Link", ""))}
        assert "first" in rels and "prev" in rels
        url = rels.get("next")
    assert len(seen) == len(set(seen)) == 1100
    names = [a["name"] for a in s.get(f"{root}/finance/agreements", params={"conditions": cond, "pageSize": 1000, "orderBy": "name desc"}).json()]
    assert names == sorted(names, reverse=True)


def test_no_link_header_when_everything_fits(sb, api):
    r = api.get(f"{sb.api_root}/procurement/types")
    assert "Link" not in r.headers


def test_forward_only_pagination(big):
    s = make_session(big)
    s.headers["pagination-type"] = "forward-only"
    url = f"{big.api_root}/finance/agreements?conditions=name%20like%20'Bulk%25'&pageSize=300"
    ids, pages = [], 0
    while True:
        r = s.get(url)
        assert "Link" in r.headers
        ids += [a["id"] for a in r.json()]
        pages += 1
        link = r.headers["Link"]
        if link == "":
            break
        assert link.endswith('>; rel="next"') and f"pageId={ids[-1]}>" in link and "conditions=" in link
        url = link.split(";")[0].strip("<>")
    assert pages == 4 and ids == sorted(ids) and len(ids) == 1100


# ------------------------------------------------------------------ writes

def test_post_returns_201_with_info_references_and_normalised_dates(sb, api):
    root = sb.api_root
    agr = agreement_of(api, sb, "AcmeDental")
    body = {"product": {"identifier": "ARCHIVE"}, "billCustomer": "Billable", "quantity": 2,
            "effectiveDate": "2026-11-17T23:30:00-05:00", "cancelledDate": "2027-01-31",
            "customFields": [{"id": dw.LINE_KEY_FIELD_ID, "value": "demo|DC-10001|X"}]}
    r = api.post(f"{root}/finance/agreements/{agr['id']}/additions", json=body)
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["effectiveDate"] == "2026-11-17T00:00:00Z" and a["cancelledDate"] == "2027-01-31T00:00:00Z"
    assert a["product"]["id"] > 0 and a["product"]["_info"]["product_href"].startswith(sb.base_url + "/")
    assert a["agreementId"] == agr["id"] and a["agreementStatus"] == "Active"
    assert a["unitPrice"] == 5.0 and a["extPrice"] == 10.0 and a["extCost"] == 6.0 and a["margin"] == 4.0
    info = a["_info"]
    assert info["updatedBy"] == info["enteredBy"] == dw.API_MEMBER
    assert info["lastUpdated"].endswith("Z") and info["dateEntered"] == info["lastUpdated"]
    assert a["customFields"][0]["value"] == "demo|DC-10001|X"
    found = api.get(f"{root}/finance/agreements/{agr['id']}/additions",
                    params={"conditions": f"lastUpdated >= [{info['lastUpdated']}]"}).json()
    assert a["id"] in [x["id"] for x in found]


def test_patch_with_and_without_leading_slash_and_nested_reference_path(sb, api):
    root = sb.api_root
    agr = agreement_of(api, sb, "Northwind")
    add = api.get(f"{root}/finance/agreements/{agr['id']}/additions").json()[0]
    r = api.patch(f"{root}/finance/agreements/{agr['id']}/additions/{add['id']}",
                  json=[{"op": "replace", "path": "/quantity", "value": 51},
                        {"op": "replace", "path": "invoiceDescription", "value": "patched"}])
    assert r.status_code == 200, r.text
    assert r.json()["quantity"] == 51 and r.json()["invoiceDescription"] == "patched"
    assert r.json()["extPrice"] == 51 * add["unitPrice"]
    assert r.json()["_info"]["lastUpdated"] >= add["_info"]["lastUpdated"]
    r = api.patch(f"{root}/finance/agreements/{agr['id']}",
                  json=[{"op": "replace", "path": "type/id", "value": 1}])
    assert r.status_code == 200 and r.json()["type"]["name"] == "Managed Services"
    r = api.patch(f"{root}/finance/agreements/{agr['id']}", json=[{"op": "replace", "path": "bogusField", "value": 1}])
    assert r.status_code == 400


def test_patch_revalidates_the_merged_record(sb, api):
    root = sb.api_root
    yardley = api.get(f"{root}/company/companies", params={"conditions": "identifier='YardleyPrint'"}).json()[0]
    r = api.patch(f"{root}/company/companies/{yardley['id']}",
                  json=[{"op": "replace", "path": "phoneNumber", "value": "5551234567"}])
    assert r.status_code == 400
    assert r.json()["code"] == "InvalidObject"
    assert [e["field"] for e in r.json()["errors"]] == ["yearEstablished"]
    # additions: moving effectiveDate after the stored cancelledDate fails on the merged record
    agr = agreement_of(api, sb, "LakesidePeds")
    add = api.post(f"{root}/finance/agreements/{agr['id']}/additions",
                   json={"product": {"id": 1}, "billCustomer": "Billable", "effectiveDate": "2026-11-01",
                         "cancelledDate": "2026-11-30"}).json()
    r = api.patch(f"{root}/finance/agreements/{agr['id']}/additions/{add['id']}",
                  json=[{"op": "replace", "path": "effectiveDate", "value": "2026-12-05"}])
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "cancelledDate"


def test_addition_validation(sb, api):
    root = sb.api_root
    agr = agreement_of(api, sb, "ZephyrArch")
    url = f"{root}/finance/agreements/{agr['id']}/additions"
    r = api.post(url, json={})
    assert {e["field"] for e in r.json()["errors"]} == {"product", "billCustomer"}
    r = api.post(url, json={"product": {"identifier": "SMS-PACK"}, "billCustomer": "Billable"})
    assert r.status_code == 400
    assert r.json()["errors"] == [{"code": "InvalidField", "message": "Product is inactive.", "resource": "addition",
                                   "field": "product"}]
    r = api.post(url, json={"product": {"identifier": "FAX-LINE"}, "billCustomer": "Billable"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "product"
    r = api.post(url, json={"product": {"id": 1}, "billCustomer": "Sometimes"})
    assert r.json()["errors"][0]["field"] == "billCustomer"
    cancelled = agreement_of(api, sb, "HarborView")
    url = f"{root}/finance/agreements/{cancelled['id']}/additions"
    r = api.post(url, json={"product": {"id": 1}, "billCustomer": "Billable"})
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "agreement"
    assert "cancelled" in r.json()["errors"][0]["message"]
    existing = api.get(url).json()[0]
    r = api.patch(f"{url}/{existing['id']}", json=[{"op": "replace", "path": "quantity", "value": 1}])
    assert r.status_code == 400 and r.json()["errors"][0]["field"] == "agreement"


def test_duplicates_are_object_exists(sb, api):
    root = sb.api_root
    r = api.post(f"{root}/company/companies", json={"identifier": "acmedental", "name": "Another Acme"})
    assert r.status_code == 400 and r.json()["code"] == "InvalidObject"
    assert r.json()["errors"][0]["code"] == "ObjectExists" and r.json()["errors"][0]["field"] == "identifier"
    r = api.post(f"{root}/procurement/catalog", json={"identifier": "HPBX-SEAT", "description": "d", "subcategory": {"id": 1},
                                                    "type": {"id": 1}, "customerDescription": "d"})
    assert r.json()["errors"][0]["code"] == "ObjectExists"


def test_agreement_post_requires_fields_and_resolves_references(sb, api):
    root = sb.api_root
    r = api.post(f"{root}/finance/agreements", json={"name": "x" * 101, "type": {"id": 999}})
    fields = {e["field"] for e in r.json()["errors"]}
    assert {"name", "type", "company", "contact"} <= fields
    r = api.post(f"{root}/finance/agreements", json={"name": "New Vendor Services", "type": {"name": "Recurring Services"},
                                                   "company": {"identifier": "JuniperAcct"}, "contact": {"id": 1},
                                                   "startDate": "2026-11-01"})
    assert r.status_code == 201, r.text
    a = r.json()
    assert a["company"]["name"] == "Juniper Accounting" and a["company"]["_info"]["company_href"].endswith(
        f"/company/companies/{a['company']['id']}")
    assert a["billingCycle"]["name"] == "Monthly" and a["agreementStatus"] == "Active"
    assert a["_info"]["additions_href"] == f"{sb.api_root}/finance/agreements/{a['id']}/additions"
    # PUT enforces "Required On Updates"
    body = {k: v for k, v in a.items() if k not in ("invoicingCycle", "billTime")}
    r = api.put(f"{root}/finance/agreements/{a['id']}", json=body)
    assert r.status_code == 400 and {e["field"] for e in r.json()["errors"]} == {"invoicingCycle", "billTime"}
    r = api.put(f"{root}/finance/agreements/{a['id']}", json=dict(a, name="Renamed"))
    assert r.status_code == 200 and r.json()["name"] == "Renamed"
    # cancelling derives agreementStatus and mirrors it on additions
    r = api.patch(f"{root}/finance/agreements/{a['id']}", json=[{"op": "replace", "path": "cancelledFlag", "value": True}])
    assert r.json()["agreementStatus"] == "Cancelled" and r.json()["dateCancelled"].endswith("T00:00:00Z")
    assert api.delete(f"{root}/finance/agreements/{a['id']}").status_code == 204
    assert api.get(f"{root}/finance/agreements/{a['id']}").status_code == 404


def test_delete_addition_is_204_without_body(sb, api):
    root = sb.api_root
    agr = agreement_of(api, sb, "UnionSqDental")
    add = api.post(f"{root}/finance/agreements/{agr['id']}/additions",
                   json={"product": {"id": 1}, "billCustomer": "Billable"}).json()
    r = api.delete(f"{root}/finance/agreements/{agr['id']}/additions/{add['id']}")
    assert r.status_code == 204 and r.content == b""
    assert api.get(f"{root}/finance/agreements/{agr['id']}/additions/{add['id']}").status_code == 404


# ------------------------------------------------------------------ persistence

def test_persistence_across_restart_and_reset(tmp_path):
    path = tmp_path / "sandbox.db"
    box = new_sandbox(data_path=path)
    s = make_session(box)
    r = s.post(f"{box.api_root}/procurement/types", json={"name": "Persisted Type"})
    assert r.status_code == 201
    new_id = r.json()["id"]
    s.patch(f"{box.api_root}/company/companies/1", json=[{"op": "replace", "path": "phoneNumber", "value": "5550000001"}])
    box.stop()
    box = new_sandbox(data_path=path)
    try:
        s = make_session(box)
        assert s.get(f"{box.api_root}/procurement/types/{new_id}").json()["name"] == "Persisted Type"
        assert s.get(f"{box.api_root}/company/companies/1").json()["phoneNumber"] == "5550000001"
        r = s.post(f"{box.api_root}/procurement/types", json={"name": "Second"})
        assert r.json()["id"] == new_id + 1  # ids continue after a restart
        box.reset()
        assert s.get(f"{box.api_root}/procurement/types/{new_id}").status_code == 404
    finally:
        box.stop()
    box = new_sandbox(data_path=path, reset=True)
    try:
        assert make_session(box).get(f"{box.api_root}/company/companies/1").json()["phoneNumber"] != "5550000001"
    finally:
        box.stop()


# ------------------------------------------------------------------ faults

def _statuses(seed: int, n: int = 60) -> list:
    box = new_sandbox(seed=seed, error_rate=0.2, throttle_rate=0.2, drop_rate=0.2)
    out = []
    try:
        for _ in range(n):
            s = make_session(box)  # a fresh connection each time: drops close it
            try:
                out.append(s.get(f"{box.api_root}/procurement/types").status_code)
            except requests.ConnectionError:
                out.append("drop")
            s.close()
    finally:
        box.stop()
    return out


def test_fault_injection_is_repeatable_with_a_fixed_seed():
    a, b = _statuses(7), _statuses(7)
    assert a == b
    kinds = Counter(a)
    assert kinds[200] and kinds[429] and kinds["drop"] and (kinds[500] + kinds[502] + kinds[503] + kinds[504])
    assert a != _statuses(8)


def test_companyinfo_is_never_faulted():
    box = new_sandbox(error_rate=0.5, drop_rate=0.5)
    try:
        for _ in range(10):
            assert requests.get(f"{box.base_url}/login/companyinfo/sandbox").status_code == 200
    finally:
        box.stop()


def test_half_of_drops_happen_after_the_write_was_applied():
    box = new_sandbox(drop_rate=1.0, seed=3)
    try:
        applied = dropped = 0
        for i in range(30):
            s = make_session(box)
            with pytest.raises(requests.ConnectionError):
                s.post(f"{box.api_root}/procurement/types", json={"name": f"Lost {i}"})
            dropped += 1
            s.close()
        applied = sum(1 for t in box.records("product_types") if t["name"].startswith("Lost "))
        assert dropped == 30 and 5 <= applied <= 25
        assert all(t["_info"]["updatedBy"] == dw.API_MEMBER for t in box.records("product_types")
                   if t["name"].startswith("Lost "))
    finally:
        box.stop()


def test_latency_and_runtime_fault_changes(sb, api):
    import time
    sb.set_faults(latency_ms=120)
    try:
        t = time.perf_counter()
        api.get(f"{sb.api_root}/system/info")
        assert time.perf_counter() - t >= 0.11
    finally:
        sb.set_faults(latency_ms=0)


# ------------------------------------------------------------------ seed invariants

@pytest.fixture(scope="module")
def fresh():
    box = new_sandbox()
    yield box
    box.stop()


def test_seed_invariants(fresh):
    sb = fresh
    companies = sb.records("companies")
    assert len(companies) >= 60
    by_ident = {c["identifier"]: c for c in companies}
    agreements = sb.records("agreements")
    additions = sb.records("additions")
    adds_of = lambda a: [x for x in additions if x["agreementId"] == a["id"]]  # noqa: E731

    def vendor_agreements(ident):
        cid = by_ident[ident]["id"]
        return [a for a in agreements if a["company"]["id"] == cid and a["name"] == "Demo Cloud Services"]

    kinds = Counter()
    for c in dw.CUSTOMERS:
        kinds[c.cw] += 1
        if c.cw == "no_company":
            assert c.company_name not in {x["name"] for x in companies}
            continue
        comp = by_ident[c.company_identifier]
        assert comp["name"] == c.company_name
        assert (comp.get("accountNumber") == c.vendor_id) is c.account_number_matches
        va = vendor_agreements(c.company_identifier)
        if c.cw in ("no_agreement", "prospect"):
            assert va == []
            if c.cw == "prospect":
                assert comp["types"][0]["name"] == "Prospect"
            continue
        assert len(va) == 1
        agr = va[0]
        assert agr["prorateFlag"] is c.prorate
        lines = adds_of(agr)
        keys = [next((cf.get("value") for cf in a["customFields"] if cf["id"] == dw.LINE_KEY_FIELD_ID), None)
                for a in lines]
        if c.cw == "agreement_cancelled":
            assert agr["agreementStatus"] == "Cancelled" and agr["cancelledFlag"]
        elif c.cw == "agreement_expired":
            assert agr["agreementStatus"] == "Expired"
        else:
            assert agr["agreementStatus"] == "Active"
        if c.cw == "child_agreement":
            parent = next(a for a in agreements if a["id"] == agr["parentAgreement"]["id"])
            assert parent["name"] == "Kestrel Master Services"
        if c.cw == "manual":
            assert lines and all(k is None for k in keys)
            assert all(a["_info"]["updatedBy"] in dw.PEOPLE for a in lines)
            continue
        for sub in c.subscriptions:
            p = dw.PRODUCTS_BY_SKU[sub.sku]
            q = dw.quantity(sub, "2026-10")
            key = demo_line_key(c.vendor_id, sub.sub_id)
            mine = [a for a, k in zip(lines, keys) if k == key]
            if q == 0 or not p.in_catalog or not p.catalog_active:
                assert mine == []
                continue
            assert len(mine) == 1
            a = mine[0]
            assert a["unitPrice"] == float(p.unit_price) and a["unitCost"] == float(p.unit_cost)
            if c.cw == "person_edited" and sub is c.subscriptions[0]:
                assert a["quantity"] != q and a["_info"]["updatedBy"] in dw.PEOPLE
                assert a["_info"]["lastUpdated"] > a["_info"]["dateEntered"]
            else:
                assert a["quantity"] == q and a["_info"]["updatedBy"] == dw.API_MEMBER
        if c.cw == "ambiguous":
            skus = Counter(a["product"]["identifier"] for a in lines if not a.get("cancelledDate"))
            assert max(skus.values()) == 2
    assert set(kinds) == set(dw.CW_SCENARIOS)
    # company kinds
    others = {ident: kind for _, ident, kind in dw.OTHER_COMPANIES}
    for ident, kind in others.items():
        c = by_ident[ident]
        if kind == "deleted":
            assert c["deletedFlag"] is True
        if kind == "not_approved":
            assert c["status"]["name"] == "Not-Approved"
        if kind in ("vendor", "owner"):
            assert c["types"][0]["name"] == kind.capitalize()
    # catalog, types, cycles, invoices
    catalog = {i["identifier"]: i for i in sb.records("catalog")}
    for p in dw.PRODUCTS:
        assert (p.sku in catalog) is p.in_catalog
        if p.in_catalog:
            assert catalog[p.sku]["inactiveFlag"] is (not p.catalog_active)
            assert catalog[p.sku]["type"]["name"] == "Demo_Cloud_Services"
    atypes = sb.records("agreement_types")
    assert [t["name"] for t in atypes if t["defaultFlag"]] == ["Managed Services"]
    assert dw.VENDOR_NAME not in {t["name"] for t in atypes}
    assert [b["name"] for b in sb.records("billing_cycles") if b["defaultFlag"]] == ["Monthly"]
    invoices = sb.records("invoices")
    months = Counter(i["date"][:7] for i in invoices)
    assert months["2026-10"] > months["2026-11"] > 0
    assert all(i["type"] == "Agreement" and i["applyToType"] == "Agreement" for i in invoices)
    assert any(a["cancelledFlag"] for a in agreements if a["name"] != "Demo Cloud Services")
    assert any(a["agreementStatus"] == "Expired" for a in agreements if a["name"] != "Demo Cloud Services")
    assert any(not a["prorateFlag"] for a in agreements) and any(a["prorateFlag"] for a in agreements)
