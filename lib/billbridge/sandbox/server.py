"""HTTP front end of the sandbox: routing, auth, permissions, fault injection, responses.

Served by the stdlib ``ThreadingHTTPServer`` (HTTP/1.1 keep-alive, daemon threads). See
:class:`Sandbox` / :func:`start_sandbox` for the public entry points.
"""

from __future__ import annotations

import base64
import binascii
import copy
import json
import random
import re
import socket
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from billbridge import clock
from billbridge import demo_world as dw
from billbridge.errors import BillbridgeError

from . import resources as rs
from .conditions import ConditionError
from .pax8 import Pax8Emulator
from .query import forward_link, link_header, parse_query, sort_records, trim_fields
from .resources import RESOURCES, ApiError, Member, WriteContext
from .seed import SEED_VERSION, build_seed, seed_stamp
from .sherweb import SherwebEmulator
from .store import Store

__all__ = ["SandboxConfig", "Sandbox", "start_sandbox", "CREDENTIALS", "default_members", "API_VERSION",
           "WINDOW_HEADER"]

COMPANY_ID = "sandbox"
CODEBASE = "v4_6_release/"
API_VERSION = "2026.4"
VERSION_NUMBER = "v4.6.2026.4.112233"
#: Every codebase segment the API answers under (the reported one and the cloud-style alias).
ACCEPTED_CODEBASES = {"v4_6_release", "v2026_4"}

#: Response header of ``/login/companyinfo`` naming the demo window the records were seeded for.
WINDOW_HEADER = "x-billbridge-demo-window"

#: Both sandbox API members (see :func:`default_members`).
CREDENTIALS: dict[str, Any] = {
    "company_id": COMPANY_ID,
    "client_id": "billbridge-sandbox-client",
    "full": {"public_key": "sandbox-public", "private_key": "sandbox-private", "member": dw.API_MEMBER},
    "readonly": {"public_key": "readonly-public", "private_key": "readonly-private", "member": "ReadOnlyAPI"},
}

#: Every permission area the sandbox checks (ConnectWise security-role module names).
AREAS = ("Companies > Company Maintenance", "Finance > Agreements", "Procurement > Product Catalog",
         "System > Table Setup", "Finance > Invoicing")


def default_members() -> list[Member]:
    """The full-rights member (BillbridgeAPI) and the read-only member (ReadOnlyAPI: inquire only)."""
    full, ro = CREDENTIALS["full"], CREDENTIALS["readonly"]
    return [
        Member(full["member"], full["public_key"], full["private_key"], None, "Billbridge API"),
        Member(ro["member"], ro["public_key"], ro["private_key"], {a: {"inquire"} for a in AREAS}, "Read-only API"),
    ]


@dataclass
class SandboxConfig:
    """How to run the sandbox.

    ``data_path`` None keeps the data in memory; a path is a persistent SQLite file (a restart keeps
    what was pushed; ``reset=True`` reseeds). Fault rates are probabilities per request, drawn from
    one ``random.Random(seed)``; ``fail_requests`` is a regular expression searched in
    ``"METHOD /path"`` (e.g. ``"^GET .*/procurement/"``): every matching request gets a plain 500. ``extra_agreements``/``extra_additions`` add bulk filler for
    benchmarks. ``members`` replaces the two default API members (see :class:`Member`); ``today``
    pins the date used for the seed's demo window and derived fields (agreementStatus, defaults);
    default :func:`billbridge.clock.today` (``BILLBRIDGE_TODAY`` pins it).

    The records are seeded for the demo window of today (:func:`billbridge.sandbox.seed_stamp`). A
    stored ``data_path`` seeded for another window (an older month) is reseeded when opened, and a
    running sandbox reseeds itself on the first request after the month changes, so the demo never
    shows stale months; ``reseeded`` then says why.
    """

    host: str = "127.0.0.1"
    port: int = 0
    data_path: Path | str | None = None
    reset: bool = False
    seed: int = 42
    latency_ms: int = 0
    error_rate: float = 0.0
    throttle_rate: float = 0.0
    drop_rate: float = 0.0
    retry_after_s: int = 1
    fail_requests: str | None = None
    extra_agreements: int = 0
    extra_additions: int = 0
    members: list[Member] | None = None
    today: date | None = None


