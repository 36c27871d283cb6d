"""Sherweb by API (``sources.pull(store, "sherweb", month)``): the distributor API's payable charges.

Protocol (Sherweb's public repository ``sherweb/Public-Apis``):

* token: ``POST {api}/auth/oidc/connect/token``, form-encoded ``client_id, client_secret,
  scope=distributor, grant_type=client_credentials``; fetched once, kept in memory for its life
  (reused by the next pull in the same process), renewed on 401;
* every call sends ``Ocp-Apim-Subscription-Key``;
* ``GET {api}/distributor/v1/billing/payable-charges?date=<the month's 1st>`` -> ``{periodFrom,
  periodTo, charges}`` for the billing period holding that date. A period that is not the calendar
  month is kept and named in a warning.

Final or draft: a final pull needs every charge billed (``isBilled``); while the period is still
open, pull it with ``draft=True`` to reconcile before the bill (Sherweb then answers the charges
so far). 429 and 5xx are retried (``Retry-After`` honoured) by :mod:`billbridge.sources.http`.

Field mapping (one canonical line per charge):

===================== =========================== ==========================================================
Sherweb charge field  billbridge field            notes
===================== =========================== ==========================================================
tags CustomerId       vendor_customer_id          **guess** (tag name); falls back to the display name
tags CustomerDisplayName vendor_customer_name     the tag Sherweb's own sample code reads
tags SubscriptionId   subscription_id             **guess** (tag name); empty when absent
sku                   sku
productName           product_name
chargeType            charge_type                 Setup -> one_time, Recurring -> recurring, Usage -> usage;
                                                  Unknown (older invoices) -> problem; a negative subTotal ->
                                                  credit (**guess**)
billingCycleType      billing_frequency, term     Monthly -> monthly; Yearly -> annual (term annual, **guess**);
                                                  OneTime -> (one-time charge, no term)
quantity              quantity
netPriceProrated      unit_cost                   the prorated net price: after deductions and fees
listPrice             list_unit_cost              extra column (before deductions)
deductions            deductions, deduction_total extra columns: kept on the line (JSON text and their total)
periodFrom / periodTo period_start / period_end   periodTo inclusive (**guess**)
currency              currency
subTotal              extended_cost               the vendor's own amount (quantity x netPriceProrated);
                                                  rounded to the cent when the double has more decimals
chargeId              vendor_line_id              extra column; invoice.number -> vendor_invoice_id
===================== =========================== ==========================================================

Sherweb writes amounts as doubles: a unit with more than 8 decimals is rounded to 8, and a
subTotal that differs from quantity x netPriceProrated by more than a cent is a warning. A
``netPriceProrated`` below ``netPrice`` marks the line ``vendor_prorated``. The distributor API
gives no customer sell price (``unit_price`` stays empty; Rule 7.3: Sherweb syncs cost, never price).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pandas as pd

from billbridge.bdom import days_in_month, parse_billing_month
from billbridge.errors import NotFoundError
from billbridge.sources.http import VendorAPIError, VendorClient, token_cache_key
from billbridge.sources.parse import Problem
from billbridge.sources.registry import Source, SourceLines, decimal_text, link_credits, register

__all__ = ["SOURCE", "CHARGE_TYPES", "CYCLES", "GUESSES", "fetch", "canonical_charges", "client_for"]

CHARGE_TYPES: dict[str, str] = {"setup": "one_time", "recurring": "recurring", "usage": "usage"}
GUESSES = frozenset()
#: billingCycleType -> (billing_frequency, term)
CYCLES: dict[str, tuple[str, str]] = {"monthly": ("monthly", ""), "yearly": ("annual", "annual"), "onetime": ("", "")}
_COLUMNS = {
    "vendor_customer_id": "tags.CustomerId", "vendor_customer_name": "tags.CustomerDisplayName",
    "subscription_id": "tags.SubscriptionId", "sku": "sku", "product_name": "productName",
    "charge_type": "chargeType", "billing_frequency": "billingCycleType", "term": "billingCycleType",
    "quantity": "quantity", "unit_cost": "netPriceProrated", "period_start": "periodFrom", "period_end": "periodTo",
    "effective_date": "periodFrom", "currency": "currency", "extended_cost": "subTotal",
}
Progress = Callable[[int, int | None, str], None]


def client_for(settings, **options: Any) -> VendorClient:
    """A :class:`VendorClient` for Sherweb: subscription key on every call, OAuth2 token."""

    def token(client: VendorClient) -> str:
        answer = client.post(settings.token_endpoint, data={
            "client_id": settings.client_id, "client_secret": settings.client_secret,
            "scope": settings.scope or "distributor", "grant_type": "client_credentials"})
        tok = answer.get("access_token") if isinstance(answer, dict) else None
        if not tok:
            raise VendorAPIError("the token answer has no access_token", vendor="Sherweb", method="POST",
                                 path="/auth/oidc/connect/token")
        return str(tok), _seconds(answer.get("expires_in"))

    headers = {"Ocp-Apim-Subscription-Key": settings.subscription_key or ""}
    key = token_cache_key(settings.token_endpoint, settings.client_id,
                          f"{settings.client_secret}|{settings.subscription_key}")
    return VendorClient("Sherweb", settings.api_url, fetch_token=token, headers=headers, token_key=key,
                        secrets=(settings.client_secret, settings.subscription_key), **options)


def _seconds(v: Any) -> float | None:
    try:
        return float(str(v))
    except (TypeError, ValueError):
        return None


def fetch(settings, billing_month: str, *, draft: bool = False, progress: Progress | None = None,
          stats: dict | None = None, **client_options: Any) -> SourceLines:
    """Pull the month's payable charges as canonical lines (see the module docstring)."""
    y, m = parse_billing_month(billing_month)
    client_options.pop("concurrency", None)
    client = client_for(settings, **client_options)
    try:
        if progress:
            progress(0, 1, "Asking Sherweb for the month's payable charges")
        answer = client.get("distributor/v1/billing/payable-charges", {"date": f"{billing_month}-01"})
        if progress:
            progress(1, 1, "Sherweb answered")
        if stats is not None:
            stats.update({"requests": int(client.stats["requests"]), "retries": dict(client.retries)})
    finally:
        client.close()
    if not isinstance(answer, dict):
        raise VendorAPIError("the payable charges answer is not an object", vendor="Sherweb", method="GET",
                             path="/distributor/v1/billing/payable-charges")
    charges = answer.get("charges") or []
    warnings: list[str] = []
    pf, pt = str(answer.get("periodFrom") or "")[:10], str(answer.get("periodTo") or "")[:10]
    if (pf, pt) != (f"{billing_month}-01", f"{billing_month}-{days_in_month(y, m):02d}"):
        warnings.append(f"Sherweb's billing period is {pf} to {pt}, not the calendar month {billing_month}")
    unbilled = sum(1 for c in charges if not c.get("isBilled"))
    if not draft and unbilled:
        raise NotFoundError(
            f"Sherweb has not billed {billing_month} yet ({unbilled} of {len(charges)} charges are not billed); "
            "pull it as a draft to reconcile before the bill")
    if draft:
        warnings.append(f"draft: {unbilled} of {len(charges)} charges are not billed yet and may still change")
    name = f"Sherweb payable charges {pf} to {pt}" + (" (draft)" if draft else "")
    return canonical_charges(charges, name, warnings)


