"""The sandbox's Sherweb distributor API emulator (payable charges), under ``{sandbox}/sherweb``.

Built from Sherweb's public repository ``sherweb/Public-Apis`` (``Sherweb.Apis.Distributor.OpenAPI.json``,
``Sherweb.Apis.Authorization.OpenAPI.yaml``, ``SampleCode/Program.cs``):

* ``POST /sherweb/auth/oidc/connect/token``, form-encoded ``client_id, client_secret,
  scope=distributor, grant_type=client_credentials`` -> ``{access_token, expires_in, token_type}``;
  wrong credentials -> 400 ``{"error": "invalid_client"}`` (OpenID Connect).
* ``GET /sherweb/distributor/v1/billing/payable-charges?date=yyyy-MM-dd`` -> ``{periodFrom,
  periodTo, charges: [...]}`` for the billing period holding ``date`` (default: today).
* Every call sends ``Ocp-Apim-Subscription-Key`` (header, or the ``subscription-key`` query
  parameter); a missing or wrong key -> 401 (API Management's answer), a missing or expired
  bearer token -> 401 (RFC 7807 problem details).

The data: every demo customer's charges for the calendar month holding ``date``
(:mod:`billbridge.sandbox.vendor_world`), with every field of the published ``Charge`` schema.
Customer information is in ``tags``: ``CustomerDisplayName`` (used by Sherweb's own sample code),
plus ``CustomerId`` and ``SubscriptionId`` (**guesses**: Sherweb documents only that tags carry
"customer information"). Past periods are billed (``isBilled``, ``invoice`` dated the 1st of the
next month); the current period is not yet billed (``invoice`` null). One customer has a 10 %
``PromotionalPercentage`` deduction (``netPrice`` = ``listPrice`` - deduction). A refund is a
``Recurring`` charge with a negative quantity and ``subTotal`` (**guess**). Usage charges cover the
previous month (billed in arrears, **guess**).

Fault injection applies as for ConnectWise.
"""

from __future__ import annotations

import re
import threading
from collections import Counter
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import parse_qsl

from billbridge import clock
from billbridge import demo_world as world
from billbridge.bdom import add_months, month_key

from .pax8 import _num
from .vendor_world import Charge, TokenStore, month_charges, month_span, vendor_uuid, world_index

__all__ = ["SherwebEmulator", "SHERWEB_CREDENTIALS", "CHARGE_FIELDS", "PREFIX"]

PREFIX = "/sherweb"
#: the sandbox's Sherweb API application (what SHERWEB_CLIENT_ID / _SECRET / _SUBSCRIPTION_KEY would be)
SHERWEB_CREDENTIALS: dict[str, str] = {
    "client_id": "sandbox-sherweb-client",
    "client_secret": "sandbox-sherweb-secret",
    "subscription_key": "sandbox-sherweb-subscription-key",
    "path": PREFIX,
}
#: every property of the published Charge schema
CHARGE_FIELDS: tuple[str, ...] = (
    "productId", "productName", "sku", "chargeId", "chargeName", "chargeType", "billingCycleType", "periodFrom",
    "periodTo", "quantity", "listPrice", "netPrice", "netPriceProrated", "subTotal", "currency", "isBilled",
    "isProratable", "deductions", "fees", "invoice", "taxes", "tags",
)
#: customer id -> (sku, percentage): a promotional deduction on one line
PROMOTIONS = {"DC-10022": ("SEC-AWARE", Decimal("10"))}
_CENT = Decimal("0.01")
_Q4 = Decimal("0.0001")


def _charge(c: Charge, billed: bool, invoice: dict | None) -> dict[str, Any]:
    full = c.unit_cost
    list_price = c.unit_cost
    if c.kind == "prorate":  # the full-period price is the list price; the prorated one is charged
        list_price = world.PRODUCTS_BY_SKU[c.sku].unit_cost
        full = list_price
    deductions = []
    promo = PROMOTIONS.get(c.customer_id)
    net = full
    if promo and promo[0] == c.sku:
        unit_value = (list_price * promo[1] / 100).quantize(_Q4, rounding=ROUND_HALF_UP)
        net = list_price - unit_value
        deductions.append({"code": "PROMO10", "name": "10 % promotion", "deductionType": "PromotionalPercentage",
                           "value": _num(promo[1]), "unitValue": _num(unit_value),
                           "totalValue": _num((unit_value * c.quantity).quantize(_CENT, rounding=ROUND_HALF_UP))})
    prorated = net if c.kind != "prorate" else c.unit_cost
    charge_type = {"subscription": "Recurring", "prorate": "Recurring", "credit": "Recurring", "usage": "Usage",
                   "one_time": "Setup"}[c.kind]
    yearly = world.PRODUCTS_BY_SKU[c.sku].billing_frequency == "annual"
    cycle = "OneTime" if c.kind == "one_time" else "Yearly" if yearly else "Monthly"
    tags = [{"name": "CustomerDisplayName", "value": c.customer_name}, {"name": "CustomerId", "value": c.customer_id}]
    if c.sub_id:
        tags.append({"name": "SubscriptionId", "value": c.sub_id})
    return {
        "productId": vendor_uuid("sherweb", "product", c.sku),
        "productName": c.product_name,
        "sku": c.sku,
        "chargeId": vendor_uuid("sherweb", "charge", c.customer_id, c.sub_id or "", c.kind, c.start.isoformat()),
        "chargeName": {"Recurring": "Monthly fee", "Usage": "Usage", "Setup": "Setup fee"}[charge_type],
        "chargeType": charge_type,
        "billingCycleType": cycle,
        "periodFrom": c.start.isoformat(),
        "periodTo": c.end.isoformat(),
        "quantity": c.quantity,
        "listPrice": _num(list_price),
        "netPrice": _num(net),
        "netPriceProrated": _num(prorated),
        "subTotal": _num((prorated * c.quantity).quantize(_CENT, rounding=ROUND_HALF_UP)),
        "currency": "USD",
        "isBilled": billed,
        "isProratable": c.kind in ("subscription", "prorate", "credit"),
        "deductions": deductions,
        "fees": [],
        "invoice": invoice,
        "taxes": [],
        "tags": tags,
    }


