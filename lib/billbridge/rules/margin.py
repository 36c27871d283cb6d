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

DECIDES = ("negative_margin", "low_margin", "overrides_negative_margin", "cost_only_change")

MACROS = """
CREATE MACRO rule_price(rule, value, cost, places) AS
    CASE rule WHEN 'fixed' THEN CASE WHEN value IS NOT NULL THEN money(exact(value), places) END
              WHEN 'markup' THEN CASE WHEN cost IS NOT NULL AND value IS NOT NULL
                                      THEN money(CAST(cost AS DECIMAL(38, 10))
                                                 * CAST(1 + CAST(value AS DECIMAL(20, 8)) * CAST(0.01 AS DECIMAL(4, 2))
                                                        AS DECIMAL(20, 10)), places) END END;
CREATE MACRO rule_owns_price(rule) AS coalesce(rule IN ('fixed', 'markup'), FALSE);
CREATE MACRO margin_pct(price, cost) AS
    CASE WHEN price IS NOT NULL AND cost IS NOT NULL AND exact(price) <> 0
         THEN money((exact(price) - exact(cost)) * 100 / exact(price), 2) END;
CREATE MACRO below_cost(credit, price, cost) AS
    coalesce(NOT credit AND exact(price) < exact(cost), FALSE);
CREATE MACRO negative_margin(would_write, credit, price, cost, overridden) AS
    CASE WHEN would_write AND below_cost(credit, price, cost) AND NOT overridden THEN 'negative_margin' END;
CREATE MACRO low_margin(credit, price, cost, threshold) AS
    coalesce(NOT credit AND exact(price) > 0 AND exact(price) >= exact(cost)
             AND (exact(price) - exact(cost)) * 100 < exact(threshold) * exact(price), FALSE);
"""

#: where the flags of this file come from, over the rows' ``targets t`` (the rows' flags, rules/flags.py)
FLAG_SQL = {
    "low_margin": "t.low_margin",
    "overrides_negative_margin": "t.overrides_negative_margin",
    "cost_only_change": "t.action = 'update' AND t.d_cost AND NOT t.d_price",
}

#: the plan row columns this file fills, over the vendor row's targets ``t`` and group ``g``
COLUMNS = "t.margin_pct_before, t.margin_pct_after, g.price_rule AS price_rule"
