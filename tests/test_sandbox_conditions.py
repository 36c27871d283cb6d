"""The sandbox's conditions parser/evaluator, table-driven (protocol.md section 4)."""

from __future__ import annotations

import pytest

from billbridge.sandbox.conditions import ConditionError, FieldResolver, compile_conditions, parse

from sandbox_fixtures import api, sb  # noqa: F401 - pytest fixtures

TICKETISH = {  # records carry only the fields the condition names; unknown ones resolve via schema
    "id": 123, "name": "Fred's \"Big\" Deal – Zürich", "cancelledFlag": False, "noEndingDateFlag": True,
    "startDate": "2024-08-04T00:00:00Z", "endDate": None, "billAmount": -12.5,
    "company": {"id": 250, "identifier": "AcmeDental", "name": "Acme Dental Group"},
    "contact": {"id": 77, "name": "Fred Flintstone"},
    "type": {"id": 2, "name": "Recurring Services"},
    "_info": {"lastUpdated": "2026-10-02T14:05:00Z", "dateEntered": "2024-08-04T11:00:00Z",
              "updatedBy": "BillbridgeAPI", "enteredBy": "jsmith"},
}
AGR = FieldResolver("Agreement")


def matches(cond: str, rec: dict = TICKETISH, resolver: FieldResolver = AGR) -> bool:
    pred = compile_conditions(cond, resolver)
    return pred(rec)


# The ten real condition strings from protocol.md section 4, each parsed (and, where the fields
# exist on the schema named, evaluated).
REAL_STRINGS = [
    ('(contact/name like "Fred%" and closedFlag = false) and dateEntered > [2015-12-23T05:53:27Z] or summary contains "test" AND  summary != "Some Summary"', None),
    ("inactiveFlag = false", "CatalogItem"),
    ("lastUpdated>[2024-05-01T12:00:00+00:00]", "Agreement"),
    ("status/id not in (12,15)", "Company"),
    ("(type/identifier='S' or type/identifier='O' or type/identifier='C')", None),
    ("(chargeToType='ServiceTicket' OR chargeToType='ProjectTicket') and chargeToId in (101,102)", None),
    ("company/id=250 and contact/id=77 and id in (1,2,3)", "Agreement"),
    ("id=123 AND dateEntered>[2023-01-01] AND status/id in (1,2,3)", "Company"),
    ("id > 222000 and board/name=\"Help Desk\"", None),
    ("deletedFlag=False", "Company"),
]


@pytest.mark.parametrize("text,schema", REAL_STRINGS)
def test_real_condition_strings_parse_and_typecheck(text, schema):
    assert parse(text) is not None
    if schema:
        assert callable(compile_conditions(text, FieldResolver(schema)))


@pytest.mark.parametrize("cond,expected", [
    ("id = 123", True),
    ("id=123", True),
    ("id != 123", False),
    ("id > 100 and id < 200", True),
    ("id >= 123 AND id <= 123", True),
    ("billAmount = -12.5", True),
    ("billAmount < -12", True),
    ("billAmount > -12.49", False),
    ("cancelledFlag = false", True),
    ("cancelledFlag = FALSE", True),
    ("cancelledFlag=False", True),
    ("noEndingDateFlag = true", True),
    ("endDate = null", True),
    ("endDate = NULL", True),
    ("endDate != null", False),
    ("startDate != null", True),
    ("company/id = 250", True),
    ("company/identifier = 'acmedental'", True),  # case-insensitive like SQL Server
    ("company/name like 'Acme%'", True),
    ("company/name like '%Dental%'", True),
    ("company/name like 'Dental%'", False),
    ("company/name contains 'dental'", True),
    ("company/name not contains 'dental'", False),
    ("company/name not like 'Zed%'", True),
    ("contact/name like \"Fred%\"", True),
    ("company/id in (1, 250, 3)", True),
    ("company/id in (1,2)", False),
    ("company/id not in (1,2)", True),
    ("company/id not in (250)", False),
    ("type/name in ('Managed Services', \"Recurring Services\")", True),
    ("not id = 123", False),
    ("NOT (id = 1)", True),
    ("not(id=1) and not(id=2)", True),
    ("id = 1 or id = 123 and cancelledFlag = true", False),  # and binds tighter than or
    ("(id = 1 or id = 123) and cancelledFlag = false", True),
    ("id = 1 OR id = 123 And cancelledFlag = false", True),
    ("startDate = [2024-08-04]", True),
    ("startDate = [2024-08-04T00:00:00Z]", True),
    ("startDate > [2024-08-03T23:59:59Z]", True),
    ("startDate < [2024-08-04T00:00:01+00:00]", True),
    ("lastUpdated >= [2026-10-02T14:05:00Z]", True),
    ("lastUpdated > [2026-10-02T14:05:00Z]", False),
    ("lastUpdated>=[2025-01-01]", True),
    ("dateEntered < [2024-08-05]", True),
    ("updatedBy = 'BillbridgeAPI'", True),
    ("enteredBy = \"jsmith\"", True),
    ("name = \"Fred's \\\"Big\\\" Deal – Zürich\"", True),  # escapes + unicode, double quotes
    ("name = 'Fred\\'s \"Big\" Deal – Zürich'", True),  # escapes + unicode, single quotes
    ("name contains 'zürich'", True),
    ("name like '%\\\"Big\\\"%'", True),
    ("  id   =   123   ", True),
])
def test_condition_evaluation(cond, expected):
    assert matches(cond) is expected


