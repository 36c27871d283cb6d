"""Billing dates, vendor periods and proration (pure; the spec is ``shared/billing-rules.md``).

Vocabulary (design glossary):

* **BDOM** (billing date of month): the day a vendor bills an account each month, its creation day
  (the *anchor*), clamped to the month's last day and never carried forward (Rules 1.1-1.3).
* **vendor period**: the half-open span ``[start, next_start)`` a vendor charge covers; the displayed
  end is ``next_start - 1 day`` and its length (28-31 days) is the proration denominator (Rule 1.5).
* **billing month**: the calendar month ``YYYY-MM`` whose ConnectWise invoice is being prepared.
  ConnectWise additions for it carry the dates 1st -> last day (:func:`addition_dates`), and the
  agreement invoice comes out on the 1st of the next month (:func:`cw_invoice_date`).

Notebook use::

    >>> from billbridge import bdom
    >>> bdom.billing_date(31, 2025, 2)
    datetime.date(2025, 2, 28)
    >>> p = bdom.vendor_period(4, date(2026, 9, 10)); (p.start, p.end, p.days)
    (datetime.date(2026, 9, 4), datetime.date(2026, 10, 3), 30)
    >>> bdom.expected_cw_proration(Decimal("22"), 1, date(2026, 3, 15)).first_invoice_total
    Decimal('34.06')

Money is exact: proration fractions are :class:`fractions.Fraction` and each line is rounded once,
half up, to the currency's minor unit (:func:`billbridge.money.round_fraction`).
"""

from __future__ import annotations

import calendar
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from enum import StrEnum
from fractions import Fraction

from billbridge.errors import InputError
from billbridge.money import quantize, round_fraction, to_fraction

__all__ = [
    "parse_billing_month",
    "month_key",
    "add_months",
    "days_in_month",
    "billing_date",
    "addition_dates",
    "cw_invoice_date",
    "VendorPeriod",
    "vendor_period",
    "vendor_periods",
    "Timing",
    "default_timing",
    "landing_month",
    "lands_in",
    "period_landing_month",
    "period_for_billing_month",
    "vendor_invoice_date",
    "is_split",
    "split_by_month",
    "ProrationConvention",
    "covered_days",
    "proration_fraction",
    "prorate",
    "daily_rate",
    "allocate",
    "prorate_split",
    "CwProration",
    "expected_cw_proration",
    "late_month_risk",
    "LATE_MONTH_DAYS",
]

_MONTH_RE = re.compile(r"^(\d{4})-(\d{2})$")
ONE_DAY = timedelta(days=1)
#: an account or agreement started in the last this-many days of its month is a late-month risk
LATE_MONTH_DAYS = 6


# --------------------------------------------------------------------------------------- months
def parse_billing_month(billing_month: str) -> tuple[int, int]:
    """``"2026-11"`` -> ``(2026, 11)``; raises :class:`~billbridge.errors.InputError` for anything
    else. The one validation of a month string: the CLI, the pages and the library all call it."""
    m = _MONTH_RE.match(str(billing_month).strip())
    if not m or not 1 <= int(m.group(2)) <= 12:
        raise InputError(f"a billing month is written YYYY-MM (for example 2026-11), not {str(billing_month)!r}",
                         reason="not a YYYY-MM month")
    return int(m.group(1)), int(m.group(2))


def month_key(d: date) -> str:
    """The ``YYYY-MM`` billing month containing ``d``."""
    return f"{d.year:04d}-{d.month:02d}"


def add_months(billing_month: str, n: int) -> str:
    """Shift a ``YYYY-MM`` month by ``n`` months (negative allowed)."""
    y, m = parse_billing_month(billing_month)
    idx = y * 12 + (m - 1) + n
    return f"{idx // 12:04d}-{idx % 12 + 1:02d}"


def days_in_month(year: int, month: int) -> int:
    """Number of days in the calendar month (leap years included)."""
    return calendar.monthrange(year, month)[1]


