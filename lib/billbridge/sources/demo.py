"""The demo vendor ("Demo Cloud"): a deterministic billing history generated from
:mod:`billbridge.demo_world`, Intermedia style.

For each customer (BDOM = its creation day) and subscription billed in the month:

* ``recurring``: one line for the vendor period that starts on the month's BDOM (advance). A
  subscription that started inside that period is prorated from its start (actual days including
  the start day); one that started earlier in the same month, inside the previous period, also
  gets a prorated catch-up line for ``[start, BDOM)``.
* ``usage``: the period that ends on the month's BDOM (arrears), quantity = units used.
* ``one_time``: dated the month's BDOM (effective date = the subscription's start).
* ``credit`` (``World.credits``, the current month): the refund of the cancelled subscription's
  unused days, from the day it was cancelled to the end of its vendor period, in arrears.

The demo covers the four months ending with the current one (:func:`billbridge.demo_world.months`);
any other month is an :class:`~billbridge.errors.InputError` that says which months it has.

Unit costs and prices of prorated lines are the vendor's figures, rounded by the vendor to 4
decimals (billbridge stores what the vendor bills; it never recomputes it).
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pandas as pd

from billbridge import demo_world
from billbridge.errors import InputError
from billbridge.bdom import (
    ProrationConvention,
    Timing,
    VendorPeriod,
    add_months,
    covered_days,
    month_key,
    parse_billing_month,
    period_for_billing_month,
)
from billbridge.sources.formats import CANONICAL_COLUMNS

__all__ = ["DEMO_VENDOR", "demo_lines", "demo_month", "load_demo", "credit_period", "check_demo_month"]

DEMO_VENDOR = demo_world.VENDOR
_Q4 = Decimal("0.0001")


def _unit(amount: Decimal, share: Fraction) -> Decimal:
    exact = Fraction(amount) * share
    return (Decimal(exact.numerator) / Decimal(exact.denominator)).quantize(_Q4, rounding=ROUND_HALF_UP).normalize()


def _money(d: Decimal) -> str:
    s = format(d, "f")
    if "." not in s:
        return s + ".00"
    whole, frac = s.split(".")
    return f"{whole}.{frac.ljust(2, '0')}"


def check_demo_month(billing_month: str, today: date | None = None) -> demo_world.World:
    """The demo world when it covers ``billing_month``; else an :class:`InputError` naming the
    months it has (as for a malformed month)."""
    parse_billing_month(billing_month)
    world = demo_world.world(today)
    if not world.covers(billing_month):
        have = world.months
        raise InputError(f"The demo vendor has no bill for {billing_month}: it has bills for {have[0]} to {have[-1]} "
                         f"(the {len(have)} months up to this month).", column="month", reason="not a demo month")
    return world


def credit_period(world: demo_world.World, cust: demo_world.Customer, sub_id: str) -> VendorPeriod:
    """The unused days a cancellation refund covers: from the day the subscription was cancelled to
    the end of the vendor period it was cancelled in (the period last month's BDOM started)."""
    cancelled = world.cancelled_on[(cust.vendor_id, sub_id)]
    period = period_for_billing_month(cust.created.day, add_months(world.current_month, -1), Timing.ADVANCE)
    return VendorPeriod(cancelled, period.next_start)


def demo_lines(billing_month: str, today: date | None = None) -> pd.DataFrame:
    """The demo vendor's lines for ``billing_month`` (a month of :func:`demo_world.months`),
    canonical columns as text, in customer / subscription order."""
    world = check_demo_month(billing_month, today)
    rows: list[dict[str, str]] = []
    for cust in world.customers:
        anchor = cust.created.day
        base = {"vendor_customer_id": cust.vendor_id, "vendor_customer_name": cust.vendor_name,
                "customer_created": cust.created.isoformat(), "currency": "USD"}
        for sub in cust.subscriptions:
            qty = world.quantity(sub, billing_month)
            if qty <= 0:
                continue
            prod = demo_world.PRODUCTS_BY_SKU[sub.sku]
            line = {**base, "subscription_id": sub.sub_id, "sku": prod.sku, "product_name": prod.name,
                    "charge_type": prod.charge_type, "billing_frequency": prod.billing_frequency,
                    "term": prod.term, "quantity": str(qty)}

            def add(period: VendorPeriod, share: Fraction = Fraction(1), effective: date | None = None) -> None:
                rows.append({**line, "unit_cost": _money(_unit(prod.unit_cost, share)),
                             "unit_price": _money(_unit(prod.unit_price, share)),
                             "period_start": period.start.isoformat(), "period_end": period.end.isoformat(),
                             "effective_date": (effective or period.start).isoformat()})

            if prod.charge_type == "usage":
                add(period_for_billing_month(anchor, billing_month, Timing.ARREARS))
            elif prod.charge_type == "one_time":
                bd = period_for_billing_month(anchor, billing_month, Timing.ADVANCE).start
                add(VendorPeriod(bd, bd + timedelta(days=1)), effective=sub.start or cust.created)
            else:
                period = period_for_billing_month(anchor, billing_month, Timing.ADVANCE)
                prev_start = period_for_billing_month(anchor, billing_month, Timing.ARREARS).start
                start = sub.start or cust.created
                if prev_start < start < period.start and month_key(start) == billing_month:
                    catch_up = VendorPeriod(prev_start, period.start)
                    n, den = covered_days(catch_up, start, None, ProrationConvention.CW_INCLUSIVE)
                    add(VendorPeriod(start, period.start), Fraction(n, den), start)
                if period.start < start < period.next_start:
                    n, den = covered_days(period, start, None, ProrationConvention.CW_INCLUSIVE)
                    add(VendorPeriod(start, period.next_start), Fraction(n, den), start)
                else:
                    add(period)
    if billing_month == world.current_month:
        by_id = world.customers_by_id
        for cust_id, sub_id, sku, qty, unit in world.credits:
            cust = by_id[cust_id]
            prod = demo_world.PRODUCTS_BY_SKU[sku]
            refund = credit_period(world, cust, sub_id)
            start, end = refund.start, refund.end
            rows.append({"vendor_customer_id": cust_id, "vendor_customer_name": cust.vendor_name,
                         "customer_created": cust.created.isoformat(), "subscription_id": sub_id, "sku": sku,
                         "product_name": f"{prod.name} (refund)", "charge_type": "credit",
                         "billing_frequency": prod.billing_frequency, "term": prod.term, "quantity": str(qty),
                         "unit_cost": _money(unit), "unit_price": "",
                         "period_start": start.isoformat(), "period_end": end.isoformat(),
                         "effective_date": start.isoformat(), "currency": "USD"})
    return pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS)).fillna("")


def demo_month(billing_month: str, today: date | None = None) -> bytes:
    """The demo vendor's file for ``billing_month`` in the generic CSV format (deterministic bytes)."""
    buf = io.StringIO()
    demo_lines(billing_month, today).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def load_demo(store, billing_month: str, loaded_by: str | None = None):
    """Load the demo vendor's month like a file (vendor ``"demo"``); see :func:`load_month`. A month
    the demo does not cover is an :class:`InputError` (nothing is stored)."""
    from billbridge.sources.load import load_month

    return load_month(store, billing_month, demo_month(billing_month), f"demo-{billing_month}.csv",
                      "generic", vendor=DEMO_VENDOR, loaded_by=loaded_by)
