"""Impact: what a row changes in the customer's monthly bill and in the MSP's margin -> view ``impact``
(the rows that create or update; every other row moves no money).

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

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ()

MACROS = """
CREATE MACRO revenue(q, u, places) AS exact(coalesce(extended(q, u, places), '0'));
"""


def apply(run: "Run") -> None:
    run.view("impact", """
        WITH revenues AS (
            SELECT t.gi, g.places, revenue(t.new_quantity, t.new_unit_price, g.places) AS new_revenue,
                   revenue(t.new_quantity, t.new_unit_cost, g.places) AS new_cost,
                   CASE WHEN t.action = 'create' THEN 0 ELSE revenue(t.cw_quantity, t.cw_unit_price, g.places) END
                       AS old_revenue,
                   CASE WHEN t.action = 'create' THEN 0 ELSE revenue(t.cw_quantity, t.cw_unit_cost, g.places) END
                       AS old_cost
            FROM targets t JOIN groups g USING (gi) WHERE t.action IN ('create', 'update'))
        SELECT gi, money(new_revenue - old_revenue, places) AS price_impact,
               money((new_revenue - new_cost) - (old_revenue - old_cost), places) AS margin_impact
        FROM revenues""")
