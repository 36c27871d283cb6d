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

from billbridge.bdom import addition_dates
from billbridge.model import CAUSES
from billbridge.money import extended, format_money

__all__ = ["MACROS", "IN_SYNC", "quantity", "money", "in_sync", "in_sync_sql", "shown_customer_sql",
           "shown_product_sql", "shown_agreement_sql", "shown_quantity_sql", "changed", "term_note", "blocked", "ended",
           "month_name", "correction", "correction_text"]

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


def money(d: Any, currency: str | None = None) -> str:
    """``$1,234.50``, ``€1,234.50`` in ``currency`` (the row's; USD when it has none, as
    :func:`billbridge.money.format_money` reads it); ``-`` when missing."""
    return "-" if d is None else _money(Decimal(d), currency)


@lru_cache(maxsize=4096)
def _money(d: Decimal, currency: str | None) -> str:
    # format_money reads only the value (equal Decimals with other exponents read the same): once per value
    return format_money(d, currency)


def in_sync(cust: str, prod: str, agr: str, qty: str) -> str:
    """The reason of a row ConnectWise already bills as the vendor does (:data:`IN_SYNC`)."""
    return "".join(IN_SYNC).format(customer=cust, product=prod, agreement=agr, quantity=qty)


_MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
           "November", "December")


def month_name(month: str | None) -> str:
    """``2026-12`` -> ``December 2026`` (a month as a person reads it)."""
    if not month:
        return "a later month"
    return f"{_MONTHS[int(str(month)[5:7]) - 1]} {str(month)[:4]}"


def correction_text(r: Mapping[str, Any]) -> str:
    """The correction line a past month's row takes, in words: ``2 x $25.00 = $50.00`` (the seats that differ
    at the month's price) or ``one line of $24.00`` (a price or cost difference in dollars)."""
    q, price, cur = r.get("correction_quantity"), r.get("correction_price"), r.get("currency") or "USD"
    if q is None or price is None:
        return "no dollar difference"
    if r.get("corrects_dollars"):
        return f"one line of {format_money(price, cur)}"
    return f"{quantity(q)} x {format_money(price, cur)} = {format_money(extended(q, price, cur), cur)}"


def _dated(month: str) -> str:
    first, last = addition_dates(month)
    return f"dated {first} to {last}"


def correction(r: Mapping[str, Any], month: str) -> str:
    """The reason of a confirmed past month's correction row (to add, or already on ConnectWise)."""
    c, p, g = r["customer"], r["product"], r["agreement"]
    what = f"the correction line for {month_name(month)} ({correction_text(r)} for {p})"
    if r["action"] == "in_sync":
        return f"{c}: {what} is on {g}; the standing line keeps {quantity(r['cw_quantity'])} as billbridge pushed it."
    text = (f"{c}: {month_name(month)} needed {quantity(r['vendor_quantity'])} x {p}, but the standing line on {g} "
            f"holds {month_name(r.get('newest_pushed_month'))}'s {quantity(r['cw_quantity'])}: add {what}, "
            f"{_dated(month)}; the standing line stays as it is.")
    if r.get("override_reason") and "overrides_invoiced" in r["flags"]:
        text += (f" ConnectWise already invoiced {month_name(month)}: it is written anyway, as you allowed "
                 f"(reason: {r['override_reason']}).")
    return text


