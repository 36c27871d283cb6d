"""The reason of a plan row, in plain words with names and numbers (pure, one function per kind).

Rows in sync read one template, :data:`IN_SYNC`: the rules render it in SQL for every such row
(:func:`in_sync_sql`, the macro ``in_sync_reason``), and a stored plan keeps it only where a row reads
otherwise, since the view ``plan_lines`` renders the same SQL from the row's names and quantity
(:mod:`billbridge.store.plans`); :func:`in_sync` is the same template in Python. The other rows
(:func:`changed`, :func:`blocked`, :func:`ended`) get their reason one row at a time, from a mapping of the
row's values. A reason never shows "None" or "nan": the names it shows (``customer``, ``product``,
``agreement``, decided once for every row by :data:`MACROS`) fall back to the id, then to a plain word.

The SQL here is read by DuckDB (the rules) and SQLite (the stored plans) alike: ``coalesce``, ``nullif``,
``instr``, ``substr``, ``rtrim`` and ``||`` mean the same in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from functools import lru_cache
from typing import Any

from billbridge.model import CAUSES
from billbridge.money import format_money

__all__ = ["MACROS", "IN_SYNC", "quantity", "money", "in_sync", "in_sync_sql", "shown_customer_sql",
           "shown_product_sql", "shown_agreement_sql", "shown_quantity_sql", "changed", "term_note", "blocked", "ended"]

#: the reason of a row ConnectWise already bills as the vendor does (the one template of it)
IN_SYNC = ("{customer}", ": ", "{product}", " on ", "{agreement}", " is ", "{quantity}",
           " in ConnectWise, as the vendor bills.")


def shown_customer_sql(name: str, id_: str) -> str:
    """SQL: the name a reason shows for a customer (its name, else its id)."""
    return f"coalesce(nullif({name}, ''), nullif({id_}, ''), 'the customer')"


def shown_product_sql(description: str, name: str, sku: str, identifier: str) -> str:
    """SQL: the name a reason shows for a product (catalog description, vendor name, SKU, identifier)."""
    return (f"coalesce(nullif({description}, ''), nullif({name}, ''), nullif({sku}, ''), nullif({identifier}, ''), "
            "'?')")


def shown_agreement_sql(name: str, id_: str) -> str:
    """SQL: the name a reason shows for an agreement (its name, else its number)."""
    return f"coalesce(nullif({name}, ''), 'agreement #' || {id_}, 'no agreement')"


def shown_quantity_sql(q: str) -> str:
    """SQL twin of :func:`quantity` for a quantity's exact decimal text: ``14.00`` -> ``14``, ``0.0120``
    stays; NULL for a text with an exponent (``1E+1``), which :func:`quantity` renders in Python."""
    dot = f"instr({q}, '.')"
    return (f"CASE WHEN {q} IS NULL THEN '-' WHEN instr(upper({q}), 'E') > 0 THEN NULL "
            f"WHEN {dot} > 0 AND rtrim(substr({q}, {dot} + 1), '0') = '' THEN substr({q}, 1, {dot} - 1) "
            f"ELSE {q} END")


def in_sync_sql(customer: str, product: str, agreement: str, quantity_text: str) -> str:
    """SQL: :data:`IN_SYNC` over the SQL of the names it shows and of the quantity's text (NULL when the
    quantity has an exponent)."""
    parts = {"{customer}": customer, "{product}": product, "{agreement}": agreement,
             "{quantity}": shown_quantity_sql(quantity_text)}
    return "(" + " || ".join(parts.get(p) or "'" + p.replace("'", "''") + "'" for p in IN_SYNC) + ")"


#: the names a reason shows for a row's customer, product and agreement, and the in-sync reason
MACROS = f"""
CREATE MACRO shown_customer(name, id) AS {shown_customer_sql("name", "id")};
CREATE MACRO shown_product(description, name, sku, identifier) AS
    {shown_product_sql("description", "name", "sku", "identifier")};
CREATE MACRO shown_agreement(name, id) AS {shown_agreement_sql("name", "id")};
CREATE MACRO in_sync_reason(customer, product, agreement, quantity) AS
    {in_sync_sql("customer", "product", "agreement", "quantity")};
