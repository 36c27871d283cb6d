"""Normalise: the vendor lines as the rules read them -> table ``normalised``.

Rules implemented (billing-rules.md):

- **Rule 6.5** "Vendor refunds for cancellations arrive later as in-arrears credits. They must be matched
  to the original charge, not treated as a new line." A credit is normalised to a *negative quantity with a
  positive unit cost and price*, whatever signs the vendor file used, so it always reduces the vendor total.
- **Rule 7.4** "Keep full precision through the proration sum and round to the currency's minor unit once
  per line": each line's ``amount`` (quantity x unit cost, what the vendor billed the MSP) is rounded once to
  the currency's minor unit (``places``), by ``extended`` (:mod:`billbridge.rules.sql`).
- **Rules 1.1-1.5 / 2b** (vendor-prorated full-period unit): a recurring line covering only the tail of
  its BDOM period ``[BDOM, next BDOM)`` carries a unit the vendor prorated. The standing ConnectWise line
  must bill the full period, so the full-period unit is restored (``unit x period days / covered days``,
  rounded to cents) and the line is flagged ``vendor_prorated``; ``amount`` keeps what the vendor billed.
- Defaults of the line contract: ``charge_type`` recurring, ``currency`` USD, the customer's name is its
  id when the file has none, a blank subscription id is none, ``line_no`` counts from 1 when absent.

A line without a quantity or unit cost cannot be reconciled: :class:`~billbridge.errors.InputError`.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal
from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge import bdom
from billbridge.errors import InputError
from billbridge.rules.sql import DEFAULT_PLACES

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("vendor_prorated",)

MACROS = """
-- Decimal semantics on exact text: -abs(x) and abs(x) keep the vendor's digits (zero has no sign)
CREATE MACRO negative_abs(t) AS CASE WHEN exact(t) = 0 THEN ltrim(t, '-') ELSE '-' || ltrim(t, '-') END;
CREATE MACRO positive_abs(t) AS ltrim(t, '-');
"""

_CENTS = Decimal("0.01")


def prorated_tail(anchor_day: int, start, end) -> tuple[int, int] | None:
    """``(period days, covered days)`` when ``start..end`` (inclusive) is the tail of one BDOM period
    ``[BDOM, next BDOM)`` of the account (a mid-period start the vendor prorated), else None."""
    period = bdom.vendor_period(anchor_day, start)
    if end + bdom.ONE_DAY != period.next_start or start <= period.start:
        return None
    return period.days, (end - start).days + 1


def full_period_unit(unit: Decimal, days: int, covered: int) -> Decimal:
    """The full-period unit behind a unit the vendor prorated over ``covered`` of ``days`` days."""
    return (unit * days / covered).quantize(_CENTS, rounding=ROUND_HALF_UP)


def apply(run: "Run") -> None:
    missing = run.fetch("""
        SELECT coalesce(line_no, li + 1), CASE WHEN quantity IS NULL THEN 'quantity' ELSE 'unit_cost' END
        FROM lines_in WHERE quantity IS NULL OR unit_cost IS NULL ORDER BY li LIMIT 1""")
    if missing:
        row, column = int(missing[0][0]), missing[0][1]
        raise InputError(f"Vendor line {row} has no {column.replace('_', ' ')}: it cannot be reconciled.", row=row,
                         column=column, reason="a vendor line needs a quantity and a unit cost")
    run.view("signed", """
        SELECT li, coalesce(line_no, li + 1) AS line_no, vendor_customer_id,
               coalesce(vendor_customer_name, vendor_customer_id) AS vendor_customer_name, customer_created,
               nullif(subscription_id, '') AS subscription_id, sku, product_name,
               coalesce(charge_type, 'recurring') AS charge_type, billing_frequency, term,
               coalesce(currency, 'USD') AS currency, period_start, period_end, effective_date,
               lower(vendor_charge_type) AS vendor_charge_type, TRY_CAST(commitment_end AS DATE) AS commitment_end,
               CASE WHEN charge_type = 'credit' THEN negative_abs(quantity) ELSE quantity END AS quantity,
               CASE WHEN charge_type = 'credit' THEN positive_abs(unit_cost) ELSE unit_cost END AS unit_cost,
               CASE WHEN charge_type = 'credit' THEN positive_abs(unit_price) ELSE unit_price END AS unit_price
        FROM lines_in""")
    candidates = run.fetch("""
        SELECT li, day(customer_created), period_start, period_end, unit_cost, unit_price FROM signed
        WHERE charge_type = 'recurring' AND period_start IS NOT NULL AND period_end IS NOT NULL
          AND day(customer_created) <> day(period_start)""")
    restored: dict[str, list] = {"li": [], "unit_cost": [], "unit_price": []}
    for li, anchor, start, end, cost, price in candidates:
        tail = prorated_tail(anchor, start, end)
        if tail is None:
            continue
        restored["li"].append(li)
        for name, unit in (("unit_cost", cost), ("unit_price", price)):
            restored[name].append(None if unit is None else str(full_period_unit(Decimal(unit), *tail)))
    run.register("full_period_units", pa.table({"li": pa.array(restored["li"], pa.int64()),
                                                 "unit_cost": pa.array(restored["unit_cost"], pa.string()),
                                                 "unit_price": pa.array(restored["unit_price"], pa.string())}))
    run.create("normalised", f"""
        SELECT s.* EXCLUDE (unit_cost, unit_price),
               extended(s.quantity, s.unit_cost, s.places) AS amount,
               CASE WHEN f.li IS NULL THEN s.unit_cost ELSE f.unit_cost END AS unit_cost,
               CASE WHEN f.li IS NULL THEN s.unit_price ELSE f.unit_price END AS unit_price,
               f.li IS NOT NULL AS vendor_prorated
        FROM (SELECT s.*, coalesce(u.places, {DEFAULT_PLACES}) AS places
              FROM signed s LEFT JOIN minor_units u ON u.currency = upper(s.currency)) s
        LEFT JOIN full_period_units f USING (li)""")