def changed(r: Mapping[str, Any], month: str) -> str:
    """The reason of a credit, a create or an update."""
    c, p, g = r["customer"], r["product"], r["agreement"]
    q = quantity(r["vendor_quantity"])
    a = r["action"]
    cur = r.get("currency")
    if r["charge_type"] == "credit":
        base = (f"Vendor refund of {quantity(-r['vendor_quantity'])} x {p} for {c} ({money(r['vendor_amount'], cur)}), "
                f"matched to the original line {r['credit_for']}")
        note = term_note(r)
        if a == "create":
            return f"{base}: add it as a one-month credit line on {g}.{note}"
        return (f"{base}: already on {g}." if a == "in_sync" else f"{base}: correct the credit line on {g}.") + note
    if a == "create":
        what = "one-time charge" if r["charge_type"] == "one_time" else (
            "line for this month" if r["sync_mode"] == "monthly" else "line for it")
        price = money(r["new_unit_price"], cur) if r["new_unit_price"] is not None else "the catalog price"
        return (f"{c}: the vendor bills {q} x {p} but {g} has no {what}: add {q} at {price} from {r['target_eff']}."
                + _invoiced_note(r, month))
    parts = []
    if r["d_qty"]:
        parts.append(f"quantity {quantity(r['cw_quantity'])} -> {q}")
    if r["d_price"]:
        parts.append(f"price {money(r['cw_unit_price'], cur)} -> {money(r['new_unit_price'], cur)}" + _rule_words(r))
    if r["d_cost"]:
        parts.append(f"cost {money(r['cw_unit_cost'], cur)} -> {money(r['vendor_unit_cost'], cur)}")
    if r["d_dates"]:
        parts.append(f"dates -> {r['target_eff']} to {r['target_can']}")
    if r["d_product"]:
        parts.append("product -> " + p)
    if r["d_key"]:
        parts.append("take over the existing line (adds billbridge's key)")
    note = term_note(r)
    if r["overrides_manual_edit"]:
        note += f" Overwrites {r['updated_by'] or 'someone'}'s manual change (you allowed it)."
    note += _margin_note(r)
    note += _invoiced_note(r, month)
    return f"{c}: {p} on {g} differs from the vendor: " + ", ".join(parts) + "." + note


def _pct(d: Any) -> str:
    return "-" if d is None else f"{Decimal(d):.2f}%"


def _rule_words(r: Mapping[str, Any]) -> str:
    """How the price rule of the product mapping set the new price (empty for the vendor's own price)."""
    rule = r.get("price_rule")
    if rule == "markup" and r.get("price_value") is not None:
        return f" ({quantity(Decimal(r['price_value']))}% markup on the vendor's cost {money(r['vendor_unit_cost'], r.get('currency'))})"
    if rule == "fixed":
        return " (the product's fixed price)"
    return ""


def _margin_note(r: Mapping[str, Any]) -> str:
    """The margin before and after a price or cost change, and a margin below the threshold."""
    flags = r["flags"]
    note = ""
    if (r["d_price"] or r["d_cost"]) and r.get("margin_pct_after") is not None:
        note = f" Margin {_pct(r.get('margin_pct_before'))} -> {_pct(r['margin_pct_after'])}"
        note += " (the cost changes, the customer's price does not)." if "cost_only_change" in flags else "."
    if "low_margin" in flags:
        note += (f" The margin {_pct(r.get('margin_pct_after'))} is below the {_pct(r.get('margin_threshold'))} "
                 f"threshold.")
    if "overrides_negative_margin" in flags:
        note += f" Bills less than it costs ({money(r['new_unit_price'], r.get('currency'))} for a cost of {money(r.get('new_unit_cost'), r.get('currency'))}): you allowed it."
    return note


