"""Terms: each commitment-term subscription row's term, its dates, where they come from, its cancellation
window and what a seat decrease costs the MSP -> table ``terms`` (one row per plan row ``gi`` with an annual
or triennial term); flags ``annual_term_decrease``, ``in_cancellation_window``, ``agreement_ends_before_term``
and ``agreement_outlasts_term``.

Rules implemented (billing-rules.md):

- **Rule 4.1** "Term and billing frequency are separate fields": the term (:data:`billbridge.model.COMMITMENT_TERMS`:
  annual 12 months, triennial 36) decides the commitment; the billing frequency only whether the MSP pays it
  month by month.
- **Rule 4.3** "Seat reductions and cancellations are only allowed in a 7-day (168-hour) window after purchase or
  renewal ... Each seat added opens its own window for those seats only. After the window the reseller owes the
  rest of the term": a window opens at 00:00 UTC of the purchase, the renewal or a seat addition (a vendor start
  date means 00:00, ``vendors/microsoft.md``) and closes 168 hours later, half-open: a decrease dated
  purchase + 6 days is inside, one dated purchase + 7 days is not. A decrease of seats inside their window is
  ``in_cancellation_window`` (the vendor takes them back; so is a credit refunding seats, Microsoft's
  ``removeQuantity`` / ``cancelImmediate``, which it gives only inside a window: such a row has no term dates
  of its own, they belong to the charge it refunds); a decrease of a monthly-billed annual or triennial seat
  outside every window that covers it is ``annual_term_decrease`` with ``commitment_at_risk``: the seats removed
  outside their window x the vendor's monthly unit cost x the months of the term left, the month the decrease
  falls in counted whole (the vendor billed it in advance and ConnectWise no longer bills the customer for it),
  one extended amount (:func:`billbridge.money.extended`: exact, rounded once to the row's currency).
- **Rule 4.4** "Seats added mid-term are co-termed to the existing subscription's end date": an addition opens a
  window, never a term of its own.
- **Rule 4.6** "Check renewal dates against the CW agreement end date": an agreement with an end date before the
  term's last day is ``agreement_ends_before_term``, after it ``agreement_outlasts_term`` (an agreement without an
  end date is neither).

Where the term's dates come from (``term_source``), first that applies:

0. ``vendor``: the vendor's own end of the subscription's commitment term (Pax8 ``commitmentTerm.endDate``, kept
   as ``commitment_end``, the term's last day): the term started 12 (36) months before the day after it;
1. ``vendor``: a charge the vendor marks as the purchase or renewal (Microsoft ChargeType ``new`` / ``renew``,
   kept as ``vendor_charge_type``): the term starts on its ChargeStartDate;
2. ``vendor``: a line whose period is the whole term (an annual term billed annually: the vendor file's term and
   dates, Pax8's startPeriod..endPeriod of an annual item): the term starts on the period's first day;
3. ``derived``: otherwise billbridge derives it, and says so. The anchor is the start the vendor dates for a
   line ConnectWise does not bill yet (its effective date: a purchase), else the vendor account's creation day
   (``customer_created``: the demo world's and Intermedia's subscriptions start with the account), else the
   ConnectWise addition's effective date, else the billing month's first day; the term is the one of the terms
   renewing every 12 (36) months from the anchor that holds the row's period start (the month's first day when
   the row has none). Every date keeps the anchor's day, clamped in short months (Rule 1.1/1.2).

A term's last day is its start plus 12 (36) months minus one day (Rule 1.5: the half-open term
``[start, start + 12 months)``). Seat additions are the vendor's ``addQuantity`` charges (dated by their
ChargeStartDate, their quantity the seats added) and, when the vendor data do not say, a quantity above
ConnectWise's with an effective date after the row's period start (derived: the seats added on that day).
The day a decrease happens is the latest effective date of the row's lines (else its period start, else the
month's first day): from that day the vendor bills the lower quantity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from billbridge import bdom, money
from billbridge.model import COMMITMENT_TERMS

if TYPE_CHECKING:
    from billbridge.plan.engine import Run

__all__ = ["DECIDES", "FLAG_SQL", "TABLES", "COLUMNS", "TEXT_COLUMNS", "TEXT_FIELDS", "WINDOW", "Term", "Line",
           "Assessment", "anniversary", "term_last_day", "window_end", "in_window", "months_left", "commitment_at_risk",
           "term_of", "assess", "stamp", "apply"]

DECIDES = ("annual_term_decrease", "in_cancellation_window", "agreement_ends_before_term", "agreement_outlasts_term")

#: where the flags of this file come from, over a vendor row's table ``tm`` (this file's ``terms``; rules/flags.py
#: lists them)
FLAG_SQL = {f: f"coalesce(tm.{f}, FALSE)" for f in DECIDES}
#: the join that brings ``terms`` to a vendor row (rules/flags.py :data:`~billbridge.rules.flags.VENDOR_ROW_TABLES`)
TABLES = "LEFT JOIN terms tm USING (gi)"
#: the plan row columns this file fills, over ``tm``
COLUMNS = ("CAST(tm.term_start AS VARCHAR) AS term_start, CAST(tm.term_end AS VARCHAR) AS term_end, "
           "tm.term_source, tm.window_end, tm.commitment_at_risk")
#: what a row's reason reads of ``tm`` beyond its plan columns (engine ``_TEXT_ROWS``)
TEXT_COLUMNS = ("tm.seats_in_window, tm.seats_at_risk, tm.months_left, tm.risk_unit_cost, "
                "CAST(tm.agreement_end AS VARCHAR) AS agreement_end")
#: the fields :func:`billbridge.plan.reasons.term_note` reads of a row (its plan columns and :data:`TEXT_COLUMNS`)
TEXT_FIELDS = ("term_end", "term_source", "window_end", "commitment_at_risk", "currency", "seats_in_window",
               "seats_at_risk", "months_left", "risk_unit_cost", "agreement_end")

#: the cancellation window after a purchase, a renewal or a seat addition (Rule 4.3)
WINDOW = timedelta(hours=168)
#: the vendor charge types that start a term (Microsoft new commerce; lower-case, as normalise keeps them)
TERM_STARTS = frozenset({"new", "renew"})
#: the vendor charge types that add seats to a running term (co-termed, Rule 4.4)
SEAT_ADDITIONS = frozenset({"addquantity"})
#: the vendor charge types of a refund for seats given back (Microsoft refunds them only inside a window)
SEAT_REFUNDS = frozenset({"removequantity", "cancelimmediate"})


@dataclass(frozen=True)
class Term:
    """A commitment term: ``term`` (annual | triennial), its first and last day, where they come from."""

    term: str
    start: date
    source: str  # vendor | derived

    @property
    def months(self) -> int:
        return COMMITMENT_TERMS[self.term]

    @property
    def end(self) -> date:
        """The term's last day (inclusive)."""
        return term_last_day(self.start, self.months)

    @property
    def renews_on(self) -> date:
        return anniversary(self.start, self.months)