class _Drop(Exception):
    """Close the connection without any response."""


_ROUTES: list[tuple[re.Pattern, str, str]] = [
    # (pattern on the path below /apis/3.0, resource key, kind)
    (re.compile(r"^company/companies$"), "companies", "list"),
    (re.compile(r"^company/companies/count$"), "companies", "count"),
    (re.compile(r"^company/companies/(?P<id>-?\d+)$"), "companies", "item"),
    (re.compile(r"^finance/agreements/types$"), "agreement_types", "list"),
    (re.compile(r"^finance/agreements/types/count$"), "agreement_types", "count"),
    (re.compile(r"^finance/agreements/types/(?P<id>-?\d+)$"), "agreement_types", "item"),
    (re.compile(r"^finance/agreements$"), "agreements", "list"),
    (re.compile(r"^finance/agreements/count$"), "agreements", "count"),
    (re.compile(r"^finance/agreements/(?P<id>-?\d+)$"), "agreements", "item"),
    (re.compile(r"^finance/agreements/(?P<pid>-?\d+)/additions$"), "additions", "list"),
    (re.compile(r"^finance/agreements/(?P<pid>-?\d+)/additions/count$"), "additions", "count"),
    (re.compile(r"^finance/agreements/(?P<pid>-?\d+)/additions/(?P<id>-?\d+)$"), "additions", "item"),
    (re.compile(r"^finance/billingcycles$"), "billing_cycles", "list"),
    (re.compile(r"^finance/billingcycles/count$"), "billing_cycles", "count"),
    (re.compile(r"^finance/billingcycles/(?P<id>-?\d+)$"), "billing_cycles", "item"),
    (re.compile(r"^finance/invoices$"), "invoices", "list"),
    (re.compile(r"^finance/invoices/count$"), "invoices", "count"),
    (re.compile(r"^finance/invoices/(?P<id>-?\d+)$"), "invoices", "item"),
    (re.compile(r"^procurement/catalog$"), "catalog", "list"),
    (re.compile(r"^procurement/catalog/count$"), "catalog", "count"),
    (re.compile(r"^procurement/catalog/(?P<id>-?\d+)$"), "catalog", "item"),
    (re.compile(r"^procurement/types$"), "product_types", "list"),
    (re.compile(r"^procurement/types/count$"), "product_types", "count"),
    (re.compile(r"^procurement/types/(?P<id>-?\d+)$"), "product_types", "item"),
    (re.compile(r"^system/info$"), "system_info", "info"),
]

_LEVEL = {"GET": "inquire", "POST": "add", "PATCH": "edit", "PUT": "edit", "DELETE": "delete"}
_ALIASES = {"agreementtypes": "agreement_types", "agreement_types": "agreement_types", "types": "agreement_types",
            "producttypes": "product_types", "product_types": "product_types", "billingcycles": "billing_cycles",
            "billing_cycles": "billing_cycles", "catalogitems": "catalog", "products": "catalog"}


