"""Targets: what each row's ConnectWise line should hold, the fields that differ, and the action
-> table ``targets`` (one row per plan row ``gi``); actions ``in_sync``, ``update``, ``create``, ``blocked``; flags
``credit_priced_at_cost``, ``no_vendor_price``.

Rules implemented (billing-rules.md):

- **Rule 7.3** "Decide per mapping which fields the app owns: quantity, cost, price": quantity is always
  owned; the unit price and cost only when the product mapping owns them *and* the vendor gives a value.
  A row that owns the price but got none from the vendor is flagged ``no_vendor_price`` (ConnectWise keeps
  its own price; a create omits ``unitPrice`` and ConnectWise takes the catalog price).
- **Rule 3.5** the per-customer ``fixed_quantity`` replaces and ``cap`` limits the quantity of recurring and
  usage rows (never credits or one-time charges); ``vendor_quantity_raw`` keeps what the vendor billed.
- **Rule 6.5** a credit is priced at the vendor's price, else at its cost (flag ``credit_priced_at_cost``),
  and always writes its price.
- **Rule 6.1** "A one-off charge is an addition whose effective and cancelled dates fall in the same billing
  period" and **Rule 3.4** "apply changes from the 1st": lines of one month (monthly mode, one-time
  charges, credits) run from the 1st to the last day of the billing month; a standing line starts on the
  vendor's effective date when that falls in the billing month, else on the 1st, and has no end.
- **Rule 5.1** the push edits in place: the fields that differ (quantity, owned price and cost, dates of a
  month line, the product, the key of an adopted line) are the row's writes.

- The price a row wants is its product mapping's price rule (:mod:`~billbridge.rules.margin`: the vendor's
  price, ConnectWise's, a fixed price or a markup on cost).

Action: ``blocked`` when a cause applies, in this order: the causes of the earlier steps, a past month's
standing line (``past_month``, :mod:`~billbridge.rules.invoiced`), the edit protection of
:mod:`~billbridge.rules.manual_edits`, a month ConnectWise already invoiced (``already_invoiced``), a line below
cost (``negative_margin``, :mod:`~billbridge.rules.margin`); a confirmed past month's row is its correction line
(``create``, or ``in_sync`` once ConnectWise has it); else ``create`` when no addition matched, ``update`` when a
field differs, else ``in_sync``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("in_sync", "update", "create", "blocked", "credit_priced_at_cost", "no_vendor_price")


def apply(run: "Run") -> None:
    run.create("targets", """
        WITH addition AS (
            SELECT * FROM additions QUALIFY row_number() OVER (PARTITION BY addition_id ORDER BY ai) = 1),
        joined AS (
            SELECT g.gi, g.key, g.charge_type, g.quantity, g.unit_cost, g.unit_price, g.own_price, g.own_cost,
                   g.fixed_quantity, g.cap, g.effective_date, g.catalog_item_id, b.catalog_price, b.catalog_cost,
                   m.cause, m.cw_addition_id, m.adopts_existing_line,
                   x.quantity AS cw_quantity, x.unit_price AS cw_unit_price, x.unit_cost AS cw_unit_cost,
                   x.effective_date AS cw_effective_date, x.cancelled_date AS cw_cancelled_date,
                   x.product_id AS cw_product, coalesce(x.edited_by_hand, FALSE) AS edited_by_hand,
                   x.updated_by, x.last_updated,
                   g.charge_type IN ('recurring', 'usage') AND g.fixed_quantity IS NOT NULL AS fixed,
                   g.charge_type = 'credit' AS credit,
                   coalesce(g.sync_mode, '') = 'monthly' OR g.charge_type IN ('one_time', 'credit') AS month_bound,
                   m.cw_addition_id IS NOT NULL AS has_match,
                   o.key IS NOT NULL AS overridden, nullif(trim(o.reason), '') AS reason_given,
                   i.agreement_id IS NOT NULL AS month_invoiced, i.invoice_date, g.places,
                   ck.correction_key, cl.addition_id AS correction_addition_id,
                   g.price_rule, g.price_value, coalesce(g.margin_threshold, default_margin_threshold()) AS threshold
            FROM groups g JOIN blocked b USING (gi) JOIN matched m USING (gi)
            LEFT JOIN addition x ON x.addition_id = m.cw_addition_id
            LEFT JOIN overrides o ON o.key = g.key
            LEFT JOIN month_invoiced i ON i.agreement_id = g.agreement_id
            LEFT JOIN correction_keys ck USING (gi)
            LEFT JOIN correction_lines cl ON cl.agreement_id = g.agreement_id AND cl.key = ck.correction_key),
        valued AS (
            SELECT *,
                   CASE WHEN charge_type IN ('recurring', 'usage') AND cap IS NOT NULL
                             AND exact(cap) < exact(CASE WHEN fixed THEN fixed_quantity ELSE quantity END) THEN cap
                        WHEN fixed THEN fixed_quantity ELSE quantity END AS vendor_quantity,
                   CASE WHEN credit AND unit_price IS NULL THEN unit_cost ELSE unit_price END AS vendor_unit_price,
                   credit AND unit_price IS NULL AS credit_priced_at_cost,
                   rule_price(price_rule, price_value, unit_cost, places) AS rule_price,
                   CASE WHEN month_bound OR effective_date IS NULL OR strftime(effective_date, '%Y-%m') <> billing_month()
                        THEN month_start() ELSE effective_date END AS target_eff,
                   CASE WHEN month_bound THEN month_end() END AS target_can
            FROM joined),
        owned AS (  -- the price rule of the product mapping (rules/margin.py) decides the price a row wants
            SELECT *, CASE WHEN rule_owns_price(price_rule) THEN rule_price IS NOT NULL
                           WHEN price_rule = 'keep' AND NOT credit THEN FALSE
                           ELSE own_price AND vendor_unit_price IS NOT NULL END AS writes_price,
                   CASE WHEN rule_owns_price(price_rule) AND rule_price IS NOT NULL THEN rule_price
                        ELSE vendor_unit_price END AS wanted_price,
                   own_cost AND unit_cost IS NOT NULL AS writes_cost
            FROM valued),
        diffs AS (
            SELECT *,
                   has_match AND exact(vendor_quantity) IS DISTINCT FROM exact(cw_quantity) AS d_qty,
                   has_match AND writes_price AND exact(wanted_price) IS DISTINCT FROM exact(cw_unit_price) AS d_price,
                   has_match AND writes_cost AND exact(unit_cost) IS DISTINCT FROM exact(cw_unit_cost) AS d_cost,
                   has_match AND month_bound AND (cw_effective_date IS DISTINCT FROM target_eff
                                                  OR cw_cancelled_date IS DISTINCT FROM target_can) AS d_dates,
                   adopts_existing_line AS d_key,
                   has_match AND cw_product IS DISTINCT FROM catalog_item_id AS d_product
            FROM owned),
        differs AS (  -- and the unit price and cost the line would hold (the margin guard, rules/margin.py)
            SELECT *, d_qty OR d_price OR d_cost OR d_dates OR d_key OR d_product AS any_diff,
                   CASE WHEN writes_price OR credit THEN wanted_price WHEN has_match THEN cw_unit_price
                        ELSE catalog_price END AS after_price,
                   CASE WHEN writes_cost THEN unit_cost WHEN has_match THEN cw_unit_cost ELSE catalog_cost END
                       AS after_cost
            FROM diffs),
        past AS (  -- a standing line a past month's plan would write (rules/invoiced.py): its correction instead
            SELECT *, cause IS NULL AND is_past_month() AND NOT month_bound AND (NOT has_match OR any_diff)
                          -- a line a person edited by hand is theirs (manually_edited), not the newer month's
                          AND NOT (coalesce(edited_by_hand, FALSE) AND NOT overridden) AS past_change,
                   has_match AND (d_price OR d_cost) AS corrects_dollars,
                   CASE WHEN writes_price THEN wanted_price WHEN has_match THEN cw_unit_price
                        ELSE catalog_price END AS month_price,
                   CASE WHEN writes_cost THEN unit_cost WHEN has_match THEN cw_unit_cost ELSE catalog_cost END
                       AS month_cost,
                   CASE WHEN has_match THEN cw_quantity ELSE '0' END AS held_quantity
            FROM differs),
        corrections AS (
            SELECT *,
                   CASE WHEN corrects_dollars THEN '1'
                        ELSE decimal_text(exact(vendor_quantity) - exact(held_quantity)) END AS correction_quantity,
                   CASE WHEN corrects_dollars
                        THEN money(rounded(exact(vendor_quantity) * exact(month_price), places)
                                   - rounded(exact(held_quantity) * exact(cw_unit_price), places), places)
                        ELSE month_price END AS correction_price,
                   CASE WHEN corrects_dollars
                        THEN money(coalesce(rounded(exact(vendor_quantity) * exact(month_cost), places), 0)
                                   - coalesce(rounded(exact(held_quantity) * exact(cw_unit_cost), places), 0), places)
                        ELSE month_cost END AS correction_cost
            FROM past),
        confirmed AS (
            SELECT *, past_change AND overridden AND correction_key IS NOT NULL
                          AND coalesce(exact(correction_quantity) * exact(correction_price), 0) <> 0 AS correction
            FROM corrections),
        decided AS (
            SELECT * EXCLUDE (cause),
                   correction OR (month_bound AND (NOT has_match OR any_diff)) AS writes_in_month,
                   coalesce(cause, past_month(past_change, correction),
                            manually_edited(has_match AND any_diff AND NOT past_change, edited_by_hand, overridden),
                            already_invoiced((correction AND correction_addition_id IS NULL)
                                             OR (month_bound AND (NOT has_match OR any_diff)),
                                             month_invoiced, reason_given),
                            negative_margin((NOT has_match OR any_diff) AND NOT past_change, credit, after_price,
                                            after_cost, overridden)) AS cause
            FROM confirmed),
        acted AS (
            SELECT *, CASE WHEN cause IS NOT NULL THEN 'blocked'
                           WHEN correction THEN CASE WHEN correction_addition_id IS NULL THEN 'create' ELSE 'in_sync' END
                           WHEN NOT has_match THEN 'create'
                           WHEN any_diff THEN 'update' ELSE 'in_sync' END AS action
            FROM decided)
        SELECT gi, cause, action, cw_addition_id, cw_quantity, cw_unit_price, cw_unit_cost, cw_effective_date,
               cw_cancelled_date, cw_product, updated_by, last_updated, quantity AS vendor_quantity_raw,
               vendor_quantity, unit_cost AS vendor_unit_cost, vendor_unit_price, credit_priced_at_cost,
               target_eff, target_can, d_qty, d_price, d_cost, d_dates, d_key, d_product,
               overrides_manual_edit(has_match AND any_diff AND NOT past_change, edited_by_hand, overridden, cause)
                   AS overrides_manual_edit,
               correction, correction_key, correction_addition_id, correction_quantity, correction_price,
               correction_cost, past_change, corrects_dollars, month_price, invoice_date,
               overrides_invoiced(writes_in_month AND action IN ('create', 'update'), month_invoiced, reason_given,
                                  cause) AS overrides_invoiced,
               CASE WHEN overridden AND cause IS NULL AND action IN ('create', 'update') THEN reason_given END
                   AS override_reason,
               writes_price OR credit AS write_price, writes_cost AS write_cost,
               NOT (writes_price OR credit) AND (own_price OR rule_owns_price(price_rule))
                   AND coalesce(price_rule, '') <> 'keep' AND action <> 'blocked' AS no_vendor_price,
               CASE WHEN has_match THEN margin_pct(cw_unit_price, cw_unit_cost) END AS margin_pct_before,
               CASE WHEN NOT correction AND NOT credit THEN margin_pct(after_price, after_cost) END AS margin_pct_after,
               action IN ('create', 'update', 'in_sync') AND NOT correction
                   AND low_margin(credit, after_price, after_cost, threshold) AS low_margin,
               coalesce((NOT has_match OR any_diff) AND NOT past_change AND below_cost(credit, after_price, after_cost)
                        AND overridden AND cause IS NULL, FALSE) AS overrides_negative_margin,
               threshold AS margin_threshold, price_rule, price_value, rule_price, after_price, after_cost,
               CASE WHEN correction AND action IN ('create', 'in_sync') THEN correction_quantity
                    ELSE CASE action WHEN 'create' THEN vendor_quantity WHEN 'update' THEN vendor_quantity
                                     WHEN 'in_sync' THEN cw_quantity END END AS new_quantity,
               CASE WHEN correction AND action IN ('create', 'in_sync') THEN correction_price
                    ELSE CASE action WHEN 'create' THEN CASE WHEN writes_price OR credit THEN wanted_price
                                                             ELSE catalog_price END
                                     WHEN 'update' THEN CASE WHEN writes_price THEN wanted_price ELSE cw_unit_price END
                                     WHEN 'in_sync' THEN cw_unit_price END END AS new_unit_price,
               CASE WHEN correction AND action IN ('create', 'in_sync') THEN correction_cost
                    ELSE CASE action WHEN 'create' THEN CASE WHEN writes_cost THEN unit_cost ELSE catalog_cost END
                                     WHEN 'update' THEN CASE WHEN writes_cost THEN unit_cost ELSE cw_unit_cost END
                                     WHEN 'in_sync' THEN cw_unit_cost END END AS new_unit_cost,
               CASE WHEN correction AND action IN ('create', 'in_sync') THEN month_start()
                    WHEN action IN ('create', 'update') THEN target_eff ELSE cw_effective_date END AS new_effective_date,
               CASE WHEN correction AND action IN ('create', 'in_sync') THEN month_end()
                    WHEN action IN ('create', 'update') THEN target_can ELSE cw_cancelled_date END AS new_cancelled_date
        FROM acted""")