"""


def quantity(d: Any) -> str:
    """A quantity as a person writes it: ``14`` (not ``14.0``), ``0.0120``; ``-`` when missing."""
    if d is None:
        return "-"
    if isinstance(d, Decimal):
        return format(d.normalize() if d == d.to_integral_value() else d, "f")
    return str(d)


def money(d: Any) -> str:
    """``$1,234.50``; ``-`` when missing."""
    return "-" if d is None else _money(Decimal(d))


@lru_cache(maxsize=4096)
def _money(d: Decimal) -> str:
    # format_money reads only the value (equal Decimals with other exponents read the same): once per value
    return format_money(d)


def in_sync(cust: str, prod: str, agr: str, qty: str) -> str:
    """The reason of a row ConnectWise already bills as the vendor does (:data:`IN_SYNC`)."""
    return "".join(IN_SYNC).format(customer=cust, product=prod, agreement=agr, quantity=qty)


def changed(r: Mapping[str, Any], month: str) -> str:
    """The reason of a credit, a create or an update."""
    c, p, g = r["customer"], r["product"], r["agreement"]
    q = quantity(r["vendor_quantity"])
    a = r["action"]
    if r["charge_type"] == "credit":
        base = (f"Vendor refund of {quantity(-r['vendor_quantity'])} x {p} for {c} ({money(r['vendor_amount'])}), "
                f"matched to the original line {r['credit_for']}")
        note = term_note(r)
        if a == "create":
            return f"{base}: add it as a one-month credit line on {g}.{note}"
        return (f"{base}: already on {g}." if a == "in_sync" else f"{base}: correct the credit line on {g}.") + note
    if a == "create":
        what = "one-time charge" if r["charge_type"] == "one_time" else (
            "line for this month" if r["sync_mode"] == "monthly" else "line for it")
        price = money(r["new_unit_price"]) if r["new_unit_price"] is not None else "the catalog price"
        return f"{c}: the vendor bills {q} x {p} but {g} has no {what}: add {q} at {price} from {r['target_eff']}."
    parts = []
    if r["d_qty"]:
        parts.append(f"quantity {quantity(r['cw_quantity'])} -> {q}")
    if r["d_price"]:
        parts.append(f"price {money(r['cw_unit_price'])} -> {money(r['vendor_unit_price'])}")
    if r["d_cost"]:
        parts.append(f"cost {money(r['cw_unit_cost'])} -> {money(r['vendor_unit_cost'])}")
    if r["d_dates"]:
        parts.append(f"dates -> {r['target_eff']} to {r['target_can']}")
    if r["d_product"]:
        parts.append("product -> " + p)
    if r["d_key"]:
        parts.append("take over the existing line (adds billbridge's key)")
    note = term_note(r)
    if r["overrides_manual_edit"]:
        note += f" Overwrites {r['updated_by'] or 'someone'}'s manual change (you allowed it)."
    return f"{c}: {p} on {g} differs from the vendor: " + ", ".join(parts) + "." + note


def _seats(n: Any) -> str:
    n = Decimal(n)
    return f"{quantity(n)} seat" + ("" if n == 1 else "s")


def term_note(r: Mapping[str, Any]) -> str:
    """What a row's commitment term says about its change (:mod:`billbridge.rules.terms`), in the row's
    currency: the money the MSP keeps paying for seats removed outside their cancellation window, the seats
    removed inside it, an agreement ending before or after the term; '' when there is nothing to say."""
    flags, cur = r.get("flags") or (), r.get("currency")
    end = r.get("term_end")
    derived = " (billbridge derived the term's dates)" if r.get("term_source") == "derived" else ""
    note = ""
    if "annual_term_decrease" in flags:
        seats, months = r["seats_at_risk"], int(r["months_left"])
        note += (f" Careful: {_seats(seats)} outside the cancellation window, so the vendor has not refunded "
                 f"{'it' if Decimal(seats) == 1 else 'them'}: the MSP keeps paying "
                 f"{format_money(r['commitment_at_risk'], cur)} to the term end on {end}: {quantity(Decimal(seats))} x "
                 f"{format_money(r['risk_unit_cost'], cur)} a month x {months} month{'' if months == 1 else 's'}"
                 f"{derived}.")
    if "in_cancellation_window" in flags and r.get("charge_type") == "credit":
        note += " The vendor took the seats back inside their cancellation window."
    elif "in_cancellation_window" in flags:
        closes, back = str(r.get("window_end") or ""), "it" if Decimal(r["seats_in_window"]) == 1 else "them"
        note += (f" {_seats(r['seats_in_window'])} removed inside the cancellation window (open until "
                 f"{closes[:10]} {closes[11:16]} UTC): the vendor takes {back} back.")
    if "agreement_ends_before_term" in flags:
        note += f" The agreement ends on {r['agreement_end']}, before the vendor's term, which ends on {end}{derived}."
    if "agreement_outlasts_term" in flags:
        note += f" The agreement runs to {r['agreement_end']}, past the vendor's term, which ends on {end}{derived}."
    return note


def _sku(r: Mapping[str, Any], *details: Any) -> str:
    """``SKU (name, monthly term)`` with only the details the line has."""
    shown = [str(d) for d in details if d]
    return str(r.get("sku") or "?") + (f" ({', '.join(shown)})" if shown else "")


def blocked(r: Mapping[str, Any], month: str, vendor_name: str) -> str:
    """The reason of a vendor row that cannot be written: what blocks it and what to do."""
    cust, prod, agr = r["customer"], r["product"], r["agreement"]
    cause = r["cause"]
    vq = quantity(r["vendor_quantity"])
    if cause == "unmapped_customer":
        return f"{cust} is not linked to a ConnectWise company yet: map the customer to sync {prod} ({vq})."
    if cause == "company_deleted":
        return (f"{cust} is mapped to {r.get('company_name') or 'a company'}, which is deleted in ConnectWise: "
                f"map it to the live company.")
    if cause == "no_agreement":
        if r.get("agreement_id") is not None:
            return (f"{cust} is mapped to agreement #{r['agreement_id']}, which ConnectWise no longer has: "
                    f"map an existing agreement.")
        company = r.get("company_name")
        who = cust if not company or company == cust else f"{cust} (ConnectWise company {company})"
        return f"{who} has no {vendor_name} agreement mapped: map or create one to bill {prod} ({vq})."
    if cause == "agreement_cancelled":
        return f"{agr} for {cust} is cancelled in ConnectWise: {prod} ({vq}) cannot be billed there."
    if cause == "agreement_expired":
        return f"{agr} for {cust} ended before this month: renew it or map another agreement to bill {prod} ({vq})."
    if cause == "agreement_inactive":
        return f"{agr} for {cust} is inactive in ConnectWise: {prod} ({vq}) cannot be billed there."
    if cause == "unmapped_product":
        if r.get("catalog_item_id") is not None:
            return (f"{_sku(r, r.get('product_name'))} is mapped to catalog item #{r['catalog_item_id']}, "
                    f"which ConnectWise no longer has.")
        term = f"{r['term']} term" if r.get("term") else None
        return (f"The vendor SKU {_sku(r, r.get('product_name'), term)} is not mapped to a ConnectWise product: "
                f"map it to bill {cust} for {vq}.")
    if cause == "ambiguous":
        if r["dup_key"]:
            return f"{agr} for {cust} has two active lines carrying billbridge's key for {prod}: cancel the duplicate in ConnectWise."
        if r["keyed"]:
            return (f"{agr} for {cust} has another active {prod} line, added by hand, next to the one billbridge keeps "
                    f"current: the customer would be billed twice. Cancel or merge the extra line, then reconcile again.")
        return (f"{agr} for {cust} has {int(r['n_free'] or 0)} active {prod} line(s) billbridge cannot tell apart "
                f"from the vendor's subscription(s): keep one line per product, then reconcile again.")
    if cause == "manually_edited":
        who = r["updated_by"] or "someone"
        when = str(r["last_updated"] or "")[:10]
        return (f"{who} changed {prod} on {agr} for {cust} by hand on {when} (ConnectWise has "
                f"{quantity(r['cw_quantity'])} at {money(r['cw_unit_price'])}, the vendor bills {vq}): "
                f"billbridge leaves it alone unless you override.")
    if cause == "excluded_by_rule":
        return f"{cust} is set to 'do not sync': {prod} ({vq}) is left out on purpose."
    if cause == "out_of_period":
        return (f"This {prod} line for {cust} covers {r.get('period_start') or '?'} to {r.get('period_end') or '?'}, "
                f"which belongs to another billing month: it is not part of {month}.")
    return CAUSES.get(cause, str(cause))


def ended(r: Mapping[str, Any], month: str) -> str:
    """The reason of a row for a line the vendor no longer bills (ended, already ending, or left alone)."""
    cust, prod, agr = r["customer"], r["product"], r["agreement"]
    cause = r["cause"]
    if cause == "excluded_by_rule":
        return (f"The vendor no longer bills {prod} for {cust}, but the customer is set to 'do not sync': the line on "
                f"{agr} is left as it is.")
    if cause == "manually_edited":
        return (f"The vendor no longer bills {prod} for {cust}, but {r['updated_by'] or 'someone'} changed that line on "
                f"{agr} by hand on {str(r['last_updated'] or '')[:10]}: billbridge leaves it alone unless you override.")
    if cause:
        return f"The vendor no longer bills {prod} for {cust}, but {agr} is {cause.split('_')[1]}: nothing to end there."
    if r["action"] == "in_sync":
        return f"{cust}: {prod} on {agr} already ends on {r['end_on']}, as the vendor stopped billing it."
    why = f"the agreement was already invoiced for {month}" if r["invoiced"] else f"the last invoiced month is before {month}"
    return (f"{cust}: the vendor no longer bills {prod} ({quantity(r['cw_quantity'])} on {agr}): end the line on "
            f"{r['end_on']} ({why}); the line is kept for history, not deleted.")
