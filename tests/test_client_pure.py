"""Client pieces that need no server: settings masking, redaction, error mapping, explain(),
wire encoding, URL-length batching and Link parsing."""

from __future__ import annotations

import json
import logging
from datetime import date, datetime, timezone
from decimal import Decimal
from urllib.parse import unquote

import pytest
import requests

from billbridge.connectwise import (
    AuthenticationError,
    ConnectWiseError,
    CWClient,
    CWConnectionError,
    CWSettings,
    InvalidRequestError,
    NotFoundError,
    ObjectExistsError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    batch_ids,
    conditions as C,
    error_from_response,
    explain,
    redact,
    to_wire,
)
from billbridge.connectwise.settings import normalise_site

PUB, PRIV = "pure-public-KEY-123", "pure-private-KEY-456"


def settings(**kw):
    base = dict(site="http://127.0.0.1:9", company_id="acme", public_key=PUB, private_key=PRIV, client_id="cid")
    base.update(kw)
    return CWSettings(**base)


def response(status, body=None, headers=None, reason="", text=None):
    r = requests.Response()
    r.status_code = status
    r.reason = reason
    r._content = (json.dumps(body) if text is None else text).encode() if (body is not None or text) else b""
    r.headers.update(headers or {})
    r.url = "http://127.0.0.1:9/v4_6_release/apis/3.0/x"
    return r


# -- settings ---------------------------------------------------------------------------------

def test_settings_repr_and_str_mask_both_keys():
    s = settings()
    for text in (repr(s), str(s), f"{s}"):
        assert PUB not in text and PRIV not in text
        assert "****" in text


def test_client_repr_masks_keys():
    c = CWClient(settings())
    assert PUB not in repr(c) and PRIV not in repr(c) and PRIV not in str(c)


@pytest.mark.parametrize(
    "site, expected",
    [
        ("na.myconnectwise.net", "https://api-na.myconnectwise.net"),
        ("https://eu.myconnectwise.net/", "https://api-eu.myconnectwise.net"),
        ("https://api-na.myconnectwise.net", "https://api-na.myconnectwise.net"),
        ("http://127.0.0.1:8765", "http://127.0.0.1:8765"),
        ("cw.example.com", "https://cw.example.com"),
    ],
)
def test_site_gets_a_scheme_and_cloud_hosts_get_their_api_prefix(site, expected):
    assert normalise_site(site) == expected


def test_settings_from_env_reads_cw_variables_and_is_none_without_a_site():
    assert CWSettings.from_env({}) is None
    s = CWSettings.from_env(
        {"CW_SITE": "http://127.0.0.1:1", "CW_COMPANY_ID": "c", "CW_PUBLIC_KEY": "p" * 8,
         "CW_PRIVATE_KEY": "q" * 8, "CW_CLIENT_ID": "id", "CW_CODEBASE": "v2025_1/"}
    )
    assert s.codebase == "v2025_1" and s.company_id == "c" and s.client_id == "id"


def test_settings_refuse_empty_keys():
    with pytest.raises(ValueError):
        settings(private_key="")


# -- redaction --------------------------------------------------------------------------------

def test_redact_removes_registered_keys_and_authorization_values():
    CWClient(settings())  # registers the secrets
    text = f"pub={PUB} priv={PRIV} headers={{'Authorization': 'Basic YWNtZStwdWI6cHJpdg=='}}"
    clean = redact(text)
    assert PUB not in clean and PRIV not in clean and "YWNtZStwdWI6cHJpdg==" not in clean
    assert "[REDACTED]" in clean


def test_log_records_with_a_key_in_args_are_redacted(caplog):
    CWClient(settings())
    log = logging.getLogger("billbridge.connectwise")
    with caplog.at_level(logging.DEBUG, logger="billbridge.connectwise"):
        log.debug("oops %s %s", PUB, PRIV)
        try:
            raise RuntimeError(f"boom {PRIV}")
        except RuntimeError:
            log.exception("failed")
    text = caplog.text + " ".join(r.getMessage() for r in caplog.records)
    assert PUB not in text and PRIV not in text
    assert "[REDACTED]" in text