class SherwebEmulator:
    """Sherweb under ``{sandbox}/sherweb`` for one :class:`~billbridge.sandbox.server.Sandbox`."""

    prefix = PREFIX

    def __init__(self, sandbox: Any = None):
        self.sandbox = sandbox
        self.tokens = TokenStore(3600)
        self.requests: Counter[str] = Counter()
        self._lock = threading.Lock()

    def today(self) -> date:
        cfg = getattr(self.sandbox, "config", None)
        return (getattr(cfg, "today", None) if cfg is not None else None) or clock.today()

    def reset_counts(self) -> None:
        with self._lock:
            self.requests.clear()

    def _count(self, route: str) -> None:
        with self._lock:
            self.requests[route] += 1

    def payable_charges(self, on: date) -> dict:
        month = month_key(on)
        first, last = month_span(month)
        today = self.today()
        index = world_index(month, today)
        billed = month < month_key(today)
        invoice = None
        if billed:
            nxt = add_months(month, 1)
            invoice = {"number": f"SW-{month.replace('-', '')}-0001", "date": f"{nxt}-01",
                       "periodFrom": first.isoformat(), "periodTo": last.isoformat()}
        charges = month_charges(month, index, today=self.today()) if index is not None else []
        return {"periodFrom": first.isoformat(), "periodTo": last.isoformat(),
                "charges": [_charge(c, billed, invoice) for c in charges]}

    def dispatch(self, method: str, path: str, raw_query: str, headers: Any, body: bytes) -> tuple[int, Any, dict]:
        sub = path[len(self.prefix):].strip("/") if path.startswith(self.prefix) else ""
        params = dict(parse_qsl(raw_query, keep_blank_values=True))
        key = headers.get("Ocp-Apim-Subscription-Key") or params.get("subscription-key")
        if key != SHERWEB_CREDENTIALS["subscription_key"]:
            self._count("no-subscription-key")
            return 401, {"statusCode": 401, "message": "Access denied due to missing or invalid subscription key. "
                         "Make sure to include subscription key when making requests to an API."}, {}
        if sub == "auth/oidc/connect/token":
            self._count("token")
            if method != "POST":
                return 405, _problem(405, "Method Not Allowed", path), {}
            form = dict(parse_qsl(body.decode("utf-8", errors="replace"), keep_blank_values=True))
            cred = SHERWEB_CREDENTIALS
            if form.get("grant_type") != "client_credentials":
                return 400, {"error": "unsupported_grant_type"}, {}
            if (form.get("client_id"), form.get("client_secret")) != (cred["client_id"], cred["client_secret"]):
                return 400, {"error": "invalid_client"}, {}
            if form.get("scope") != "distributor":
                return 400, {"error": "invalid_scope"}, {}
            return 200, {"access_token": self.tokens.issue(), "expires_in": self.tokens.ttl_s,
                         "token_type": "Bearer"}, {}
        if sub != "distributor/v1/billing/payable-charges":
            self._count("not-found")
            return 404, _problem(404, "Not Found", path), {}
        self._count("payable-charges")
        if not self.tokens.valid(headers.get("Authorization")):
            return 401, _problem(401, "Unauthorized", path), {}
        if method != "GET":
            return 405, _problem(405, "Method Not Allowed", path), {}
        raw = params.get("date")
        if raw:
            if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", raw):
                return 400, _problem(400, "Bad Request", path, "date must be written yyyy-MM-dd"), {}
            try:
                on = date.fromisoformat(raw)
            except ValueError:
                return 400, _problem(400, "Bad Request", path, f"{raw} is not a date"), {}
        else:
            on = self.today()
        return 200, self.payable_charges(on), {}


def _problem(status: int, title: str, instance: str, detail: str | None = None) -> dict:
    out = {"type": f"https://httpstatuses.io/{status}", "title": title, "status": status, "instance": instance}
    if detail:
        out["detail"] = detail
    return out
