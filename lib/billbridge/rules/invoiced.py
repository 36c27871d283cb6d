"""Invoiced periods and past months: a plan never rewrites what ConnectWise already invoiced, nor what a
newer month's push set -> tables ``month_invoiced``, ``correction_keys`` and ``correction_lines`` and the
macros :data:`MACROS` that :mod:`~billbridge.rules.targets` and :mod:`~billbridge.rules.cancels` decide
with; causes ``past_month`` and ``already_invoiced``; flags ``correction_line`` and ``overrides_invoiced``.

Rules implemented (billing-rules.md):

- **Section 9, "Rule 6.6 for standing lines"**: "A standing addition holds the newest pushed month's values.
  A plan for an earlier month must not write to it: it shows what that month would have needed, and offers a
  separate, dated correction line (monthly mode) for the difference, only after the operator confirms." A
  plan for a month earlier than the newest month billbridge pushed (``Context.newest_pushed_month``) never
  creates, changes or ends a standing line: such a row is blocked ``past_month``, and its reason names the
  correction. Confirmed (the operator overrides the row: ``billbridge override MONTH KEY``), it becomes a
  one-month line dated the 1st to the last day of the month (flag ``correction_line``), keyed
  ``<line key>|<month>|correction`` (:data:`billbridge.linekey.KIND_CORRECTION`), for the difference: the seats
  that differ at the month's price, or, when the price or cost differs, one unit of the dollar difference.
  A correction ConnectWise already has is in sync (and never ended). Ending a standing line is never
  corrected this way: the newer month's plan ends it.
- **Rule 6.6** "Don't rewrite a period that CW has already invoiced": a line of one month (monthly mode,
  one-time charges, credits, corrections) created or changed in a month ConnectWise already invoiced for the
  agreement (an agreement invoice dated in it, the snapshot's invoices) is blocked ``already_invoiced``
  "unless the operator overrides with a reason that the journal keeps": an override with a reason writes it
  (flag ``overrides_invoiced``; the row's ``override_reason``, kept by the push journal). A standing line is
  not blocked in its own invoiced month: its change bills from the next invoice on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge.linekey import KIND_CORRECTION, line_key

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("past_month", "already_invoiced", "correction_line", "overrides_invoiced")

MACROS = """
CREATE MACRO past_month(change, confirmed) AS CASE WHEN change AND NOT confirmed THEN 'past_month' END;
CREATE MACRO already_invoiced(writes_in_month, invoiced, reason) AS
    CASE WHEN writes_in_month AND invoiced AND reason IS NULL THEN 'already_invoiced' END;
CREATE MACRO overrides_invoiced(writes_in_month, invoiced, reason, cause) AS
    coalesce(writes_in_month AND invoiced AND reason IS NOT NULL AND cause IS NULL, FALSE);
CREATE MACRO decimal_text(x) AS
    CASE WHEN x IS NULL THEN NULL
         ELSE rtrim(rtrim(CAST(CAST(x AS DECIMAL(38, 12)) AS VARCHAR), '0'), '.') END;
"""

#: where the flags of this file come from, over a vendor row's tables (rules/flags.py lists them)
FLAG_SQL = {
    "correction_line": "t.correction",
    "overrides_invoiced": "t.overrides_invoiced",
}

#: the plan row columns this file fills, over the vendor row's tables
COLUMNS = "t.override_reason"


def apply(run: "Run") -> None:
    # the agreements ConnectWise invoiced for the billing month (an agreement invoice dated in it)
    run.create("month_invoiced", """
        SELECT agreement_id, min(date) AS invoice_date FROM cw_invoices
        WHERE agreement_id IS NOT NULL AND strftime(date, '%Y-%m') = billing_month() GROUP BY agreement_id""")
    # the key of the correction line each standing row of a past month would take (line_key decides it)
    rows = run.fetch("""
        SELECT gi, vendor_customer_id, subscription_id, sku FROM groups
        WHERE is_past_month() AND coalesce(sync_mode, '') <> 'monthly' AND charge_type IN ('recurring', 'usage')
        ORDER BY gi""")
    keys = []
    for _gi, customer, subscription, sku in rows:
        try:
            keys.append(line_key(run.context.vendor, customer, subscription, sku, run.month, KIND_CORRECTION))
        except ValueError:  # no subscription and no SKU: the keys step already refused the line
            keys.append(None)
    run.register("correction_keys", pa.table({"gi": pa.array([r[0] for r in rows], pa.int64()),
                                              "correction_key": pa.array(keys, pa.string())}))
    # the correction lines ConnectWise already has (billbridge's, active in the month)
    run.create("correction_lines", """
        SELECT agreement_id, key, arg_min(addition_id, ai) AS addition_id FROM additions
        WHERE ours AND key IN (SELECT correction_key FROM correction_keys) GROUP BY agreement_id, key""")