def billing_date(anchor_day: int, year: int, month: int) -> date:
    """The BDOM for ``anchor_day`` in ``year``/``month``: clamped to the month's last day.

    The anchor is kept, never the clamped day (Rule 1.2): anchor 31 gives 31 Jan, 28 Feb, 31 Mar.
    """
    if not 1 <= int(anchor_day) <= 31:
        raise InputError(f"anchor day must be 1..31, got {anchor_day!r}")
    return date(year, month, min(int(anchor_day), days_in_month(year, month)))


def addition_dates(billing_month: str) -> tuple[date, date]:
    """First and last day of ``YYYY-MM``: the effective / cancelled dates of CW additions (Rule 1.6)."""
    y, m = parse_billing_month(billing_month)
    return date(y, m, 1), date(y, m, days_in_month(y, m))


def cw_invoice_date(billing_month: str) -> date:
    """The ConnectWise agreement invoice date for a billing month: the 1st of the next month."""
    y, m = parse_billing_month(add_months(billing_month, 1))
    return date(y, m, 1)


# ------------------------------------------------------------------------------- vendor periods
@dataclass(frozen=True, order=True)
class VendorPeriod:
    """A half-open vendor period ``[start, next_start)`` (Rule 1.5).

    ``end`` is the last covered day (``next_start - 1``), ``days`` the period length, which is the
    proration denominator for that period.
    """

    start: date
    next_start: date

    def __post_init__(self) -> None:
        if self.next_start <= self.start:
            raise InputError(f"empty vendor period {self.start}..{self.next_start}")

    @property
    def end(self) -> date:
        return self.next_start - ONE_DAY

    @property
    def days(self) -> int:
        return (self.next_start - self.start).days

    def __contains__(self, d: object) -> bool:
        return isinstance(d, date) and self.start <= d < self.next_start

    def __str__(self) -> str:
        return f"{self.start.isoformat()} → {self.end.isoformat()}"


def _shift(year: int, month: int, n: int) -> tuple[int, int]:
    idx = year * 12 + (month - 1) + n
    return idx // 12, idx % 12 + 1


def vendor_period(anchor_day: int, on: date) -> VendorPeriod:
    """The vendor period (BDOM to BDOM) that contains the day ``on``."""
    this = billing_date(anchor_day, on.year, on.month)
    if on >= this:
        y, m = _shift(on.year, on.month, 1)
        return VendorPeriod(this, billing_date(anchor_day, y, m))
    y, m = _shift(on.year, on.month, -1)
    return VendorPeriod(billing_date(anchor_day, y, m), this)


def vendor_periods(anchor_day: int, first: date, last: date) -> Iterator[VendorPeriod]:
    """Every vendor period overlapping the inclusive day range ``first..last``, in order.

    Consecutive periods tile time: each ``next_start`` is the following period's ``start``.
    """
    p = vendor_period(anchor_day, first)
    while p.start <= last:
        yield p
        p = vendor_period(anchor_day, p.next_start)


class Timing(StrEnum):
    """Where a vendor period lands on ConnectWise's calendar (Rule 1.6, chosen per agreement).

    * ``ADVANCE`` (a): the CW month in which the period **starts** (recurring services).
    * ``ARREARS`` (b): the CW month in which the period **ends**, i.e. the month of its
      exclusive end ``next_start``, the day the vendor bills it in arrears (usage, credits).
      This equals the month of the displayed last day except for anchor 1 (a whole calendar
      month ``[1 Oct, 1 Nov)`` is billed in arrears on 1 Nov, so it lands in November).
    """

    ADVANCE = "advance"
    ARREARS = "arrears"


_DEFAULT_TIMING = {
    "recurring": Timing.ADVANCE,
    "one_time": Timing.ADVANCE,
    "usage": Timing.ARREARS,
    "credit": Timing.ARREARS,  # refunds arrive later, in arrears (Rule 6.5)
}


def default_timing(charge_type: str) -> Timing:
    """The vendor's usual timing for a charge type: recurring/one_time advance, usage/credit arrears."""
    try:
        return _DEFAULT_TIMING[charge_type]
    except KeyError:
        raise InputError(f"unknown charge type {charge_type!r}") from None


