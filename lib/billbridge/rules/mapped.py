"""Mapped: each vendor line's ConnectWise company, agreement, catalog item and customer rules
-> table ``mapped`` (one row per line ``li``).

Rules implemented (billing-rules.md):

- **Rule 4.5** "Keep term lines apart in the PSA ... users asked for the term to be part of the mapping":
  a product mapping matches on SKU + term + billing frequency, else SKU + term, else the SKU alone (a
  mapping with no term means "any term").
- **Rule 1.6** "Let the operator choose per agreement: (a) vendor period -> the CW month in which the period
  starts (advance), or (b) -> the CW month in which it ends (arrears)": the agreement mapping carries the
  ``period_rule``, and the ``sync_mode`` (standing line or one line per month, Rule 5.2). A mapping for one
  subscription wins over the customer's mapping.
- **Rule 7.3** "Decide per mapping which fields the app owns: quantity, cost, price": ``own_cost`` /
  ``own_price`` come from the product mapping, and so do its price rule (``price_rule``, ``price_value``) and
  margin threshold (``margin_threshold``), which :mod:`~billbridge.rules.margin` applies.
- **Rule 3.5** "Prepaid vs pay-as-you-go ... skip prepaid ones": the per-customer rules ``do_not_sync``,
  ``fixed_quantity`` and ``cap`` (for one SKU, else for every product of the customer) come along.

Missing mapping values take :data:`billbridge.model.MAPPING_DEFAULTS`; when a key is mapped twice, the
first mapping wins.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from billbridge.model import MAPPING_DEFAULTS
from billbridge.rules.sql import literal

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ()

_D = {k: literal(v) for k, v in MAPPING_DEFAULTS.items()}


def _rule(rule: str) -> str:
    """The value of one per-customer rule for each (customer, SKU): the SKU's own rule, else the
    customer-wide one (the first of each)."""
    return f"""
        {rule}_per_sku AS (SELECT vendor_customer_id, sku, value FROM map_rules WHERE rule = '{rule}' AND sku IS NOT NULL
                           QUALIFY row_number() OVER (PARTITION BY vendor_customer_id, sku ORDER BY ord) = 1),
        {rule}_per_customer AS (SELECT vendor_customer_id, value FROM map_rules WHERE rule = '{rule}' AND sku IS NULL
                                QUALIFY row_number() OVER (PARTITION BY vendor_customer_id ORDER BY ord) = 1)"""


def _picked(col: str) -> str:
    """SQL: ``col`` of the product mapping a line takes (exact, else per term, else any term)."""
    return (f"CASE WHEN p1.catalog_item_id IS NOT NULL THEN p1.{col} WHEN p2.catalog_item_id IS NOT NULL THEN p2.{col} "
            f"ELSE p3.{col} END AS {col}")


def apply(run: "Run") -> None:
    run.create("mapped", f"""
        WITH company AS (
            SELECT vendor_customer_id, company_id FROM map_companies WHERE company_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY vendor_customer_id ORDER BY ord) = 1),
        agreement AS (
            SELECT * REPLACE (coalesce(sync_mode, {_D["sync_mode"]}) AS sync_mode,
                              coalesce(period_rule, {_D["period_rule"]}) AS period_rule)
            FROM map_agreements WHERE agreement_id IS NOT NULL),
        agreement_per_subscription AS (
            SELECT * FROM agreement WHERE subscription_id IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY vendor_customer_id, subscription_id ORDER BY ord) = 1),
        agreement_per_customer AS (
            SELECT * FROM agreement WHERE subscription_id IS NULL
            QUALIFY row_number() OVER (PARTITION BY vendor_customer_id ORDER BY ord) = 1),
        product AS (
            SELECT * REPLACE (coalesce(own_cost, {_D["own_cost"]}) AS own_cost,
                              coalesce(own_price, {_D["own_price"]}) AS own_price,
                              coalesce(nullif(price_rule, ''), {_D["price_rule"]}) AS price_rule)
            FROM map_products WHERE catalog_item_id IS NOT NULL),
        product_exact AS (
            SELECT * FROM product WHERE term IS NOT NULL AND billing_frequency IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY sku, term, billing_frequency ORDER BY ord) = 1),
        product_per_term AS (
            SELECT * FROM product WHERE term IS NOT NULL AND billing_frequency IS NULL
            QUALIFY row_number() OVER (PARTITION BY sku, term ORDER BY ord) = 1),
        product_any AS (
            SELECT * FROM product WHERE term IS NULL
            QUALIFY row_number() OVER (PARTITION BY sku ORDER BY ord) = 1),
        {_rule("do_not_sync")}, {_rule("fixed_quantity")}, {_rule("cap")}
        SELECT l.li, c.company_id,
               coalesce(a1.agreement_id, a2.agreement_id) AS agreement_id,
               CASE WHEN a1.agreement_id IS NOT NULL THEN a1.sync_mode ELSE a2.sync_mode END AS sync_mode,
               CASE WHEN a1.agreement_id IS NOT NULL THEN a1.period_rule ELSE a2.period_rule END AS period_rule,
               coalesce(p1.catalog_item_id, p2.catalog_item_id, p3.catalog_item_id) AS catalog_item_id,
               coalesce(CASE WHEN p1.catalog_item_id IS NOT NULL THEN p1.own_cost
                             WHEN p2.catalog_item_id IS NOT NULL THEN p2.own_cost ELSE p3.own_cost END,
                        {_D["own_cost"]}) AS own_cost,
               coalesce(CASE WHEN p1.catalog_item_id IS NOT NULL THEN p1.own_price
                             WHEN p2.catalog_item_id IS NOT NULL THEN p2.own_price ELSE p3.own_price END,
                        {_D["own_price"]}) AS own_price,
               CASE WHEN p1.catalog_item_id IS NOT NULL THEN p1.quantity_basis
                    WHEN p2.catalog_item_id IS NOT NULL THEN p2.quantity_basis ELSE p3.quantity_basis END
                   AS quantity_basis,
               {_picked("price_rule")}, {_picked("price_value")}, {_picked("margin_threshold")},
               (r1.vendor_customer_id IS NOT NULL OR r2.vendor_customer_id IS NOT NULL) AS do_not_sync,
               coalesce(f1.value, f2.value) AS fixed_quantity,
               coalesce(k1.value, k2.value) AS cap
        FROM normalised l
        LEFT JOIN company c USING (vendor_customer_id)
        LEFT JOIN agreement_per_subscription a1
               ON a1.vendor_customer_id = l.vendor_customer_id AND a1.subscription_id = l.subscription_id
        LEFT JOIN agreement_per_customer a2 ON a2.vendor_customer_id = l.vendor_customer_id
        LEFT JOIN product_exact p1 ON p1.sku = l.sku AND p1.term = l.term AND p1.billing_frequency = l.billing_frequency
        LEFT JOIN product_per_term p2 ON p2.sku = l.sku AND p2.term = l.term
        LEFT JOIN product_any p3 ON p3.sku = l.sku
        LEFT JOIN do_not_sync_per_sku r1 ON r1.vendor_customer_id = l.vendor_customer_id AND r1.sku = l.sku
        LEFT JOIN do_not_sync_per_customer r2 ON r2.vendor_customer_id = l.vendor_customer_id
        LEFT JOIN fixed_quantity_per_sku f1 ON f1.vendor_customer_id = l.vendor_customer_id AND f1.sku = l.sku
        LEFT JOIN fixed_quantity_per_customer f2 ON f2.vendor_customer_id = l.vendor_customer_id
        LEFT JOIN cap_per_sku k1 ON k1.vendor_customer_id = l.vendor_customer_id AND k1.sku = l.sku
        LEFT JOIN cap_per_customer k2 ON k2.vendor_customer_id = l.vendor_customer_id""")
