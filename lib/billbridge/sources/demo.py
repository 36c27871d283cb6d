"""The demo vendor ("Demo Cloud"): a deterministic billing history generated from
:mod:`billbridge.demo_world`, Intermedia style.

For each customer (BDOM = its creation day) and subscription billed in the month:

* ``recurring``: one line for the vendor period that starts on the month's BDOM (advance). A
  subscription that started inside that period is prorated from its start (actual days including
  the start day); one that started earlier in the same month, inside the previous period, also
  gets a prorated catch-up line for ``[start, BDOM)``.
* ``usage``: the period that ends on the month's BDOM (arrears), quantity = units used.
* ``one_time``: dated the month's BDOM (effective date = the subscription's start).
* ``credit`` (:data:`~billbridge.demo_world.CREDITS`, 2026-11): the refund of the cancelled
  subscription's unused days, in arrears.

Unit costs and prices of prorated lines are the vendor's figures, rounded by the vendor to 4
decimals (billbridge stores what the vendor bills; it never recomputes it).
"""

from __future__ import annotations

import io
from datetime import date, timedelta
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction

import pandas as pd

from billbridge import demo_world as world
from billbridge.bdom import (
    ProrationConvention,
    Timing,
    VendorPeriod,
    covered_days,
    month_key,
    period_for_billing_month,
)
from billbridge.sources.formats import CANONICAL_COLUMNS

__all__ = ["DEMO_VENDOR", "demo_lines", "demo_month", "load_demo", "CREDIT_PERIODS"]

DEMO_VENDOR = world.VENDOR
#: the unused days refunded by each credit in demo_world.CREDITS (cancellation day, period end)
CREDIT_PERIODS = {("DC-10012", "S-1020"): (date(2026, 10, 24), date(2026, 11, 7))}
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


def demo_lines(billing_month: str) -> pd.DataFrame:
    """The demo vendor's lines for ``billing_month`` (one of ``demo_world.MONTHS``), canonical
    columns as text, in customer / subscription order."""
    if billing_month not in world.MONTHS:
        raise ValueError(f"the demo vendor has {', '.join(world.MONTHS)}; not {billing_month!r}")
    rows: list[dict[str, str]] = []
    for cust in world.CUSTOMERS:
        anchor = cust.created.day
        base = {"vendor_customer_id": cust.vendor_id, "vendor_customer_name": cust.vendor_name,
                "customer_created": cust.created.isoformat(), "currency": "USD"}
        for sub in cust.subscriptions:
            qty = world.quantity(sub, billing_month)
            if qty <= 0:
                continue
            prod = world.PRODUCTS_BY_SKU[sub.sku]
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
                add(VendorPeriod(bd, bd + timedelta(days=1)), effective=sub.start)
            else:
                period = period_for_billing_month(anchor, billing_month, Timing.ADVANCE)
                prev_start = period_for_billing_month(anchor, billing_month, Timing.ARREARS).start
                if prev_start < sub.start < period.start and month_key(sub.start) == billing_month:
                    catch_up = VendorPeriod(prev_start, period.start)
                    n, den = covered_days(catch_up, sub.start, None, ProrationConvention.CW_INCLUSIVE)
                    add(VendorPeriod(sub.start, period.start), Fraction(n, den), sub.start)
                if period.start < sub.start < period.next_start:
                    n, den = covered_days(period, sub.start, None, ProrationConvention.CW_INCLUSIVE)
                    add(VendorPeriod(sub.start, period.next_start), Fraction(n, den), sub.start)
                else:
                    add(period)
    if billing_month == world.MONTHS[-1]:
        for cust_id, sub_id, sku, qty, unit in world.CREDITS:
            cust = world.CUSTOMERS_BY_ID[cust_id]
            prod = world.PRODUCTS_BY_SKU[sku]
            start, end = CREDIT_PERIODS[(cust_id, sub_id)]
            rows.append({"vendor_customer_id": cust_id, "vendor_customer_name": cust.vendor_name,
                         "customer_created": cust.created.isoformat(), "subscription_id": sub_id, "sku": sku,
                         "product_name": f"{prod.name} (refund)", "charge_type": "credit",
                         "billing_frequency": prod.billing_frequency, "term": prod.term, "quantity": str(qty),
                         "unit_cost": _money(unit), "unit_price": "",
                         "period_start": start.isoformat(), "period_end": end.isoformat(),
                         "effective_date": start.isoformat(), "currency": "USD"})
    return pd.DataFrame(rows, columns=list(CANONICAL_COLUMNS)).fillna("")


def demo_month(billing_month: str) -> bytes:
    """The demo vendor's file for ``billing_month`` in the generic CSV format (deterministic bytes)."""
    buf = io.StringIO()
    demo_lines(billing_month).to_csv(buf, index=False, lineterminator="\n")
    return buf.getvalue().encode("utf-8")


def load_demo(store, billing_month: str, loaded_by: str | None = None):
    """Load the demo vendor's month like a file (vendor ``"demo"``); see :func:`load_month`."""
    from billbridge.sources.load import load_month

    return load_month(store, billing_month, demo_month(billing_month), f"demo-{billing_month}.csv",
                      "generic", vendor=DEMO_VENDOR, loaded_by=loaded_by)
