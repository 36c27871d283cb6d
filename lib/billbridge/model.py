"""The plan contract in one place: actions, causes, flags, plan-row columns, mapping defaults, labels.

Every other module (the rules, the store, the pages, the CLI, CSV and Excel exports) reads these
names from here; a new cause or flag is added here first, with its meaning and its label, and then
decided in exactly one rule file (``tests/test_rules_index.py`` checks both).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = [
    "ACTIONS", "CAUSES", "EXCLUDED_CAUSES", "FLAGS", "BUCKETS", "CHARGE_TYPES", "SYNC_MODES", "PERIOD_RULES",
    "MAPPING_DEFAULTS", "VENDOR_LINE_COLUMNS", "ROW_COLUMNS", "PLAN_EXTRA_COLUMNS", "MONEY_FIELDS",
    "ACTION_LABELS", "CAUSE_LABELS", "FLAG_LABELS", "ALERT_KINDS", "ALERT_LABELS", "CHANGE_KINDS", "CHANGE_LABELS",
    "MATCH_FLAG_LABELS", "VALUE_LABELS", "COLUMN_LABELS", "label", "labels", "column_label", "chart_text",
    "IMPACT_CAUSES", "IMPACT_CAUSE_LABELS", "PRICE_RULES", "TERM_SOURCES", "COMMITMENT_TERMS",
    "DEFAULT_MARGIN_THRESHOLD", "OVERRIDE_CAUSES", "REASON_REQUIRED_CAUSES",
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
    "currency_mismatch": "the vendor bills in another currency than the mapped agreement (never converted)",
    "company_deleted": "the mapped company is deleted in ConnectWise",
    "unmapped_product": "the vendor SKU is not mapped to a ConnectWise catalog item",
    "ambiguous": "more than one active addition could be this line",
    "manually_edited": "a person changed the addition after billbridge last wrote it",
    "excluded_by_rule": "a per-customer rule says do not sync",
    "out_of_period": "the vendor line belongs to another billing month",
    "past_month": "the month is older than the newest month billbridge pushed: the standing line holds that newer "
                  "month's values, so this month's difference goes on a dated correction line, once confirmed",
    "already_invoiced": "the change would fall in a month ConnectWise already invoiced: it goes on a dated correction "
                        "line only when overridden with a reason",
    "negative_margin": "the line would bill the customer less than it costs: written only when overridden",
}
#: causes an operator may override (``billbridge override``): the row is then written (a correction line for
#: ``past_month`` and ``already_invoiced``, the change itself for the others)
OVERRIDE_CAUSES = ("manually_edited", "past_month", "already_invoiced", "negative_margin")
#: causes whose override needs a reason (kept in the push journal)
REASON_REQUIRED_CAUSES = frozenset({"already_invoiced"})
#: causes whose rows are left out on purpose (bucket ``excluded``), not blocked
EXCLUDED_CAUSES = frozenset({"excluded_by_rule", "out_of_period"})
#: where each vendor dollar ends up (conservation: checked = reconciled + blocked + excluded)
BUCKETS = ("reconciled", "blocked", "excluded")

#: flags a plan row can carry: flag -> what it means
FLAGS: dict[str, str] = {
    "late_month_bdom": "the account bills on one of the last days of a month (BDOM 29-31 clamps)",
    "annual_term_decrease": "a seat decrease on an annual or triennial term billed monthly, outside its cancellation "
                            "window: the MSP keeps paying for the seats to the term end (commitment_at_risk)",
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
    "correction_line": "writes a dated one-month correction line instead of changing the standing line (confirmed)",
    "overrides_invoiced": "corrects a month ConnectWise already invoiced (overridden; the journal keeps the reason)",
    "low_margin": "the line's margin is below the threshold of its product mapping (or the global default)",
    "overrides_negative_margin": "bills the customer less than it costs (the operator allowed it)",
    "cost_only_change": "the MSP's cost changes and the customer's price does not",
    "in_cancellation_window": "a seat decrease inside the 168-hour cancellation window: the vendor takes the seats back",
    "agreement_ends_before_term": "the ConnectWise agreement ends before the vendor's commitment term does",
    "agreement_outlasts_term": "the ConnectWise agreement runs past the end of the vendor's commitment term",
}

CHARGE_TYPES = ("recurring", "usage", "one_time", "credit")
SYNC_MODES = ("standing", "monthly")
PERIOD_RULES = ("advance", "arrears")

#: the values a mapping takes when the operator leaves them empty (store, pages, CLI, rules alike)
MAPPING_DEFAULTS: dict[str, Any] = {"sync_mode": "standing", "period_rule": "advance", "own_cost": True,
                                    "own_price": True, "price_rule": "vendor_price", "price_value": None,
                                    "margin_threshold": None}

#: how a product mapping prices its lines (Rule 7.3; ``price_value`` is the fixed price or the markup percent):
#: the vendor's price (when the mapping owns the price), ConnectWise's own price, a fixed price, a markup on cost
PRICE_RULES = ("vendor_price", "keep", "fixed", "markup")
#: the margin threshold (percent of the price) of a product mapping without one, until the operator stores a
#: global default (``billbridge map import`` / the Mappings page)
DEFAULT_MARGIN_THRESHOLD = Decimal("20")
#: terms with a commitment (Rules 4.1-4.3): term -> months
COMMITMENT_TERMS = {"annual": 12, "triennial": 36}
#: where a row's commitment term dates come from: the vendor's data, or derived by billbridge (rules/terms.py)
TERM_SOURCES = ("vendor", "derived")
#: the parts a changed row's customer price impact is explained by (``impact_by_cause``; rules/impact.py)
IMPACT_CAUSES = ("quantity", "price", "proration", "credit")

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
    "impact_by_cause", "override_reason", "margin_pct_before", "margin_pct_after", "price_rule",
    "term_start", "term_end", "term_source", "window_end", "commitment_at_risk",
)
#: columns the plan lifecycle adds to the rules' rows (what push needs to be idempotent)
PLAN_EXTRA_COLUMNS = ("target", "lookup", "depends_on", "maps")
#: plan row columns holding money or quantities (Decimal in frames, strings in JSON)
MONEY_FIELDS = (
    "vendor_amount", "vendor_quantity_raw", "vendor_quantity", "vendor_unit_cost", "vendor_unit_price",
    "cw_quantity", "cw_unit_price", "cw_unit_cost", "new_quantity", "new_unit_price", "new_unit_cost",
    "price_impact", "margin_impact", "cw_proration", "vendor_proration",
    "margin_pct_before", "margin_pct_after", "commitment_at_risk",
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
    "currency_mismatch": "Other currency",
    "company_deleted": "Company deleted",
    "unmapped_product": "Product not mapped",
    "ambiguous": "Ambiguous lines",
    "manually_edited": "Edited by hand",
    "excluded_by_rule": "Do not sync (rule)",
    "out_of_period": "Other billing month",
    "past_month": "Past month (newer month pushed)",
    "already_invoiced": "Already invoiced",
    "negative_margin": "Negative margin",
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
    "correction_line": "Correction line",
    "overrides_invoiced": "Overrides an invoiced month",
    "low_margin": "Low margin",
    "overrides_negative_margin": "Below cost (allowed)",
    "cost_only_change": "Cost-only change",
    "in_cancellation_window": "In cancellation window",
    "agreement_ends_before_term": "Agreement ends before term",
    "agreement_outlasts_term": "Agreement outlasts term",
}
IMPACT_CAUSE_LABELS: dict[str, str] = {"quantity": "Quantity", "price": "Price", "proration": "Proration",
                                       "credit": "Credits"}
#: review alerts: kind -> what it means (the alert's detail adds names and numbers)
ALERT_KINDS: dict[str, str] = {
    "low_margin": "margin below the threshold",
    "customer_change": "customer billing changed more than the threshold",
    "annual_term_decrease": "annual-term quantity decrease (often not refundable by the vendor)",
    "late_month_bdom": "account bills late in the month (BDOM in the last days)",
    "blocked": "line still blocked or unmapped: billbridge cannot sync it (its vendor cost is shown; ConnectWise may still bill some of these at its own price)",
    "already_invoiced": "ConnectWise already invoiced the agreement for this month",
    "push_failed": "the last push of this row failed",
}
ALERT_LABELS: dict[str, str] = {
    "low_margin": "Low margin", "customer_change": "Big customer change", "annual_term_decrease": "Annual-term cuts",
    "late_month_bdom": "Late-month billing day", "blocked": "Blocked or unmapped", "already_invoiced": "Already invoiced",
    "push_failed": "Push failed",
}
#: month-over-month changes (review): kind -> label
CHANGE_KINDS = ("new_customer", "lost_customer", "new_product", "retired_product", "quantity_increase",
                "quantity_decrease", "price_change", "cost_change")
CHANGE_LABELS: dict[str, str] = {
    "new_customer": "New customer", "lost_customer": "Lost customer", "new_product": "New product",
    "retired_product": "Retired product", "quantity_increase": "Quantity up", "quantity_decrease": "Quantity down",
    "price_change": "Price changed", "cost_change": "Cost changed",
}
#: why a mapping candidate must not be trusted blindly (billbridge.matching)
MATCH_FLAG_LABELS: dict[str, str] = {
    "deleted": "In the recycle bin", "prospect": "Prospect", "not_approved": "Not approved", "inactive": "Inactive",
    "vendor": "A vendor, not a client", "owner": "Your own company", "tie": "Ties with another candidate",
    "cancelled": "Cancelled", "expired": "Expired", "child_agreement": "Child agreement",
    "not_recurring": "Not recurring", "missing": "Missing in ConnectWise", "creates_record": "Creates a record",
}
#: enumerated values a person reads (charge types, terms, sync modes, rules, push results ...)
VALUE_LABELS: dict[str, str] = {
    "recurring": "Recurring", "usage": "Usage", "one_time": "One-time", "credit": "Credit",
    "monthly": "Monthly", "annual": "Annual", "triennial": "Three years", "none": "No term",
    "standing": "Standing line", "advance": "In advance", "arrears": "In arrears",
    "do_not_sync": "Do not sync", "fixed_quantity": "Fixed quantity", "cap": "Cap",
    "ok": "OK", "failed": "Failed", "conflict": "Conflict", "skipped": "Skipped",
    "reconciled": "Reconciled", "excluded": "Excluded", "creation": "Creation",
    "new": "New", "changed": "Changed", "additions": "Additions changed",
    "company": "Company", "agreement": "Agreement", "product": "Product", "rule": "Rule",
    "addition": "Addition", "agreement_type": "Agreement type", "catalog": "Catalog item", "product_type": "Product type",
    "vendor_price": "The vendor's price", "keep": "ConnectWise's price", "fixed": "Fixed price",
    "markup": "Markup on cost", "derived": "Derived", "vendor": "Vendor data", "setting": "Setting",
}
#: column names -> the header a person reads (pages, the review workbook and CSV)
COLUMN_LABELS: dict[str, str] = {
    "key": "Line key", "action": "Action", "cause": "Cause", "reason": "Reason", "bucket": "Bucket", "flags": "Flags",
    "vendor": "Vendor", "vendor_customer_id": "Vendor customer id", "vendor_customer_name": "Vendor customer",
    "customer_id": "Vendor customer id", "customer": "Customer", "customer_created": "Customer created",
    "subscription_id": "Subscription", "sku": "SKU", "product": "Product", "product_name": "Vendor product",
    "charge_type": "Charge type", "term": "Term", "billing_frequency": "Billed", "sync_mode": "Sync mode",
    "quantity_basis": "Quantity basis", "company_id": "Company id", "company_name": "Company",
    "agreement_id": "Agreement id", "agreement_name": "Agreement", "catalog_item_id": "Catalog item id",
    "product_identifier": "Catalog item", "product_description": "Catalog description",
    "vendor_lines": "Vendor lines", "vendor_line_count": "Vendor lines", "vendor_amount": "Vendor amount",
    "vendor_quantity": "Vendor quantity", "vendor_unit_cost": "Vendor unit cost", "vendor_unit_price": "Vendor unit price",
    "cw_addition_id": "Addition id", "cw_quantity": "ConnectWise quantity", "cw_unit_price": "ConnectWise unit price",
    "cw_unit_cost": "ConnectWise unit cost", "new_quantity": "New quantity", "new_unit_price": "New unit price",
    "new_unit_cost": "New unit cost", "effective_date": "Effective", "cancelled_date": "Cancelled",
    "price_impact": "Price impact", "margin_impact": "Margin impact", "currency": "Currency",
    "line_no": "Row", "quantity": "Quantity", "unit_cost": "Unit cost", "unit_price": "Unit price",
    "period_start": "Period from", "period_end": "Period to", "landing_month": "Bills in",
    "extended_cost": "Cost", "extended_price": "Price",
    "cost": "Vendor cost", "price": "ConnectWise bills", "margin": "Margin", "not_rebilled": "Not re-billed",
    "vendor_price": "Vendor price", "vendor_cost": "Vendor cost", "billed_price": "ConnectWise bills",
    "margin_pct": "Margin %", "unbilled_cost": "Not re-billed", "customers": "Customers", "lines": "Lines",
    "kind": "Kind", "what": "What", "dollars": "Dollars", "detail": "Detail",
    "quantity_before": "Quantity before", "quantity_now": "Quantity now", "unit_price_before": "Unit price before",
    "unit_price_now": "Unit price now", "unit_cost_before": "Unit cost before", "unit_cost_now": "Unit cost now",
    "price_before": "Price before", "price_now": "Price now", "impact": "Impact",
    "result": "Result", "addition_id": "Addition id", "http_status": "HTTP status", "cw_message": "ConnectWise message",
    "error_code": "Error code", "attempts": "Attempts", "writes": "Writes", "finished_at": "Finished (UTC)",
    "run_id": "Run", "run_started_at": "Run started (UTC)", "operator": "Operator",
    "row": "Row", "column": "Column", "value": "Value",
    "version": "Version", "file_name": "File", "format": "Format", "line_count": "Lines", "customer_count": "Customers",
    "total_cost": "Vendor cost", "total_price": "Price to customers", "loaded_at": "Loaded (UTC)", "loaded_by": "Loaded by",
    "sha256": "File fingerprint", "quantity_old": "Quantity before", "quantity_new": "Quantity now",
    "name": "Name", "type_name": "Type", "status": "Status", "billing_cycle": "Billing cycle",
    "bill_amount": "Monthly amount", "pending_additions": "Pending additions", "change": "Change",
    "cw_last_updated": "Updated in ConnectWise", "description": "Description", "start_date": "Start", "end_date": "End",
    "line_key": "Line key", "imported_at": "Imported", "deleted_at": "Deleted in ConnectWise", "notes": "Notes",
    "changed_at": "When", "changed_by": "By", "old": "Before", "new": "After", "source": "Source",
    "updated_by": "By", "updated_at": "When", "rows": "Rows", "not_ok": "Not synced", "last_push": "Last push (UTC)",
    "anchor": "BDOM anchor", "bdom": "Billed this month", "late_risk": "Late-month risk", "split": "Period split",
    # ConnectWise addition fields as a write names them
    "unitPrice": "Unit price", "unitCost": "Unit cost", "effectiveDate": "Effective date",
    "cancelledDate": "Cancelled date", "billCustomer": "Bill customer", "startDate": "Start date",
    "identifier": "Identifier", "type": "Type", "subcategory": "Subcategory",
    # issue 12: variance by cause, margin guard, commitment terms
    "impact_by_cause": "Impact by cause", "override_reason": "Override reason",
    "margin_pct_before": "Margin % before", "margin_pct_after": "Margin % after", "price_rule": "Price rule",
    "price_value": "Fixed price or markup %", "margin_threshold": "Margin threshold %", "term_start": "Term start",
    "term_end": "Term end", "term_source": "Term from", "window_end": "Cancellation window until",
    "commitment_at_risk": "Commitment at risk", "renews_on": "Renews on", "cause_part": "Cause",
    "amount": "Amount", "at_stake": "At stake", "correction": "Correction",
}
_LABELS: dict[str, str] = {**VALUE_LABELS, **MATCH_FLAG_LABELS, **CHANGE_LABELS, **ACTION_LABELS, **CAUSE_LABELS,
                           **FLAG_LABELS}
_TABLES: dict[str, dict[str, str]] = {
    "impact": IMPACT_CAUSE_LABELS, "action": ACTION_LABELS, "cause": CAUSE_LABELS, "flag": FLAG_LABELS, "alert": ALERT_LABELS,
    "change": CHANGE_LABELS, "match_flag": MATCH_FLAG_LABELS, "value": VALUE_LABELS, "column": COLUMN_LABELS,
}


def _missing(code: Any) -> bool:
    return code is None or (isinstance(code, float) and code != code) or str(code) in ("nan", "NaN", "None", "<NA>")


def label(code: Any, kind: str | None = None) -> str:
    """The words a person reads for a code: an action, cause, flag, change kind, matching flag or
    enumerated value, or with ``kind`` ("action", "cause", "flag", "alert", "change", "match_flag",
    "value", "column") from that table only (an alert "blocked" reads "Blocked or unmapped", the
    action "blocked" reads "Blocked"). Unknown codes read as words ("some_code" -> "Some code");
    missing values as an empty string (never "None" or "nan")."""
    if _missing(code):
        return ""
    text = str(code)
    table = _TABLES[kind] if kind else _LABELS
    if text in table:
        return table[text]
    return text.replace("_", " ").strip().capitalize()


def labels(codes: Any, kind: str | None = None) -> str:
    """A list of codes (flags) as one line of words: ``("credit", "late_month_bdom")`` -> ``"Credit,
    Late-month billing day"``; a single code or a missing value as :func:`label` reads it."""
    if isinstance(codes, str) or not hasattr(codes, "__iter__"):
        return label(codes, kind)
    return ", ".join(x for x in (label(c, kind) for c in codes) if x)


def column_label(name: Any) -> str:
    """The header a person reads for a column name (``customer_id`` -> ``Vendor customer id``)."""
    return label(name, "column")


def chart_text(text: Any) -> str:
    """Vendor or ConnectWise text for a plotly label, shown literally: plotly reads ``<b>``,
    ``<a href=...>`` and other tags in labels, so ``& < >`` become entities (plotly shows them as
    the characters). Missing values read as ''."""
    if _missing(text):
        return ""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
