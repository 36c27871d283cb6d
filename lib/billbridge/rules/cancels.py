"""Cancels: lines billbridge keeps that the vendor no longer bills, and the date they end
-> tables ``ended`` (the additions to end) and ``cancel_rows`` (their plan rows); action ``cancel``; flags
``never_invoiced``, ``invoiced_this_month``, ``not_invoiced_this_month``.

The whole cancel rule lives here (billing-rules.md):

- **Rule 6.3** "A subscription missing from this month's vendor data should end its CW line, but only after
  review": an active addition on a mapped agreement that carries this vendor's key is ended when no vendor
  row of the month produces that key on that agreement. A key some row still holds is kept, unless that row
  can be written on another agreement (the line moved). Lines of earlier months (monthly mode, one-time
  charges, credits: their key names their month) are left alone.
- **Rule 6.1** "End a line with its cancelled date; don't delete it": the request is a PATCH of
  ``cancelledDate``, never a DELETE; the line stays for history.
- **Rule 6.2** "Cancel at the end of the last period already invoiced ... If March has been invoiced, cancel on
  31 March; if not, cancel on the last day of February": the last day of the billing month when ConnectWise
  has an invoice for the agreement dated in it (flag ``invoiced_this_month``), else the last day of the month
  before (``not_invoiced_this_month``); never before the line's own start (flag ``never_invoiced``).
- **Rule 6.6** "Don't rewrite a period that CW has already invoiced" and the blocks every row obeys, in this
  order: a cancelled or expired agreement (nothing to end there,
  :mod:`~billbridge.rules.agreement`), a customer set to "do not sync" as a whole
  (:mod:`~billbridge.rules.excluded`), a line a person edited (:mod:`~billbridge.rules.manual_edits`, which
  the operator may override). A line already ending on that date is in sync.

The impact is the line's whole monthly amount going away (ConnectWise amounts, in USD).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge.linekey import parse_line_key
from billbridge.money import minor_unit

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("cancel", "never_invoiced", "invoiced_this_month", "not_invoiced_this_month")

#: ConnectWise amounts of an ended line are read in USD (places of its minor unit)
USD = minor_unit("USD")
#: the flags of a cancel row, in the order they are listed
FLAG_ORDER = ("never_invoiced", "invoiced_this_month", "not_invoiced_this_month", "overrides_manual_edit")
#: the causes that block ending a line, in the order they apply (macros named for the cause)
CAUSE_ORDER = ("agreement_cancelled(a.status, a.cancelled)",
               "agreement_expired(a.status, a.end_date, a.no_end, month_start())",
               "excluded_by_rule(k.vendor_customer_id IN (SELECT vendor_customer_id FROM map_rules "
               "WHERE rule = 'do_not_sync' AND sku IS NULL))",
               # a standing line holds a newer pushed month's values: a past month never ends it (rules/invoiced.py)
               "past_month(is_past_month() AND k.month IS NULL, FALSE)",
               "manually_edited(TRUE, x.edited_by_hand, x.overridden)")


def apply(run: "Run") -> None:
    run.create("ended", """
        WITH planned AS (SELECT g.agreement_id, g.line_key, t.cause FROM groups g JOIN targets t USING (gi)),
        produced AS (SELECT DISTINCT agreement_id, line_key FROM planned WHERE agreement_id IS NOT NULL),
        writable AS (SELECT DISTINCT line_key FROM planned WHERE agreement_id IS NOT NULL AND cause IS NULL)
        SELECT a.* FROM additions a
        WHERE a.ours
          AND NOT EXISTS (SELECT 1 FROM produced p WHERE p.agreement_id = a.agreement_id AND p.line_key = a.key)
          -- a past month's correction line (rules/invoiced.py) is never ended
          AND NOT coalesce(ends_with(a.key, '|correction'), FALSE)
          AND a.key NOT IN (SELECT correction_key FROM correction_keys WHERE correction_key IS NOT NULL)
          AND (NOT EXISTS (SELECT 1 FROM planned t WHERE t.line_key = a.key)
               OR EXISTS (SELECT 1 FROM writable w WHERE w.line_key = a.key))
          -- the month a key names ('...|2026-10', '...|2026-10|credit'): only this month's lines end here
          AND coalesce(nullif(regexp_extract(a.key, '\\|(\\d{4}-\\d{2})(\\||$)', 1), ''), billing_month())
              = billing_month()""")
    keys = run.fetch("SELECT ai, key FROM ended")
    parsed = [parse_line_key(k) or {} for _, k in keys]
    run.register("ended_keys", pa.table({
        "ai": pa.array([ai for ai, _ in keys], pa.int64()),
        "vendor_customer_id": pa.array([p.get("vendor_customer_id") for p in parsed], pa.string()),
        "line": pa.array([p.get("line") for p in parsed], pa.string()),
        "month": pa.array([p.get("month") for p in parsed], pa.string()),
    }))
    run.create("cancels", f"""
        WITH named AS (
            SELECT vendor_customer_id, arg_max(vendor_customer_name, position) AS name FROM groups
            WHERE vendor_customer_id IN (SELECT vendor_customer_id FROM ended_keys) GROUP BY vendor_customer_id),
        invoiced AS (
            SELECT DISTINCT agreement_id FROM cw_invoices
            WHERE agreement_id IS NOT NULL AND strftime(date, '%Y-%m') = billing_month()),
        dated AS (
            SELECT e.*, e.agreement_id IN (SELECT agreement_id FROM invoiced) AS invoiced,
                   CASE WHEN e.agreement_id IN (SELECT agreement_id FROM invoiced) THEN month_end()
                        ELSE previous_month_end() END AS last_invoiced_day,
                   CASE WHEN row_number() OVER (PARTITION BY e.key ORDER BY e.ai) > 1
                             OR e.key IN (SELECT key FROM groups) THEN e.key || '#' || e.addition_id
                        ELSE e.key END AS plan_key
            FROM ended e),
        targeted AS (
            SELECT *, coalesce(effective_date > last_invoiced_day, FALSE) AS never_invoiced,
                   CASE WHEN coalesce(effective_date > last_invoiced_day, FALSE) THEN effective_date
                        ELSE last_invoiced_day END AS end_on,
                   plan_key IN (SELECT key FROM overrides) OR key IN (SELECT key FROM overrides) AS overridden
            FROM dated)
        SELECT x.*, k.vendor_customer_id, k.line AS subscription_id,
               CASE WHEN k.month IS NOT NULL THEN 'monthly' ELSE 'standing' END AS sync_mode,
               a.company_id, c.name AS company_name, a.status AS agreement_status,
               CASE WHEN a.agreement_id IS NOT NULL THEN a.name ELSE 'agreement #' || x.agreement_id END AS agreement_name,
               CASE WHEN p.catalog_item_id IS NOT NULL THEN p.identifier ELSE x.product_identifier END
                   AS catalog_identifier,
               CASE WHEN p.catalog_item_id IS NOT NULL THEN p.description ELSE x.product_identifier END
                   AS product_description,
               coalesce(n.name, c.name, k.vendor_customer_id) AS vendor_customer_name,
               coalesce({", ".join(CAUSE_ORDER)}) AS cause
        FROM targeted x JOIN ended_keys k USING (ai)
        LEFT JOIN agreements a ON a.agreement_id = x.agreement_id
        LEFT JOIN companies c ON c.company_id = a.company_id
        LEFT JOIN catalog p ON p.catalog_item_id = x.product_id
        LEFT JOIN named n ON n.vendor_customer_id = k.vendor_customer_id""")
    run.create("cancel_rows", f"""
        SELECT *, invoiced AS invoiced_this_month, NOT invoiced AS not_invoiced_this_month,
               overrides_manual_edit(TRUE, edited_by_hand, overridden, cause) AS overrides_manual_edit,
               CASE WHEN action = 'cancel' THEN money(-revenue(quantity, unit_price, {USD}), {USD}) ELSE '0' END
                   AS price_impact,
               CASE WHEN action = 'cancel' THEN money(-(revenue(quantity, unit_price, {USD})
                                                        - revenue(quantity, unit_cost, {USD})), {USD}) ELSE '0' END
                   AS margin_impact
        FROM (SELECT *, CASE WHEN cause IS NOT NULL THEN 'blocked' WHEN cancelled_date = end_on THEN 'in_sync'
                             ELSE 'cancel' END AS action
              FROM cancels)""")