def landing_month(charge_type: str | None, period_start: date | None, period_end: date | None,
                  effective_date: date | None = None, period_rule: Timing | str | None = None) -> str | None:
    """The billing month ``YYYY-MM`` a vendor line lands in (Rule 1.6 as sharpened in billing-rules
    section 9). This is the one function that decides it: the loader's "bills in another month"
    note, the reconciliation's ``out_of_period``, the timeline and the review all call it.

    * **usage** (billed in arrears) lands in the month of the vendor's bill date, the day after
      the period's last day: usage is only known once billed (anchor 1, 1-31 Oct -> billed 1 Nov ->
      2026-11; anchor 4, 4 Sep-3 Oct -> billed 4 Oct -> 2026-10).
    * **recurring and one-time** lines follow the agreement's ``period_rule``: ``advance`` (the
      default) -> the month the period starts; ``arrears`` -> the month of the period's last day.
    * **credits** land in the month of the period's last day (a refund follows the period it
      refunds); :func:`lands_in` also accepts them in any later billing month (refunds arrive late).

    ``period_end`` is the inclusive last day (Rule 1.5 display end). A line missing the date its
    rule needs falls back to the other period date, then to ``effective_date``; with none of them it
    has no landing month of its own (``None``: it belongs to the month it was loaded for).
    """
    ct = charge_type or "recurring"
    if ct == "usage":
        if period_end is not None:
            return month_key(period_end + ONE_DAY)
        order = (period_start, effective_date)
    elif ct == "credit" or Timing(period_rule or Timing.ADVANCE) is Timing.ARREARS:
        order = (period_end, period_start, effective_date)
    else:
        order = (period_start, period_end, effective_date)
    for d in order:
        if d is not None:
            return month_key(d)
    return None


def lands_in(billing_month: str, charge_type: str | None, landing: str | None) -> bool:
    """Whether a line whose :func:`landing_month` is ``landing`` belongs to ``billing_month``: the
    same month; for a credit also any earlier one (refunds arrive late, Rule 6.5); a line without a
    landing month belongs to the month it was loaded for."""
    if landing is None:
        return True
    if charge_type == "credit":
        return landing <= billing_month
    return landing == billing_month


def period_landing_month(period: VendorPeriod, timing: Timing | str) -> str:
    """The billing month a vendor period lands in: ``advance`` as a recurring line billed in advance,
    ``arrears`` as usage billed on the period's ``next_start`` (both through :func:`landing_month`)."""
    if Timing(timing) is Timing.ADVANCE:
        return landing_month("recurring", period.start, period.end)  # type: ignore[return-value]
    return landing_month("usage", period.start, period.end)  # type: ignore[return-value]


def vendor_invoice_date(period: VendorPeriod, timing: Timing | str) -> date:
    """The day the vendor invoices ``period``: its start in advance, its ``next_start`` in arrears."""
    return period.start if Timing(timing) is Timing.ADVANCE else period.next_start


def period_for_billing_month(anchor_day: int, billing_month: str, timing: Timing | str) -> VendorPeriod:
    """The vendor period billed on the account's BDOM in ``billing_month``.

    In advance that BDOM starts the period; in arrears it ends it. Either way
    :func:`period_landing_month` of the result is ``billing_month``.
    """
    y, m = parse_billing_month(billing_month)
    bd = billing_date(anchor_day, y, m)
    if Timing(timing) is Timing.ADVANCE:
        return vendor_period(anchor_day, bd)
    return vendor_period(anchor_day, bd - ONE_DAY)


def is_split(period: VendorPeriod) -> bool:
    """True when the period's days fall in two (or more) calendar months (warn the operator)."""
    return month_key(period.start) != month_key(period.end)


def split_by_month(period: VendorPeriod) -> list[tuple[str, VendorPeriod]]:
    """The period cut at calendar-month boundaries: ``[(YYYY-MM, part), ...]`` in order."""
    parts: list[tuple[str, VendorPeriod]] = []
    start = period.start
    while start < period.next_start:
        y, m = _shift(start.year, start.month, 1)
        nxt = min(date(y, m, 1), period.next_start)
        parts.append((month_key(start), VendorPeriod(start, nxt)))
        start = nxt
    return parts