# -- errors -----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    "status, body, cls",
    [
        (401, {"code": "Unauthorized", "message": "Authentication failed.", "errors": None}, AuthenticationError),
        (403, {"code": "Forbidden", "message": "no", "errors": None}, PermissionDeniedError),
        (404, {"code": "NotFound", "message": "Agreement with id 9 not found"}, NotFoundError),
        (400, {"code": "InvalidObject", "message": "x", "errors": [{"code": "Required", "field": "name"}]}, InvalidRequestError),
        (400, {"code": "InvalidObject", "message": "x", "errors": [{"code": "ObjectExists", "field": "identifier", "message": "Company ID already in use."}]}, ObjectExistsError),
        (409, {"code": "Conflict", "message": "x"}, InvalidRequestError),
        (429, {"code": "TooManyRequests", "message": "slow down"}, RateLimitedError),
        (500, {"code": "UnexpectedError", "message": "boom"}, ServerError),
        (503, None, ServerError),
    ],
)
def test_error_from_response_maps_status_to_the_cause_class(status, body, cls):
    err = error_from_response(response(status, body), "get", "/finance/agreements/9")
    assert type(err) is cls
    assert err.status == status and err.method == "GET" and err.path == "/finance/agreements/9"
    if body:
        assert err.code == body["code"]


def test_error_carries_field_errors_and_str_names_them():
    body = {"code": "InvalidObject", "message": "addition object is invalid",
            "errors": [{"code": "Required", "message": "Product is required.", "resource": "addition", "field": "product"}]}
    err = error_from_response(response(400, body), "POST", "/finance/agreements/1/additions")
    assert err.errors == body["errors"]
    assert "Product is required" in str(err)
    assert "product" in explain(err) and "Product is required" in explain(err)


def test_a_post_answered_with_a_5xx_has_an_unknown_outcome_but_a_get_does_not():
    assert error_from_response(response(500, {"message": "x"}), "POST", "/a").outcome_unknown
    assert not error_from_response(response(500, {"message": "x"}), "GET", "/a").outcome_unknown


def test_timeout_500_and_gateway_errors_are_flagged_retriable():
    assert error_from_response(response(500, {"message": "Execution Timeout Expired"}), "GET", "/a").retriable
    assert error_from_response(response(504, text="<html>gateway</html>"), "GET", "/a").retriable
    assert not error_from_response(response(500, {"message": "NullReference"}), "GET", "/a").retriable


def test_html_error_bodies_do_not_end_up_as_the_message():
    err = error_from_response(response(502, text="<html><body>Bad gateway</body></html>", reason="Bad Gateway"), "GET", "/a")
    assert err.message == "Bad Gateway"


def test_explain_401_says_keys_are_wrong_or_revoked():
    err = error_from_response(response(401, {"code": "Unauthorized", "message": "Authentication failed."}), "GET", "/company/companies")
    text = explain(err)
    assert "keys" in text and "revoked" in text and "API Members" in text


def test_explain_403_names_the_permission_from_the_message_when_present():
    err = error_from_response(
        response(403, {"code": "Forbidden", "message": "You need Add permission on Agreements."}), "POST", "/finance/agreements"
    )
    assert err.permission == "Agreements: Add"
    assert "'Agreements: Add'" in explain(err)


def test_explain_403_infers_the_permission_from_the_request_when_the_message_is_vague():
    err = error_from_response(response(403, {"code": "Forbidden", "message": "Access denied."}), "PATCH", "/finance/agreements/5/additions/7")
    assert err.permission == "Agreements: Edit"
    assert "Finance" in explain(err)
    err = error_from_response(response(403, {"message": "denied"}), "GET", "/procurement/catalog")
    assert err.permission == "Product Catalog: Inquire"


def test_explain_404_429_5xx_and_connection_errors_in_plain_words():
    nf = error_from_response(response(404, {"code": "NotFound", "message": "Addition with id 3 not found"}), "PATCH", "/finance/agreements/1/additions/3")
    assert "deleted in ConnectWise" in explain(nf)
    rl = error_from_response(response(429, {"message": "slow"}, headers={"Retry-After": "3"}), "GET", "/a", retries=5)
    assert rl.retry_after == 3 and "throttling" in explain(rl) and "5 times" in explain(rl)
    se = error_from_response(response(504, text="", reason="Gateway Timeout"), "GET", "/a")
    assert "timed out" in explain(se)
    ce = CWConnectionError("could not connect", reason="refused", method="GET", path="/a")
    assert "CW_SITE" in explain(ce) and "unreachable" in explain(ce)
    unknown = CWConnectionError("dropped", reason="dropped", method="POST", path="/a", outcome_unknown=True)
    assert "may or may not" in explain(unknown)
    assert "outcome unknown" in str(unknown)


