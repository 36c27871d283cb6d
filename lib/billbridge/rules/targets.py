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

Action: ``blocked`` when a cause applies (the edit protection of :mod:`~billbridge.rules.manual_edits`
included), ``create`` when no addition matched, ``update`` when a field differs, else ``in_sync``.
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
                   g.key IN (SELECT key FROM overrides) AS overridden
            FROM groups g JOIN blocked b USING (gi) JOIN matched m USING (gi)
            LEFT JOIN addition x ON x.addition_id = m.cw_addition_id),
        valued AS (
            SELECT *,
                   CASE WHEN charge_type IN ('recurring', 'usage') AND cap IS NOT NULL
                             AND exact(cap) < exact(CASE WHEN fixed THEN fixed_quantity ELSE quantity END) THEN cap
                        WHEN fixed THEN fixed_quantity ELSE quantity END AS vendor_quantity,
                   CASE WHEN credit AND unit_price IS NULL THEN unit_cost ELSE unit_price END AS vendor_unit_price,
                   credit AND unit_price IS NULL AS credit_priced_at_cost,
                   CASE WHEN month_bound OR effective_date IS NULL OR strftime(effective_date, '%Y-%m') <> billing_month()
                        THEN month_start() ELSE effective_date END AS target_eff,
                   CASE WHEN month_bound THEN month_end() END AS target_can
            FROM joined),
        owned AS (
            SELECT *, own_price AND vendor_unit_price IS NOT NULL AS writes_price,
                   own_cost AND unit_cost IS NOT NULL AS writes_cost
            FROM valued),
        diffs AS (
            SELECT *,
                   has_match AND exact(vendor_quantity) IS DISTINCT FROM exact(cw_quantity) AS d_qty,
                   has_match AND writes_price AND exact(vendor_unit_price) IS DISTINCT FROM exact(cw_unit_price) AS d_price,
                   has_match AND writes_cost AND exact(unit_cost) IS DISTINCT FROM exact(cw_unit_cost) AS d_cost,
                   has_match AND month_bound AND (cw_effective_date IS DISTINCT FROM target_eff
                                                  OR cw_cancelled_date IS DISTINCT FROM target_can) AS d_dates,
                   adopts_existing_line AS d_key,
                   has_match AND cw_product IS DISTINCT FROM catalog_item_id AS d_product
            FROM owned),
        decided AS (
            SELECT * EXCLUDE (cause), d_qty OR d_price OR d_cost OR d_dates OR d_key OR d_product AS any_diff,
                   coalesce(cause, manually_edited(has_match AND (d_qty OR d_price OR d_cost OR d_dates OR d_key
                                                                   OR d_product), edited_by_hand, overridden)) AS cause
            FROM diffs),
        acted AS (
            SELECT *, CASE WHEN cause IS NOT NULL THEN 'blocked' WHEN NOT has_match THEN 'create'
                           WHEN any_diff THEN 'update' ELSE 'in_sync' END AS action
            FROM decided)
        SELECT gi, cause, action, cw_addition_id, cw_quantity, cw_unit_price, cw_unit_cost, cw_effective_date,
               cw_cancelled_date, cw_product, updated_by, last_updated, quantity AS vendor_quantity_raw,
               vendor_quantity, unit_cost AS vendor_unit_cost, vendor_unit_price, credit_priced_at_cost,
               target_eff, target_can, d_qty, d_price, d_cost, d_dates, d_key, d_product,
               overrides_manual_edit(has_match AND any_diff, edited_by_hand, overridden, cause) AS overrides_manual_edit,
               writes_price OR credit AS write_price, writes_cost AS write_cost,
               NOT (writes_price OR credit) AND own_price AND action <> 'blocked' AS no_vendor_price,
               CASE action WHEN 'create' THEN vendor_quantity WHEN 'update' THEN vendor_quantity
                           WHEN 'in_sync' THEN cw_quantity END AS new_quantity,
               CASE action WHEN 'create' THEN CASE WHEN writes_price OR credit THEN vendor_unit_price ELSE catalog_price END
                           WHEN 'update' THEN CASE WHEN writes_price THEN vendor_unit_price ELSE cw_unit_price END
                           WHEN 'in_sync' THEN cw_unit_price END AS new_unit_price,
               CASE action WHEN 'create' THEN CASE WHEN writes_cost THEN unit_cost ELSE catalog_cost END
                           WHEN 'update' THEN CASE WHEN writes_cost THEN unit_cost ELSE cw_unit_cost END
                           WHEN 'in_sync' THEN cw_unit_cost END AS new_unit_cost,
               CASE WHEN action IN ('create', 'update') THEN target_eff ELSE cw_effective_date END AS new_effective_date,
               CASE WHEN action IN ('create', 'update') THEN target_can ELSE cw_cancelled_date END AS new_cancelled_date
        FROM acted""")