# ------------------------------------------------------------------------------------ proration
class ProrationConvention(StrEnum):
    """How a partial period is counted (keep one per vendor; Rule 2b).

    * ``CW_INCLUSIVE``: actual days from the effective date to the period end, **including** the
      effective date, over the actual days in the period (ConnectWise, Rule 2.3: 15 Mar of a
      31-day month = 17/31).
    * ``INGRAM_EXCLUSIVE``: as above but the effective day itself is not charged
      (``(days in period - effective day) / days in period``: 15 Mar = 16/31). A line covering the
      whole period is not reduced.
    * ``THIRTY_DAY``: 30/360 day count, every month 30 days (15 Mar -> 1 Apr = 16/30).
    * ``MS_DAILY``: Microsoft new commerce: unit price / days in the charge cycle (the period:
      the month's own length, or 365/366 for an annual cycle) x days billed, inclusive.
    """

    CW_INCLUSIVE = "cw_inclusive"
    INGRAM_EXCLUSIVE = "ingram_exclusive"
    THIRTY_DAY = "thirty_day"
    MS_DAILY = "ms_daily"


def _days360(a: date, b: date) -> int:
    """30/360 day count: every month has 30 days (the 31st counts as the 30th)."""
    return (b.year - a.year) * 360 + (b.month - a.month) * 30 + (min(b.day, 30) - min(a.day, 30))


def covered_days(
    period: VendorPeriod,
    start: date | None = None,
    stop: date | None = None,
    convention: ProrationConvention | str = ProrationConvention.CW_INCLUSIVE,
) -> tuple[int, int]:
    """``(days charged, days in period)`` for the span ``[start, stop)`` clipped to ``period``.

    ``start`` defaults to the period start (an addition's effective date), ``stop`` (exclusive; a
    cancellation's day after) to ``next_start``.
    """
    conv = ProrationConvention(convention)
    s = max(start or period.start, period.start)
    e = min(stop or period.next_start, period.next_start)
    if e <= s:
        return 0, _denominator(period, conv)
    if conv is ProrationConvention.THIRTY_DAY:
        den = _days360(period.start, period.next_start)
        return max(0, min(den, _days360(s, e))), den
    n = (e - s).days
    if conv is ProrationConvention.INGRAM_EXCLUSIVE and s > period.start:
        n -= 1
    return max(n, 0), period.days


def _denominator(period: VendorPeriod, conv: ProrationConvention) -> int:
    if conv is ProrationConvention.THIRTY_DAY:
        return _days360(period.start, period.next_start)
    return period.days


def proration_fraction(
    period: VendorPeriod,
    start: date | None = None,
    stop: date | None = None,
    convention: ProrationConvention | str = ProrationConvention.CW_INCLUSIVE,
) -> Fraction:
    """The exact share of ``period`` charged for ``[start, stop)`` under ``convention`` (0..1)."""
    n, den = covered_days(period, start, stop, convention)
    return Fraction(n, den) if den else Fraction(0)


def daily_rate(unit_price: Decimal, days_in_cycle: int) -> Fraction:
    """Unrounded daily rate (Rule 7.4: never round it; 10.08/31 stays 0.32516...)."""
    return to_fraction(unit_price) / days_in_cycle


def prorate(
    unit_price: Decimal,
    quantity: Decimal | int,
    period: VendorPeriod,
    start: date | None = None,
    stop: date | None = None,
    convention: ProrationConvention | str = ProrationConvention.CW_INCLUSIVE,
    currency: str = "USD",
) -> Decimal:
    """Prorated line amount ``unit_price x quantity x share``, rounded once to the minor unit."""
    frac = proration_fraction(period, start, stop, convention)
    return round_fraction(to_fraction(unit_price) * to_fraction(quantity) * frac, currency)


