"""Impact: what a row changes in the customer's monthly bill and in the MSP's margin, and why -> the macros
``price_impact``, ``margin_impact`` and the four parts of ``impact_by_cause``, which the plan rows compute
where each row's targets are at hand (:data:`COLUMNS`, :data:`CANCEL_COLUMNS`): a row that creates, updates or
ends a line moves money, every other row moves none (``0``) and has no ``impact_by_cause`` (NULL).

Rules implemented (billing-rules.md):

- **Rule 7.4 / 7.5** "round to the currency's minor unit once per line ... Since CW invoices print extended
  prices per line, round per line": every extended amount (quantity x unit, the SQL twin of
  :func:`billbridge.money.extended`) is rounded once, and the impacts are exact differences of those.
- **Rule 2.4** "compute the expected CW proration for each change and show it next to the vendor's figure"
  is :mod:`~billbridge.rules.proration`; this is the full-month figure.

``price_impact`` = new quantity x new price - old quantity x old price; ``margin_impact`` = the same for
(price - cost). A create has no old line; rows that write nothing move no money (``0``).

**Impact by cause** (issue 12: "every dollar of variance explained by cause"). Each changed row
(create, update, cancel) splits its ``price_impact`` into the parts of
:data:`billbridge.model.IMPACT_CAUSES`, each a money amount in the row's currency, which add up to
``price_impact`` exactly (to the cent, on every row). With ``q0``, ``p0`` the line's quantity and unit price
in ConnectWise now and ``q1``, ``p1`` after the change:

- ``credit``: a credit row (charge type ``credit``, Rule 6.5) is explained by the credit: its whole impact
  is ``credit`` and the other parts are 0.
- ``quantity``: the change of quantity at the old price, ``round((q1 - q0) x p0)``. A create (no old line)
  and a cancel (the line goes to nothing) are all quantity; so is an update whose unit price does not change
  (then the part is the whole impact, not the rounded product: each extended amount is rounded once).
  An update whose quantity does not change has no quantity part (0).
- ``price``: the change of unit price at the new quantity, ``q1 x (p1 - p0)``, taken as the **remainder**
  ``price_impact - quantity``: the rounding difference (at most a cent or so) between the two rounded extended
  amounts and the rounded quantity part goes here, the one part a rounding difference can arise in (a
  part whose driver did not change is exactly 0).
- ``proration``: when the vendor prorated the row's unit (flag ``vendor_prorated``: the vendor charged part of
  a period and its unit was restored to the full period, which need not be to the cent the old price), a
  change of unit price on it is the vendor's proration, not a price change: the part ``price`` would take
  goes to ``proration`` instead. ConnectWise's own proration of a mid-month start (``cw_proration``) is
  billed beside the monthly amount (Rule 2.2: on the next invoice), never in ``price_impact``, so it
  explains none of it.

:func:`parts` is the Python twin of the SQL (``tests/rules/test_impact.py`` proves they agree and, by
hypothesis, that the parts always sum to the impact). :func:`totals` adds the parts of a plan's rows per
currency (the plan summary's ``impact_by_cause``: ``{currency: {cause: Decimal}}``, two currencies never
added).
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from billbridge.model import IMPACT_CAUSES
from billbridge.money import extended, quantum

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ()

#: the actions whose rows carry an ``impact_by_cause``
CHANGED = ("create", "update", "cancel")

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
-- impact by cause (module docstring), over a plan row's own columns: the places are those of its price impact
-- (a changed row's impact is money in its currency's minor unit). First the quantity part of a row (no credit)
CREATE MACRO impact_quantity_part(action, new_q, new_price, cw_q, cw_price, impact) AS
    CASE WHEN action NOT IN ('create', 'update', 'cancel') THEN NULL
         WHEN action IN ('create', 'cancel') OR exact(new_price) IS NOT DISTINCT FROM exact(cw_price) THEN exact(impact)
         WHEN exact(new_q) IS NOT DISTINCT FROM exact(cw_q) THEN exact('0')
         ELSE rounded((coalesce(exact(new_q), 0) - coalesce(exact(cw_q), 0)) * coalesce(exact(cw_price), 0),
                      places_of(impact))
    END;
CREATE MACRO impact_part(part, action, credit, prorated, quantity_part, impact) AS
    CASE WHEN action NOT IN ('create', 'update', 'cancel') THEN NULL
         WHEN credit THEN money(CASE WHEN part = 'credit' THEN exact(impact) ELSE 0 END, places_of(impact))
         WHEN part = 'quantity' THEN money(quantity_part, places_of(impact))
         WHEN part = (CASE WHEN prorated THEN 'proration' ELSE 'price' END)
              THEN money(exact(impact) - quantity_part, places_of(impact))
         ELSE money(0, places_of(impact)) END;
CREATE MACRO impact_json(q, p, r, c) AS
    CASE WHEN q IS NOT NULL THEN CAST(json_object('quantity', q, 'price', p, 'proration', r, 'credit', c) AS VARCHAR) END;
"""