def test_error_messages_never_carry_a_registered_key():
    CWClient(settings())
    err = error_from_response(response(400, {"message": f"bad key {PRIV}", "errors": [{"message": PUB}]}), "GET", "/a")
    for text in (str(err), repr(err), explain(err), err.message, json.dumps(err.errors)):
        assert PRIV not in text and PUB not in text


def test_unexpected_status_is_still_a_connectwise_error():
    assert isinstance(error_from_response(response(418, {"message": "teapot"}), "GET", "/a"), ConnectWiseError)


# -- wire encoding ----------------------------------------------------------------------------

def test_to_wire_formats_dates_as_midnight_z_and_decimals_as_exact_numbers():
    body = to_wire({"effectiveDate": date(2026, 11, 30), "quantity": Decimal("5"), "unitPrice": Decimal("12.34"),
                    "when": datetime(2026, 1, 1, 12, tzinfo=timezone.utc), "product": {"id": 3}, "cancelledDate": None})
    assert body == {"effectiveDate": "2026-11-30T00:00:00Z", "quantity": 5, "unitPrice": 12.34,
                    "when": "2026-01-01T12:00:00Z", "product": {"id": 3}, "cancelledDate": None}
    assert json.dumps(body["unitPrice"]) == "12.34"


def test_to_wire_refuses_decimals_a_json_number_cannot_carry_exactly():
    with pytest.raises(ValueError):
        to_wire(Decimal("0.12345678901234567890123"))


# -- batching ---------------------------------------------------------------------------------

def _url(batch):
    from urllib.parse import urlencode

    return "http://h/v4_6_release/apis/3.0/company/companies?" + urlencode(
        {"conditions": C.in_("id", batch), "pageSize": 1000, "page": 1}
    )


@pytest.mark.parametrize("max_url", [300, 700, 2000])
def test_id_batches_stay_under_the_url_limit_and_cover_every_id_once(max_url):
    ids = list(range(100000, 101500)) + [100005, 100006]  # duplicates are dropped
    batches = list(batch_ids(ids, _url, max_url=max_url, max_batch=200))
    flat = [i for b in batches for i in b]
    assert flat == list(range(100000, 101500))
    assert all(len(_url(b)) <= max_url for b in batches)
    assert all(len(b) <= 200 for b in batches)
    # greedy: each batch (but the last) could not take one more id
    for b, nxt in zip(batches, batches[1:]):
        assert len(b) == 200 or len(_url(b + [nxt[0]])) > max_url


def test_id_batches_count_the_url_encoded_length_of_string_ids():
    ids = [f"CUST-ÄÖ {i}" for i in range(300)]
    batches = list(batch_ids(ids, _url, max_url=1000))
    assert all(len(_url(b)) <= 1000 for b in batches)
    assert [i for b in batches for i in b] == ids
    assert unquote(_url(batches[0])).count("CUST") == len(batches[0])


def test_an_id_too_long_for_any_url_is_an_error():
    with pytest.raises(ValueError):
        list(batch_ids(["x" * 5000], _url, max_url=2000))


# -- Link headers -----------------------------------------------------------------------------

def test_connectwise_link_headers_parse_into_rels_with_every_parameter_kept():
    link = ('<https://h/v4_6_release/apis/3.0/company/companies?conditions=name%20like%20%22A%25%22&pageSize=2&page=1>; rel="first", '
            '<https://h/v4_6_release/apis/3.0/company/companies?conditions=name%20like%20%22A%25%22&pageSize=2&page=3>; rel="next", '
            '<https://h/v4_6_release/apis/3.0/company/companies?conditions=name%20like%20%22A%25%22&pageSize=2&page=9>; rel="last"')
    r = response(200, [], headers={"Link": link})
    assert r.links["next"]["url"].endswith("conditions=name%20like%20%22A%25%22&pageSize=2&page=3")
    assert set(r.links) == {"first", "next", "last"}
    assert response(200, [], headers={"Link": ""}).links == {}


def test_links_to_another_host_are_rebased_so_credentials_only_go_to_the_site():
    c = CWClient(settings(site="https://api-na.myconnectwise.net"))
    assert c._same_origin("https://evil.example/v4_6_release/apis/3.0/x?page=2") == (
        "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/x?page=2"
    )
    same = "https://api-na.myconnectwise.net/v4_6_release/apis/3.0/x?page=2"
    assert c._same_origin(same) == same


def test_page_size_above_the_server_cap_is_refused_before_any_request():
    c = CWClient(settings(codebase="v4_6_release"))
    with pytest.raises(ValueError):
        next(c.iter("/company/companies", page_size=1001))
    assert sum(c.stats.values()) == 0