@dataclass(frozen=True)
class Line:
    """What a vendor line behind a row says about its term."""

    vendor_charge_type: str | None = None
    period_start: date | None = None
    period_end: date | None = None
    effective_date: date | None = None
    quantity: Decimal | None = None
    commitment_end: date | None = None  # the term's last day, when the vendor gives it (Pax8)


@dataclass(frozen=True)
class Assessment:
    """A commitment row's term, window and decrease (what the table ``terms`` holds)."""

    term: Term | None  # None for a credit (its term is the charge's)
    window_end: datetime | None  # the latest window's close (UTC)
    seats_removed: Decimal = Decimal(0)
    seats_in_window: Decimal = Decimal(0)  # removed inside their window: the vendor takes them back
    seats_at_risk: Decimal = Decimal(0)  # removed outside their window
    months_left: int = 0
    unit_cost: Decimal | None = None
    commitment_at_risk: Decimal | None = None  # None unless seats are at risk on a monthly-billed term
    agreement_ends_before_term: bool = False
    agreement_outlasts_term: bool = False

    @property
    def annual_term_decrease(self) -> bool:
        return self.commitment_at_risk is not None

    @property
    def in_cancellation_window(self) -> bool:
        return self.seats_in_window > 0


@lru_cache(maxsize=65536)
def anniversary(anchor: date, months: int) -> date:
    """``anchor`` shifted by ``months`` months, on the anchor's own day clamped to the month's last day
    (:func:`billbridge.bdom.billing_date`, Rule 1.1; the anchor is never replaced by a clamped day, Rule 1.2)."""
    index = anchor.year * 12 + anchor.month - 1 + months
    return bdom.billing_date(anchor.day, index // 12, index % 12 + 1)


def term_last_day(start: date, months: int) -> date:
    """The last day of a term of ``months`` months starting on ``start``."""
    return anniversary(start, months) - bdom.ONE_DAY


def _midnight(d: date) -> datetime:
    return datetime.combine(d, time(0), tzinfo=timezone.utc)


def window_end(opened: date) -> datetime:
    """When the cancellation window opened on ``opened`` (00:00 UTC) closes: 168 hours later."""
    return _midnight(opened) + WINDOW


def in_window(opened: date, on: date) -> bool:
    """Whether a change dated ``on`` (00:00 UTC) falls in the window opened on ``opened``: half-open."""
    return _midnight(opened) <= _midnight(on) < window_end(opened)


def months_left(term: Term, on: date) -> int:
    """The term's monthly cycles from the one holding ``on`` to its end (0 once the term is over)."""
    if on < term.start:
        return term.months
    for i in range(term.months):
        if on < anniversary(term.start, i + 1):
            return term.months - i
    return 0


def commitment_at_risk(seats: Decimal, unit_cost: Decimal, months: int, currency: str = "USD") -> Decimal:
    """What the MSP keeps paying for ``seats`` to the term end: seats x monthly unit cost x months, one
    extended amount rounded once to the currency's minor unit."""
    return money.extended(Decimal(seats) * months, unit_cost, currency)


def _whole_term(line: Line, months: int) -> bool:
    s, e = line.period_start, line.period_end
    return s is not None and e is not None and e in (term_last_day(s, months), anniversary(s, months))


def term_of(term: str, lines: Sequence[Line], *, new_line: bool, customer_created: date | None,
            cw_effective_date: date | None, month_start: date) -> Term:
    """The row's term (module docstring: vendor dates first, else derived)."""
    months = COMMITMENT_TERMS[term]
    ends = [ln.commitment_end for ln in lines if ln.commitment_end]
    if ends:
        return Term(term, anniversary(max(ends) + bdom.ONE_DAY, -months), "vendor")
    starts = [ln.period_start for ln in lines if ln.vendor_charge_type in TERM_STARTS and ln.period_start]
    if starts:
        return Term(term, max(starts), "vendor")
    whole = [ln.period_start for ln in lines if _whole_term(ln, months)]
    if whole:
        return Term(term, max(whole), "vendor")
    periods = [ln.period_start for ln in lines if ln.period_start]
    reference = min(periods) if periods else month_start
    dated = [ln.effective_date for ln in lines if ln.effective_date]
    anchor = (min(dated) if new_line and dated else None) or customer_created or cw_effective_date or month_start
    if anchor >= reference:
        return Term(term, anchor, "derived")
    k = max(0, ((reference.year - anchor.year) * 12 + reference.month - anchor.month) // months - 1)
    while anniversary(anchor, (k + 1) * months) <= reference:
        k += 1
    return Term(term, anniversary(anchor, k * months), "derived")


def _latest(values: Iterable[date | None]) -> date | None:
    dated = [v for v in values if v is not None]
    return max(dated) if dated else None


def assess(term: str, lines: Sequence[Line], *, billing_frequency: str | None = None, charge_type: str = "recurring",
           vendor_quantity: Decimal | None = None, cw_quantity: Decimal | None = None,
           vendor_unit_cost: Decimal | None = None, cw_unit_cost: Decimal | None = None, currency: str = "USD",
           customer_created: date | None = None, cw_effective_date: date | None = None,
           agreement_end: date | None = None, month_start: date) -> Assessment:
    """A commitment row's term, cancellation window and seat decrease (see the module docstring)."""
    if charge_type == "credit":  # the vendor refunds seats it took back inside their window
        refunded = sum((abs(ln.quantity or Decimal(0)) for ln in lines if ln.vendor_charge_type in SEAT_REFUNDS),
                       Decimal(0))
        return Assessment(None, None, seats_removed=refunded, seats_in_window=refunded)
    t = term_of(term, lines, new_line=cw_quantity is None, customer_created=customer_created,
                cw_effective_date=cw_effective_date, month_start=month_start)
    period_start = min((ln.period_start for ln in lines if ln.period_start), default=None)
    # the windows: the term's start (purchase or renewal: every seat) and each seat addition (those seats)
    additions: list[tuple[date, Decimal]] = [
        (ln.period_start, abs(ln.quantity or Decimal(0))) for ln in lines
        if ln.vendor_charge_type in SEAT_ADDITIONS and ln.period_start]
    if not additions and cw_quantity is not None and vendor_quantity is not None and vendor_quantity > cw_quantity:
        added_on = _latest(ln.effective_date for ln in lines)
        if added_on and period_start and added_on > period_start:
            additions.append((added_on, vendor_quantity - cw_quantity))
    opened = [t.start] + [d for d, _ in additions]
    closes = window_end(max(opened))
    ends_before = agreement_end is not None and agreement_end < t.end
    outlasts = agreement_end is not None and agreement_end > t.end
    base = dict(term=t, window_end=closes, agreement_ends_before_term=ends_before, agreement_outlasts_term=outlasts)
    if charge_type != "recurring" or cw_quantity is None or vendor_quantity is None or vendor_quantity >= cw_quantity:
        return Assessment(**base)
    removed = cw_quantity - vendor_quantity
    on = _latest(ln.effective_date or ln.period_start for ln in lines) or month_start
    if in_window(t.start, on):
        refundable = removed
    else:
        refundable = min(removed, sum((q for d, q in additions if in_window(d, on)), Decimal(0)))
    at_risk = removed - refundable
    left = months_left(t, on)
    unit = vendor_unit_cost if vendor_unit_cost is not None else cw_unit_cost
    monthly = (billing_frequency or "monthly") == "monthly"
    risk = (commitment_at_risk(at_risk, unit, left, currency)
            if monthly and at_risk > 0 and left > 0 and unit is not None else None)
    return Assessment(**base, seats_removed=removed, seats_in_window=refundable, seats_at_risk=at_risk,
                      months_left=left, unit_cost=unit, commitment_at_risk=risk)


# ---------------------------------------------------------------------------------------- the step
_ROWS = """
    SELECT g.gi, g.term, g.billing_frequency, g.charge_type, g.currency, g.customer_created, t.vendor_quantity,
           t.cw_quantity, t.vendor_unit_cost, t.cw_unit_cost, t.cw_effective_date,
           CASE WHEN NOT coalesce(a.no_end, FALSE) THEN a.end_date END AS agreement_end
    FROM groups g JOIN targets t USING (gi) LEFT JOIN agreements a ON a.agreement_id = g.agreement_id
    WHERE g.term IN ({terms}) ORDER BY g.gi"""
_LINES = """
    SELECT g.gi, n.vendor_charge_type, n.period_start, n.period_end, n.effective_date, n.quantity, n.commitment_end
    FROM groups g JOIN line_keys k ON k.key = g.key JOIN normalised n ON n.li = k.li
    WHERE g.term IN ({terms}) ORDER BY g.gi, n.li"""

#: the table ``terms``: name -> Arrow type
_TABLE = {
    "gi": pa.int64(), "term_start": pa.date32(), "term_end": pa.date32(), "term_source": pa.string(),
    "window_end": pa.string(), "commitment_at_risk": pa.string(), "seats_removed": pa.string(),
    "seats_in_window": pa.string(), "seats_at_risk": pa.string(), "months_left": pa.int64(),
    "risk_unit_cost": pa.string(), "agreement_end": pa.date32(), "annual_term_decrease": pa.bool_(),
    "in_cancellation_window": pa.bool_(),
    "agreement_ends_before_term": pa.bool_(), "agreement_outlasts_term": pa.bool_(),
}


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(v)


def _text(v: Decimal | None) -> str | None:
    return None if v is None else format(v, "f")


@lru_cache(maxsize=65536)
def stamp(moment: datetime) -> str:
    """A window's close as billbridge stores timestamps: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC)."""
    return moment.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def apply(run: "Run") -> None:
    names = ", ".join(f"'{t}'" for t in COMMITMENT_TERMS)
    by_row: dict[int, list[Line]] = {}
    for gi, kind, start, end, effective, qty, commitment_end in run.fetch(_LINES.format(terms=names)):
        by_row.setdefault(gi, []).append(Line(kind, start, end, effective, _dec(qty), commitment_end))
    out: dict[str, list] = {c: [] for c in _TABLE}
    for (gi, term, frequency, charge_type, currency, created, vq, cq, vcost, ccost, cw_eff,
         agreement_end) in run.fetch(_ROWS.format(terms=names)):
        a = assess(term, by_row.get(gi, []), billing_frequency=frequency, charge_type=charge_type,
                   vendor_quantity=_dec(vq), cw_quantity=_dec(cq), vendor_unit_cost=_dec(vcost),
                   cw_unit_cost=_dec(ccost), currency=currency or "USD", customer_created=created,
                   cw_effective_date=cw_eff, agreement_end=agreement_end, month_start=run.month_start)
        values = {
            "gi": gi, "term_start": a.term and a.term.start, "term_end": a.term and a.term.end,
            "term_source": a.term and a.term.source, "window_end": a.window_end and stamp(a.window_end),
            "commitment_at_risk": _text(a.commitment_at_risk),
            "seats_removed": _text(a.seats_removed), "seats_in_window": _text(a.seats_in_window),
            "seats_at_risk": _text(a.seats_at_risk), "months_left": a.months_left,
            "risk_unit_cost": _text(a.unit_cost), "agreement_end": agreement_end,
            "annual_term_decrease": a.annual_term_decrease,
            "in_cancellation_window": a.in_cancellation_window,
            "agreement_ends_before_term": a.agreement_ends_before_term,
            "agreement_outlasts_term": a.agreement_outlasts_term,
        }
        for c in _TABLE:
            out[c].append(values[c])
    run.register("terms", pa.table({c: pa.array(v, _TABLE[c]) for c, v in out.items()}))
