"""Grouped: one plan row per plan key, the vendor lines behind it summed -> table ``groups``.

Rules implemented (billing-rules.md):

- **Section 8** "Target exactly one active addition per (agreement, product)" and **Rule 5.2** (one
  persistent addition per subscription): every vendor line with the same key is one ConnectWise line, so
  the lines behind a key are one plan row: quantities and amounts add up, the row lists its lines.
- **Rule 7.5** "Pick round-then-sum or sum-then-round deliberately": amounts were rounded once per line
  (:mod:`billbridge.rules.normalise`) and are summed here exactly, so the row's amount is the sum of what
  the vendor printed per line.
- **Rule 4.2** "Never assume one unit cost per SKU": lines of one key with different unit costs are flagged
  ``mixed_unit_costs`` and the row takes their quantity-weighted unit (4 places).

- **Section 9, "Rule 7.1 in totals"** (two currencies are never added): the lines of one key billed in
  several currencies are one row per currency; the first line's currency keeps the key, each other
  currency's row gets ``<key>|<currency>`` and is marked ``other_currency`` (blocked ``currency_mismatch``
  by :mod:`billbridge.rules.currency`: one ConnectWise line cannot bill two currencies).

The row takes its other attributes (customer, mapping, landing) from its first line, whose ``li`` is the
row's id ``gi``. Rows keep the order of the vendor file, keys of several lines after those of one
(``position``).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

import pyarrow as pa

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("mixed_unit_costs",)

ZERO = Decimal(0)
_UNIT = Decimal("0.0001")

#: what a row takes from its first line
FIRST = ("line_key", "credit_for", "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id",
         "sku", "product_name", "charge_type", "term", "billing_frequency", "currency", "places", "company_id",
         "agreement_id",
         "sync_mode", "period_rule", "catalog_item_id", "own_cost", "own_price", "quantity_basis", "do_not_sync",
         "fixed_quantity", "cap", "in_period", "price_rule", "price_value", "margin_threshold")


def combine(quantities: list[Decimal], costs: list[Decimal | None], prices: list[Decimal | None],
            amounts: list[Decimal]) -> dict[str, object]:
    """The values of a row behind several vendor lines (exact sums; a unit is the lines' common unit,
    else their quantity-weighted mean, unknown when one line has none)."""
    qty = sum(quantities, ZERO)

    def unit(values: list[Decimal | None]) -> Decimal | None:
        if any(v is None for v in values):
            return None
        if len(set(values)) == 1 or not qty:
            return values[0]
        return (sum((q * v for q, v in zip(quantities, values)), ZERO) / qty).quantize(_UNIT)

    return {"quantity": qty, "unit_cost": unit(costs), "unit_price": unit(prices), "amount": sum(amounts, ZERO),
            "mixed_unit_costs": len(set(costs)) > 1}


def apply(run: "Run") -> None:
    run.view("lines", """
        SELECT * FROM normalised JOIN mapped USING (li) JOIN landed USING (li) JOIN line_keys USING (li)""")
    key_groups = """
        SELECT key, min(li) AS li, count(*) AS line_count, min(effective_date) AS effective_date,
               min(period_start) AS period_start, max(period_end) AS period_end,
               bool_or(vendor_prorated) AS vendor_prorated, count(DISTINCT currency) AS currencies,
               {other} AS other_currency
        FROM {keys} JOIN normalised USING (li) GROUP BY key"""
    keys = "line_keys"
    run.create("key_groups", key_groups.format(keys=keys, other="FALSE"))
    if run.fetch("SELECT count(*) FROM key_groups WHERE currencies > 1")[0][0]:  # rare: split per currency
        run.create("split_keys", """
            SELECT k.li, k.line_key, k.credit_for, n.currency <> f.currency AS other_currency,
                   CASE WHEN n.currency = f.currency THEN k.key ELSE k.key || '|' || n.currency END AS key
            FROM line_keys k JOIN normalised n USING (li)
            JOIN (SELECT k.key, arg_min(n.currency, k.li) AS currency FROM line_keys k JOIN normalised n USING (li)
                  GROUP BY k.key) f ON f.key = k.key""")
        keys = "split_keys"
        run.create("key_groups", key_groups.format(keys=keys, other="bool_or(other_currency)"))
    multi = run.fetch(f"""
        SELECT key, list(line_no ORDER BY li), list(quantity ORDER BY li), list(unit_cost ORDER BY li),
               list(unit_price ORDER BY li), list(amount ORDER BY li)
        FROM {keys} JOIN normalised USING (li)
        WHERE key IN (SELECT key FROM key_groups WHERE line_count > 1)
        GROUP BY key""") if run.fetch("SELECT count(*) FROM key_groups WHERE line_count > 1")[0][0] else []

    def dec(values: list[str | None]) -> list[Decimal | None]:
        return [None if v is None else Decimal(v) for v in values]

    rows = [combine(*(dec(v) for v in values)) for _key, _line_nos, *values in multi]
    text = {c: pa.array([None if r[c] is None else str(r[c]) for r in rows], pa.string())
            for c in ("quantity", "unit_cost", "unit_price", "amount")}
    run.register("combined", pa.table({"key": pa.array([m[0] for m in multi], pa.string()),
                                       "vendor_lines": pa.array([m[1] for m in multi], pa.list_(pa.int64())), **text,
                                       "mixed_unit_costs": pa.array([r["mixed_unit_costs"] for r in rows], pa.bool_())}))
    first = ", ".join(f"l.{c}" for c in FIRST)
    several = ", ".join(f"CASE WHEN g.line_count = 1 THEN l.{c} ELSE c.{c} END AS {c}"
                        for c in ("quantity", "unit_cost", "unit_price", "amount"))
    run.create("groups", f"""
        SELECT g.li AS gi, g.li + CASE WHEN g.line_count > 1 THEN (SELECT count(*) FROM normalised) ELSE 0 END
                   AS position,
               g.key, g.line_count,
               CASE WHEN g.line_count = 1 THEN [l.line_no] ELSE c.vendor_lines END AS vendor_lines,
               {first}, g.effective_date, g.period_start, g.period_end, g.vendor_prorated, {several},
               coalesce(c.mixed_unit_costs, FALSE) AS mixed_unit_costs, g.other_currency
        FROM key_groups g JOIN lines l ON l.li = g.li LEFT JOIN combined c ON c.key = g.key""")
