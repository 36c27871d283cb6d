"""Keys: the line key each vendor line is synced under, and its plan row key -> table ``line_keys``
(``li``, ``line_key``, ``key``, ``credit_for``).

Rules implemented (billing-rules.md):

- **Rule 8** "Give each addition a stable external key, so deletes and re-mappings don't create
  duplicates": the key names what the vendor bills (vendor, customer, subscription or SKU), never a
  ConnectWise id. The format is :func:`billbridge.linekey.line_key`'s: its SQL twin
  (:func:`~billbridge.linekey.line_key_sql`) keys every line in one pass, and ``line_key`` itself the lines
  the twin leaves to it (a part to clean, a key to hash, a line without subscription or SKU).
- **Rule 5.2** "AppXite keeps one persistent addition per subscription for recurring charges ... One-time
  charges ... create or update their own additions": lines of a ``monthly`` agreement mapping, one-time
  charges and credits live in one month only, so their key carries the month (credits also ``credit``,
  Rule 6.5: a credit is its own line, never the original one).
- A line of another billing month gets a plan key of its own (``...|out``), so it can never be confused
  with (or keep alive) the line the month does sync.

``credit_for`` names the original line a credit refunds (its standing key, Rule 6.5).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge.errors import InputError
from billbridge.linekey import KIND_CREDIT, KIND_OUT_OF_PERIOD, MAX_KEY_LEN, line_key, line_key_sql
from billbridge.rules import sql

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ()


def keys_for(vendor: str, month: str, customer: str, subscription: str | None, sku: str | None, monthly: bool,
             credit: bool, in_period: bool) -> tuple[str, str, str | None]:
    """``(line key, plan key, credit_for)`` of one vendor line."""
    kind = KIND_CREDIT if credit else None
    key = line_key(vendor, customer, subscription, sku, month if monthly else None, kind)
    plan_key = key
    if not in_period:
        plan_key = f"{key}|{KIND_OUT_OF_PERIOD}"
        if len(plan_key) > MAX_KEY_LEN:
            plan_key = line_key(vendor, customer, subscription, sku, month if monthly else None,
                                "|".join(k for k in (kind, KIND_OUT_OF_PERIOD) if k))
    return key, plan_key, line_key(vendor, customer, subscription, sku) if credit else None


def apply(run: "Run") -> None:
    # every line in one pass with linekey's SQL twin; the lines it leaves to line_key itself, one at a time
    lines = """
        SELECT li, line_no, vendor_customer_id, subscription_id, sku,
               (sync_mode = 'monthly' OR charge_type IN ('one_time', 'credit')) IS TRUE AS monthly,
               charge_type = 'credit' AS credit, in_period
        FROM normalised JOIN mapped USING (li) JOIN landed USING (li)"""
    vendor = sql.literal(run.context.vendor)
    key = line_key_sql(vendor, "vendor_customer_id", "subscription_id", "sku", "CASE WHEN monthly THEN billing_month() END",
                       f"CASE WHEN credit THEN '{KIND_CREDIT}' END")
    original = line_key_sql(vendor, "vendor_customer_id", "subscription_id", "sku", "NULL", "NULL")
    run.create("keyed_lines", f"""
        WITH k AS (SELECT *, {key} AS line_key, CASE WHEN credit THEN {original} END AS credit_for FROM ({lines}))
        SELECT li, line_key,
               CASE WHEN in_period THEN line_key
                    WHEN length(line_key) + {len(KIND_OUT_OF_PERIOD) + 1} <= {MAX_KEY_LEN}
                    THEN line_key || '|{KIND_OUT_OF_PERIOD}' END AS key, credit_for,
               line_key IS NULL OR (credit AND credit_for IS NULL) AS by_line_key
        FROM k""")
    parts = run.columns(f"""
        SELECT l.* FROM ({lines}) l JOIN keyed_lines k USING (li)
        WHERE k.by_line_key OR k.key IS NULL ORDER BY li""")
    vendor, month = run.context.vendor, run.month
    line_keys: list[str] = []
    plan_keys: list[str] = []
    credit_for: list[str | None] = []
    for line_no, cust, sub, sku, monthly, credit, inside in zip(
            parts["line_no"], parts["vendor_customer_id"], parts["subscription_id"], parts["sku"], parts["monthly"],
            parts["credit"], parts["in_period"]):
        try:
            key, plan_key, original = keys_for(vendor, month, cust, sub, sku, monthly, credit, inside)
        except ValueError as exc:
            raise InputError(f"Vendor line {line_no}: it needs a subscription id or a SKU.", row=int(line_no),
                             column="sku", reason="a line key needs a subscription id or a SKU") from exc
        line_keys.append(key)
        plan_keys.append(plan_key)
        credit_for.append(original)
    if not parts["li"]:
        run.view("line_keys", "SELECT li, line_key, key, credit_for FROM keyed_lines")
        return
    run.register("keyed_by_python", pa.table({
        "li": pa.array(parts["li"], pa.int64()),
        "line_key": pa.array(line_keys, pa.string()),
        "key": pa.array(plan_keys, pa.string()),
        "credit_for": pa.array(credit_for, pa.string()),
    }))
    run.create("line_keys", """
        SELECT k.li, coalesce(p.line_key, k.line_key) AS line_key, coalesce(p.key, k.key) AS key,
               CASE WHEN p.li IS NULL THEN k.credit_for ELSE p.credit_for END AS credit_for
        FROM keyed_lines k LEFT JOIN keyed_by_python p USING (li)""")
