"""Every sandbox response validates against the OpenAPI subset the sandbox ships (billbridge/sandbox/).

Error bodies are validated against ``ErrorResponseMessage``; the copy types ``errors`` as a
(non-nullable) array, while ConnectWise sends ``"errors": null`` on non-validation errors, so the
test treats that one property as nullable. Likewise ``CustomFieldValue.value`` is typed ``object``
(the official spec's rendering of .NET ``object``, i.e. any JSON value); real values are strings,
numbers or booleans, so the test accepts any JSON value there.
"""

from __future__ import annotations

import copy

import pytest
from openapi_schema_validator import OAS30Validator

from sandbox_fixtures import MEDIA, api, load_spec, make_session, new_sandbox, sb  # noqa: F401

SPEC = load_spec()
COMPONENTS = copy.deepcopy(SPEC["components"])
COMPONENTS["schemas"]["ErrorResponseMessage"]["properties"]["errors"]["nullable"] = True
COMPONENTS["schemas"]["CustomFieldValue"]["properties"]["value"] = {}


def validate(instance, schema: dict) -> None:
    OAS30Validator({**schema, "components": COMPONENTS}).validate(instance)


def response_schema(path: str, method: str, status: str) -> dict:
    op = SPEC["paths"][path][method]
    content = op["responses"][status].get("content") or {}
    assert MEDIA in content, (path, method, status)
    return content[MEDIA]["schema"]


def check(resp, path: str, method: str, status: int) -> None:
    assert resp.status_code == status, (path, method, resp.status_code, resp.text[:500])
    assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
    validate(resp.json(), response_schema(path, method, str(status)))


def check_error(resp, status: int, code: str) -> dict:
    assert resp.status_code == status, resp.text[:300]
    body = resp.json()
    validate(body, {"$ref": "#/components/schemas/ErrorResponseMessage"})
    assert body["code"] == code
    return body


def spec_to_url(sb, path: str, ids: dict) -> str:
    return sb.api_root + path.format(**ids)


@pytest.fixture(scope="module")
def ids(sb, api):
    root = sb.api_root
    agr = api.get(f"{root}/finance/agreements", params={"conditions": "name='Demo Cloud Services'"}).json()[0]
    add = api.get(f"{root}/finance/agreements/{agr['id']}/additions").json()[0]
    return {"agreement": agr["id"], "addition": add["id"]}


def _ids_for(path: str, ids: dict, first_id: int | None = None) -> dict:
    return {"parentId": ids["agreement"], "id": first_id if first_id is not None else ids["addition"]}


LIST_PATHS = [p for p, ops in SPEC["paths"].items() if "get" in ops and "{id}" not in p and not p.endswith("/count")
              and p != "/system/info"]


@pytest.mark.parametrize("path", LIST_PATHS)
def test_list_by_id_and_count_validate(sb, api, ids, path):
    url = spec_to_url(sb, path, _ids_for(path, ids))
    r = api.get(url, params={"pageSize": 1000})
    check(r, path, "get", 200)
    rows = r.json()
    assert rows, path
    r = api.get(url + "/count")
    check(r, path + "/count", "get", 200)
    assert r.json()["count"] == len(rows)
    item_path = path + "/{id}"
    r = api.get(spec_to_url(sb, item_path, _ids_for(path, ids, rows[0]["id"])))
    check(r, item_path, "get", 200)


def test_system_info_validates(sb, api):
    check(api.get(f"{sb.api_root}/system/info"), "/system/info", "get", 200)


def test_fields_trims_to_the_requested_nested_keys(sb, api):
    # a trimmed record lacks the schema's required keys by design, so only the shape is checked
    r = api.get(f"{sb.api_root}/finance/agreements", params={"fields": "id,name,company/name,_info", "pageSize": 5})
    assert r.status_code == 200 and len(r.json()) == 5
    assert set(r.json()[0]) <= {"id", "name", "company", "_info"}
    assert set(r.json()[0]["company"]) == {"name"}


