"""Flags: what the operator should know about a row that does not block it -> :func:`vendor_row_flags` and
:func:`cancel_row_flags`, which the plan rows list where each row's tables are at hand (and the table
``late_month``); flags ``late_month_bdom``, ``credit``, ``usage_in_arrears``.

Rules implemented (billing-rules.md):

- **Rule 1.1 / section 9** (late month): an account whose BDOM falls in the last days of a month (29-31
  clamp, and Intermedia's "the agreement may not be updated before the 1st") is flagged ``late_month_bdom``
  (:func:`billbridge.bdom.late_month_risk`, once per distinct account creation date).
- **Rule 4.3** (``annual_term_decrease``, the cancellation window) is decided by :mod:`~billbridge.rules.terms`,
  whose table ``terms`` (``tm``) the vendor rows join.
- **Rule 6.5** a credit is its own line (``credit``); **Rule 3.1 / 3.3** usage is billed in arrears
  (``usage_in_arrears``).

Every other flag is decided by the rule it belongs to and arrives here as a column of its name; this step
lists a row's flags in the order of :data:`billbridge.model.FLAGS` (a cancel row's in
:data:`billbridge.rules.cancels.FLAG_ORDER`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from billbridge import bdom
from billbridge.model import FLAGS
from billbridge.rules import cancels, invoiced, margin, terms

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

DECIDES = ("late_month_bdom", "credit", "usage_in_arrears")

#: the flags a vendor row can carry (all but those only ending a line raises), in FLAGS order
VENDOR_ROW_FLAGS = tuple(f for f in FLAGS if f not in cancels.DECIDES)


def listed(flags: tuple[str, ...]) -> str:
    """SQL: the flags whose columns are true, comma-separated in the order given."""
    return "concat_ws(',', " + ", ".join(f"CASE WHEN {f} THEN '{f}' END" for f in flags) + ")"


#: where each flag of a vendor row comes from, over its tables ``g`` (groups), ``b`` (blocked), ``m`` (matched),
#: ``t`` (targets), ``p`` (prorations) and ``l`` (late_month): this file's own four, and the columns of the
#: rules that decide the others
_VENDOR_FLAG_SQL = {
    "late_month_bdom": "coalesce(l.late, FALSE)",
    "mid_month_start": "p.gi IS NOT NULL", "prorated_by_connectwise": "coalesce(p.prorated_by_connectwise, FALSE)",
    "vendor_prorated": "g.vendor_prorated", "catalog_item_inactive": "b.catalog_item_inactive",
    "child_agreement": "b.child_agreement", "mixed_unit_costs": "g.mixed_unit_costs",
    "overrides_manual_edit": "t.overrides_manual_edit", "credit_priced_at_cost": "t.credit_priced_at_cost",
    "credit": "g.charge_type = 'credit'", "usage_in_arrears": "g.charge_type = 'usage'",
    "adopts_existing_line": "m.adopts_existing_line", "agreement_company_mismatch": "b.agreement_company_mismatch",
    "no_vendor_price": "t.no_vendor_price",
    # issue 12: decided in rules/invoiced.py, rules/margin.py, rules/terms.py (each file's FLAG_SQL)
    **invoiced.FLAG_SQL, **margin.FLAG_SQL, **terms.FLAG_SQL,
}
#: the tables a vendor row's flags read, joined to ``groups g`` (and those of a cancel row: ``cancel_rows``)
VENDOR_ROW_TABLES = f"""JOIN blocked b USING (gi) JOIN matched m USING (gi) JOIN targets t USING (gi)
    LEFT JOIN prorations p USING (gi) LEFT JOIN late_month l ON l.customer_created = g.customer_created
    {terms.TABLES}"""


def vendor_row_flags() -> str:
    """SQL: a vendor row's flags, comma-separated in :data:`VENDOR_ROW_FLAGS` order (over
    ``groups g`` and :data:`VENDOR_ROW_TABLES`)."""
    return "concat_ws(',', " + ", ".join(f"CASE WHEN {_VENDOR_FLAG_SQL[f]} THEN '{f}' END" for f in VENDOR_ROW_FLAGS) + ")"


def cancel_row_flags() -> str:
    """SQL: a cancel row's flags (over ``cancel_rows``), in :data:`billbridge.rules.cancels.FLAG_ORDER`."""
    return listed(cancels.FLAG_ORDER)


def apply(run: "Run") -> None:
    created = [d for (d,) in run.fetch("SELECT DISTINCT customer_created FROM groups WHERE customer_created IS NOT NULL")]
    run.register("late_month", pa.table({"customer_created": pa.array(created, pa.date32()),
                                         "late": pa.array([bdom.late_month_risk(d) for d in created], pa.bool_())}))

