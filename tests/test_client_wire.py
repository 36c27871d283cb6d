"""Client behaviour against servers that misbehave in ways the sandbox does not: a tiny real HTTP
server per test (a socket, not a mock of the client) plays a ConnectWise with a fault."""

from __future__ import annotations

import json
import threading
import time
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from billbridge.connectwise import CWClient, CWSettings, PaginationError, RateLimitedError, ServerError


class FakeCW:
    """Serves ``answer(method, path, query, n) -> (status, headers, body)``; records requests."""

    def __init__(self, answer):
        self.answer = answer
        self.requests: list[tuple[str, str, dict]] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _go(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                if length:
                    self.rfile.read(length)
                url = urlsplit(self.path)
                q = parse_qs(url.query)
                fake.requests.append((method, url.path, q))
                status, headers, body = fake.answer(method, url.path, q, len(fake.requests))
                data = json.dumps(body).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                self._go("GET")

            def do_POST(self):
                self._go("POST")

            def do_PATCH(self):
                self._go("PATCH")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def site(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def client(self, **kw):
        s = CWSettings(site=self.site, company_id="c", public_key="wire-public", private_key="wire-private",
                       client_id="t", codebase="v4_6_release")
        return CWClient(s, **{"timeout": (2, 5), "max_retries": 3, "backoff_factor": 0.01, "backoff_max": 0.05, **kw})

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    made = []

    def make(answer):
        f = FakeCW(answer)
        made.append(f)
        return f

    yield make
    for f in made:
        f.close()


ROWS = [{"id": i} for i in range(1, 4)]


def test_a_next_page_that_repeats_the_previous_one_stops_with_an_error_instead_of_looping(fake):
    def answer(method, path, q, n):
        page = int(q.get("page", ["1"])[0])
        return 200, {"Link": f'<http://127.0.0.1:1{path}?pageSize=3&page={page + 1}>; rel="next"'}, ROWS

    f = fake(answer)
    c = f.client()
    with pytest.raises(PaginationError, match="repeats"):
        c.list("/company/companies", page_size=3)
    assert len(f.requests) == 2


def test_a_next_link_pointing_at_another_host_is_followed_on_the_configured_site(fake):
    def answer(method, path, q, n):
        page = int(q.get("page", ["1"])[0])
        if page == 1:
            return 200, {"Link": f'<https://elsewhere.example{path}?conditions=id%3E0&pageSize=3&page=2>; rel="next"'}, ROWS
        return 200, {}, [{"id": 9}]

    f = fake(answer)
    rows = f.client().list("/company/companies", conditions="id>0", page_size=3)
    assert [r["id"] for r in rows] == [1, 2, 3, 9]
    assert f.requests[1][2]["conditions"] == ["id>0"]  # the link's parameters were kept verbatim


def test_without_link_headers_full_pages_are_followed_by_page_number_until_a_short_page(fake):
    def answer(method, path, q, n):
        page = int(q["page"][0])
        assert q["pageSize"] == ["3"] and q["conditions"] == ["name like \"A%\""]
        return 200, {}, [{"id": page * 10 + i} for i in range(3 if page < 3 else 1)]

    f = fake(answer)
    rows = f.client().list("/company/companies", conditions='name like "A%"', page_size=3)
    assert len(rows) == 7 and [r[2]["page"] for r in f.requests] == [["1"], ["2"], ["3"]]


def test_forward_only_sends_the_header_and_follows_the_link_until_it_is_empty(fake):
    def answer(method, path, q, n):
        last = int(q.get("pageId", ["0"])[0])
        rows = [{"id": last + i} for i in range(1, 3)] if last < 6 else [{"id": 7}]
        link = f'<http://127.0.0.1:1{path}?pageSize=2&pageId={rows[-1]["id"]}>; rel="next"' if last < 6 else ""
        return 200, {"Link": link}, rows

    f = fake(answer)
    rows = f.client().list("/finance/agreements", forward_only=True, page_size=2)
    assert [r["id"] for r in rows] == [1, 2, 3, 4, 5, 6, 7]
    assert "page" not in f.requests[0][2]


def test_a_500_that_is_not_a_timeout_is_not_retried(fake):
    f = fake(lambda m, p, q, n: (500, {}, {"code": "UnexpectedError", "message": "Object reference not set"}))
    c = f.client()
    with pytest.raises(ServerError) as info:
        c.get("/system/info")
    assert len(f.requests) == 1 and not info.value.timeout and c.stats["GET"] == 1


def test_a_500_timeout_is_retried_for_reads_and_then_succeeds(fake):
    def answer(m, p, q, n):
        if n < 3:
            return 500, {}, {"code": "UnexpectedError", "message": "Execution Timeout Expired"}
        return 200, {}, {"version": "v1"}

    f = fake(answer)
    c = f.client()
    assert c.get("/system/info") == {"version": "v1"}
    assert c.stats["GET"] == 3 and c.stats_retries["500-timeout"] == 2


def test_retry_after_as_an_http_date_is_honoured(fake):
    def answer(m, p, q, n):
        if n == 1:
            return 429, {"Retry-After": formatdate(time.time() + 2, usegmt=True)}, {"code": "TooManyRequests"}
        return 200, {}, {"ok": True}

    f = fake(answer)
    started = time.monotonic()
    assert f.client().get("/system/info") == {"ok": True}
    assert time.monotonic() - started >= 0.9  # an HTTP date has one-second resolution


def test_a_huge_retry_after_is_capped(fake):
    f = fake(lambda m, p, q, n: (429, {"Retry-After": "3600"}, {"code": "TooManyRequests", "message": "slow"}))
    c = f.client(max_retries=2, retry_after_max=0.2)
    started = time.monotonic()
    with pytest.raises(RateLimitedError) as info:
        c.get("/system/info")
    assert time.monotonic() - started < 3
    assert info.value.retries == 2 and info.value.retry_after == 3600


def test_a_post_answered_503_is_not_resent_and_has_an_unknown_outcome(fake):
    f = fake(lambda m, p, q, n: (503, {}, {"code": "ServiceUnavailable", "message": "busy"}))
    c = f.client()
    with pytest.raises(ServerError) as info:
        c.post("/company/companies", {"identifier": "X", "name": "x"})
    assert len(f.requests) == 1 and info.value.outcome_unknown


def test_a_throttled_post_is_retried_because_429_means_it_was_refused_unprocessed(fake):
    f = fake(lambda m, p, q, n: (429, {"Retry-After": "0"}, {}) if n == 1 else (201, {}, {"id": 5}))
    c = f.client()
    assert c.post("/company/companies", {"identifier": "X", "name": "x"}) == {"id": 5}
    assert c.stats["POST"] == 2


def test_a_replace_only_patch_is_retried_on_503_but_a_patch_with_add_ops_is_not(fake):
    f = fake(lambda m, p, q, n: (503, {}, {"code": "ServiceUnavailable"}) if n in (1, 3) else (200, {}, {"id": 1}))
    c = f.client()
    assert c.patch_fields("/finance/agreements/1", {"name": "x"}) == {"id": 1}
    assert c.stats["PATCH"] == 2
    with pytest.raises(ServerError):
        c.patch("/finance/agreements/1", [{"op": "add", "path": "customFields", "value": []}])
    assert c.stats["PATCH"] == 3
