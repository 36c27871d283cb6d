"""Proration: what a line starting mid-month costs this month, on both sides -> table ``prorations`` (the
creates effective after the 1st);
flags ``mid_month_start``, ``prorated_by_connectwise``.

Rules implemented (billing-rules.md):

- **Rule 2.1** "CW prorates a mid-period addition only when Prorate Agreement is ticked on the agreement":
  a create effective after the 1st is flagged ``mid_month_start``; on an agreement that prorates it is also
  ``prorated_by_connectwise``, with ``cw_proration`` what ConnectWise will bill for the partial month.
- **Rule 2.3** (derived) "CW appears to prorate by calendar days counted *including* the effective date,
  over the days in that month": :func:`billbridge.bdom.expected_cw_proration` (22 x 17/31 = 12.06).
- **Rule 2.4** "the app should compute the expected CW proration for each change and show it next to the
  vendor's figure": ``vendor_proration`` is what the vendor charged for the partial period (its own prorated
  amount when it prorated the unit, else unit x quantity x inclusive days / period days,
  :func:`billbridge.bdom.prorate`).
- **Rule 7.4** "Don't round intermediate daily rates": both are exact fractions rounded once.
"""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge import bdom, money

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("mid_month_start", "prorated_by_connectwise")

ZERO = Decimal(0)


def prorations(effective: date, unit: Decimal, quantity: Decimal, currency: str, prorate: bool,
               vendor_prorated: bool, vendor_amount: Decimal, period_start: date | None, period_end: date | None,
               month_start: date, month_end: date) -> tuple[Decimal | None, Decimal]:
    """``(cw_proration or None, vendor_proration)`` of a line starting on ``effective``."""
    cw = bdom.expected_cw_proration(unit, quantity, effective, None, currency).prorated if prorate else None
    if vendor_prorated:
        return cw, vendor_amount
    start, end = period_start or month_start, period_end or month_end
    if end < start:
        start, end = month_start, month_end
    period = bdom.VendorPeriod(start, end + bdom.ONE_DAY)
    return cw, bdom.prorate(unit, quantity, period, effective, None, bdom.ProrationConvention.CW_INCLUSIVE, currency)


def apply(run: "Run") -> None:
    rows = run.fetch("""
        SELECT gi, t.target_eff, coalesce(t.new_unit_price, t.vendor_unit_cost), t.new_quantity, g.currency, b.prorate,
               g.vendor_prorated, g.amount, g.period_start, g.period_end,
               -- what the vendor charged in customer price for the row's lines (its own proration included)
               (SELECT list([s.quantity, s.unit_price] ORDER BY s.li) FROM line_keys k JOIN signed s USING (li)
                WHERE k.key = g.key)
        FROM targets t JOIN groups g USING (gi) JOIN blocked b USING (gi)
        WHERE t.action = 'create' AND t.target_eff > month_start()
          AND NOT t.correction  -- a past month's correction line runs the whole month (rules/invoiced.py)""")
    out: dict[str, list] = {"gi": [], "cw_proration": [], "vendor_proration": [], "prorated_by_connectwise": []}
    for gi, eff, unit, qty, cur, prorate, vendor_prorated, amount, start, end, charged in rows:
        out["gi"].append(gi)
        if unit is None:
            out["cw_proration"].append(None)
            out["vendor_proration"].append(None)
            out["prorated_by_connectwise"].append(False)
            continue
        prices = [money.extended(q, p, cur or "USD") for q, p in charged]
        vendor_amount = Decimal(amount) if None in prices else sum(prices, ZERO)
        cw, vendor = prorations(eff, Decimal(unit), Decimal(qty) if qty is not None else ZERO, cur or "USD", prorate,
                                vendor_prorated, vendor_amount, start, end, run.month_start, run.month_end)
        out["cw_proration"].append(None if cw is None else str(cw))
        out["vendor_proration"].append(None if vendor is None else str(vendor))
        out["prorated_by_connectwise"].append(bool(prorate))
    run.register("prorations", pa.table({
        "gi": pa.array(out["gi"], pa.int64()),
        "cw_proration": pa.array(out["cw_proration"], pa.string()),
        "vendor_proration": pa.array(out["vendor_proration"], pa.string()),
        "prorated_by_connectwise": pa.array(out["prorated_by_connectwise"], pa.bool_()),
    }))
