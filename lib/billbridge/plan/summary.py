"""The plan's summary: coverage, buckets, totals by action and cause, and the conservation check.

Buckets & conservation (billing-rules.md Rules 7.4/7.5, "totals reconcile to the cent"): every vendor line
sits behind exactly one plan row, and every row is in one bucket: ``reconciled`` (in sync, update, create,
cancel), ``excluded`` (left out on purpose: :data:`billbridge.model.EXCLUDED_CAUSES`) or ``blocked`` (any
other cause). The lines and the vendor dollars checked (vendor cost, rounded once per line) must equal
reconciled + blocked + excluded to the cent, else :class:`~billbridge.errors.ConservationError`.

Sums are exact (SQL ``DECIMAL``) and carry the places of their terms (``0`` when nothing was added).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from billbridge.errors import ConservationError
from billbridge.model import BUCKETS, EXCLUDED_CAUSES
from billbridge.rules.impact import totals as impact_totals
from billbridge.rules.sql import literal

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

__all__ = ["Summary", "MACROS", "summarise"]

ZERO = Decimal(0)
_CHANGES = ("create", "update", "cancel")

MACROS = f"""
CREATE MACRO bucket(cause) AS CASE WHEN cause IS NULL THEN 'reconciled'
    WHEN cause IN ({", ".join(literal(c) for c in sorted(EXCLUDED_CAUSES))}) THEN 'excluded' ELSE 'blocked' END;
"""


@dataclass
class Summary:
    """Coverage and conservation of one plan; dollars are vendor cost (rounded once per line)."""

    month: str
    vendor: str
    status: str  # empty | nothing_in_period | in_sync | changes | blocked
    lines_checked: int
    dollars_checked: Decimal
    lines_reconciled: int
    dollars_reconciled: Decimal
    lines_blocked: int
    dollars_blocked: Decimal
    lines_excluded: int
    dollars_excluded: Decimal
    rows: int
    customers: int
    by_action: dict[str, dict[str, Any]]
    by_cause: dict[str, dict[str, Any]]
    price_impact: Decimal
    margin_impact: Decimal
    requests: int
    coverage: Decimal  # share of vendor dollars reconciled (0..1, 4 places)
    conserved: bool = True
    proration_source: str = "billbridge.bdom.expected_cw_proration"
    #: the changed rows' price impact by cause, per currency: {currency: {cause: Decimal}} (rules/impact.py)
    impact_by_cause: dict[str, dict[str, Decimal]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _exact(total: Decimal | None, places: int | None) -> Decimal:
    """An exact SQL sum with the places its terms carried (a Python sum of them would carry the same)."""
    if total is None:
        return ZERO
    return total.quantize(Decimal(1).scaleb(-(places or 0)))


def _sums(amount: str) -> str:
    # a '0' adds nothing to the sum nor to its places (the sum of none is 0): only the others are converted
    return (f"sum(exact({amount})) FILTER (WHERE {amount} <> '0'), "
            f"max(places_of({amount})) FILTER (WHERE {amount} <> '0')")


def summarise(run: "Run", table: str = "plan_rows") -> Summary:
    """The summary of the plan rows in ``table`` (after checking conservation)."""
    ctx = run.context
    (lines, dollars, places, customers), = run.fetch(
        f"SELECT count(*), {_sums('amount')}, count(DISTINCT vendor_customer_id) FROM normalised")
    total = _exact(dollars, places) if lines else ZERO
    groups = run.fetch(f"""
        SELECT bucket, action, cause, count(*), coalesce(sum(vendor_line_count), 0), {_sums('vendor_amount')},
               {_sums('price_impact')}, {_sums('margin_impact')},
               count(*) FILTER (WHERE action IN ('create', 'update', 'cancel')),
               coalesce(bool_and(coalesce(cause = 'out_of_period', FALSE)) FILTER (WHERE vendor_line_count > 0), TRUE)
        FROM {table} GROUP BY ALL""")
    blank = {"rows": 0, "lines": 0, "dollars": ZERO, "price_impact": ZERO, "margin_impact": ZERO}
    per: dict[str, dict[str, dict[str, Any]]] = {"bucket": {}, "action": {}, "cause": {}}
    whole = dict(blank)
    requests = 0
    only_out_of_period = True
    for bucket, action, cause, rows, n_lines, d, dp, pi, pip, mi, mip, reqs, out in groups:
        figures = {"rows": int(rows), "lines": int(n_lines), "dollars": _exact(d, dp), "price_impact": _exact(pi, pip),
                   "margin_impact": _exact(mi, mip)}
        for kind, name in (("bucket", bucket), ("action", action), ("cause", cause)):
            if name is not None:
                acc = per[kind].setdefault(name, dict(blank))
                for k, v in figures.items():
                    acc[k] = acc[k] + v
        for k, v in figures.items():
            whole[k] = whole[k] + v
        requests += int(reqs)
        only_out_of_period = only_out_of_period and bool(out)
    per_bucket = {b: (per["bucket"][b]["lines"], per["bucket"][b]["dollars"]) if b in per["bucket"] else (0, ZERO)
                  for b in BUCKETS}
    by_action, by_cause = per["action"], per["cause"]
    n_rows, price, margin = whole["rows"], whole["price_impact"], whole["margin_impact"]
    got_lines = sum(n for n, _ in per_bucket.values())
    got_dollars = sum((d for _, d in per_bucket.values()), ZERO)
    if got_lines != lines or got_dollars != total:
        raise ConservationError(
            f"vendor total {lines} lines / {total} != reconciled {per_bucket['reconciled']} + blocked "
            f"{per_bucket['blocked']} + excluded {per_bucket['excluded']}")
    by_action = dict(sorted(by_action.items()))
    by_cause = dict(sorted(by_cause.items()))
    if lines == 0:
        status = "empty"
    elif per_bucket["reconciled"][0] == 0 and per_bucket["blocked"][0] == 0 and per_bucket["excluded"][0] == lines \
            and only_out_of_period:
        status = "nothing_in_period"
    elif any(a in by_action for a in _CHANGES):
        status = "changes"
    elif "blocked" in by_action:
        status = "blocked"
    else:
        status = "in_sync"
    coverage = (per_bucket["reconciled"][1] / total).quantize(Decimal("0.0001")) if total else ZERO
    return Summary(
        month=ctx.month, vendor=ctx.vendor, status=status, lines_checked=int(lines), dollars_checked=total,
        lines_reconciled=per_bucket["reconciled"][0], dollars_reconciled=per_bucket["reconciled"][1],
        lines_blocked=per_bucket["blocked"][0], dollars_blocked=per_bucket["blocked"][1],
        lines_excluded=per_bucket["excluded"][0], dollars_excluded=per_bucket["excluded"][1],
        rows=n_rows, customers=int(customers), by_action=by_action, by_cause=by_cause,
        price_impact=price, margin_impact=margin, requests=requests, coverage=coverage,
        impact_by_cause=impact_totals(run, table))
