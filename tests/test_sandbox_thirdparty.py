"""An off-the-shelf ConnectWise client (connectpyse 0.8.1, unchanged) works against the sandbox.

connectpyse builds ``{API_URL}/{module_url}/{module}/[id]`` URLs (trailing slash on collections),
sends Basic auth + ``clientId`` from the ``auth`` dict, pages with ``page``/``pageSize`` and
creates/patches with plain JSON. Nothing in it is patched or subclassed here.
"""

from __future__ import annotations

import base64

import pytest

connectpyse = pytest.importorskip("connectpyse", reason="test extra `connectpyse==0.8.1` is not installed")

from connectpyse.company import companies_api  # noqa: E402
from connectpyse.finance import agreement_addition, agreement_additions_api, agreements_api  # noqa: E402
from connectpyse.procurement import catalog_item_api  # noqa: E402

from billbridge import demo_world as dw  # noqa: E402
from billbridge.sandbox import CREDENTIALS  # noqa: E402

from sandbox_fixtures import sb  # noqa: E402,F401


@pytest.fixture(scope="module")
def cw(sb):
    token = base64.b64encode(
        f"{CREDENTIALS['company_id']}+{CREDENTIALS['full']['public_key']}:{CREDENTIALS['full']['private_key']}".encode()
    ).decode()
    auth = {"Authorization": f"Basic {token}", "clientId": "connectpyse-test"}
    return {"url": sb.api_root, "auth": auth}


def test_list_and_count(cw):
    api = companies_api.CompaniesAPI(**cw)
    companies = list(api.get_companies())
    assert len(companies) == 25  # the server's default page size
    assert api.get_companies_count() >= 60
    assert companies[0].identifier and companies[0].name


def test_filter_with_conditions_and_order(cw):
    api = agreements_api.AgreementsAPI(**cw)
    api.conditions = "name = 'Demo Cloud Services' and company/identifier like 'Acme%'"
    got = list(api.get_agreements())
    assert [a.company["identifier"] for a in got] == ["AcmeDental"]
    cat = catalog_item_api.CatalogItemAPI(**cw)
    cat.conditions = "inactiveFlag = false and identifier in ('HPBX-SEAT','SMS-PACK')"
    assert [c.identifier for c in cat.get_catalog_items()] == ["HPBX-SEAT"]


def test_page_through_everything(cw):
    api = companies_api.CompaniesAPI(**cw)
    total = api.get_companies_count()
    api.pageSize = 10
    api.orderBy = "id asc"
    seen, page = [], 1
    while True:
        api.page = page
        rows = list(api.get_companies())
        seen += [c.id for c in rows]
        if len(rows) < 10:
            break
        page += 1
    assert len(seen) == len(set(seen)) == total


def test_create_and_patch_an_addition(cw, sb):
    agreements = agreements_api.AgreementsAPI(**cw)
    agreements.conditions = "company/identifier='Northwind' and name='Demo Cloud Services'"
    agr = next(iter(agreements.get_agreements()))
    adds = agreement_additions_api.AgreementAdditionsAPI(parent=agr.id, **cw)
    before = adds.get_agreement_additions_count()

    new = agreement_addition.AgreementAddition()
    new.product = {"identifier": "ARCHIVE"}
    new.billCustomer = "Billable"
    new.quantity = 3
    new.effectiveDate = "2026-11-01T00:00:00Z"
    created = adds.create_agreement_addition(new)
    assert created.id and created.product["identifier"] == "ARCHIVE" and created.extPrice == 15.0
    assert adds.get_agreement_additions_count() == before + 1

    patched = adds.update_agreement_addition(created.id, "quantity", 7)
    assert patched.quantity == 7 and patched.extPrice == 35.0
    patched = adds.update_agreement_addition_multiple_keys(created.id, {"quantity": 8, "invoiceDescription": "x"})
    assert patched.quantity == 8 and patched.invoiceDescription == "x"
    assert patched._info["updatedBy"] == dw.API_MEMBER
    assert adds.get_agreement_addition_by_id(created.id).quantity == 8
    adds.delete_agreement_addition_by_id(created.id)
    assert adds.get_agreement_additions_count() == before
