"""The sandbox's Pax8 partner API emulator (billing subset), under ``{sandbox}/pax8/v1``.

Built from Pax8's own OpenAPI documents (mirror ``api-evangelist/pax8``,
``openapi/_original/pax8-partner-endpoints-openapi.json`` and ``pax8-authentication-openapi.json``):

* ``POST /token`` JSON ``{client_id, client_secret, audience, grant_type}`` ->
  ``{access_token, expires_in: 86400, token_type: "Bearer"}``; wrong credentials -> 401
  ``{"error": "access_denied", "error_description": "Unauthorized"}``.
* ``GET /invoices`` (``page``, ``size``, ``invoiceDate``, ``invoiceDateRangeStart``/``End``,
  ``status``, ``companyId``, ``sort``), ``GET /invoices/{id}``, ``GET /invoices/{id}/items``,
  ``GET /invoices/draftItems`` (``monthOffset`` 0 or 1, else 422; ``companyId``).
* ``GET /subscriptions`` (``page``, ``size``, ``companyId``): the world's subscriptions with ``billingTerm`` and,
  for annual and three-year terms, ``commitmentTerm`` (``term`` and ``endDate``: the day the current term ends,
  **guess**: written as the renewal day, the term's last day + 1, as in public Pax8 client examples).
* Paged answers ``{content, page: {size, totalElements, totalPages, number}}``; ``size`` defaults
  to 10 and is capped at 200; ``page`` counts from 0.
* Every call but ``/token`` needs ``Authorization: Bearer <token>`` (401 otherwise); errors are
  Pax8's ``{type, message, instance, status, details}``.

The data: one partner invoice per calendar month of the fictional world, dated the 4th (it exists
once the sandbox's today has reached the 4th), holding an item per customer subscription
(:mod:`billbridge.sandbox.vendor_world`); draft items are this month's (``monthOffset=0``) or next
month's (``1``) charges from today's quantities, without usage (as Pax8 documents). Items carry
every field of the published ``InvoiceItem`` schema. **Guesses** (Pax8 does not publish them):
usage items are ``type: subscription`` with ``term: Arrears``; a refund is a ``prorate`` item with
a negative quantity and ``costTotal``; ``endPeriod`` is the last day covered (inclusive, as in the
spec's draft example); invoices are due 15 days after their date.

The sandbox's fault injection (latency, 5xx, 429, drops) applies to these paths like to
ConnectWise's. ``configure(filler_items=N)`` adds N bulk items to every invoice (benchmarks);
``requests`` counts the calls served by route.
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import Counter
from dataclasses import replace
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl

from billbridge import clock
from billbridge import demo_world as world
from billbridge.bdom import add_months, days_in_month, month_key
from billbridge.linekey import line_key

from .vendor_world import Charge, TokenStore, filler_charges, month_charges, month_span, vendor_uuid, world_index

__all__ = ["Pax8Emulator", "PAX8_CREDENTIALS", "ITEM_FIELDS", "INVOICE_FIELDS", "PREFIX", "VENDOR", "pax8_line_key"]

PREFIX = "/pax8/v1"
#: the vendor name Pax8's lines are stored and keyed under (``billbridge.sources.pax8.SOURCE.name``)
VENDOR = "pax8"
#: the sandbox's Pax8 API client (what ``PAX8_CLIENT_ID`` / ``PAX8_CLIENT_SECRET`` would be)
PAX8_CREDENTIALS: dict[str, str] = {
    "client_id": "sandbox-pax8-client",
    "client_secret": "sandbox-pax8-secret",
    "audience": "https://api.pax8.com",
    "path": PREFIX,
}
#: every property of the published InvoiceItem schema (partner endpoints OpenAPI)
ITEM_FIELDS: tuple[str, ...] = (
    "id", "purchaseOrderNumber", "type", "companyId", "externalId", "companyName", "startPeriod", "endPeriod",
    "quantity", "unitOfMeasure", "term", "sku", "description", "details", "rateType", "chargeType", "price",
    "subTotal", "cost", "costTotal", "offeredBy", "billedByPax8", "total", "productId", "productName", "billingFee",
    "billingFeeRate", "amountDue", "currencyCode", "salesTax", "subscriptionId", "vendorName",
)
#: the published Invoice schema's properties, plus ``status`` (in the spec's example)
INVOICE_FIELDS: tuple[str, ...] = ("id", "invoiceDate", "dueDate", "balance", "carriedBalance", "total", "currencyCode",
                                   "partnerName", "companyId", "externalId", "status")
MAX_SIZE, DEFAULT_SIZE = 200, 10
INVOICE_DAY = 4
_TERMS = {"monthly": "Monthly", "annual": "Annual", "triennial": "3 Year"}
_COMMITMENT_MONTHS = {"annual": 12, "triennial": 36}
_TAX = {"HPBX-SEAT": Decimal("0.05"), "VOICE-MIN": Decimal("0.05")}  # telecom taxes (fictional)
_CENT = Decimal("0.01")


def _num(d: Decimal | None) -> float | int | None:
    """A Decimal as the JSON number the API writes (integral -> int)."""
    if d is None:
        return None
    return int(d) if d == d.to_integral_value() else float(d)


def company_id(customer_id: str) -> str:
    """The Pax8 ``companyId`` of a world customer."""
    return vendor_uuid("pax8", "company", customer_id)


def subscription_id(sub_id: str) -> str:
    """The Pax8 ``subscriptionId`` of a world subscription."""
    return vendor_uuid("pax8", "subscription", sub_id)


def pax8_line_key(customer_id: str, sub_id: str) -> str:
    """billbridge's line key for a world subscription billed by Pax8 (what the seed writes on the
    additions of the "Pax8 Services" agreements): :func:`billbridge.linekey.line_key` of its ids."""
    return line_key(VENDOR, company_id(customer_id), subscription_id(sub_id))


def _item(c: Charge, month: str, draft: bool) -> dict[str, Any]:
    term = "Arrears" if c.kind == "usage" else "One-Time" if c.kind == "one_time" else _TERMS.get(c.term, "Monthly")
    kind = {"subscription": "subscription", "usage": "subscription", "prorate": "prorate", "one_time": "one-time",
            "credit": "prorate"}[c.kind]
    cost_total = c.cost_total
    price_total = c.price_total if c.price_total is not None else cost_total
    tax = (price_total * _TAX.get(c.sku, Decimal(0))).quantize(_CENT, rounding=ROUND_HALF_UP)
    return {
        "id": vendor_uuid("pax8", "item", "draft" if draft else "invoice", month, c.customer_id, c.sub_id or "", c.kind),
        "purchaseOrderNumber": "N/A",
        "type": kind,
        "companyId": company_id(c.customer_id),
        "externalId": c.customer_id,
        "companyName": c.customer_name,
        "startPeriod": c.start.isoformat(),
        "endPeriod": c.end.isoformat(),
        "quantity": c.quantity,
        "unitOfMeasure": "Minute" if c.kind == "usage" else "User",
        "term": term,
        "sku": c.sku,
        "description": c.product_name,
        "details": None,
        "rateType": "single",
        "chargeType": "per",
        "price": _num(c.unit_price if c.unit_price is not None else c.unit_cost),
        "subTotal": _num(price_total),
        "cost": _num(c.unit_cost),
        "costTotal": _num(cost_total),
        "offeredBy": "Pax8",
        "billedByPax8": False,
        "total": _num(price_total + tax),
        "productId": vendor_uuid("pax8", "product", c.sku),
        "productName": c.product_name,
        "billingFee": 0,
        "billingFeeRate": 0,
        "amountDue": _num(price_total + tax),
        "currencyCode": "USD",
        "salesTax": _num(tax),
        "subscriptionId": subscription_id(c.sub_id) if c.sub_id else None,
        "vendorName": world.VENDOR_NAME,
    }


class _Error(Exception):
    def __init__(self, status: int, kind: str, message: str):
        self.status, self.kind, self.message = status, kind, message


class Pax8Emulator:
    """Pax8 under ``{sandbox}/pax8/v1`` for one :class:`~billbridge.sandbox.server.Sandbox`."""

    prefix = PREFIX

    def __init__(self, sandbox: Any = None):
        self.sandbox = sandbox
        self.tokens = TokenStore(86400)
        self.filler_items = 0
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._cache: dict[tuple, list[dict]] = {}

    # ---------------------------------------------------------------------------- setup
    def today(self) -> date:
        cfg = getattr(self.sandbox, "config", None)
        return (getattr(cfg, "today", None) if cfg is not None else None) or clock.today()

    def configure(self, *, filler_items: int | None = None) -> None:
        """``filler_items``: bulk items added to every invoice and draft (benchmarks)."""
        with self._lock:
            if filler_items is not None:
                self.filler_items = int(filler_items)
            self._cache.clear()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    # ----------------------------------------------------------------------------- data
    def invoice_months(self) -> list[str]:
        """Months that have an invoice today (oldest first)."""
        today = self.today()
        current = month_key(today)
        out = []
        for back in range(len(world.world(today).months) - 1, -1, -1):
            m = add_months(current, -back)
            if world_index(m, today) is not None and date.fromisoformat(f"{m}-{INVOICE_DAY:02d}") <= today:
                out.append(m)
        return out

    def items(self, month: str, *, draft: bool = False) -> list[dict]:
        key = (month, draft, self.filler_items, self.today())
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached
        if draft:
            index = len(world.world(self.today()).months) - 1  # today's quantities, projected onto the month
            charges = month_charges(month, index, usage=False, today=self.today())
            if month != month_key(self.today()):  # next month: this month's changes are behind it
                first, last = month_span(month)
                charges = [replace(c, kind="subscription", start=first, end=last,
                                   unit_cost=world.PRODUCTS_BY_SKU[c.sku].unit_cost,
                                   unit_price=world.PRODUCTS_BY_SKU[c.sku].unit_price)
                           for c in charges if c.kind in ("subscription", "prorate")]
        else:
            index = world_index(month, self.today())
            charges = month_charges(month, index, today=self.today()) if index is not None else []
        charges = charges + filler_charges(month, self.filler_items)
        out = [_item(c, month, draft) for c in charges]
        with self._lock:
            self._cache[key] = out
        return out

    def subscriptions(self) -> list[dict]:
        """The world's subscriptions as Pax8 lists them today (quantities of this month)."""
        today = self.today()
        w = world.world(today)
        out = []
        for cust in w.customers:
            for sub in cust.subscriptions:
                product = world.PRODUCTS_BY_SKU[sub.sku]
                start = sub.start or cust.created
                months = _COMMITMENT_MONTHS.get(product.term)
                commitment = None
                if months:
                    k = 1
                    while _shifted(start, k * months) <= today:
                        k += 1
                    commitment = {"term": _TERMS[product.term], "endDate": _shifted(start, k * months).isoformat()}
                out.append({
                    "id": vendor_uuid("pax8", "subscription", sub.sub_id),
                    "companyId": vendor_uuid("pax8", "company", cust.vendor_id),
                    "productId": vendor_uuid("pax8", "product", sub.sku), "quantity": sub.quantities[-1],
                    "startDate": start.isoformat(), "endDate": None, "createdDate": start.isoformat(),
                    "billingStart": start.isoformat(), "status": "Active", "price": _num(product.unit_price),
                    "billingTerm": _TERMS.get(product.term, "Monthly"), "commitmentTerm": commitment,
                })
        return out

    def invoice(self, month: str) -> dict:
        key = ("invoice", month, self.filler_items, self.today())
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            items = self.items(month)
            cached = sum((Decimal(str(i["costTotal"])) + Decimal(str(i["salesTax"])) for i in items), Decimal("0.00"))
            with self._lock:
                self._cache[key] = cached
        total = cached
        inv_date = date.fromisoformat(f"{month}-{INVOICE_DAY:02d}")
        due = inv_date + timedelta(days=15)
        paid = due < self.today()
        return {"id": vendor_uuid("pax8", "invoice", month), "invoiceDate": inv_date.isoformat(),
                "dueDate": due.isoformat(), "balance": 0 if paid else _num(total), "carriedBalance": 0,
                "total": _num(total), "currencyCode": "USD", "partnerName": "Our MSP (billbridge sandbox)",
                "companyId": None, "externalId": None, "status": "Paid" if paid else "Unpaid"}

    # ------------------------------------------------------------------------------ HTTP
    def dispatch(self, method: str, path: str, raw_query: str, headers: Any, body: bytes) -> tuple[int, Any, dict]:
        sub = path[len(self.prefix):].strip("/") if path.startswith(self.prefix) else None
        try:
            if sub is None:
                raise _Error(404, "NotFound", f"The requested URL {path} was not found.")
            if sub == "token":
                self._count("token")
                if method != "POST":
                    raise _Error(405, "MethodNotAllowed", "Use POST to create an access token.")
                return self._token(body)
            if not self.tokens.valid(headers.get("Authorization")):
                self._count("unauthorized")
                return 401, {"type": "Unauthorized", "message": "Full authentication is required to access this resource",
                             "instance": path, "status": 401, "details": []}, {}
            if method != "GET":
                raise _Error(405, "MethodNotAllowed", f"Request method '{method}' is not supported")
            params = dict(parse_qsl(raw_query, keep_blank_values=True))
            if sub == "invoices":
                self._count("invoices")
                return 200, self._invoices(params), {}
            if sub == "invoices/draftItems":
                self._count("draftItems")
                return 200, self._draft(params), {}
            if sub == "subscriptions":
                self._count("subscriptions")
                records = self.subscriptions()
                company = params.get("companyId")
                return 200, self._page([r for r in records if company in (None, "", r["companyId"])], params), {}
            m = re.fullmatch(r"invoices/([0-9a-fA-F-]{36})(/items)?", sub)
            if m:
                month = self._month_of(m.group(1))
                if m.group(2):
                    self._count("items")
                    return 200, self._page(self.items(month), params), {}
                self._count("invoice")
                return 200, self.invoice(month), {}
            raise _Error(404, "NotFound", f"No endpoint GET {path}.")
        except _Error as e:
            return e.status, {"type": e.kind, "message": e.message, "instance": path, "status": e.status,
                              "details": []}, {}

    def _count(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1

    def _token(self, body: bytes) -> tuple[int, Any, dict]:
        try:
            req = json.loads(body.decode("utf-8")) if body else {}
        except (UnicodeDecodeError, ValueError):
            raise _Error(400, "BadRequest", "The token request body must be JSON.") from None
        cred = PAX8_CREDENTIALS
        if not isinstance(req, dict) or req.get("grant_type") != "client_credentials":
            raise _Error(400, "BadRequest", "grant_type must be client_credentials.")
        if (req.get("client_id"), req.get("client_secret")) != (cred["client_id"], cred["client_secret"]) \
                or req.get("audience") != cred["audience"]:
            return 401, {"error": "access_denied", "error_description": "Unauthorized"}, {}
        return 200, {"access_token": self.tokens.issue(), "expires_in": self.tokens.ttl_s, "token_type": "Bearer"}, {}

    def _month_of(self, invoice_id: str) -> str:
        for m in self.invoice_months():
            if vendor_uuid("pax8", "invoice", m) == invoice_id.lower():
                return m
        raise _Error(404, "NotFound", f"Invoice {invoice_id} not found")

    @staticmethod
    def _paging(params: dict[str, str]) -> tuple[int, int]:
        try:
            page = int(params.get("page") or 0)
            size = int(params.get("size") or DEFAULT_SIZE)
        except ValueError:
            raise _Error(400, "BadRequest", "page and size must be whole numbers.") from None
        if page < 0 or size < 1:
            raise _Error(400, "BadRequest", "page must be 0 or more and size 1 or more.")
        return page, min(size, MAX_SIZE)

    def _page(self, records: list[dict], params: dict[str, str]) -> dict:
        page, size = self._paging(params)
        total = len(records)
        return {"content": records[page * size:(page + 1) * size],
                "page": {"size": size, "totalElements": total, "totalPages": math.ceil(total / size) if total else 0,
                         "number": page}}

    def _invoices(self, params: dict[str, str]) -> dict:
        invoices = [self.invoice(m) for m in self.invoice_months()]
        for key, test in (("invoiceDate", lambda inv, v: inv["invoiceDate"] == v),
                          ("invoiceDateRangeStart", lambda inv, v: inv["invoiceDate"] >= v),
                          ("invoiceDateRangeEnd", lambda inv, v: inv["invoiceDate"] <= v),
                          ("dueDate", lambda inv, v: inv["dueDate"] == v),
                          ("status", lambda inv, v: inv["status"] == v),
                          ("companyId", lambda inv, v: inv["companyId"] == v)):
            v = params.get(key)
            if v:
                if key != "status" and key != "companyId" and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", v):
                    raise _Error(400, "BadRequest", f"{key} must be a date written yyyy-MM-dd.")
                invoices = [i for i in invoices if test(i, v)]
        sort = params.get("sort") or "invoiceDate,desc"
        field, _, direction = sort.partition(",")
        if field in ("invoiceDate", "dueDate", "status", "partnerName", "total", "balance", "carriedBalance"):
            invoices.sort(key=lambda i: (i[field] is None, i[field]), reverse=direction.lower() != "asc")
        return self._page(invoices, params)

    def _draft(self, params: dict[str, str]) -> dict:
        raw = params.get("monthOffset", "1")
        if raw not in ("0", "1"):
            raise _Error(422, "UnprocessableEntity", "monthOffset must be 0 (this month) or 1 (next month).")
        month = add_months(month_key(self.today()), int(raw))
        items = self.items(month, draft=True)
        company = params.get("companyId")
        if company:
            items = [i for i in items if i["companyId"] == company]
            if not items:
                raise _Error(404, "NotFound", f"Company {company} not found")
        return self._page(items, params)


def _shifted(d: date, months: int) -> date:
    """``d`` ``months`` months on, its day clamped to the month's last (Rule 1.1)."""
    index = d.year * 12 + d.month - 1 + months
    y, m = index // 12, index % 12 + 1
    return date(y, m, min(d.day, days_in_month(y, m)))


def month_range(month: str) -> tuple[str, str]:
    """``invoiceDateRangeStart`` / ``End`` for a calendar month."""
    first, last = month_span(month)
    return first.isoformat(), last.isoformat()