def _tags(charge: dict) -> dict[str, str]:
    out = {}
    for t in charge.get("tags") or []:
        if isinstance(t, dict) and t.get("name"):
            out[str(t["name"])] = "" if t.get("value") is None else str(t["value"])
    return out


def canonical_charges(charges: list[dict], file_name: str, warnings: list[str] | None = None) -> SourceLines:
    """Sherweb charges (numbers as text) -> canonical lines; every unmappable value a problem."""
    warnings = list(warnings or [])
    problems: list[Problem] = []
    recs: list[dict[str, str]] = []
    ids, names = [], []
    digest = hashlib.sha256()
    no_id = off_by = 0
    for row, ch in enumerate(charges, start=1):
        digest.update(json.dumps(ch, sort_keys=True, separators=(",", ":")).encode("utf-8"))
        tags = _tags(ch)
        cust_name = tags.get("CustomerDisplayName", "")
        cust_id = tags.get("CustomerId") or cust_name
        if not tags.get("CustomerId") and cust_name:
            no_id += 1
        if not cust_name:
            problems.append(Problem(row, "tags.CustomerDisplayName", "the charge names no customer"))
        ct_raw = str(ch.get("chargeType") or "").strip()
        charge = CHARGE_TYPES.get(ct_raw.lower())
        if not ct_raw:
            problems.append(Problem(row, "chargeType", "required value is empty"))
        elif ct_raw.lower() == "unknown":
            problems.append(Problem(row, "chargeType", "Sherweb says the charge type is Unknown (older invoices); "
                                    "billbridge cannot tell recurring from usage or setup", ct_raw))
        elif charge is None:
            problems.append(Problem(row, "chargeType", f"unknown Sherweb charge type {ct_raw!r} "
                                    "(billbridge knows Setup, Recurring, Usage)", ct_raw))
        charge = charge or "recurring"
        cycle_raw = str(ch.get("billingCycleType") or "").strip()
        cycle = CYCLES.get(cycle_raw.lower())
        if cycle is None:
            if cycle_raw:
                problems.append(Problem(row, "billingCycleType", f"unknown Sherweb billing cycle {cycle_raw!r} "
                                        "(billbridge knows OneTime, Monthly, Yearly)", cycle_raw))
            cycle = ("", "")
        freq, term = cycle
        if charge == "recurring" and cycle_raw.lower() == "onetime":
            charge = "one_time"
        sub_total = decimal_text(ch.get("subTotal"))
        ext = decimal_text(sub_total, places=2) if sub_total is not None and \
            -Decimal(sub_total).as_tuple().exponent > 2 else decimal_text(sub_total, min_places=2)
        if ext is not None and Decimal(ext) < 0:
            charge = "credit"
        qty = decimal_text(ch.get("quantity"))
        unit = decimal_text(ch.get("netPriceProrated"))
        if unit is not None and -Decimal(unit).as_tuple().exponent > 8:
            unit = decimal_text(unit, places=8)
        net = decimal_text(ch.get("netPrice"))
        for field, value in (("quantity", qty), ("netPriceProrated", unit), ("subTotal", ext)):
            if value is None:
                problems.append(Problem(row, field, "not a number" if ch.get(field) not in (None, "") else
                                        "required value is empty", None if ch.get(field) is None else str(ch.get(field))))
        if qty is not None and unit is not None and ext is not None and \
                abs(Decimal(qty) * Decimal(unit) - Decimal(ext)) > Decimal("0.01"):
            off_by += 1
        deductions = ch.get("deductions") or []
        ded_total = sum((Decimal(decimal_text(d.get("totalValue")) or 0) for d in deductions if isinstance(d, dict)),
                        Decimal("0"))
        invoice = ch.get("invoice") or {}
        recs.append({
            "vendor_customer_id": cust_id, "vendor_customer_name": cust_name,
            "subscription_id": tags.get("SubscriptionId", ""), "sku": str(ch.get("sku") or ""),
            "product_name": str(ch.get("productName") or ch.get("chargeName") or ""),
            "charge_type": charge, "billing_frequency": freq, "term": term,
            "quantity": qty if qty is not None else str(ch.get("quantity") or ""),
            "unit_cost": decimal_text(unit, min_places=2) if unit is not None else str(ch.get("netPriceProrated") or ""),
            "unit_price": "",
            "period_start": str(ch.get("periodFrom") or "")[:10], "period_end": str(ch.get("periodTo") or "")[:10],
            "effective_date": str(ch.get("periodFrom") or "")[:10], "currency": str(ch.get("currency") or ""),
            "extended_cost": ext or "",
            "list_unit_cost": decimal_text(ch.get("listPrice"), min_places=2) or "",
            "deductions": json.dumps(deductions, separators=(",", ":")) if deductions else "",
            "deduction_total": decimal_text(ded_total, min_places=2) if deductions else "",
            "vendor_line_id": str(ch.get("chargeId") or ""),
            "vendor_invoice_id": str(invoice.get("number") or "") if isinstance(invoice, dict) else "",
            "vendor_charge_type": ct_raw,
            "vendor_prorated": "true" if unit is not None and net is not None and charge == "recurring"
            and Decimal(unit) < Decimal(net) else "",
        })
        ids.append(f"{ch.get('chargeId') or ''}|{cust_id}|{ch.get('periodFrom') or ''}")
        names.append(f"Sherweb charge {ch.get('chargeId') or row}")
    lines = pd.DataFrame(recs)
    rows = list(range(1, len(recs) + 1))
    if len(lines):
        credit_for, unmatched = link_credits(lines, rows)
        lines["credit_for_line"] = credit_for
        if unmatched:
            warnings.append(f"{unmatched} credit charge{'s' if unmatched != 1 else ''} refund{'s' if unmatched == 1 else ''} "
                            "a charge that is not in this period (billed earlier)")
    if no_id:
        warnings.append(f"{no_id} charge{'s' if no_id != 1 else ''} without a CustomerId tag: the customer's display "
                        "name is its id")
    if off_by:
        warnings.append(f"{off_by} charge{'s' if off_by != 1 else ''} whose subTotal differs from quantity × "
                        "netPriceProrated by more than a cent; Sherweb's subTotal is kept")
    return SourceLines("sherweb", file_name, digest.hexdigest(), lines, rows, columns=dict(_COLUMNS),
                       line_ids=ids, problems=problems, warnings=warnings, row_names=names,
                       encoding="JSON (Sherweb API)", delimiter="one answer")


SOURCE = register(Source(
    name="sherweb", kind="api", label="Sherweb",
    charge_types={"setup": "one_time", "recurring": "recurring", "usage": "usage"}, guesses=GUESSES, fetch=fetch,
    description="Sherweb distributor API: the billing period's payable charges.",
))
