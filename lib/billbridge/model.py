"""The plan contract in one place: actions, causes, flags, plan-row columns, mapping defaults, labels.

Every other module (the rules, the store, the pages, the CLI, CSV and Excel exports) reads these
names from here; a new cause or flag is added here first, with its meaning and its label, and then
decided in exactly one rule file (``tests/test_rules_index.py`` checks both).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "ACTIONS", "CAUSES", "EXCLUDED_CAUSES", "FLAGS", "BUCKETS", "CHARGE_TYPES", "SYNC_MODES", "PERIOD_RULES",
    "MAPPING_DEFAULTS", "VENDOR_LINE_COLUMNS", "ROW_COLUMNS", "PLAN_EXTRA_COLUMNS", "MONEY_FIELDS",
    "ACTION_LABELS", "CAUSE_LABELS", "FLAG_LABELS", "label",
]

#: what a plan row proposes
ACTIONS = ("in_sync", "update", "create", "cancel", "blocked")

#: why a row is blocked or excluded: cause -> what it means (the row's reason adds names and numbers)
CAUSES: dict[str, str] = {
    "unmapped_customer": "the vendor customer is not mapped to a ConnectWise company",
    "no_agreement": "the customer has no (existing) agreement mapped for this vendor",
    "agreement_cancelled": "the mapped agreement is cancelled in ConnectWise",
    "agreement_expired": "the mapped agreement is past its end date",
    "agreement_inactive": "the mapped agreement is inactive in ConnectWise",
    "company_deleted": "the mapped company is deleted in ConnectWise",
    "unmapped_product": "the vendor SKU is not mapped to a ConnectWise catalog item",
    "ambiguous": "more than one active addition could be this line",
    "manually_edited": "a person changed the addition after billbridge last wrote it",
    "excluded_by_rule": "a per-customer rule says do not sync",
    "out_of_period": "the vendor line belongs to another billing month",
}
#: causes whose rows are left out on purpose (bucket ``excluded``), not blocked
EXCLUDED_CAUSES = frozenset({"excluded_by_rule", "out_of_period"})
#: where each vendor dollar ends up (conservation: checked = reconciled + blocked + excluded)
BUCKETS = ("reconciled", "blocked", "excluded")

#: flags a plan row can carry: flag -> what it means
FLAGS: dict[str, str] = {
    "late_month_bdom": "the account bills on one of the last days of a month (BDOM 29-31 clamps)",
    "annual_term_decrease": "a seat decrease on an annual or triennial term (often not refundable)",
    "mid_month_start": "the line starts after the 1st of the month",
    "prorated_by_connectwise": "the agreement prorates, so ConnectWise bills part of this month",
    "vendor_prorated": "the vendor charged part of a period; the standing line keeps the full-period price",
    "catalog_item_inactive": "the ConnectWise catalog item is inactive",
    "child_agreement": "the agreement is a child of another agreement",
    "mixed_unit_costs": "the vendor lines behind this row have different unit costs",
    "overrides_manual_edit": "overwrites a change a person made in ConnectWise (the operator allowed it)",
    "credit_priced_at_cost": "the vendor gave no customer price for the credit: priced at cost",
    "credit": "a vendor credit or refund, written as its own one-month line",
    "usage_in_arrears": "usage, billed after the period it measures",
    "adopts_existing_line": "takes over an existing ConnectWise line that billbridge did not create",
    "agreement_company_mismatch": "the agreement belongs to another company than the customer is mapped to",
    "no_vendor_price": "the vendor gave no customer price: ConnectWise keeps its own price",
    "never_invoiced": "the agreement was never invoiced for a month after the line started",
    "invoiced_this_month": "ConnectWise already invoiced the agreement for this month",
    "not_invoiced_this_month": "ConnectWise has not invoiced the agreement for this month yet",
}

CHARGE_TYPES = ("recurring", "usage", "one_time", "credit")
SYNC_MODES = ("standing", "monthly")
PERIOD_RULES = ("advance", "arrears")

#: the values a mapping takes when the operator leaves them empty (store, pages, CLI, rules alike)
MAPPING_DEFAULTS: dict[str, Any] = {"sync_mode": "standing", "period_rule": "advance", "own_cost": True,
                                    "own_price": True}

#: the canonical vendor-line columns a source yields and the reconciliation reads
VENDOR_LINE_COLUMNS = (
    "line_no", "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "billing_frequency", "term", "quantity", "unit_cost", "unit_price",
    "period_start", "period_end", "effective_date", "currency",
)

#: the plan row columns, in display order
ROW_COLUMNS = (
    "key", "action", "cause", "reason", "bucket", "flags",
    "vendor", "vendor_customer_id", "vendor_customer_name", "subscription_id", "sku", "product_name",
    "charge_type", "term", "billing_frequency", "sync_mode", "quantity_basis",
    "company_id", "company_name", "agreement_id", "agreement_name",
    "catalog_item_id", "product_identifier", "product_description",
    "vendor_lines", "vendor_line_count", "vendor_amount", "vendor_quantity_raw",
    "vendor_quantity", "vendor_unit_cost", "vendor_unit_price",
    "cw_addition_id", "cw_quantity", "cw_unit_price", "cw_unit_cost", "cw_effective_date", "cw_cancelled_date",
    "new_quantity", "new_unit_price", "new_unit_cost", "effective_date", "cancelled_date",
    "writes", "request", "price_impact", "margin_impact",
    "cw_proration", "vendor_proration", "credit_for", "currency",
)
#: columns the plan lifecycle adds to the rules' rows (what push needs to be idempotent)
PLAN_EXTRA_COLUMNS = ("target", "lookup", "depends_on", "maps")
#: plan row columns holding money or quantities (Decimal in frames, strings in JSON)
MONEY_FIELDS = (
    "vendor_amount", "vendor_quantity_raw", "vendor_quantity", "vendor_unit_cost", "vendor_unit_price",
    "cw_quantity", "cw_unit_price", "cw_unit_cost", "new_quantity", "new_unit_price", "new_unit_cost",
    "price_impact", "margin_impact", "cw_proration", "vendor_proration",
)

# ---- labels: the words a person reads for each code -------------------------------------------
ACTION_LABELS: dict[str, str] = {
    "in_sync": "In sync", "update": "Update", "create": "Create", "cancel": "End line", "blocked": "Blocked",
}
CAUSE_LABELS: dict[str, str] = {
    "unmapped_customer": "Customer not mapped",
    "no_agreement": "No agreement",
    "agreement_cancelled": "Agreement cancelled",
    "agreement_expired": "Agreement expired",
    "agreement_inactive": "Agreement inactive",
    "company_deleted": "Company deleted",
    "unmapped_product": "Product not mapped",
    "ambiguous": "Ambiguous lines",
    "manually_edited": "Edited by hand",
    "excluded_by_rule": "Do not sync (rule)",
    "out_of_period": "Other billing month",
}
FLAG_LABELS: dict[str, str] = {
    "late_month_bdom": "Late-month billing day",
    "annual_term_decrease": "Annual-term decrease",
    "mid_month_start": "Starts mid-month",
    "prorated_by_connectwise": "Prorated by ConnectWise",
    "vendor_prorated": "Prorated by vendor",
    "catalog_item_inactive": "Catalog item inactive",
    "child_agreement": "Child agreement",
    "mixed_unit_costs": "Mixed unit costs",
    "overrides_manual_edit": "Overrides a manual edit",
    "credit_priced_at_cost": "Credit priced at cost",
    "credit": "Credit",
    "usage_in_arrears": "Usage (arrears)",
    "adopts_existing_line": "Adopts an existing line",
    "agreement_company_mismatch": "Agreement of another company",
    "no_vendor_price": "No vendor price",
    "never_invoiced": "Never invoiced",
    "invoiced_this_month": "Invoiced this month",
    "not_invoiced_this_month": "Not invoiced this month",
}
_LABELS: dict[str, str] = {**ACTION_LABELS, **CAUSE_LABELS, **FLAG_LABELS}


def label(code: Any) -> str:
    """The words a person reads for a code (action, cause, flag); unknown codes read as words
    ("some_code" -> "Some code"), missing values as an empty string (never "None" or "nan")."""
    if code is None or (isinstance(code, float) and code != code):
        return ""
    text = str(code)
    if text in _LABELS:
        return _LABELS[text]
    return text.replace("_", " ").strip().capitalize()