def allocate(total: Decimal, weights: Sequence[int | Fraction], currency: str = "USD") -> list[Decimal]:
    """Split an amount over ``weights`` so that the parts sum back to ``total`` to the cent.

    Largest-remainder method: every part gets its exact share rounded toward zero to the minor
    unit, then the cents left over go one each to the parts with the largest remainders (ties:
    the earlier part). ``total`` is rounded (half up) to the minor unit first.
    """
    total = quantize(total, currency)
    ws = [Fraction(w) for w in weights]
    if any(w < 0 for w in ws):
        raise InputError("weights must be >= 0")
    wsum = sum(ws, Fraction(0))
    if not ws:
        return []
    if wsum == 0:
        raise InputError("weights sum to zero")
    sign = -1 if total < 0 else 1
    q = quantize(Decimal(1), currency).as_tuple().exponent  # negative exponent
    scale = 10 ** (-q)
    units = int(abs(total) * scale)
    exact = [Fraction(units) * w / wsum for w in ws]
    floors = [int(x) for x in exact]  # x >= 0 so int() floors
    left = units - sum(floors)
    order = sorted(range(len(ws)), key=lambda i: (-(exact[i] - floors[i]), i))
    for i in order[:left]:
        floors[i] += 1
    return [Decimal(sign * f).scaleb(q) for f in floors]


def prorate_split(
    amount: Decimal,
    period: VendorPeriod,
    convention: ProrationConvention | str = ProrationConvention.CW_INCLUSIVE,
    currency: str = "USD",
) -> dict[str, Decimal]:
    """Share a whole period's amount between the calendar months it touches.

    Each month's weight is its day count under ``convention``; :func:`allocate` makes the parts
    sum back to ``amount`` (rounded once) to the cent.
    """
    parts = split_by_month(period)
    conv = ProrationConvention(convention)
    weights = [covered_days(period, p.start, p.next_start, ProrationConvention.CW_INCLUSIVE
                            if conv is ProrationConvention.INGRAM_EXCLUSIVE else conv)[0] for _, p in parts]
    if sum(weights) == 0:  # 30/360 can give a 31st-only part zero days; fall back to actual days
        weights = [p.days for _, p in parts]
    return dict(zip([m for m, _ in parts], allocate(amount, weights, currency)))


@dataclass(frozen=True)
class CwProration:
    """Expected ConnectWise amounts for an addition on a prorated agreement (Rules 2.1-2.3).

    ``prorated``: the partial month (effective day through month end, inclusive) for the quantity;
    ``full``: one full month; ``first_invoice_total``: what the next agreement invoice carries by
    default (prorated part + next full month, Rule 2.2). ``invoice_date`` is that invoice's date.
    """

    prorated: Decimal
    full: Decimal
    first_invoice_total: Decimal
    days: int
    days_in_month: int
    billing_month: str
    invoice_date: date


def expected_cw_proration(
    unit_price: Decimal,
    quantity: Decimal | int,
    effective: date,
    billing_month: str | None = None,
    currency: str = "USD",
) -> CwProration:
    """What ConnectWise should bill for an addition effective ``effective`` (Rule 2.3, verify).

    ``billing_month`` is the calendar month prorated (default: the effective date's month); an
    effective date before that month charges it in full, after it nothing. IDSync's example:
    $22 added 15 March -> 22 x 17/31 = 12.06 prorated, 34.06 on the April invoice.
    """
    bm = billing_month or month_key(effective)
    first, last = addition_dates(bm)
    month = VendorPeriod(first, last + ONE_DAY)
    days, den = covered_days(month, effective, None, ProrationConvention.CW_INCLUSIVE)
    if effective > last:
        days = 0
    unit = to_fraction(unit_price) * to_fraction(quantity)
    prorated = round_fraction(unit * Fraction(days, den), currency)
    full = round_fraction(unit, currency)
    return CwProration(prorated, full, prorated + full, days, den, bm, cw_invoice_date(bm))


def late_month_risk(d: date) -> bool:
    """True when ``d`` falls in the last six days of its month (Intermedia: the agreement may not be
    updated before the 1st; e.g. 26-31 Oct, 23-28 Feb 2026)."""
    return d.day > days_in_month(d.year, d.month) - LATE_MONTH_DAYS
