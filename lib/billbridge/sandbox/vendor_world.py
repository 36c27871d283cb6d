"""The fictional world (:mod:`billbridge.demo_world`) as the vendor API emulators bill it.

Distributors such as Pax8 and Sherweb bill calendar months, so each emulator bills every demo
customer's subscriptions for a calendar month, with the world's quantities:

* ``subscription``: a recurring subscription for the whole month, in advance;
* ``prorate``: a subscription that started during the world's month, from its start day to the
  month's end (unit prorated by days, 4 decimals);
* ``usage``: usage billed in arrears, for the previous calendar month;
* ``one_time``: a one-time charge on the subscription's start day;
* ``credit``: the world's refund (``demo_world.CREDITS``) of a cancelled subscription's unused
  days of the previous month.

Months follow the sandbox's today, not fixed dates: the world's last month of quantities
(``demo_world.MONTHS[-1]``, "this month") is billed as the calendar month holding today, the one
before as last month, and so on (:func:`world_index`). So the emulators stay evergreen and their
customers reconcile against the ConnectWise emulator, whose additions follow the same world.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

from billbridge import demo_world as world
from billbridge.bdom import add_months, days_in_month, month_key, parse_billing_month

__all__ = ["Charge", "world_index", "month_charges", "filler_charges", "vendor_uuid", "TokenStore",
           "month_span", "months_between"]

_NS = uuid.UUID("0c7d3f4e-1b2a-4e5f-8a9b-7c6d5e4f3a21")
_Q4 = Decimal("0.0001")


def vendor_uuid(*parts: str) -> str:
    """A stable UUID for a vendor record (same world, same ids on every start)."""
    return str(uuid.uuid5(_NS, "|".join(parts)))


def months_between(a: str, b: str) -> int:
    """``b - a`` in months (``2026-11`` -> ``2026-12`` = 1)."""
    ya, ma = parse_billing_month(a)
    yb, mb = parse_billing_month(b)
    return (yb - ya) * 12 + (mb - ma)


def month_span(billing_month: str) -> tuple[date, date]:
    """First and last day of a calendar month."""
    y, m = parse_billing_month(billing_month)
    return date(y, m, 1), date(y, m, days_in_month(y, m))


def world_index(billing_month: str, today: date) -> int | None:
    """Which of the world's months of quantities a calendar month bills: the month holding
    ``today`` is the world's last one; None before the world's history or after today's month."""
    months = world.world(today).months
    idx = len(months) - 1 - months_between(billing_month, month_key(today))
    return idx if 0 <= idx < len(months) else None