def _invoiced_note(r: Mapping[str, Any], month: str) -> str:
    if "overrides_invoiced" not in r["flags"]:
        return ""
    return (f" ConnectWise already invoiced {month_name(month)}: written anyway, as you allowed "
            f"(reason: {r.get('override_reason') or '-'}).")


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
    if cause == "currency_mismatch":
        return _currency_mismatch(r, cust, prod, agr, vq)
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
                f"{quantity(r['cw_quantity'])} at {money(r['cw_unit_price'], r.get('currency'))}, the vendor bills {vq}): "
                f"billbridge leaves it alone unless you override.")
    if cause == "past_month":
        newer = month_name(r.get("newest_pushed_month"))
        if r.get("cw_addition_id") is not None:
            held = (f"the standing line for {prod} on {agr} holds {newer}'s {quantity(r['cw_quantity'])} at "
                    f"{money(r['cw_unit_price'], r.get('currency'))}")
        else:
            held = f"{agr} has no standing line for {prod}, and adding one would change {newer}"
        text = (f"billbridge already pushed {newer}: {held}, so the {month_name(month)} plan leaves it alone. "
                f"{month_name(month)} needed {vq} for {cust}")
        if r.get("correction_quantity") is None or not _nonzero(r):
            return text + ": nothing to correct in dollars."
        return (text + f": a correction line of {correction_text(r)}, {_dated(month)}, makes up the difference. "
                f"Confirm it with 'billbridge override {month} {r['key']}'.")
    if cause == "already_invoiced":
        inv = f"ConnectWise already invoiced {agr} for {month_name(month)} (invoice dated {r.get('invoice_date') or '?'})"
        what = (f"the correction line of {correction_text(r)} for {prod}" if r.get("correction")
                else f"this {month_name(month)} line ({vq} x {prod} for {cust})")
        return (f"{inv}: {what} would fall in an invoiced month, which billbridge does not rewrite. To write it "
                f"anyway (e.g. after deleting that invoice to run it again), override with a reason the journal "
                f"keeps: 'billbridge override {month} {r['key']} --reason TEXT'.")
    if cause == "negative_margin":
        return (f"{cust}: {prod} on {agr} would bill {money(r.get('after_price'), r.get('currency'))} a unit for a cost of "
                f"{money(r.get('after_cost'), r.get('currency'))}{_rule_words(r)}, below cost (margin {_pct(r.get('margin_pct_after'))}): "
                f"billbridge does not write it unless you override ('billbridge override {month} {r['key']}').")
    if cause == "excluded_by_rule":
        return f"{cust} is set to 'do not sync': {prod} ({vq}) is left out on purpose."
    if cause == "out_of_period":
        return (f"This {prod} line for {cust} covers {r.get('period_start') or '?'} to {r.get('period_end') or '?'}, "
                f"which belongs to another billing month: it is not part of {month}.")
    return CAUSES.get(cause, str(cause))


def _code(currency: Any, default: str = "USD") -> str:
    return currency.strip().upper() if isinstance(currency, str) and currency.strip() else default


def _currency_mismatch(r: Mapping[str, Any], cust: str, prod: str, agr: str, vq: str) -> str:
    """Rule 7.1: both currencies named, nothing converted; the vendor's own rate shown where its file gave one."""
    line, theirs = _code(r.get("currency")), _code(r.get("agreement_currency"), "another currency")
    if r.get("other_currency"):
        return (f"The vendor bills {prod} for {cust} in {line} here and in another currency on its other lines: "
                f"one ConnectWise line cannot bill two currencies and billbridge never converts them. Ask the vendor "
                f"to bill the subscription in one currency.")
    text = (f"The vendor bills {prod} ({vq}) for {cust} in {line}, but {agr} bills in {theirs}: billbridge never "
            f"converts currencies. Map {cust} to an agreement in {line}, or change the agreement's currency in "
            f"ConnectWise.")
    rate = str(r.get("exchange_rate") or "").strip()
    pricing = _code(r.get("pricing_currency"), "")
    if rate and (pricing and pricing != line or rate.rstrip("0").rstrip(".") != "1"):
        source = f" from {pricing}" if pricing and pricing != line else ""
        text += f" The vendor's file gives an exchange rate of {rate}{source} to {line}; it is shown, not applied."
    return text


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
    if cause == "past_month":
        newer = month_name(r.get("newest_pushed_month"))
        return (f"The vendor no longer billed {prod} for {cust} in {month_name(month)}, but billbridge already pushed "
                f"{newer}, whose values the line on {agr} holds: the {month_name(month)} plan does not end it "
                f"({newer}'s plan decides).")
    if cause:
        return f"The vendor no longer bills {prod} for {cust}, but {agr} is {cause.split('_')[1]}: nothing to end there."
    if r["action"] == "in_sync":
        return f"{cust}: {prod} on {agr} already ends on {r['end_on']}, as the vendor stopped billing it."
    why = f"the agreement was already invoiced for {month}" if r["invoiced"] else f"the last invoiced month is before {month}"
    return (f"{cust}: the vendor no longer bills {prod} ({quantity(r['cw_quantity'])} on {agr}): end the line on "
            f"{r['end_on']} ({why}); the line is kept for history, not deleted.")


def _nonzero(r: Mapping[str, Any]) -> bool:
    try:
        return Decimal(r["correction_quantity"]) * Decimal(r["correction_price"]) != 0
    except (TypeError, ArithmeticError):
        return False
