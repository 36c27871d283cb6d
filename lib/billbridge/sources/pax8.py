"""Pax8 by API (``sources.pull(store, "pax8", month)``): the month's invoices and their items.

Protocol (Pax8's partner-endpoints and authentication OpenAPI documents, mirrored in
``api-evangelist/pax8``):

* token: ``POST {api}/token`` with JSON ``{client_id, client_secret, audience:
  "https://api.pax8.com", grant_type: "client_credentials"}``; fetched once, kept in memory for
  its 24-hour life (reused by the next pull in the same process) and renewed when a call answers 401;
* final bill: ``GET /invoices?invoiceDateRangeStart=<1st>&invoiceDateRangeEnd=<last>`` (every page,
  ``size=200``), then ``GET /invoices/{id}/items`` for each (every page; the pages after the first
  are fetched concurrently, at most ``concurrency`` at a time). Invoices marked ``Void`` or
  ``Credited`` are left out (a corrected invoice replaces a credited one), with a warning;
* draft: ``GET /invoices/draftItems?monthOffset=0|1`` (this month or next, from today), to
  reconcile before the invoice exists; Pax8 leaves usage billed in arrears out of drafts.

429 and 5xx are retried (honouring ``Retry-After``) by :mod:`billbridge.sources.http`. A paged
answer whose pages do not add up to its ``totalElements`` (the data changed while paging) stops
the pull: nothing is stored.

Field mapping (one canonical line per item):

================== ============================ ===========================================================
Pax8 item field    billbridge field             notes
================== ============================ ===========================================================
companyId          vendor_customer_id
companyName        vendor_customer_name
externalId         vendor_customer_external_id  extra column (the partner's own reference)
subscriptionId     subscription_id
sku                sku
productName        product_name                 ``description`` when productName is empty
type               charge_type                  table below; unknown -> problem
term               term                         table below; unknown or ``2 Year`` -> problem
quantity           quantity
cost               unit_cost                    the partner's unit cost
price              unit_price                   the customer unit price set in Pax8
startPeriod        period_start, effective_date
endPeriod          period_end                   inclusive (**guess**, see below)
currencyCode       currency
costTotal          extended_cost                the vendor's own extended cost: the month's vendor cost
                                                equals the items' costTotal sum to the cent (Rule 7.7)
salesTax           tax                          extra column: shown, never re-billed
id                 vendor_line_id               extra column; invoice id -> vendor_invoice_id
(subscription)     commitment_end               extra column: ``GET /subscriptions``' ``commitmentTerm.endDate``
                                                - 1 day (**guess**, :func:`commitment_ends`): dates the term
================== ============================ ===========================================================

``type`` -> charge type: ``subscription`` -> recurring (``usage`` when its term is ``Arrears``,
**guess**); ``prorate`` -> recurring, marked ``vendor_prorated``; ``one-time`` -> one_time;
``service-charge`` -> one_time (**guess**); ``rebate``, ``service-credit``, ``invoice-credit``,
``payment-credit`` -> credit (the last three **guesses**). Any item with a negative ``costTotal``
is a credit (a refund of removed seats comes as a negative ``prorate``, **guess**); a credit type
with a positive costTotal is a problem. (The issue's "credits" is not a Pax8 type: the published
enum is the list above.)

``term`` -> term: Monthly -> monthly, Annual -> annual, 3 Year -> triennial, Trial -> monthly
(**guess**), Activation / One-Time / One-time / Arrears / Rebate -> none. ``2 Year`` has no
billbridge term (monthly, annual, triennial, none): such an item is a problem, never a silent default.

``endPeriod``: the spec's two examples disagree (an invoice item ``2019-04-01``..``2019-05-01``,
a draft item ``2025-02-01``..``2025-02-28``). **Guess**: an end exactly one month or one year
after the start, on the same day of the month, is the next period's first day (exclusive) and
becomes the day before; any other end is the last day covered. The billing frequency is
``annual`` when the (inclusive) period spans a year or more, else ``monthly`` (**guess**: items
carry no billing frequency). A costTotal that differs from quantity x cost by more than a cent is
a warning (the vendor's amount is kept).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, NamedTuple

import pandas as pd

from billbridge import clock
from billbridge.bdom import add_months, days_in_month, month_key, parse_billing_month
from billbridge.errors import InputError, NotFoundError
from billbridge.sources.http import VendorAPIError, VendorClient, token_cache_key
from billbridge.sources.registry import Source, SourceLines, decimal_text, link_credits, register

__all__ = ["SOURCE", "TYPES", "TERMS", "GUESSES", "PAGE_SIZE", "fetch", "canonical_items", "client_for"]

PAGE_SIZE = 200
DEFAULT_CONCURRENCY = 4
TYPES: dict[str, str] = {
    "subscription": "recurring", "prorate": "recurring", "one-time": "one_time", "service-charge": "one_time",
    "rebate": "credit", "service-credit": "credit", "invoice-credit": "credit", "payment-credit": "credit",
}
GUESSES = frozenset({"service-charge", "service-credit", "invoice-credit", "payment-credit"})
TERMS: dict[str, str] = {
    "monthly": "monthly", "annual": "annual", "3 year": "triennial", "trial": "monthly", "activation": "none",
    "one-time": "none", "arrears": "none", "rebate": "none",
}
SKIPPED_STATUSES = ("Void", "Credited")
_COLUMNS = {
    "vendor_customer_id": "companyId", "vendor_customer_name": "companyName", "subscription_id": "subscriptionId",
    "sku": "sku", "product_name": "productName", "charge_type": "type", "term": "term", "quantity": "quantity",
    "unit_cost": "cost", "unit_price": "price", "period_start": "startPeriod", "period_end": "endPeriod",
    "effective_date": "startPeriod", "currency": "currencyCode", "billing_frequency": "endPeriod",
    "extended_cost": "costTotal",
}
Progress = Callable[[int, int | None, str], None]


def client_for(settings, **options: Any) -> VendorClient:
    """A :class:`VendorClient` for Pax8 with its OAuth2 client-credentials token."""

    def token(client: VendorClient) -> str:
        answer = client.post(settings.token_endpoint, json={
            "client_id": settings.client_id, "client_secret": settings.client_secret,
            "audience": settings.audience or "https://api.pax8.com", "grant_type": "client_credentials"})
        tok = answer.get("access_token") if isinstance(answer, dict) else None
        if not tok:
            raise VendorAPIError("the token answer has no access_token", vendor="Pax8", method="POST",
                                 path="/token")
        return str(tok), _seconds(answer.get("expires_in"))

    options.setdefault("pool_size", max(8, options.pop("concurrency", DEFAULT_CONCURRENCY) * 2))
    key = token_cache_key(settings.token_endpoint, settings.client_id, settings.client_secret)
    return VendorClient("Pax8", settings.api_url, fetch_token=token, token_key=key,
                        secrets=(settings.client_secret,), **options)


def _seconds(v: Any) -> float | None:
    try:
        return float(str(v))
    except (TypeError, ValueError):
        return None


class _Pager:
    """Every page of several paged Pax8 resources: first pages together, then the rest, at most
    ``concurrency`` requests in flight; each resource's pages checked against its totals.
    ``on_page(k, page, content)`` runs in the calling thread as each page arrives (so mapping
    overlaps the network wait); ``bodies`` keeps each page's raw bytes (the pull's fingerprint)."""

    def __init__(self, client: VendorClient, pool: ThreadPoolExecutor, progress: Progress | None, what: str):
        self.client, self.pool, self.progress, self.what = client, pool, progress, what
        self.done = 0
        self.bodies: dict[tuple[int, int], bytes] = {}

    def _get(self, path: str, params: dict, page: int) -> tuple[dict, bytes]:
        ans, body = self.client.get(path, {**params, "page": page, "size": PAGE_SIZE}, with_body=True)
        if not isinstance(ans, dict) or not isinstance(ans.get("content"), list) or not isinstance(ans.get("page"), dict):
            raise VendorAPIError("a paged answer without content and page", vendor="Pax8", method="GET", path=path)
        if _int(ans["page"].get("number"), page) != page:
            raise VendorAPIError(f"asked for page {page}, got page {ans['page'].get('number')}", vendor="Pax8",
                                 method="GET", path=path)
        return ans, body

    def all(self, targets: list[tuple[str, dict]],
            on_page: Callable[[int, int, list[dict]], None] | None = None) -> list[list[dict]]:
        firsts = []
        for k, (ans, body) in enumerate(self.pool.map(lambda t: self._get(t[0], t[1], 0), targets)):
            firsts.append(ans)
            self.bodies[(k, 0)] = body
            if on_page:
                on_page(k, 0, ans["content"])
        self.done += len(targets)
        more = [(k, p) for k, ans in enumerate(firsts) for p in range(1, _int(ans["page"].get("totalPages")))]
        total = self.done + len(more)
        self._tell(total)
        pages: dict[tuple[int, int], list[dict]] = {(k, 0): a["content"] for k, a in enumerate(firsts)}
        futures = {self.pool.submit(self._get, targets[k][0], targets[k][1], p): (k, p) for k, p in more}
        try:
            for f in as_completed(futures):
                k, p = futures[f]
                ans, body = f.result()
                pages[(k, p)] = ans["content"]
                self.bodies[(k, p)] = body
                if on_page:
                    on_page(k, p, ans["content"])
                self.done += 1
                self._tell(total)
        except BaseException:
            for f in futures:
                f.cancel()
            raise
        out = []
        for k, first in enumerate(firsts):
            n = _int(first["page"].get("totalPages"))
            records = [r for p in range(max(n, 1)) for r in pages.get((k, p), [])]
            expected = _int(first["page"].get("totalElements"), len(records))
            if len(records) != expected:
                raise VendorAPIError(f"the pages hold {len(records)} records but Pax8 announced {expected} "
                                     "(the data changed while paging); nothing was stored, pull again",
                                     vendor="Pax8", method="GET", path=targets[k][0])
            out.append(records)
        return out

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for key in sorted(self.bodies):
            h.update(self.bodies[key])
        return h.hexdigest()

    def _tell(self, total: int) -> None:
        if self.progress:
            self.progress(self.done, total, f"Fetched {self.done:,} of {total:,} pages of Pax8 {self.what}")


def _int(v: Any, default: int = 0) -> int:
    try:
        return int(str(v))
    except (TypeError, ValueError):
        return default


def fetch(settings, billing_month: str, *, draft: bool = False, progress: Progress | None = None,
          concurrency: int = DEFAULT_CONCURRENCY, stats: dict | None = None, **client_options: Any) -> SourceLines:
    """Pull the month from Pax8 as canonical lines (see the module docstring). ``stats``, when
    given, receives the request counts (``token``, ``invoice_pages``, ``item_pages``, ``requests``)."""
    y, m = parse_billing_month(billing_month)
    first, last = date(y, m, 1), date(y, m, days_in_month(y, m))
    warnings: list[str] = []
    mapper = _Mapper()
    mapped: dict[tuple[int, int], list[_Mapped]] = {}
    client = client_for(settings, concurrency=concurrency, **client_options)
    try:
        with ThreadPoolExecutor(max_workers=max(1, concurrency), thread_name_prefix="pax8") as pool:
            if draft:
                today = clock.today()
                offset = (y * 12 + m) - (today.year * 12 + today.month)
                if offset not in (0, 1):
                    raise InputError(f"Pax8 keeps draft items only for this month ({month_key(today)}) and "
                                     f"next ({add_months(month_key(today), 1)}), not {billing_month}")
                client.token()
                invoices = [{"id": "", "invoiceDate": "", "status": "Draft"}]
                pager = _Pager(client, pool, progress, "draft items")
                pager.all([("invoices/draftItems", {"monthOffset": offset})],
                          lambda k, p, content: mapped.__setitem__((k, p), [mapper.map(invoices[k], it) for it in content]))
                file_name = f"Pax8 draft items for {billing_month} (pulled {today.isoformat()})"
                invoice_pages, item_pages = 0, pager.done
                warnings.append("draft items: Pax8 leaves usage billed in arrears out, and the invoice may still change")
            else:
                client.token()
                inv_pager = _Pager(client, pool, progress, "invoices")
                (invoices,) = inv_pager.all([("invoices", {"invoiceDateRangeStart": first.isoformat(),
                                                           "invoiceDateRangeEnd": last.isoformat(),
                                                           "sort": "invoiceDate,asc"})])
                invoice_pages = inv_pager.done
                skipped = [i for i in invoices if str(i.get("status") or "") in SKIPPED_STATUSES]
                invoices = [i for i in invoices if str(i.get("status") or "") not in SKIPPED_STATUSES]
                for i in skipped:
                    warnings.append(f"Pax8 invoice {i.get('id')} of {i.get('invoiceDate')} is {i.get('status')} "
                                    "and was left out")
                if not invoices:
                    raise NotFoundError(
                        f"Pax8 has no invoice dated in {billing_month} yet (invoices are generated on the 4th); "
                        "pull the draft items to reconcile before the invoice exists")
                pager = _Pager(client, pool, progress, "invoice items")
                pager.all([(f"invoices/{i['id']}/items", {}) for i in invoices],
                          lambda k, p, content: mapped.__setitem__((k, p), [mapper.map(invoices[k], it) for it in content]))
                item_pages = pager.done
                dates = ", ".join(sorted({str(i.get("invoiceDate")) for i in invoices}))
                file_name = f"Pax8 invoice{'s' if len(invoices) > 1 else ''} {dates}"
            # the subscriptions' commitment terms (the items do not date them; rules/terms.py reads them)
            sub_pager = _Pager(client, pool, progress, "subscriptions")
            (subscriptions,) = sub_pager.all([("subscriptions", {})])
        ends = commitment_ends(subscriptions)
        for records in mapped.values():
            for x in records:
                x.record["commitment_end"] = ends.get(x.record["subscription_id"], "")
        if stats is not None:
            stats.update({"subscription_pages": sub_pager.done})
            stats.update({"token": int(client.stats["tokens"]), "invoice_pages": invoice_pages, "item_pages": item_pages,
                          "requests": int(client.stats["requests"]), "retries": dict(client.retries)})
    finally:
        client.close()
    ordered = [x for key in sorted(mapped) for x in mapped[key]]
    return _assemble(ordered, file_name, pager.fingerprint(), warnings)


def commitment_ends(subscriptions: list[dict]) -> dict[str, str]:
    """Pax8 subscription id -> the last day (ISO) of its current commitment term, for the subscriptions with
    one (``commitmentTerm.endDate``; **guess**: an ``endDate`` is the renewal day, so the last day is the day
    before, as in public Pax8 client examples where a term started 2025-01-01 ends 2026-01-01)."""
    out = {}
    for sub in subscriptions:
        end = _date((sub.get("commitmentTerm") or {}).get("endDate") if isinstance(sub, dict) else None)
        if end is not None and sub.get("id"):
            out[str(sub["id"])] = (end - timedelta(days=1)).isoformat()
    return out


def _date(v: Any) -> date | None:
    try:
        return date.fromisoformat(str(v)[:10]) if v else None
    except ValueError:
        return None


class _Mapped(NamedTuple):
    """One item, mapped: its canonical record, its problems ``(field, reason, value)``, whether its
    costTotal is off quantity x cost by more than a cent, and its id."""

    record: dict[str, str]
    problems: list[tuple[str, str, str | None]]
    off: bool
    item_id: str


class _Mapper:
    """One Pax8 item -> one canonical record (per-distinct work memoised)."""

    def __init__(self) -> None:
        self._periods: dict[tuple[Any, Any], tuple[str, str, str, str]] = {}
        self._off: dict[tuple[str, str, str], bool] = {}

    def period(self, start_raw: Any, end_raw: Any) -> tuple[str, str, str, str]:
        """-> (period_start, period_end (inclusive), effective_date, billing_frequency)."""
        key = (start_raw, end_raw)
        got = self._periods.get(key)
        if got is None:
            start, end = _date(start_raw), _period_end(_date(start_raw), _date(end_raw))
            freq = "annual" if start and end and (end - start).days >= 364 else "monthly"
            got = (start.isoformat() if start else str(start_raw or ""), end.isoformat() if end else str(end_raw or ""),
                   start.isoformat() if start else "", freq)
            self._periods[key] = got
        return got

    def off_by_more_than_a_cent(self, qty: str | None, cost: str | None, total: str | None) -> bool:
        if qty is None or cost is None or total is None:
            return False
        key = (qty, cost, total)
        got = self._off.get(key)
        if got is None:
            got = self._off[key] = abs(Decimal(qty) * Decimal(cost) - Decimal(total)) > _CENT
        return got

    def map(self, inv: dict, it: dict) -> _Mapped:
        probs: list[tuple[str, str, str | None]] = []
        item_id = str(it.get("id") or "")
        kind = str(it.get("type") or "").strip()
        term_raw = str(it.get("term") or "").strip()
        cost_total = decimal_text(it.get("costTotal"), min_places=2)
        sign = 0 if cost_total is None else (-1 if cost_total.startswith("-") else 0 if not cost_total.strip("0.") else 1)
        base = TYPES.get(kind.lower())
        if not kind:
            probs.append(("type", "required value is empty", None))
        elif base is None:
            probs.append(("type", f"unknown Pax8 item type {kind!r} (billbridge knows {', '.join(TYPES)})", kind))
        charge = base or "recurring"
        if sign < 0:
            charge = "credit"
        elif base == "credit" and sign > 0:
            probs.append(("costTotal", f"a {kind} item (a credit) with a positive costTotal", cost_total))
        if charge == "recurring" and kind.lower() == "subscription" and term_raw.lower() == "arrears":
            charge = "usage"
        term = TERMS.get(term_raw.lower()) if term_raw else ""
        if term is None:
            why = "has no billbridge term (monthly, annual, triennial, none)" if term_raw.lower() == "2 year" \
                else "is not a Pax8 term billbridge knows"
            probs.append(("term", f"term {term_raw!r} {why}", term_raw))
            term = ""
        ps, pe, eff, freq = self.period(it.get("startPeriod"), it.get("endPeriod"))
        qty = decimal_text(it.get("quantity"))
        cost = decimal_text(it.get("cost"), min_places=2)
        for field, value in (("quantity", qty), ("cost", cost), ("costTotal", cost_total)):
            if value is None:
                raw = it.get(field)
                probs.append((field, "required value is empty" if raw in (None, "") else "not a number",
                              None if raw in (None, "") else str(raw)))
        off = self.off_by_more_than_a_cent(qty, cost, cost_total)
        rec = {
            "vendor_customer_id": str(it.get("companyId") or ""),
            "vendor_customer_name": str(it.get("companyName") or ""),
            "subscription_id": str(it.get("subscriptionId") or ""),
            "sku": str(it.get("sku") or ""),
            "product_name": str(it.get("productName") or it.get("description") or ""),
            "charge_type": charge, "billing_frequency": freq, "term": term,
            "quantity": qty if qty is not None else str(it.get("quantity") or ""),
            "unit_cost": cost if cost is not None else str(it.get("cost") or ""),
            "unit_price": decimal_text(it.get("price"), min_places=2) or "",
            "period_start": ps, "period_end": pe, "effective_date": eff,
            "currency": str(it.get("currencyCode") or inv.get("currencyCode") or ""),
            "extended_cost": cost_total or "",
            "tax": decimal_text(it.get("salesTax"), min_places=2) or "",
            "vendor_line_id": item_id,
            "vendor_invoice_id": str(inv.get("id") or ""),
            "vendor_charge_type": kind,
            "vendor_customer_external_id": str(it.get("externalId") or ""),
            "vendor_prorated": "true" if kind.lower() == "prorate" and charge != "credit" else "",
            "commitment_end": "",
        }
        return _Mapped(rec, probs, off, item_id)


_CENT = Decimal("0.01")


def _period_end(start: date | None, end: date | None) -> date | None:
    """The inclusive last day (see the module docstring's guess on ``endPeriod``)."""
    if start is None or end is None:
        return end
    for months in (1, 12):
        yy, mm = parse_billing_month(add_months(month_key(start), months))
        if start.day == end.day and end == date(yy, mm, min(start.day, days_in_month(yy, mm))):
            return end - timedelta(days=1)
    return end


def canonical_items(invoices: list[dict], per_invoice: list[list[dict]], file_name: str,
                    warnings: list[str] | None = None) -> SourceLines:
    """Pax8 items (as the API answered, numbers as text) -> canonical lines; every unmappable
    value a problem naming the item's position and the Pax8 field."""
    mapper = _Mapper()
    digest = hashlib.sha256()
    ordered = []
    for inv, items in zip(invoices, per_invoice):
        for it in items:
            digest.update(json.dumps(it, sort_keys=True, separators=(",", ":")).encode("utf-8"))
            ordered.append(mapper.map(inv, it))
    return _assemble(ordered, file_name, digest.hexdigest(), warnings)


def _assemble(ordered: list[_Mapped], file_name: str, sha256: str, warnings: list[str] | None) -> SourceLines:
    from billbridge.sources.parse import Problem

    warnings = list(warnings or [])
    problems = [Problem(row, col, reason, value) for row, m in enumerate(ordered, start=1)
                for col, reason, value in m.problems]
    lines = pd.DataFrame([m.record for m in ordered])
    rows = list(range(1, len(ordered) + 1))
    ids = [m.item_id for m in ordered]
    names = [f"Pax8 item {i}" if i else f"Pax8 item {r}" for r, i in zip(rows, ids)]
    if len(lines):
        credit_for, unmatched = link_credits(lines, rows)
        lines["credit_for_line"] = credit_for
        if unmatched:
            warnings.append(f"{unmatched} credit item{'s' if unmatched != 1 else ''} refund{'s' if unmatched == 1 else ''} "
                            "a charge that is not in this pull (billed in an earlier month)")
    off_by = sum(1 for m in ordered if m.off)
    if off_by:
        warnings.append(f"{off_by} item{'s' if off_by != 1 else ''} whose costTotal differs from quantity × cost by "
                        "more than a cent; Pax8's costTotal is kept")
    return SourceLines("pax8", file_name, sha256, lines, rows, columns=dict(_COLUMNS), line_ids=ids,
                       problems=problems, warnings=warnings, row_names=names,
                       encoding="JSON (Pax8 API)", delimiter="paged answers")


SOURCE = register(Source(
    name="pax8", kind="api", label="Pax8", charge_types=TYPES, guesses=GUESSES, fetch=fetch,
    description="Pax8 partner API: the month's invoices and their items, or the draft items before the invoice.",
))
