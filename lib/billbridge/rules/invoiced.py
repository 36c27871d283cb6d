"""Invoiced periods and past months: a plan never rewrites what ConnectWise already invoiced, nor what a
newer month's push set -> causes ``past_month`` and ``already_invoiced``; flags ``correction_line`` and
``overrides_invoiced``.

Rules implemented (billing-rules.md):

- **Rule 6.6** "Don't rewrite a period that CW has already invoiced": a change that would fall in a month
  ConnectWise already invoiced for the agreement is blocked (``already_invoiced``) unless the operator
  overrides it with a reason the push journal keeps (flag ``overrides_invoiced``).
- **Section 9, "Rule 6.6 for standing lines"**: a plan for a month earlier than the newest month billbridge
  pushed never writes to standing lines (they hold the newer month's values); it shows what the month would
  have needed (``past_month``) and offers a dated one-month correction line for the difference, which the
  operator confirms (flag ``correction_line``).

FOUNDATION: the causes and flags are named and wired here; until the guard is implemented they are never
set (:data:`FLAG_SQL` FALSE) and ``override_reason`` is NULL.
"""

from __future__ import annotations

DECIDES = ("past_month", "already_invoiced", "correction_line", "overrides_invoiced")

#: where the flags of this file come from, over a vendor row's tables (rules/flags.py lists them)
FLAG_SQL = {
    "correction_line": "FALSE",
    "overrides_invoiced": "FALSE",
}

#: the plan row columns this file fills, over the vendor row's tables
COLUMNS = "NULL::VARCHAR AS override_reason"
