"""Impact: what a row changes in the customer's monthly bill and in the MSP's margin -> the macros
``price_impact`` and ``margin_impact``, which the plan rows compute where each row's targets are at hand
(:data:`COLUMNS`): a row that creates or updates moves money, every other row moves none (``0``).

Rules implemented (billing-rules.md):

- **Rule 7.4 / 7.5** "round to the currency's minor unit once per line ... Since CW invoices print extended
  prices per line, round per line": every extended amount (quantity x unit, the SQL twin of
  :func:`billbridge.money.extended`) is rounded once, and the impacts are exact differences of those.
- **Rule 2.4** "compute the expected CW proration for each change and show it next to the vendor's figure"
  is :mod:`~billbridge.rules.proration`; this is the full-month figure.

``price_impact`` = new quantity x new price - old quantity x old price; ``margin_impact`` = the same for
(price - cost). A create has no old line; rows that write nothing move no money (``0``).
"""

from __future__ import annotations

DECIDES = ()

MACROS = """
CREATE MACRO revenue(q, u, places) AS coalesce(rounded(exact(q) * exact(u), places), 0);
CREATE MACRO old_revenue(action, q, u, places) AS CASE WHEN action = 'create' THEN 0 ELSE revenue(q, u, places) END;
CREATE MACRO price_impact(action, new_q, new_price, cw_q, cw_price, places) AS
    CASE WHEN action IN ('create', 'update')
         THEN money(revenue(new_q, new_price, places) - old_revenue(action, cw_q, cw_price, places), places)
         ELSE '0' END;
CREATE MACRO margin_impact(action, new_q, new_price, new_cost, cw_q, cw_price, cw_cost, places) AS
    CASE WHEN action IN ('create', 'update')
         THEN money((revenue(new_q, new_price, places) - revenue(new_q, new_cost, places))
                    - (old_revenue(action, cw_q, cw_price, places) - old_revenue(action, cw_q, cw_cost, places)), places)
         ELSE '0' END;
"""

#: the two impacts of a plan row over its targets ``t`` and group ``g``
COLUMNS = """price_impact(t.action, t.new_quantity, t.new_unit_price, t.cw_quantity, t.cw_unit_price, g.places)
                 AS price_impact,
             margin_impact(t.action, t.new_quantity, t.new_unit_price, t.new_unit_cost, t.cw_quantity, t.cw_unit_price,
                           t.cw_unit_cost, g.places) AS margin_impact,
             NULL::VARCHAR AS impact_by_cause"""

