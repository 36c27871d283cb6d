"""Margin: the price rule of each product mapping, the margin before and after a change, and the margin guard
-> the macros :data:`MACROS` that :mod:`~billbridge.rules.targets` prices with and the plan rows list; cause
``negative_margin``; flags ``low_margin``, ``overrides_negative_margin``, ``cost_only_change``.

Rules implemented (billing-rules.md):

- **Rule 7.3** "Decide per mapping which fields the app owns: quantity, cost, price ... PRICE strategies
  (sync cost and retail, or cost only, etc.) ... C3 can use CW's catalogue prices": a product mapping's
  ``price_rule`` (:data:`billbridge.model.PRICE_RULES`) says where a line's customer price comes from:

  ===============  ==================================================================================
  ``vendor_price`` the vendor's customer price, when the mapping owns the price (``own_price``; the default)
  ``keep``         ConnectWise's own price: billbridge never writes ``unitPrice`` (a create takes the catalog's)
  ``fixed``        ``price_value`` as the unit price
  ``markup``       the vendor's unit cost plus ``price_value`` percent, rounded once to the currency's minor
                   unit (half away from zero: ``money(...)``, the SQL twin of :func:`billbridge.money.quantize`)
  ===============  ==================================================================================

  A ``fixed`` or ``markup`` rule owns the price whatever ``own_price`` says; a credit is priced by a ``fixed``
  or ``markup`` rule too, else as Rule 6.5 says (:mod:`~billbridge.rules.targets`). Dated example (2026-11):
  SKU M365-BP-ANN with ``markup`` 25 and a vendor cost of $18.00 bills $22.50; when the vendor raises its cost
  to $20.00 the plan proposes $25.00, the cost $18.00 -> $20.00 and the margin 20.00% -> 20.00%; under
  ``keep`` (ConnectWise bills $22.50) the same increase is a *cost-only change* (``cost_only_change``: the
  MSP's cost moves, the customer's price does not) and the margin falls 20.00% -> 11.11%.
- **Rule 7.4 / 7.5** (exact money): the margin of a unit is ``(price - cost) / price``, shown as a percent
  with two places (``margin_pct_before`` from ConnectWise's line, ``margin_pct_after`` from what the row
  leaves); the threshold is compared exactly, ``(price - cost) x 100 < threshold x price``.

The margin guard: a row whose unit price after the change is below its unit cost is blocked
(``negative_margin``) unless the operator overrides it (flag ``overrides_negative_margin``); one whose margin
is below the threshold of its product mapping (``margin_threshold``, else the global default stored in the
database, else :data:`billbridge.model.DEFAULT_MARGIN_THRESHOLD`) is flagged ``low_margin``. Credits are never
margin-guarded (a refund at cost is not a loss). Rows that write nothing are only flagged.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("negative_margin", "low_margin", "overrides_negative_margin", "cost_only_change")

MACROS = """
CREATE MACRO rule_price(rule, value, cost, places) AS
    CASE rule WHEN 'fixed' THEN value
              WHEN 'markup' THEN CASE WHEN cost IS NOT NULL AND value IS NOT NULL
                                      THEN money(exact(cost) * (1 + exact(value) / 100), places) END END;
CREATE MACRO rule_owns_price(rule) AS coalesce(rule IN ('fixed', 'markup'), FALSE);
CREATE MACRO margin_pct(price, cost) AS
    CASE WHEN price IS NOT NULL AND cost IS NOT NULL AND exact(price) <> 0
         THEN CAST(CAST(round(CAST(exact(price) - exact(cost) AS DOUBLE) * 100 / CAST(exact(price) AS DOUBLE), 2)
                        AS DECIMAL(18, 2)) AS VARCHAR) END;
CREATE MACRO below_cost(credit, price, cost) AS
    coalesce(NOT credit AND exact(price) < exact(cost), FALSE);
CREATE MACRO negative_margin(would_write, credit, price, cost, overridden) AS
    CASE WHEN would_write AND below_cost(credit, price, cost) AND NOT overridden THEN 'negative_margin' END;
CREATE MACRO low_margin(credit, price, cost, threshold) AS
    coalesce(NOT credit AND exact(price) > 0 AND exact(price) >= exact(cost)
             AND (exact(price) - exact(cost)) * 100 < exact(threshold) * exact(price), FALSE);
"""

#: where the flags of this file come from, over the rows' ``targets t`` (the rows' flags, rules/flags.py)
FLAG_SQL = {  # FOUNDATION: never set until the margin guard is applied (not yet a step of the engine)
    "low_margin": "FALSE",
    "overrides_negative_margin": "FALSE",
    "cost_only_change": "FALSE",
}

#: the plan row columns this file fills, over the vendor row's tables (FOUNDATION: margins NULL for now)
COLUMNS = "NULL::VARCHAR AS margin_pct_before, NULL::VARCHAR AS margin_pct_after, g.price_rule AS price_rule"


def apply(run: "Run") -> None:
    # the price each row's product mapping sets (NULL: the rule sets none) and its margin threshold
    run.view("priced", """
        SELECT gi, coalesce(price_rule, 'vendor_price') AS price_rule,
               rule_price(price_rule, price_value, unit_cost, places) AS rule_price,
               coalesce(margin_threshold, default_margin_threshold()) AS margin_threshold
        FROM groups""")