class Sandbox:
    """A running (or startable) ConnectWise Manage emulator.

    Use :func:`start_sandbox` to get one serving in a background daemon thread.
    """

    company_id = COMPANY_ID
    public_key = CREDENTIALS["full"]["public_key"]
    private_key = CREDENTIALS["full"]["private_key"]
    client_id = CREDENTIALS["client_id"]
    codebase = CODEBASE

    def __init__(self, config: SandboxConfig | None = None):
        self.config = config or SandboxConfig()
        cfg = self.config
        self.members = list(cfg.members) if cfg.members is not None else default_members()
        self._by_public = {m.public_key: m for m in self.members}
        self._fault_lock = threading.Lock()
        self._rng = random.Random(cfg.seed)
        self.latency_ms = cfg.latency_ms
        self.error_rate = cfg.error_rate
        self.throttle_rate = cfg.throttle_rate
        self.drop_rate = cfg.drop_rate
        self.retry_after_s = cfg.retry_after_s
        self.fail_requests = re.compile(cfg.fail_requests) if cfg.fail_requests else None
        self._tmpdir = None
        self.store = Store(cfg.data_path)
        #: why the stored records were thrown away and reseeded (None: they were kept or new)
        self.reseeded: str | None = None
        self._window = seed_stamp(self.today())
        self._checked_day = self.today()
        if cfg.data_path is not None and not cfg.reset and self.store.is_seeded():
            stored = self.store.meta("seed_window")
            if stored == self._window and self.store.meta("seed_version") == SEED_VERSION:
                self.store.load()
            elif stored == self._window:
                self.reseeded = "the stored records were seeded by an older billbridge; reseeded with today's records"
                self._seed()
            else:
                self.reseeded = (f"the stored records were seeded for the demo window ending {stored or 'in an older month'}; "
                                 f"reseeded for the one ending {self._window}")
                self._seed()
        else:
            self._seed()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()
        #: vendor API emulators, by their first path segment (``/pax8/v1/...``, ``/sherweb/...``)
        self.vendors = {"pax8": Pax8Emulator(self), "sherweb": SherwebEmulator(self)}

    # ------------------------------------------------------------------ public API
    @property
    def base_url(self) -> str:
        """``http://host:port`` (what ``CW_SITE`` would be)."""
        if self._server is None:
            raise BillbridgeError("the sandbox is not started: call start() first")
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    @property
    def port(self) -> int:
        return self._server.server_address[1] if self._server else self.config.port

    @property
    def api_root(self) -> str:
        """Absolute API root, e.g. ``http://127.0.0.1:8765/v4_6_release/apis/3.0``."""
        return f"{self.base_url}/{self.codebase}apis/3.0"

    def today(self) -> date:
        return self.config.today or clock.today()

    @property
    def window(self) -> str:
        """The current month of the demo window the records were seeded for (``YYYY-MM``)."""
        return self._window

    def follow_calendar(self) -> None:
        """Reseed when the day moved into another demo window (checked once per day, cheap)."""
        day = self.today()
        if day == self._checked_day:
            return
        with self.store.lock:
            self._checked_day = day
            window = seed_stamp(day)
            if window != self._window:
                self.reseeded = f"the month changed: reseeded for the demo window ending {window}"
                self._window = window
                self._seed()

    def set_faults(self, latency_ms: int | None = None, error_rate: float | None = None,
                   throttle_rate: float | None = None, drop_rate: float | None = None,
                   retry_after_s: int | None = None, seed: int | None = None,
                   fail_requests: str | None = None) -> None:
        """Change fault injection at runtime (``seed`` restarts the random sequence; ``fail_requests=""``
        stops failing requests by pattern)."""
        with self._fault_lock:
            if fail_requests is not None:
                self.fail_requests = re.compile(fail_requests) if fail_requests else None
            if latency_ms is not None:
                self.latency_ms = latency_ms
            if error_rate is not None:
                self.error_rate = error_rate
            if throttle_rate is not None:
                self.throttle_rate = throttle_rate
            if drop_rate is not None:
                self.drop_rate = drop_rate
            if retry_after_s is not None:
                self.retry_after_s = retry_after_s
            if seed is not None:
                self._rng = random.Random(seed)

    def records(self, resource: str) -> list[dict]:
        """Deep copies of the stored records of ``resource`` (derived fields filled, no hrefs), by id."""
        key = _ALIASES.get(resource.lower().replace(" ", ""), resource)
        res = RESOURCES.get(key)
        with self.store.lock:
            recs = [self.store.data[key][i] for i in sorted(self.store.data[key])]
            out = [rs.view(res, r, self.store, self.today()) if res else r for r in recs]
            return copy.deepcopy(out)

    def reset(self) -> None:
        """Reseed: drop everything (also in SQLite) and rebuild the seed data."""
        self._seed()

    def run_agreement_invoicing(self, month: str, agreement_ids: list[int] | None = None,
                                by: str = "mgarcia") -> list[dict]:
        """What an accountant's "Agreement Invoicing" run does in ConnectWise: one Agreement invoice
        dated the 1st of ``month`` per active agreement (or the given ones) that has none for that
        month, totalling the additions running in the month. Returns the new invoices (as served)."""
        first, last = rs.month_span(month)
        made = []
        with self.store.lock, self.store.transaction():
            have = {(i.get("applyToId"), str(i.get("date"))[:7]) for i in self.store.all("invoices")}
            numbers = [int(i["invoiceNumber"]) for i in self.store.all("invoices") if str(i.get("invoiceNumber")).isdigit()]
            for agr in list(self.store.all("agreements")):
                if agreement_ids is not None and agr["id"] not in agreement_ids:
                    continue
                if rs.agreement_status(agr, first) != "Active" or (agr["id"], month) in have:
                    continue
                lines = [a for a in self.store.additions_of(agr["id"])
                         if rs.parse_date_part(a.get("effectiveDate")) and rs.parse_date_part(a["effectiveDate"]) <= last
                         and (not a.get("cancelledDate") or rs.parse_date_part(a["cancelledDate"]) >= first)]
                total = round(sum(a.get("extPrice") or 0.0 for a in lines), 2)
                comp = self.store.get("companies", agr["company"]["id"]) or {}
                numbers.append(max(numbers, default=10480) + 1)
                now = rs.fmt_dt(rs.now_utc())
                rec = {"id": self.store.new_id("invoices"), "invoiceNumber": str(numbers[-1]), "type": "Agreement",
                       "status": {"id": 1, "name": "Sent", "isClosed": False},
                       "company": dict(agr["company"]), "billToCompany": dict(agr["company"]),
                       "accountNumber": comp.get("accountNumber"), "applyToType": "Agreement",
                       "applyToId": agr["id"], "billingTerms": {"id": 1, "name": "Net 30"},
                       "date": rs.fmt_date(first), "dueDate": rs.fmt_date(first + timedelta(days=30)),
                       "locationId": 1, "departmentId": 1, "taxableFlag": False, "serviceTotal": 0.0,
                       "expenseTotal": 0.0, "productTotal": 0.0, "agreementAmount": total, "subtotal": total,
                       "total": total, "salesTax": 0.0, "payments": 0.0, "credits": 0.0, "balance": total,
                       "specialInvoiceFlag": False,
                       "agreement": {"id": agr["id"], "name": agr["name"], "type": agr["type"]["name"],
                                     "chargeFirmFlag": False},
                       "_info": {"lastUpdated": now, "updatedBy": by, "dateEntered": now, "enteredBy": by}}
                self.store.put("invoices", rec)
                made.append(rec)
        return copy.deepcopy(made)

    def start(self) -> "Sandbox":
        """Bind and serve in a background daemon thread."""
        if self._server is not None:
            return self
        handler = type("SandboxHandler", (_Handler,), {"sandbox": self})
        server = ThreadingHTTPServer((self.config.host, self.config.port), handler)
        server.daemon_threads = True
        server.block_on_close = False
        self._server = server
        self._stopped.clear()
        self._thread = threading.Thread(target=server.serve_forever, name="billbridge-sandbox",
                                        kwargs={"poll_interval": 0.2}, daemon=True)
        self._thread.start()
        return self

    def serve_forever(self) -> None:
        """Serve in the foreground until :meth:`stop` or Ctrl-C."""
        self.start()
        try:
            while not self._stopped.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
        finally:
            self.stop()

    def stop(self) -> None:
        """Stop serving and close the database."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self._stopped.set()
        try:
            self.store.close()
        except Exception:  # noqa: BLE001 - already closed
            pass

    def __enter__(self) -> "Sandbox":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ internals
    def _seed(self) -> None:
        data, next_ids = build_seed(self.config.seed, self.config.extra_agreements, self.config.extra_additions,
                                    today=self.today())
        self._window = seed_stamp(self.today())
        self.store.replace_all(data, next_ids, meta={"seed_window": self._window, "seed_version": SEED_VERSION})

    def draw_fault(self) -> tuple[str | None, float]:
        """One request's fault decision: (None|"drop_before"|"drop_after"|"throttle"|"500".."504", latency s).

        Always consumes exactly two random numbers, so the sequence only depends on the seed.
        """
        with self._fault_lock:
            r1, r2 = self._rng.random(), self._rng.random()
            drop, thr, err = self.drop_rate, self.throttle_rate, self.error_rate
            lat = self.latency_ms / 1000.0
        if r1 < drop:
            return ("drop_after" if r2 < 0.5 else "drop_before"), lat
        if r1 < drop + thr:
            return "throttle", lat
        if r1 < drop + thr + err:
            return ("500", "502", "503", "504")[min(3, int(r2 * 4))], lat
        return None, lat

    def authenticate(self, headers: Any) -> Member:
        fail = ApiError(401, "Unauthorized", "Authentication failed.")
        client_id = headers.get("clientId")
        if not client_id or not client_id.strip():
            raise fail
        auth = headers.get("Authorization") or ""
        if not auth.lower().startswith("basic "):
            raise fail
        try:
            decoded = base64.b64decode(auth[6:].strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            raise fail from None
        user, _, private = decoded.partition(":")
        company, plus, public = user.partition("+")
        if not plus or company.lower() != self.company_id.lower():
            raise fail
        member = self._by_public.get(public)
        if member is None or member.private_key != private:
            raise fail
        return member

    def company_info(self, company_id: str) -> dict | None:
        if company_id.lower() != self.company_id.lower():
            return None
        return {"CompanyName": "Our MSP (billbridge sandbox)", "Codebase": self.codebase,
                "VersionCode": f"v{API_VERSION}", "VersionNumber": VERSION_NUMBER, "CompanyID": self.company_id,
                "IsCloud": False, "SiteUrl": self.base_url.split("://", 1)[1],
                "AllowedOrigins": ["*.myconnectwise.net", "127.0.0.1", "localhost"]}

    def system_info(self) -> dict:
        return {"version": VERSION_NUMBER, "isCloud": False, "serverTimeZone": "UTC",
                "licenseBits": [{"name": "Finance", "activeFlag": True}, {"name": "Procurement", "activeFlag": True}],
                "cloudRegion": "NA", "maxWorkFlowRecordsAllowed": 1000}

    def dispatch(self, method: str, path: str, raw_query: str, headers: Any, body: bytes,
                 host: str) -> tuple[int, Any, dict[str, str]]:
        """Process one API request; returns (status, JSON-able body or None, extra headers)."""
        vendor = self.vendors.get(path.split("/", 2)[1].lower() if path.count("/") else "")
        if vendor is not None:
            return vendor.dispatch(method, path, raw_query, headers, body)
        parts = path.split("/")
        # ['', codebase, 'apis', '3.0', ...]
        if len(parts) < 5 or parts[1].lower() not in ACCEPTED_CODEBASES or parts[2].lower() != "apis" \
                or parts[3] != "3.0":
            raise ApiError(404, "NotFound", f"The requested URL {path} was not found.")
        sub = "/".join(p for p in parts[4:] if p != "").lower()
        root = f"http://{host}/{parts[1]}/apis/3.0"
        for rx, key, kind in _ROUTES:
            m = rx.match(sub)
            if m:
                break
        else:
            member = self.authenticate(headers)
            raise ApiError(404, "NotFound", f"The requested resource '{sub}' was not found.")
        member = self.authenticate(headers)
        if kind == "info":
            if method != "GET":
                raise ApiError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
            return 200, self.system_info(), {}
        res = RESOURCES[key]
        allowed = res.verbs if kind == "item" else ({"GET", "POST"} & res.verbs if kind == "list" else {"GET"})
        if method not in allowed:
            raise ApiError(405, "MethodNotAllowed", f"The requested resource does not support http method '{method}'.")
        level = _LEVEL[method]
        if not member.can(res.area, level):
            raise ApiError(403, "Forbidden", "You do not have permission to perform this action. "
                                             f"{res.area}: {level.capitalize()} level is required.")
        store = self.store
        today = self.today()
        params = {k.lower(): v for k, v in reversed(parse_qsl(raw_query, keep_blank_values=True))}
        with store.lock:
            parent = None
            if key == "additions":
                pid = int(m.group("pid"))
                parent = store.get("agreements", pid)
                if parent is None:
                    raise ApiError(404, "NotFound", f"Agreement with id {pid} not found")
            if kind in ("list", "count") and method == "GET":
                fwd = (headers.get("pagination-type") or "").strip().lower() == "forward-only"
                try:
                    q = parse_query(params, res.schema, fwd and kind == "list")
                except ConditionError as e:
                    raise ApiError(400, e.code, e.message) from None
                source = store.additions_of(parent["id"]) if parent else store.all(key)
                # derived fields are computed for every record only when the query names one
                derived = rs.DERIVED_FIELDS.get(key, ())
                early = any(d in (params.get(p) or "").lower() for d in derived
                            for p in ("conditions", "childconditions", "orderby"))
                if early:
                    source = [rs.view(res, r, store, today) for r in source]
                recs = q.filter(source)
                if kind == "count":
                    return 200, {"count": len(recs)}, {}
                page, extra = self._page(q, recs, path, raw_query, host)
                if not early:
                    page = [rs.view(res, r, store, today) for r in page]
            else:
                return self._item(method, res, key, m, parent, params, body, member, today, root)
        # rendering works on immutable snapshots, outside the lock
        out = [rs.render(res, r, root) for r in page]
        if q.fields:
            out = [trim_fields(r, q.fields) for r in out]
        return 200, out, extra

    def _item(self, method, res, key, m, parent, params, body, member, today, root):
        store = self.store
        ctx = WriteContext(store, member, today, parent)
        if method == "POST":
            rec = rs.create(res, _json(body), ctx)
            return 201, rs.render(res, rs.view(res, rec, store, today), root), {}
        rid = int(m.group("id"))
        cur = store.get(key, rid)
        if cur is None or (parent is not None and cur.get("agreementId") != parent["id"]):
            raise ApiError(404, "NotFound", f"{res.label} with id {rid} not found")
        if method == "GET":
            q = parse_query(params, res.schema, False) if params.get("fields") else None
            out = rs.render(res, rs.view(res, cur, store, today), root)
            return 200, (trim_fields(out, q.fields) if q and q.fields else out), {}
        if method == "PATCH":
            rec = rs.patch(res, cur, _json(body), ctx)
        elif method == "PUT":
            rec = rs.replace(res, cur, _json(body), ctx)
        else:
            rs.delete(res, cur, ctx)
            return 204, None, {}
        return 200, rs.render(res, rs.view(res, rec, store, today), root), {}

    @staticmethod
    def _page(q, recs: list[dict], path: str, raw_query: str, host: str) -> tuple[list[dict], dict[str, str]]:
        url_base = f"http://{host}{path}"
        headers: dict[str, str] = {}
        if q.forward_only:
            recs.sort(key=lambda r: r.get("id") or 0)
            page = recs[: q.page_size]
            more = len(recs) > q.page_size
            headers["Link"] = forward_link(url_base, raw_query, q.page_size, page[-1]["id"] if page else None, more)
        else:
            recs = sort_records(recs, q.order)
            start = (q.page - 1) * q.page_size
            page = recs[start:start + q.page_size]
            link = link_header(url_base, raw_query, q.page, q.page_size, len(recs))
            if link:
                headers["Link"] = link
        return page, headers


def _json(body: bytes) -> Any:
    if not body:
        return None
    try:
        return json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise ApiError(400, "InvalidObject", "The request body is not valid JSON.") from None


_FAULT_BODIES = {
    "500": {"code": "UnexpectedError",
            "message": "An unexpected error occurred: Execution Timeout Expired. The timeout period elapsed prior "
                       "to completion of the operation or the server is not responding. (timeout)", "errors": None},
    "502": {"code": "BadGateway", "message": "Bad gateway: the upstream server returned an invalid response.",
            "errors": None},
    "503": {"code": "ServiceUnavailable", "message": "The service is temporarily unavailable.", "errors": None},
    "504": {"code": "GatewayTimeout", "message": "Gateway timeout: the upstream server did not respond in time.",
            "errors": None},
}


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "billbridge-sandbox"
    sys_version = ""
    timeout = 120
    sandbox: Sandbox

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        pass

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_PATCH(self) -> None:
        self._handle("PATCH")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def _send(self, status: int, body: Any, extra: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("api-current-version", API_VERSION)
        self.send_header("x-cw-request-id", str(uuid.uuid4()))
        self.send_header("x-server-name", "billbridge-sandbox")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Pragma", "no-cache")
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        if status == 204:
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        # headers and body in one write (no Nagle/delayed-ACK stall on keep-alive connections)
        self._headers_buffer.append(b"\r\n" + data)
        self.flush_headers()

    def _drop(self) -> None:
        self.close_connection = True
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _handle(self, method: str) -> None:
        sb = self.sandbox
        try:
            length = int(self.headers.get("Content-Length") or 0)
        except ValueError:
            length = 0
        body = self.rfile.read(length) if length > 0 else b""
        url = urlsplit(self.path)
        path = url.path
        sb.follow_calendar()
        m = re.match(r"^/login/companyinfo/([^/]+)/?$", path, re.IGNORECASE)
        if m:
            self._send(200, sb.company_info(m.group(1)), {WINDOW_HEADER: sb.window})
            return
        fault, latency = sb.draw_fault()
        if sb.fail_requests is not None and sb.fail_requests.search(f"{method} {path}"):
            fault = "fail"
        if latency:
            time.sleep(latency)
        if fault == "drop_before":
            self._drop()
            return
        if fault == "throttle":
            self._send(429, {"code": "TooManyRequests",
                             "message": f"Rate limit exceeded. Retry after {sb.retry_after_s} seconds.",
                             "errors": None}, {"Retry-After": str(sb.retry_after_s)})
            return
        if fault in _FAULT_BODIES:
            self._send(int(fault), _FAULT_BODIES[fault])
            return
        if fault == "fail":
            self._send(500, {"code": "UnexpectedError", "message": "An unexpected error occurred (injected)",
                             "errors": None})
            return
        host = self.headers.get("Host") or f"{sb.config.host}:{sb.port}"
        try:
            status, payload, extra = sb.dispatch(method, path, url.query, self.headers, body, host)
        except ApiError as e:
            status, payload, extra = e.status, e.body(), e.headers
        except Exception as e:  # noqa: BLE001 - the emulator must answer like a server, not die
            status, payload, extra = 500, {"code": "UnexpectedError", "message": f"{type(e).__name__}: {e}",
                                           "errors": None}, {}
        if fault == "drop_after":
            self._drop()
            return
        self._send(status, payload, extra)


def start_sandbox(config: SandboxConfig | None = None) -> Sandbox:
    """Create a :class:`Sandbox` and serve it in a background daemon thread (port 0 = a free port)."""
    return Sandbox(config).start()

