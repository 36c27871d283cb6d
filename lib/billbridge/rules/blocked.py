"""Blocked: what ConnectWise holds for each plan row's company, agreement and catalog item, and the first
reason the row cannot be written -> table ``blocked`` (one row per plan row ``gi``).

Rules implemented (billing-rules.md): the causes themselves are decided in the files named for them
(:mod:`~billbridge.rules.landed` ``out_of_period``, :mod:`~billbridge.rules.excluded` ``excluded_by_rule``,
:mod:`~billbridge.rules.company`, :mod:`~billbridge.rules.agreement`, :mod:`~billbridge.rules.currency`,
:mod:`~billbridge.rules.product`); this step reads the snapshot records they look at and applies them in
:data:`CAUSE_ORDER`: a row gets the first cause that applies. Lines of another month and lines excluded on
purpose come first (they are *excluded*, not blocked), then what the operator must map or fix, customer
before agreement before currency (Rule 7.1: compared once the agreement is known to be live) before product
(**Rule 5.5** "Re-read CW before writing": every fact here comes from this plan's snapshot).

Later steps add the causes that need the matched addition: ``ambiguous``
(:mod:`~billbridge.rules.matched`) and ``manually_edited`` (:mod:`~billbridge.rules.manual_edits`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ()

#: the order causes block a vendor row in (each a macro named for the cause)
CAUSE_ORDER = (
    "out_of_period(g.in_period)",
    "excluded_by_rule(g.do_not_sync)",
    "unmapped_customer(g.company_id)",
    "company_deleted(c.deleted)",
    "no_agreement(g.agreement_id, a.name IS NOT NULL OR a.company_id IS NOT NULL)",
    "agreement_cancelled(a.status, a.cancelled)",
    "agreement_expired(a.status, a.end_date, a.no_end, month_start())",
    "agreement_inactive(a.status)",
    "currency_mismatch(g.currency, a.currency, g.other_currency)",
    "unmapped_product(g.catalog_item_id, p.identifier IS NOT NULL OR p.description IS NOT NULL)",
)


def apply(run: "Run") -> None:
    # the snapshot's records, one per id (the first when ConnectWise listed one twice)
    for name, table, key in (("companies", "cw_companies", "company_id"), ("agreements", "cw_agreements", "agreement_id"),
                             ("catalog", "cw_catalog", "catalog_item_id")):
        run.view(name, f"SELECT * FROM {table} QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY ord) = 1")
    run.create("blocked", f"""
        SELECT g.gi, a.name AS agreement_name, a.currency AS agreement_currency, coalesce(a.prorate, FALSE) AS prorate,
               child_agreement(a.parent_name) AS child_agreement,
               agreement_company_mismatch(a.company_id, g.company_id) AS agreement_company_mismatch,
               c.name AS company_name, p.identifier AS product_identifier, p.description AS product_description,
               catalog_item_inactive(p.inactive) AS catalog_item_inactive,
               p.price AS catalog_price, p.cost AS catalog_cost,
               coalesce({", ".join(CAUSE_ORDER)}) AS cause
        FROM groups g
        LEFT JOIN agreements a ON a.agreement_id = g.agreement_id
        LEFT JOIN companies c ON c.company_id = g.company_id
        LEFT JOIN catalog p ON p.catalog_item_id = g.catalog_item_id""")
