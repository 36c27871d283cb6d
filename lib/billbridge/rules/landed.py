"""Landed: the billing month each vendor line lands in, and whether that is this plan's month
-> table ``landed`` (``li``, ``landing_month``, ``in_period``); cause ``out_of_period``.

Rules implemented (billing-rules.md):

- **Rule 1.6** "map vendor billing-day periods onto CW calendar invoices deliberately ... (a) vendor period
  -> the CW month in which the period starts (advance), or (b) -> the CW month in which it ends (arrears)".
- **Section 9, "Rule 1.6 as one function"**: "The month a vendor line lands in is computed by exactly one
  function, used by the loader's 'bills in another month' note, the reconciliation's ``out_of_period``, the
  timeline and the review." Usage lands in the month of the vendor's bill date, the day after the period
  ends; recurring and one-time lines follow the agreement's period rule.
- **Rule 6.5** credits arrive late: a credit belongs to the month it refunds or any later one.

That one function is :func:`billbridge.bdom.landing_month` (with :func:`billbridge.bdom.lands_in`); this
step calls it once per distinct (charge type, period, effective date, period rule) and joins the answer
back. A line of another month is excluded with cause ``out_of_period``: it is counted, never written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge import bdom

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("out_of_period",)

MACROS = """
CREATE MACRO out_of_period(in_period) AS CASE WHEN NOT in_period THEN 'out_of_period' END;
"""

_COMBINATION = ("charge_type", "period_start", "period_end", "effective_date", "period_rule")


def apply(run: "Run") -> None:
    cols = ", ".join(_COMBINATION)
    lines = "normalised JOIN mapped USING (li)"
    combos = run.fetch(f"SELECT DISTINCT {cols} FROM {lines}")
    landing, inside = [], []
    for charge_type, start, end, effective, rule in combos:
        month = bdom.landing_month(charge_type, start, end, effective, rule)
        landing.append(month)
        inside.append(bdom.lands_in(run.month, charge_type, month))
    table = {c: [row[i] for row in combos] for i, c in enumerate(_COMBINATION)}
    run.register("landings", pa.table({
        "charge_type": pa.array(table["charge_type"], pa.string()),
        "period_start": pa.array(table["period_start"], pa.date32()),
        "period_end": pa.array(table["period_end"], pa.date32()),
        "effective_date": pa.array(table["effective_date"], pa.date32()),
        "period_rule": pa.array(table["period_rule"], pa.string()),
        "landing_month": pa.array(landing, pa.string()),
        "in_period": pa.array(inside, pa.bool_()),
    }))
    on = " AND ".join(f"m.{c} IS NOT DISTINCT FROM x.{c}" for c in _COMBINATION)
    run.create("landed", f"""
        SELECT m.li, x.landing_month, x.in_period FROM (SELECT li, {cols} FROM {lines}) m JOIN landings x ON {on}""")
