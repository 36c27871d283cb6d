"""The plan's summary: coverage, buckets, totals by action and cause, per currency, and the conservation check.

Buckets & conservation (billing-rules.md Rules 7.4/7.5, "totals reconcile to the cent"): every vendor line
sits behind exactly one plan row, and every row is in one bucket: ``reconciled`` (in sync, update, create,
cancel), ``excluded`` (left out on purpose: :data:`billbridge.model.EXCLUDED_CAUSES`) or ``blocked`` (any
other cause). The lines and the vendor dollars checked (vendor cost, rounded once per line) must equal
reconciled + blocked + excluded to the cent, else :class:`~billbridge.errors.ConservationError`.

**Rule 7.1 in totals** (section 9): every amount carries its currency and two currencies are never added.
``by_currency`` holds each currency's figures (lines and dollars per bucket, price and margin impact,
coverage, rows) and conservation is checked per currency (the error names it). A plan of one currency also
has them at the top level, exactly as a single-currency plan always had (plus ``currency``); a plan of
several has its top-level money (``dollars_*``, ``price_impact``, ``margin_impact``, ``coverage``) None, so
nobody adds two currencies by accident, and so has the money of each ``by_action`` / ``by_cause`` entry:
every entry carries its money per currency in ``entry["by_currency"]``. Line, row and request counts add up
over currencies and stay at the top level.

Sums are exact (SQL ``DECIMAL``) and carry the places of their terms (``0`` when nothing was added).
:func:`merge` adds the summaries of several vendors' plans the same way (per currency).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from billbridge.errors import ConservationError
from billbridge.model import BUCKETS, EXCLUDED_CAUSES
from billbridge.rules.impact import totals as impact_totals
from billbridge.rules.sql import literal

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

__all__ = ["Summary", "MACROS", "summarise", "merge", "empty", "CURRENCY_FIGURES"]

ZERO = Decimal(0)
_CHANGES = ("create", "update", "cancel")
_COVERAGE = Decimal("0.0001")
#: the money of a by_action / by_cause entry (None at its top level when the plan holds several currencies)
_ENTRY_MONEY = ("dollars", "price_impact", "margin_impact")
#: what ``Summary.by_currency`` holds for each currency
CURRENCY_FIGURES = ("lines_checked", "dollars_checked", "lines_reconciled", "dollars_reconciled", "lines_blocked",
                    "dollars_blocked", "lines_excluded", "dollars_excluded", "price_impact", "margin_impact",
                    "coverage", "rows")
#: the top-level fields that are money (None when the plan holds several currencies)
_TOP_MONEY = ("dollars_checked", "dollars_reconciled", "dollars_blocked", "dollars_excluded", "price_impact",
              "margin_impact", "coverage")

def bucket_sql(cause: str) -> str:
    """SQL (DuckDB and SQLite alike): the bucket of a row of cause ``cause`` — ``reconciled`` without one,
    ``excluded`` for :data:`billbridge.model.EXCLUDED_CAUSES`, else ``blocked``. The plan's ``bucket()`` macro
    and the store's ``plan_lines`` view (which derives a stored row's bucket from its cause) both use it."""
    return (f"CASE WHEN {cause} IS NULL THEN 'reconciled' "
            f"WHEN {cause} IN ({', '.join(literal(c) for c in sorted(EXCLUDED_CAUSES))}) THEN 'excluded' ELSE 'blocked' END")


MACROS = f"""
CREATE MACRO bucket(cause) AS {bucket_sql("cause")};
"""


@dataclass
class Summary:
    """Coverage and conservation of one plan; dollars are vendor cost (rounded once per line). The money
    fields are None when the plan holds several currencies (``by_currency`` has each one's)."""

    month: str
    vendor: str
    status: str  # empty | nothing_in_period | in_sync | changes | blocked
    lines_checked: int
    dollars_checked: Decimal | None
    lines_reconciled: int
    dollars_reconciled: Decimal | None
    lines_blocked: int
    dollars_blocked: Decimal | None
    lines_excluded: int
    dollars_excluded: Decimal | None
    rows: int
    customers: int
    by_action: dict[str, dict[str, Any]]
    by_cause: dict[str, dict[str, Any]]
    price_impact: Decimal | None
    margin_impact: Decimal | None
    requests: int
    coverage: Decimal | None  # share of vendor dollars reconciled (0..1, 4 places)
    conserved: bool = True
    proration_source: str = "billbridge.bdom.expected_cw_proration"
    #: the plan's one currency (None when it holds none or several)
    currency: str | None = None
    #: the currencies of the plan, sorted
    currencies: list[str] = field(default_factory=list)
    #: each currency's figures (:data:`CURRENCY_FIGURES`), in code order
    by_currency: dict[str, dict[str, Any]] = field(default_factory=dict)
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


def _blank() -> dict[str, Any]:
    return {"rows": 0, "lines": 0, "dollars": ZERO, "price_impact": ZERO, "margin_impact": ZERO}


def _add(acc: dict[str, Any], figures: dict[str, Any]) -> None:
    for k, v in figures.items():
        acc[k] = acc[k] + v


class _Ledger:
    """The figures a summary is made of, per currency: what was checked (from the vendor lines) and, from
    the plan rows, each bucket's, action's and cause's rows, lines, dollars and impacts."""

    def __init__(self) -> None:
        self.checked: dict[str, list] = {}  # currency -> [lines, dollars]
        self.buckets: dict[str, dict[str, dict[str, Any]]] = {}  # currency -> bucket -> figures
        self.whole: dict[str, dict[str, Any]] = {}  # currency -> figures of every row
        self.actions: dict[str, dict[str, dict[str, Any]]] = {}  # action -> currency -> figures
        self.causes: dict[str, dict[str, dict[str, Any]]] = {}  # cause -> currency -> figures

    def check(self, currency: str, lines: int, dollars: Decimal) -> None:
        acc = self.checked.setdefault(currency, [0, ZERO])
        acc[0] += lines
        acc[1] += dollars

    def rows(self, currency: str, bucket: str | None, action: str | None, cause: str | None,
             figures: dict[str, Any]) -> None:
        if bucket is not None:
            _add(self.buckets.setdefault(currency, {}).setdefault(bucket, _blank()), figures)
        for table, name in ((self.actions, action), (self.causes, cause)):
            if name is not None:
                _add(table.setdefault(name, {}).setdefault(currency, _blank()), figures)
        _add(self.whole.setdefault(currency, _blank()), figures)

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.checked) | set(self.whole))

    def by_currency(self) -> dict[str, dict[str, Any]]:
        """Each currency's figures, conservation checked (:class:`ConservationError` names the currency)."""
        out = {}
        for cur in self.currencies:
            lines, total = self.checked.get(cur, (0, ZERO))
            per = self.buckets.get(cur, {})
            got = {b: per.get(b, _blank()) for b in BUCKETS}
            got_lines = sum(g["lines"] for g in got.values())
            got_dollars = sum((g["dollars"] for g in got.values()), ZERO)
            if got_lines != lines or got_dollars != total:
                parts = " + ".join(f"{b} ({got[b]['lines']}, {got[b]['dollars']})" for b in BUCKETS)
                raise ConservationError(f"{cur}: vendor total {lines} lines / {total} != {parts}")
            whole = self.whole.get(cur, _blank())
            figures: dict[str, Any] = {"lines_checked": int(lines), "dollars_checked": total}
            for b in BUCKETS:
                figures[f"lines_{b}"] = int(got[b]["lines"])
                figures[f"dollars_{b}"] = got[b]["dollars"]
            figures.update(
                price_impact=whole["price_impact"], margin_impact=whole["margin_impact"],
                coverage=(got["reconciled"]["dollars"] / total).quantize(_COVERAGE) if total else ZERO,
                rows=int(whole["rows"]))
            out[cur] = {k: figures[k] for k in CURRENCY_FIGURES}
        return out

    @staticmethod
    def entries(table: dict[str, dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
        """by_action / by_cause entries: counts added over currencies, money per currency (and at the top
        only when the entry holds one currency)."""
        out = {}
        for name in sorted(table):
            per = dict(sorted(table[name].items()))
            entry: dict[str, Any] = {"rows": sum(f["rows"] for f in per.values()),
                                     "lines": sum(f["lines"] for f in per.values())}
            for k in _ENTRY_MONEY:
                entry[k] = next(iter(per.values()))[k] if len(per) == 1 else None
            entry["by_currency"] = {c: dict(f) for c, f in per.items()}
            out[name] = entry
        return out


def _summary(ledger: _Ledger, *, month: str, vendor: str, status: str, customers: int, requests: int,
             impact_by_cause: dict[str, dict[str, Decimal]] | None = None) -> Summary:
    """The summary of a ledger (one currency: its money at the top level; several: None there)."""
    by_currency = ledger.by_currency()
    currencies = list(by_currency)
    counts = {k: sum(f[k] for f in by_currency.values()) for k in
              ("lines_checked", "lines_reconciled", "lines_blocked", "lines_excluded", "rows")}
    if len(currencies) == 1:
        money: dict[str, Any] = {k: by_currency[currencies[0]][k] for k in _TOP_MONEY}
    elif not currencies:
        money = {k: ZERO for k in _TOP_MONEY}
    else:
        money = {k: None for k in _TOP_MONEY}
    by_action, by_cause = ledger.entries(ledger.actions), ledger.entries(ledger.causes)
    if len(currencies) > 1:  # an entry of one currency in a plan of several still shows no total
        for entry in [*by_action.values(), *by_cause.values()]:
            for k in _ENTRY_MONEY:
                entry[k] = None
    return Summary(month=month, vendor=vendor, status=status, customers=int(customers), requests=int(requests),
                   by_action=by_action, by_cause=by_cause, currency=currencies[0] if len(currencies) == 1 else None,
                   currencies=currencies, by_currency=by_currency, impact_by_cause=impact_by_cause or {}, **counts,
                   **money)


def _status(lines: int, buckets: dict[str, int], actions: Iterable[str], only_out_of_period: bool) -> str:
    if lines == 0:
        return "empty"
    if buckets["reconciled"] == 0 and buckets["blocked"] == 0 and buckets["excluded"] == lines and only_out_of_period:
        return "nothing_in_period"
    actions = set(actions)
    if any(a in actions for a in _CHANGES):
        return "changes"
    if "blocked" in actions:
        return "blocked"
    return "in_sync"


def summarise(run: "Run", table: str = "plan_rows") -> Summary:
    """The summary of the plan rows in ``table`` (after checking conservation, per currency)."""
    ctx = run.context
    ledger = _Ledger()
    (customers,), = run.fetch("SELECT count(DISTINCT vendor_customer_id) FROM normalised")
    for cur, lines, dollars, places in run.fetch(
            f"SELECT currency, count(*), {_sums('amount')} FROM normalised GROUP BY currency"):
        ledger.check(cur, int(lines), _exact(dollars, places))
    groups = run.fetch(f"""
        SELECT coalesce(currency, 'USD'), bucket, action, cause, count(*), coalesce(sum(vendor_line_count), 0),
               {_sums('vendor_amount')}, {_sums('price_impact')}, {_sums('margin_impact')},
               count(*) FILTER (WHERE action IN ('create', 'update', 'cancel')),
               coalesce(bool_and(coalesce(cause = 'out_of_period', FALSE)) FILTER (WHERE vendor_line_count > 0), TRUE)
        FROM {table} GROUP BY ALL""")
    requests = 0
    only_out_of_period = True
    for cur, bucket, action, cause, rows, n_lines, d, dp, pi, pip, mi, mip, reqs, out in groups:
        ledger.rows(cur, bucket, action, cause, {
            "rows": int(rows), "lines": int(n_lines), "dollars": _exact(d, dp), "price_impact": _exact(pi, pip),
            "margin_impact": _exact(mi, mip)})
        requests += int(reqs)
        only_out_of_period = only_out_of_period and bool(out)
    lines = sum(n for n, _ in ledger.checked.values())
    buckets = {b: sum(per.get(b, _blank())["lines"] for per in ledger.buckets.values()) for b in BUCKETS}
    status = _status(lines, buckets, ledger.actions, only_out_of_period)
    return _summary(ledger, month=ctx.month, vendor=ctx.vendor, status=status, customers=customers,
                    requests=requests, impact_by_cause=impact_totals(run, table))


def empty(month: str, vendor: str = "") -> Summary:
    """The summary of a month without vendor lines."""
    return _summary(_Ledger(), month=month, vendor=vendor, status="empty", customers=0, requests=0)


def merge(summaries: list[Summary], month: str) -> Summary:
    """Several vendors' summaries as one plan's: per currency, the figures of each currency added (two
    currencies never are); counts added; the status the most pressing of theirs."""
    if len(summaries) == 1:
        return summaries[0]
    if not summaries:
        return empty(month)
    ledger = _Ledger()
    for s in summaries:
        for cur, f in s.by_currency.items():
            ledger.check(cur, f["lines_checked"], f["dollars_checked"])
            for b in BUCKETS:
                _add(ledger.buckets.setdefault(cur, {}).setdefault(b, _blank()),
                     {**_blank(), "lines": f[f"lines_{b}"], "dollars": f[f"dollars_{b}"]})
            _add(ledger.whole.setdefault(cur, _blank()), {**_blank(), "rows": f["rows"], "price_impact": f["price_impact"],
                                                          "margin_impact": f["margin_impact"]})
        for table, entries in ((ledger.actions, s.by_action), (ledger.causes, s.by_cause)):
            for name, entry in entries.items():
                for cur, f in entry["by_currency"].items():
                    _add(table.setdefault(name, {}).setdefault(cur, _blank()), f)
    impacts: dict[str, dict[str, Decimal]] = {}  # per currency: two vendors of one currency add, two currencies never
    for s in summaries:
        for cur, parts in s.impact_by_cause.items():
            acc = impacts.setdefault(cur, dict.fromkeys(parts, ZERO))
            for cause, v in parts.items():
                acc[cause] = acc.get(cause, ZERO) + v
    statuses = [s.status for s in summaries]
    status = next((x for x in ("changes", "blocked", "in_sync", "nothing_in_period") if x in statuses), "empty")
    return _summary(ledger, month=month, vendor=",".join(s.vendor for s in summaries), status=status,
                    customers=sum(s.customers for s in summaries), requests=sum(s.requests for s in summaries),
                    impact_by_cause=dict(sorted(impacts.items())))