@dataclass(frozen=True)
class Charge:
    """One calendar-month charge of one customer (what a vendor item or charge is made from)."""

    customer_id: str  # the world's vendor customer id (DC-10001)
    customer_name: str
    sub_id: str | None
    sku: str
    product_name: str
    kind: str  # subscription | prorate | usage | one_time | credit
    term: str  # monthly | annual | none (demo_world Product.term)
    quantity: int
    unit_cost: Decimal  # positive; a credit's quantity is negative
    unit_price: Decimal | None
    start: date
    end: date  # inclusive

    @property
    def cost_total(self) -> Decimal:
        return (self.unit_cost * self.quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    @property
    def price_total(self) -> Decimal | None:
        if self.unit_price is None:
            return None
        return (self.unit_price * self.quantity).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _day(billing_month: str, day: int) -> date:
    y, m = parse_billing_month(billing_month)
    return date(y, m, min(day, days_in_month(y, m)))


def month_charges(billing_month: str, index: int, *, usage: bool = True, today: date | None = None) -> list[Charge]:
    """The world's charges for one calendar month, using quantities ``demo_world.MONTHS[index]``
    (see the module docstring) of the world of ``today`` (default ``clock.today()``). ``usage=False``
    leaves out usage billed in arrears (Pax8's draft items do). In customer, subscription order."""
    w = world.world(today)
    first, last = month_span(billing_month)
    prev_first, prev_last = month_span(add_months(billing_month, -1))
    world_month = w.months[index]
    out: list[Charge] = []
    for cust in w.customers:
        for sub in cust.subscriptions:
            qty = sub.quantities[index]
            if qty <= 0:
                continue
            prod = world.PRODUCTS_BY_SKU[sub.sku]
            base = dict(customer_id=cust.vendor_id, customer_name=cust.vendor_name, sub_id=sub.sub_id, sku=prod.sku,
                        product_name=prod.name, term=prod.term, quantity=qty)
            started_now = sub.start is not None and month_key(sub.start) == world_month
            if prod.charge_type == "usage":
                if usage:
                    out.append(Charge(**base, kind="usage", unit_cost=prod.unit_cost, unit_price=prod.unit_price,
                                      start=prev_first, end=prev_last))
            elif prod.charge_type == "one_time":
                day = _day(billing_month, sub.start.day) if started_now else first
                out.append(Charge(**base, kind="one_time", unit_cost=prod.unit_cost, unit_price=prod.unit_price,
                                  start=day, end=day))
            elif started_now and sub.start.day > 1:
                start = _day(billing_month, sub.start.day)
                share = Decimal((last - start).days + 1) / Decimal(last.day)
                out.append(Charge(**base, kind="prorate",
                                  unit_cost=(prod.unit_cost * share).quantize(_Q4, rounding=ROUND_HALF_UP),
                                  unit_price=(prod.unit_price * share).quantize(_Q4, rounding=ROUND_HALF_UP),
                                  start=start, end=last))
            else:
                out.append(Charge(**base, kind="subscription", unit_cost=prod.unit_cost, unit_price=prod.unit_price,
                                  start=first, end=last))
    if index == len(w.months) - 1:
        for cust_id, sub_id, sku, qty, unit in w.credits:
            cust = w.customers_by_id[cust_id]
            prod = world.PRODUCTS_BY_SKU[sku]
            cancelled = w.cancelled_on[(cust_id, sub_id)]
            start = _day(add_months(billing_month, -1), cancelled.day)
            out.append(Charge(customer_id=cust_id, customer_name=cust.vendor_name, sub_id=sub_id, sku=sku,
                              product_name=f"{prod.name} (refund)", kind="credit", term=prod.term,
                              quantity=-abs(qty), unit_cost=abs(unit), unit_price=None, start=start, end=prev_last))
    return out


_FILLER_SKUS = ("HPBX-SEAT", "EXCH-MBX", "SEC-AWARE", "M365-BP-ANN", "ARCHIVE")


def filler_charges(billing_month: str, n: int) -> list[Charge]:
    """``n`` extra whole-month subscriptions of bulk customers (benchmarks): 4 per customer."""
    first, last = month_span(billing_month)
    out = []
    for i in range(n):
        prod = world.PRODUCTS_BY_SKU[_FILLER_SKUS[i % len(_FILLER_SKUS)]]
        c = i // 4
        out.append(Charge(customer_id=f"BULK-{c:05d}", customer_name=f"Bulk Customer {c:05d}", sub_id=f"BS-{i:06d}",
                          sku=prod.sku, product_name=prod.name, kind="subscription", term=prod.term,
                          quantity=(i % 50) + 1, unit_cost=prod.unit_cost, unit_price=prod.unit_price,
                          start=first, end=last))
    return out


class TokenStore:
    """Bearer tokens an emulator issued, each with its expiry (thread-safe)."""

    def __init__(self, ttl_s: int):
        self.ttl_s = ttl_s
        self._tokens: dict[str, float] = {}
        self._lock = threading.Lock()
        self.issued = 0

    def issue(self) -> str:
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._tokens[token] = time.monotonic() + self.ttl_s
            self.issued += 1
        return token

    def valid(self, authorization: str | None) -> bool:
        if not authorization or not authorization.lower().startswith("bearer "):
            return False
        token = authorization[7:].strip()
        with self._lock:
            expiry = self._tokens.get(token)
        return expiry is not None and expiry > time.monotonic()

    def expire_all(self) -> None:
        """Expire every token issued so far (tests: the next call answers 401)."""
        with self._lock:
            self._tokens.clear()