CREATE_BODIES = {
    "/company/companies": {"identifier": "ContractCo", "name": "Contract Test Co", "types": [{"name": "Client"}]},
    "/finance/agreements": {"name": "Contract Agreement", "type": {"name": "Managed Services"},
                            "company": {"identifier": "AcmeDental"}, "contact": {"id": 1}},
    "/finance/agreements/{parentId}/additions": {"product": {"identifier": "HPBX-SEAT"}, "billCustomer": "Billable",
                                                 "quantity": 3, "effectiveDate": "2026-11-01"},
    "/finance/agreements/types": {"name": "Contract Type", "employeeCompRate": "Actual", "employeeCompNotExceed": "Billing",
                                  "invoicingCycle": "ContractYear", "billTime": "Billable", "billExpenses": "Billable",
                                  "billProducts": "Billable"},
    "/procurement/catalog": {"identifier": "CONTRACT-SKU", "description": "Contract item", "subcategory": {"id": 2},
                             "type": {"name": "Managed Services"}, "customerDescription": "Contract item", "price": 9.5},
    "/procurement/types": {"name": "Contract Product Type"},
}
PATCHES = {
    "/company/companies": [{"op": "replace", "path": "phoneNumber", "value": "5550001111"}],
    "/finance/agreements": [{"op": "replace", "path": "/internalNotes", "value": "patched"}],
    "/finance/agreements/{parentId}/additions": [{"op": "replace", "path": "quantity", "value": 4}],
    "/finance/agreements/types": [{"op": "replace", "path": "invoiceDescription", "value": "x"}],
    "/procurement/catalog": [{"op": "replace", "path": "price", "value": 10.5}],
    "/procurement/types": [{"op": "replace", "path": "inactiveFlag", "value": True}],
}


@pytest.mark.parametrize("path", list(CREATE_BODIES))
def test_post_patch_put_delete_validate(sb, api, ids, path):
    url = spec_to_url(sb, path, _ids_for(path, ids))
    r = api.post(url, json=CREATE_BODIES[path])
    check(r, path, "post", 201)
    created = r.json()
    item_path = path + "/{id}"
    item_url = spec_to_url(sb, item_path, _ids_for(path, ids, created["id"]))
    r = api.patch(item_url, json=PATCHES[path])
    check(r, item_path, "patch", 200)
    r = api.put(item_url, json=r.json())
    check(r, item_path, "put", 200)
    r = api.delete(item_url)
    assert r.status_code == 204 and r.content == b""


def test_error_responses_validate(sb, api):
    root = sb.api_root
    body = check_error(api.post(f"{root}/finance/agreements", json={"name": "x"}), 400, "InvalidObject")
    assert {e["field"] for e in body["errors"]} >= {"type", "company", "contact"}
    check_error(api.get(f"{root}/company/companies", params={"conditions": "nope=1"}), 400, "ApiFindCondition")
    check_error(make_session(sb, client_id=None).get(f"{root}/company/companies"), 401, "Unauthorized")
    check_error(make_session(sb, "readonly").post(f"{root}/procurement/types", json={"name": "x"}), 403, "Forbidden")
    check_error(api.get(f"{root}/finance/agreements/999999"), 404, "NotFound")
    check_error(api.post(f"{root}/company/companies", json={"identifier": "AcmeDental", "name": "dup"}), 400,
                "InvalidObject")


def test_throttle_and_server_errors_validate():
    box = new_sandbox(throttle_rate=1.0, retry_after_s=2)
    try:
        s = make_session(box)
        r = s.get(f"{box.api_root}/company/companies")
        check_error(r, 429, "TooManyRequests")
        assert r.headers["Retry-After"] == "2"
        box.set_faults(throttle_rate=0.0, error_rate=1.0)
        seen = set()
        for _ in range(20):
            r = s.get(f"{box.api_root}/company/companies")
            assert r.status_code in (500, 502, 503, 504)
            validate(r.json(), {"$ref": "#/components/schemas/ErrorResponseMessage"})
            seen.add(r.status_code)
            if r.status_code == 500:
                assert "timeout" in r.text.lower()
        assert seen == {500, 502, 503, 504}
    finally:
        box.stop()