#: the impacts of a plan row over its targets ``t`` and group ``g``
COLUMNS = """price_impact(t.action, t.new_quantity, t.new_unit_price, t.cw_quantity, t.cw_unit_price, g.places)
                 AS price_impact,
             margin_impact(t.action, t.new_quantity, t.new_unit_price, t.new_unit_cost, t.cw_quantity, t.cw_unit_price,
                           t.cw_unit_cost, g.places) AS margin_impact"""

#: the parts' columns a plan row carries until :func:`with_parts` has made them its ``impact_by_cause`` (and the
#: summary has added them up: :func:`totals`)
PART_COLUMNS = tuple(f"impact_{p}" for p in IMPACT_CAUSES)


def with_parts(rows: str) -> str:
    """SQL: the plan rows of the query ``rows`` (a row per plan row, with its ``action``, ``charge_type``,
    ``flags``, quantities, prices and ``price_impact``) with the parts :data:`PART_COLUMNS` and their JSON,
    ``impact_by_cause`` (``{"quantity": "2.00", ...}``; NULL for a row that changes nothing)."""
    parts = ",\n           ".join(
        f"impact_part('{p}', action, coalesce(charge_type = 'credit', FALSE), "
        f"coalesce(contains(',' || flags || ',', ',vendor_prorated,'), FALSE), quantity_part, price_impact) "
        f"AS impact_{p}" for p in IMPACT_CAUSES)
    return f"""
    SELECT *, impact_json({", ".join(PART_COLUMNS)}) AS impact_by_cause FROM (
    SELECT * EXCLUDE (quantity_part), {parts} FROM (
    SELECT *, impact_quantity_part(action, new_quantity, new_unit_price, cw_quantity, cw_unit_price, price_impact)
              AS quantity_part
    FROM ({rows})))"""


def parts(action: str, new_quantity, new_unit_price, cw_quantity, cw_unit_price, currency: str = "USD", *,
          credit: bool = False, prorated: bool = False) -> dict[str, Decimal] | None:
    """``{cause: amount}`` of one row's price impact (the Python twin of the SQL; module docstring), None for a
    row that changes nothing. Amounts are Decimals in ``currency``'s minor unit."""
    if action not in CHANGED:
        return None
    unit = quantum(currency)
    zero = Decimal(0).quantize(unit)

    def d(v):
        return None if v is None else Decimal(v)

    q1, p1, q0, p0 = d(new_quantity), d(new_unit_price), d(cw_quantity), d(cw_unit_price)
    new = extended(q1, p1, currency) or zero
    old = zero if action == "create" else (extended(q0, p0, currency) or zero)
    impact = (zero - old) if action == "cancel" else (new - old)
    out = dict.fromkeys(IMPACT_CAUSES, zero)
    if credit:
        out["credit"] = impact
        return out
    if action in ("create", "cancel") or p1 == p0:
        quantity = impact
    elif q1 == q0:
        quantity = zero
    else:
        quantity = ((q1 or 0) - (q0 or 0)) * (p0 or 0)
        quantity = extended(quantity, 1, currency)
    out["quantity"] = quantity
    out["proration" if prorated else "price"] = impact - quantity
    return out


def totals(run: "Run", table: str = "plan_rows") -> dict[str, dict[str, Decimal]]:
    """The parts of the changed rows of ``table`` added up per currency: ``{currency: {cause: Decimal}}`` (the
    plan summary's ``impact_by_cause``; currencies in code order, causes in :data:`IMPACT_CAUSES` order)."""
    sums = ", ".join(f"sum(exact(impact_{p})), max(places_of(impact_{p}))" for p in IMPACT_CAUSES)
    out: dict[str, dict[str, Decimal]] = {}
    for cur, *values in run.fetch(f"""
            SELECT coalesce(currency, 'USD') AS cur, {sums} FROM {table}
            WHERE impact_quantity IS NOT NULL GROUP BY cur ORDER BY cur"""):
        out[cur] = {p: Decimal(total).quantize(Decimal(1).scaleb(-(places or 0)))
                    for p, total, places in zip(IMPACT_CAUSES, values[0::2], values[1::2])}
    return out
