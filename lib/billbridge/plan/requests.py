"""The exact ConnectWise request a changed plan row implies, and its field-level diff (pure).

``writes`` is ``[{field, from, to}]`` (values as the plan holds them: Decimals, ISO dates); ``request`` is
``{method, path, body}`` with ``path`` relative to the API root and JSON-ready numbers in the body. A line
is created with POST, changed and ended with PATCH; billbridge never sends DELETE (Rule 6.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from billbridge.plan.inputs import Context, cw_date

__all__ = ["number", "create", "update", "end", "correction"]

_BASE = "/finance/agreements"


def number(d: Decimal | None) -> int | float | None:
    """A Decimal as the JSON number ConnectWise receives (an int when whole)."""
    if d is None:
        return None
    return int(d) if d == d.to_integral_value() else float(d)


def _key_field(ctx: Context, key: str) -> dict[str, Any]:
    return {"id": ctx.line_key_field_id, "caption": ctx.line_key_field, "value": key}


def create(r: Mapping[str, Any], ctx: Context) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """POST a new addition: product, quantity, the owned price and cost, dates, the line key."""
    product = {"id": r["catalog_item_id"]}
    body: dict[str, Any] = {"product": product, "billCustomer": ctx.bill_customer, "quantity": number(r["new_quantity"])}
    diff = [{"field": "product", "from": None, "to": {"id": r["catalog_item_id"]}},
            {"field": "quantity", "from": None, "to": r["new_quantity"]}]
    if r["write_price"] and r["new_unit_price"] is not None:  # the price rule's price (rules/margin.py)
        body["unitPrice"] = number(r["new_unit_price"])
        diff.append({"field": "unitPrice", "from": None, "to": r["new_unit_price"]})
    if r["write_cost"]:
        body["unitCost"] = number(r["vendor_unit_cost"])
        diff.append({"field": "unitCost", "from": None, "to": r["vendor_unit_cost"]})
    body["effectiveDate"] = cw_date(r["target_eff"])
    diff.append({"field": "effectiveDate", "from": None, "to": r["target_eff"]})
    if r["target_can"] is not None:
        body["cancelledDate"] = cw_date(r["target_can"])
        diff.append({"field": "cancelledDate", "from": None, "to": r["target_can"]})
    body["customFields"] = [_key_field(ctx, r["line_key"])]
    diff.append({"field": f"customFields/{ctx.line_key_field}", "from": None, "to": r["line_key"]})
    return diff, {"method": "POST", "path": f"{_BASE}/{r['agreement_id']}/additions", "body": body}


def correction(r: Mapping[str, Any], ctx: Context) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """POST a past month's correction line (billing-rules section 9, Rule 6.6): the difference as a one-month
    line dated the 1st to the last day of the month, keyed ``<line key>|<month>|correction``."""
    body: dict[str, Any] = {"product": {"id": r["catalog_item_id"]}, "billCustomer": ctx.bill_customer,
                            "quantity": number(r["new_quantity"])}
    diff = [{"field": "product", "from": None, "to": {"id": r["catalog_item_id"]}},
            {"field": "quantity", "from": None, "to": r["new_quantity"]}]
    for name, value in (("unitPrice", r["new_unit_price"]), ("unitCost", r["new_unit_cost"])):
        if value is not None:
            body[name] = number(value)
            diff.append({"field": name, "from": None, "to": value})
    for name, value in (("effectiveDate", r["effective_date"]), ("cancelledDate", r["cancelled_date"])):
        body[name] = cw_date(value)
        diff.append({"field": name, "from": None, "to": value})
    body["customFields"] = [_key_field(ctx, r["correction_key"])]
    diff.append({"field": f"customFields/{ctx.line_key_field}", "from": None, "to": r["correction_key"]})
    return diff, {"method": "POST", "path": f"{_BASE}/{r['agreement_id']}/additions", "body": body}


def update(r: Mapping[str, Any], ctx: Context) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """PATCH the fields that differ (``replace`` operations), in a fixed order."""
    ops: list[dict[str, Any]] = []
    diff: list[dict[str, Any]] = []

    def replace(path: str, old: Any, new: Any, wire: Any) -> None:
        ops.append({"op": "replace", "path": path, "value": wire})
        diff.append({"field": path, "from": old, "to": new})

    if r["d_product"]:
        replace("product", {"id": r["cw_product"]}, {"id": r["catalog_item_id"]}, {"id": r["catalog_item_id"]})
    if r["d_qty"]:
        replace("quantity", r["cw_quantity"], r["vendor_quantity"], number(r["vendor_quantity"]))
    if r["d_price"]:
        replace("unitPrice", r["cw_unit_price"], r["new_unit_price"], number(r["new_unit_price"]))
    if r["d_cost"]:
        replace("unitCost", r["cw_unit_cost"], r["vendor_unit_cost"], number(r["vendor_unit_cost"]))
    if r["d_dates"]:
        if r["cw_effective_date"] != r["target_eff"]:
            replace("effectiveDate", r["cw_effective_date"], r["target_eff"], cw_date(r["target_eff"]))
        if r["cw_cancelled_date"] != r["target_can"]:
            replace("cancelledDate", r["cw_cancelled_date"], r["target_can"], cw_date(r["target_can"]))
    if r["d_key"]:
        ops.append({"op": "replace", "path": "customFields", "value": [_key_field(ctx, r["line_key"])]})
        diff.append({"field": f"customFields/{ctx.line_key_field}", "from": None, "to": r["line_key"]})
    path = f"{_BASE}/{r['agreement_id']}/additions/{r['cw_addition_id']}"
    return diff, {"method": "PATCH", "path": path, "body": ops}


def end(r: Mapping[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """PATCH ``cancelledDate``: the line ends, and stays for history (Rules 6.1, 6.2)."""
    diff = [{"field": "cancelledDate", "from": r["cw_cancelled_date"], "to": r["end_on"]}]
    path = f"{_BASE}/{r['agreement_id']}/additions/{r['cw_addition_id']}"
    return diff, {"method": "PATCH", "path": path,
                  "body": [{"op": "replace", "path": "cancelledDate", "value": cw_date(r["end_on"])}]}