@pytest.mark.parametrize("cond,fragment", [
    ("typeids = 5", "typeids is not a recognized name."),
    ("company/bogus = 5", "company/bogus is not a recognized name."),
    ("company = 5", "company is not a recognized name."),
])
def test_unknown_field_is_an_error(cond, fragment):
    with pytest.raises(ConditionError) as e:
        compile_conditions(cond, AGR)
    assert e.value.code == "ApiFindCondition"
    assert e.value.message == fragment


@pytest.mark.parametrize("cond,fragment", [
    ("cancelledFlag = 1", "Expected a boolean value, not a numeric."),
    ("lastUpdated > '2024-01-01'", "Expected a datetime value, not a string."),
    ("startDate = \"2024-08-04T00:00:00Z\"", "Expected a datetime value, not a string."),
    ("id = '123'", "Expected a numeric value, not a string."),
    ("name = 5", "Expected a string value, not a numeric."),
    ("id = true", "Expected a numeric value, not a boolean."),
    ("id like 5", "can only be used with string values"),
])
def test_type_mismatch_is_an_error_with_the_server_hint(cond, fragment):
    with pytest.raises(ConditionError) as e:
        compile_conditions(cond, AGR)
    assert fragment in e.value.message
    assert "String values should be enclosed with double or single quotes" in e.value.message


@pytest.mark.parametrize("cond", [
    "id =", "id = 1 and", "(id = 1", "id = 1)", "id 5", "id in 1,2", "id = 'open", "startDate > [2024-13-45]",
    "id = abc", "= 5", "id = 1 2",
])
def test_syntax_errors_are_errors(cond):
    with pytest.raises(ConditionError):
        compile_conditions(cond, AGR)


def test_child_array_paths_match_any_element():
    company = {"id": 1, "types": [{"id": 1, "name": "Client"}, {"id": 5, "name": "Competitor"}]}
    res = FieldResolver("Company")
    assert compile_conditions("types/id=5", res)(company)
    assert not compile_conditions("types/id=3", res)(company)
    assert compile_conditions("types/name contains 'comp'", res)(company)


def test_http_unknown_field_and_type_mismatch_are_400_with_the_real_shape(sb, api):
    r = api.get(f"{sb.api_root}/company/companies", params={"conditions": "typeids = 5"})
    assert r.status_code == 400
    assert r.json() == {"code": "ApiFindCondition", "message": "typeids is not a recognized name.", "errors": None}
    r = api.get(f"{sb.api_root}/procurement/catalog", params={"conditions": "inactiveFlag = 1"})
    assert r.status_code == 400
    assert r.json()["message"].startswith("Expected a boolean value, not a numeric.")
    r = api.get(f"{sb.api_root}/procurement/catalog", params={"conditions": "(inactiveFlag = false"})
    assert r.status_code == 400


def test_http_conditions_filter_with_quotes_unicode_dates_and_null(sb, api):
    root = sb.api_root
    r = api.post(f"{root}/company/companies", json={"identifier": "OBrienZ", "name": "O'Brien \"Zürich\" & Co"})
    assert r.status_code == 201, r.text
    for cond in ["name = \"O'Brien \\\"Zürich\\\" & Co\"", "name = 'O\\'Brien \"Zürich\" & Co'",
                 "name like 'O\\'Brien%' and lastUpdated >= [2020-01-01]", "identifier='OBRIENZ' and dateDeleted = null"]:
        got = api.get(f"{root}/company/companies", params={"conditions": cond}).json()
        assert [c["identifier"] for c in got] == ["OBrienZ"], cond


def test_http_child_and_custom_field_conditions(sb, api):
    root = sb.api_root
    vendors = api.get(f"{root}/company/companies", params={"childConditions": "types/name='Vendor'"}).json()
    assert [c["identifier"] for c in vendors] == ["DemoCloud"]
    agr = api.get(f"{root}/finance/agreements", params={
        "conditions": "company/identifier='AcmeDental' and name='Demo Cloud Services'"}).json()[0]
    adds = api.get(f"{root}/finance/agreements/{agr['id']}/additions", params={
        "customFieldConditions": 'caption="BillbridgeKey" AND value="demo|DC-10001|S-1002"'}).json()
    assert [a["product"]["identifier"] for a in adds] == ["EXCH-MBX"]
