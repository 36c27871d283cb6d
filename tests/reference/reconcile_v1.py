"""Reconciliation: one vendor billing month + a ConnectWise snapshot + mappings -> a plan (pure).

``reconcile(vendor_lines, snapshot, mappings, context) -> Plan`` answers, for every vendor line,
"the vendor billed X, ConnectWise will bill Y, the difference is $Z, and this is the exact change
that would fix it". No network, no database, no Streamlit: plain DataFrames in, plain data out.

Input contracts
===============

**Vendor lines** (DataFrame, the canonical columns of issue 3, one row per vendor line)::

    line_no               int        line number in the import (1-based; generated when absent)
    vendor_customer_id    str        required
    vendor_customer_name  str
    customer_created      date|None  BDOM anchor (late-month flag)
    subscription_id       str|None   the line key uses it when present, else the SKU
    sku                   str        required
    product_name          str
    charge_type           str        recurring | usage | one_time | credit (default recurring)
    billing_frequency     str        monthly | annual
    term                  str        monthly | annual | triennial | none
    quantity              Decimal    credits may be negative
    unit_cost             Decimal    what the vendor charges the MSP per unit
    unit_price            Decimal|None  the customer price per unit, when the vendor file has one
    period_start          date|None  first day the charge covers
    period_end            date|None  last day the charge covers (inclusive, Rule 1.5 display end)
    effective_date        date|None  day a mid-period change took effect
    currency              str        ISO 4217 (default USD)

Floats/strings in the money columns are converted with ``Decimal(str(x))``. Credits (Rule 6.5)
are normalised to a negative quantity with positive unit cost/price whatever signs the file used,
so a credit always reduces the vendor total.

**ConnectWise snapshot**: a mapping of plain lists of CW JSON records as the REST API returns them
(``companies``, ``agreements``, ``additions``, ``catalog``, ``agreement_types``, ``invoices``), or
the :class:`SnapshotFrames` that :func:`snapshot_frames` builds from it once (the fast path: build
the frames when the snapshot is read and pass them to every reconcile). Each addition record must
carry ``agreementId`` (CW echoes it; the snapshot reader adds it otherwise).

**Mappings** (:class:`Mappings`, DataFrames; missing optional columns take the defaults shown)::

    companies   vendor_customer_id, company_id
    agreements  vendor_customer_id, subscription_id (None = every subscription of the customer),
                agreement_id, sync_mode (standing|monthly, default standing),
                period_rule (advance|arrears, Rule 1.6, default advance)
    products    sku, term (None = any), billing_frequency (None = any), catalog_item_id,
                own_cost (bool, default True), own_price (bool, default True),
                quantity_basis (str, e.g. "purchased seats, end of period")
    rules       vendor_customer_id, sku (None = every product of the customer),
                rule (do_not_sync | fixed_quantity | cap), value (Decimal; None for do_not_sync)

**Context** (:class:`Context`): billing month ``YYYY-MM``, vendor name (line-key prefix), the API
member identifier billbridge writes as, today, the journal of billbridge's writes (DataFrame
``key``, ``addition_id`` (optional), ``written_at``; may be empty), and the operator overrides
(plan row keys allowed to overwrite a manual edit).

Output contract
===============

:class:`Plan` with ``rows`` (DataFrame, columns :data:`ROW_COLUMNS`, one row per (agreement,
product, line key)) and ``summary`` (:class:`Summary`). ``action`` is one of :data:`ACTIONS`;
blocked rows carry a ``cause`` from :data:`CAUSES`. ``writes`` is the field-level diff
(``[{field, from, to}]``), ``request`` the exact API call it implies (``{method, path, body}``,
``path`` relative to the API root, JSON-ready numbers in the body). Money columns are ``Decimal``;
``price_impact``/``margin_impact`` are the monthly change of the customer price and of
(price - cost) in the agreement currency, each extended amount rounded once per line.

Decisions (documented here, tested in tests/test_reconcile.py)
---------------------------------------------------------------
- **Line keys** come from :mod:`billbridge.linekey`: standing recurring/usage lines
  ``vendor|customer|subscription``; monthly-mode lines, one-time charges and credits add
  ``|YYYY-MM`` (credits also ``|credit``).
- **Which month a line lands in** (Rule 1.6): ``advance`` -> the month of ``period_start``;
  ``arrears`` -> the month of ``period_end``. Usage lines always follow ``arrears`` and may land in
  the billing month or the one before (vendors bill usage after the fact, Rule 3.3); credits may
  land in the billing month or any earlier one (refunds arrive late, Rule 6.5); one-time charges
  follow the rule like recurring ones (the vendor's billing date, not the subscription start).
  Lines without period dates use the effective date, and without that belong to the billing month. Anything else is ``excluded`` with cause ``out_of_period``.
- **Credits** (Rule 6.5) never create or keep alive a standing line: in both modes a credit becomes
  its own one-month addition (effective the 1st, cancelled the last day, negative quantity,
  positive unit price/cost) on the agreement and catalog item of the original charge, and the
  row names the original line (``credit_for`` + its addition id when ConnectWise still has it).
  Without a vendor price the credit is priced at cost (flag ``credit_priced_at_cost``).
- **One-time charges**: an addition effective the 1st and cancelled the last day of the billing
  month (dated to the 1st so a prorated agreement does not prorate a one-off fee).
- **Usage** (arrears) is a standing line whose quantity is the last period's usage.
- **Rules**: ``do_not_sync`` -> excluded (``excluded_by_rule``); ``fixed_quantity`` replaces and
  ``cap`` limits the summed quantity of recurring and usage lines (never credits or one-offs).
- **Adoption** (standing mode): a single active addition without any billbridge key for the
  product is adopted (the update also writes the key). Two or more such additions, or one
  addition for two vendor subscriptions, are ``ambiguous``; so is a line billbridge manages when
  another active addition for the same product sits next to it (Rule 8: one active addition per
  (agreement, product)), and two active additions carrying the same key.
- **Manually edited**: an addition billbridge wrote (our key, or in the journal) whose
  ``_info.updatedBy`` is not the API member and whose ``lastUpdated`` is after billbridge's last
  write (journal ``written_at``; without a journal entry, after ``dateEntered``). Only rows that
  would write are protected; the operator's override (plan key in ``context.overrides``) turns the
  row back into an update, flagged ``overrides_manual_edit``.
- **Cancel** (Rule 6.2): an active addition carrying this vendor's key on a mapped agreement whose
  key no vendor line of the month produces -> PATCH ``cancelledDate`` = last day of the billing
  month when the agreement has an invoice dated in that month, else the last day of the month
  before (never before the addition's effective date; flag ``never_invoiced``). Lines of earlier
  months (monthly mode) are left alone. Never DELETE.
- **Ownership** (Rule 7.3): quantity is always owned; unit price/cost only when the product
  mapping owns them and the vendor gives a value. A create without an owned price omits
  ``unitPrice`` so ConnectWise takes the catalog price (used for the impact).
- **Buckets & conservation**: every vendor line sits behind exactly one plan row. Rows are
  ``reconciled`` (in_sync/update/create/cancel), ``excluded`` (out_of_period, excluded_by_rule) or
  ``blocked`` (every other cause). The summary asserts lines and dollars (vendor cost, rounded
  once per line) checked = reconciled + blocked + excluded to the cent, else
  :class:`ConservationError`.
- **Proration**: for a create effective after the 1st, ``cw_proration`` is what ConnectWise will
  prorate when the agreement has ``prorateFlag`` (``billbridge.bdom.expected_cw_proration``:
  unit price x quantity x inclusive days to the month end / days in the month, exact, rounded
  once; a private fallback computes the same if bdom is absent) and ``vendor_proration`` what the
  vendor charged for the partial period. A recurring line covering only part of its BDOM period
  (the vendor prorated the unit) gets its full-period unit back (rounded to cents) for the
  standing line, flagged ``vendor_prorated``; ``vendor_amount`` stays what the vendor billed.
- **Performance**: the happy path is column-wise (merges, numpy masks, Decimal arithmetic on
  object arrays, each distinct value converted once); Python loops run only over changed,
  blocked or flagged rows. Build :class:`SnapshotFrames` once per snapshot and pass them in.
  The cyclic garbage collector is paused during the call (re-enabled after).
"""

from __future__ import annotations

import gc
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from fractions import Fraction
from typing import Any

import numpy as np
import pandas as pd

from billbridge import bdom as _bdom
from billbridge.errors import ConservationError
from billbridge.plan.inputs import (Context, Mappings, SnapshotFrames, _d10, _empty, _key_of,  # noqa: F401
                                   _objectify, _ref, _ts, cw_date, snapshot_frames)
from billbridge.model import ACTIONS, CAUSES, EXCLUDED_CAUSES, ROW_COLUMNS, VENDOR_LINE_COLUMNS
from billbridge.linekey import KIND_CREDIT, KIND_OUT_OF_PERIOD, MAX_KEY_LEN, line_key, parse_line_key
from billbridge.money import format_money, quantum, round_fraction

__all__ = [
    "ACTIONS", "CAUSES", "EXCLUDED_CAUSES", "ROW_COLUMNS", "VENDOR_LINE_COLUMNS",
    "Mappings", "Context", "SnapshotFrames", "Plan", "Summary", "ConservationError",
    "snapshot_frames", "reconcile", "plan_to_json", "cw_date",
]

ZERO = Decimal(0)


# --------------------------------------------------------------------------------------------
# inputs
# --------------------------------------------------------------------------------------------


def _put(df: pd.DataFrame, col: str, values: Any) -> None:
    """``df[col] = values``, keeping text as ``object`` (no Arrow-string inference) and numbers/bools
    in their own dtype."""
    if isinstance(values, np.ndarray) and values.dtype != object:
        df[col] = values
    elif isinstance(values, pd.Series) and not pd.api.types.is_string_dtype(values.dtype):
        df[col] = values.to_numpy() if not values.index.equals(df.index) else values
    elif isinstance(values, pd.Series):
        df[col] = pd.Series(values.to_numpy(dtype=object), index=df.index, dtype=object)
    elif values is None or isinstance(values, str):
        df[col] = pd.Series([values] * len(df), index=df.index, dtype=object)
    elif np.isscalar(values):
        df[col] = values
    else:
        arr = np.empty(len(values), dtype=object)
        arr[:] = values if not isinstance(values, list) else [v for v in values]
        df[col] = pd.Series(arr, index=df.index, dtype=object)


def _str_filled(series: pd.Series, fill: str, via_object: bool = False) -> np.ndarray:
    """``series[.astype(object)].fillna(fill).astype(str).to_numpy()`` (object array of text) without the
    round trip through Arrow strings when the column already holds text."""
    vals = series.to_numpy(dtype=object)
    na = pd.isna(vals)
    if na.any():
        vals = vals.copy()
        vals[na] = fill
    if len(vals) and set(map(type, vals.tolist())) == {str}:
        return vals
    if via_object:
        series = series.astype(object)
    return series.fillna(fill).astype(str).to_numpy()


def _ts_array(series: pd.Series) -> np.ndarray:
    """:func:`_ts` over a column, each distinct value once."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    conv = np.array([_ts(u) for u in uniques] + [None], dtype=object)
    return conv[codes]


# --------------------------------------------------------------------------------------------
# small helpers (vectorised where it matters)
# --------------------------------------------------------------------------------------------




def _prev_month(month: str) -> str:
    y, m = int(month[:4]), int(month[5:7])
    return f"{y - 1}-12" if m == 1 else f"{y}-{m - 1:02d}"


def _isnull(x: Any) -> bool:
    return x is None or x is pd.NA or x is pd.NaT or (isinstance(x, float) and x != x)


def _to_dec(x: Any) -> Decimal | None:
    if _isnull(x):
        return None
    if isinstance(x, Decimal):
        return x
    if isinstance(x, float):
        return Decimal(repr(x))
    return Decimal(str(x).strip())


def _dec_array(series: pd.Series) -> np.ndarray:
    """Series -> object array of Decimal|None, converting each distinct value once."""
    values = series.to_numpy(dtype=object)
    if len(values) and set(map(type, values.tolist())) == {Decimal}:
        return values.copy()
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    conv = np.empty(len(uniques) + 1, dtype=object)
    for i, u in enumerate(uniques):
        conv[i] = _to_dec(u)
    conv[-1] = None
    return conv[codes]


def _iso_array(series: pd.Series) -> np.ndarray:
    """Series of dates/strings/None -> object array of 'YYYY-MM-DD' or None (each distinct value once)."""
    codes, uniques = pd.factorize(series, use_na_sentinel=True)
    conv = np.empty(len(uniques) + 1, dtype=object)
    for i, u in enumerate(uniques):
        conv[i] = None if _isnull(u) else _d10(u.date() if isinstance(u, pd.Timestamp) else u)
    conv[-1] = None
    return conv[codes]


def _quantum(currency: str | None) -> Decimal:
    return quantum(currency or "USD")


def _round_fraction(fr: Fraction, currency: str | None = "USD") -> Decimal:
    """money.round_fraction, in the plain ``0.00`` form the plan's values use."""
    return round_fraction(fr, currency or "USD").quantize(_quantum(currency))


def _ext(qty: Decimal | None, unit: Decimal | None, currency: str | None = "USD") -> Decimal:
    """Extended amount qty x unit, rounded once to the currency's minor unit (None counts as 0)."""
    if qty is None or unit is None:
        return ZERO.quantize(_quantum(currency))
    return (qty * unit).quantize(_quantum(currency), rounding=ROUND_HALF_UP)


def _days_incl(a: date, b: date) -> int:
    return (b - a).days + 1


def _cw_proration(unit_price: Decimal, quantity: Decimal, effective: date, currency: str = "USD") -> Decimal:
    """What ConnectWise bills for a line effective mid-month on a prorated agreement (exact, rounded once).

    unit price x quantity x inclusive days from ``effective`` to the month end / days in the month;
    the convention lives in one place, ``billbridge.bdom.expected_cw_proration``.
    """
    return _bdom.expected_cw_proration(unit_price, quantity, effective, None, currency).prorated


def _late_month(iso: str | None) -> bool:
    if not iso:
        return False
    return bool(_bdom.late_month_risk(date.fromisoformat(str(iso)[:10])))


def _vendor_proration(unit: Decimal, quantity: Decimal, effective: date, start: date, end: date,
                      currency: str = "USD") -> Decimal:
    total = _days_incl(start, end)
    days = max(0, _days_incl(max(effective, start), end))
    return _round_fraction(Fraction(unit) * Fraction(quantity) * Fraction(days, total), currency)


def _num(d: Decimal | None) -> int | float | None:
    """Decimal -> the JSON number ConnectWise receives (int when integral)."""
    if d is None:
        return None
    if d == d.to_integral_value():
        return int(d)
    return float(d)


def _plain(d: Decimal | None) -> Decimal | None:
    """Normalise a Decimal for display (no exponent, no trailing zeros beyond cents for money)."""
    if d is None:
        return None
    return d.normalize() if d == d.to_integral_value() else d


# --------------------------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------------------------


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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Plan:
    rows: pd.DataFrame
    summary: Summary


def _normalise_lines(vendor_lines: pd.DataFrame) -> pd.DataFrame:
    V = _objectify(vendor_lines.copy())
    n = len(V)
    V.index = pd.RangeIndex(n)
    for col in VENDOR_LINE_COLUMNS:
        if col not in V.columns:
            _put(V, col, None)
    if V["line_no"].isna().all():
        _put(V, "line_no", np.arange(1, n + 1))
    _put(V, "charge_type", V["charge_type"].astype(object).where(V["charge_type"].notna(), "recurring"))
    _put(V, "currency", V["currency"].astype(object).where(V["currency"].notna(), "USD"))
    for col in ("vendor_customer_id", "sku", "subscription_id"):
        vals = V[col].to_numpy(dtype=object).copy()
        na = pd.isna(vals)
        vals[na] = None
        if set(map(type, vals[~na].tolist())) - {str}:
            vals[~na] = [str(x) for x in vals[~na].tolist()]
        V[col] = pd.Series(vals, index=V.index, dtype=object)
    V.loc[V["subscription_id"] == "", "subscription_id"] = None
    _put(V, "vendor_customer_name", V["vendor_customer_name"].astype(object).where(
        V["vendor_customer_name"].notna(), V["vendor_customer_id"]))
    qty = _dec_array(V["quantity"])
    cost = _dec_array(V["unit_cost"])
    price = _dec_array(V["unit_price"])
    credit = (V["charge_type"] == "credit").to_numpy()
    if credit.any():
        idx = np.flatnonzero(credit)
        qty[idx] = [-abs(q) for q in qty[idx]]
        cost[idx] = [abs(c) if c is not None else None for c in cost[idx]]
        price[idx] = [abs(p) if p is not None else None for p in price[idx]]
    _put(V, "quantity", qty)
    _put(V, "unit_cost", cost)
    _put(V, "unit_price", price)
    currencies = V["currency"].unique()
    if len(currencies) == 1:
        q = _quantum(currencies[0])
        ql, cl = qty.tolist(), cost.tolist()
        if pd.isna(qty).any() or pd.isna(cost).any():  # pandas' masked object arithmetic (NaN) and its error, as before
            _put(V, "amount", (pd.Series(qty, dtype=object) * pd.Series(cost, dtype=object)).map(
                lambda d: d.quantize(q, rounding=ROUND_HALF_UP)))
        else:
            amount = np.empty(n, dtype=object)
            amount[:] = [(a * b).quantize(q, rounding=ROUND_HALF_UP) for a, b in zip(ql, cl)]
            _put(V, "amount", amount)
    else:
        _put(V, "amount", [_ext(a, b, c) for a, b, c in zip(qty, cost, V["currency"])])
    for col in ("period_start", "period_end", "effective_date", "customer_created"):
        _put(V, col, _iso_array(V[col]))
    # what the vendor charged in customer price for the line (its own proration included)
    _put(V, "price_amount", [None if p is None else _ext(a, p, c) for a, p, c in zip(qty, price, V["currency"])] \
        if len(currencies) > 1 else _ext_array(qty, price, currencies[0] if len(currencies) else "USD"))
    _put(V, "vendor_prorated", False)
    _unprorate(V)
    return V


def _ext_array(qty: np.ndarray, unit: np.ndarray, currency: str) -> np.ndarray:
    q = _quantum(currency)
    out = np.empty(len(qty), dtype=object)
    out[:] = [None if (a is None or b is None) else (a * b).quantize(q, rounding=ROUND_HALF_UP)
              for a, b in zip(qty.tolist(), unit.tolist())]
    return out


def _unprorate(V: pd.DataFrame) -> None:
    """Recurring lines covering only part of a BDOM period (a mid-period start the vendor prorated
    into the unit price) get the full-period unit back, rounded to cents, for the standing line;
    ``vendor_prorated`` marks them and ``price_amount`` keeps what the vendor actually charged."""
    created = pd.Series(V["customer_created"], dtype=object)
    ps = pd.Series(V["period_start"], dtype=object)
    pe = pd.Series(V["period_end"], dtype=object)
    cand = ((V["charge_type"] == "recurring").to_numpy() & created.notna().to_numpy() & ps.notna().to_numpy()
            & pe.notna().to_numpy())
    if not cand.any():
        return
    cand &= created.fillna("0000-00-00").str[8:10].to_numpy() != ps.fillna("0000-00-00").str[8:10].to_numpy()
    cents = Decimal("0.01")
    for i in np.flatnonzero(cand):
        anchor = int(created.iat[i][8:10])
        start = date.fromisoformat(ps.iat[i])
        nxt = date.fromisoformat(pe.iat[i]).toordinal() + 1
        bd = _bdom.billing_date(anchor, start.year, start.month)
        if bd > start:  # the period began in the previous month
            y, m = (start.year - 1, 12) if start.month == 1 else (start.year, start.month - 1)
            bd = _bdom.billing_date(anchor, y, m)
        y, m = (bd.year + 1, 1) if bd.month == 12 else (bd.year, bd.month + 1)
        next_bd = _bdom.billing_date(anchor, y, m)
        if nxt != next_bd.toordinal() or start <= bd:
            continue
        full, part = (next_bd - bd).days, nxt - start.toordinal()
        for col in ("unit_cost", "unit_price"):
            u = V.at[i, col]
            if u is not None:
                V.at[i, col] = (u * full / part).quantize(cents, rounding=ROUND_HALF_UP)
        V.at[i, "vendor_prorated"] = True


def _first_per(df: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    return df.drop_duplicates(subset=by, keep="first")


def _left_merge(left: pd.DataFrame, right: pd.DataFrame, on: list[str],
                cache: dict) -> tuple[pd.DataFrame, np.ndarray]:
    """``left.merge(right, on=on, how="left")`` for a ``right`` unique on ``on``, computed over the distinct
    keys of ``left`` only: returns that small merge and the row of it each ``left`` row takes
    (``cache`` keeps each key column's codes for the next call on the same rows)."""
    if not len(left):
        return left.merge(right, on=on, how="left"), np.arange(0)
    if not len(right):  # nothing matches: every row takes the same all-missing result
        return left.iloc[:1].reset_index(drop=True).merge(right, on=on, how="left"), np.zeros(len(left), dtype=np.intp)
    key = tuple(on)
    if key not in cache:
        parts = []
        for c in on:
            if (c,) not in cache:
                seen: dict = {}  # Python equality classes (a NaN is its own class: fine, just not shared)
                codes1 = np.fromiter((seen.setdefault(x, len(seen)) for x in left[c].tolist()), dtype=np.int64,
                                     count=len(left))
                cache[(c,)] = (codes1, len(seen), None)
            parts.append(cache[(c,)])
        if len(on) == 1:
            codes, k = parts[0][0], parts[0][1]
        else:
            codes = np.zeros(len(left), dtype=np.int64)
            for c1, k1, _ in parts:
                codes = codes * (k1 + 1) + c1
            codes, uniq = pd.factorize(codes)
            k = len(uniq)
        cache[key] = (codes, k, None)
    codes, k, first = cache[key]
    if first is None:
        _, first = np.unique(codes, return_index=True)
        cache[key] = (codes, k, first)
    small = left.iloc[first].reset_index(drop=True)
    res = small.merge(right, on=on, how="left")
    if len(res) != len(small):  # not unique after all: the plain merge
        return left.merge(right, on=on, how="left"), np.arange(len(left))
    return res, codes


def _map_lines(V: pd.DataFrame, m: Mappings) -> pd.DataFrame:
    """Attach company, agreement (+ mode, period rule), product mapping and rules to each line."""
    cache: dict = {}
    comp = m.companies
    comp = _first_per(comp[comp["company_id"].notna()], ["vendor_customer_id"])[["vendor_customer_id", "company_id"]]
    if "company_id" in V.columns or not len(V):
        V = V.merge(comp.astype({"vendor_customer_id": object}), on="vendor_customer_id", how="left")
    else:
        c0, codes = _left_merge(V[["vendor_customer_id"]], comp.astype({"vendor_customer_id": object}),
                                ["vendor_customer_id"], cache)
        V = V.copy(deep=False)
        V["company_id"] = c0["company_id"].iloc[codes].set_axis(V.index)

    agr = m.agreements.copy()
    for col, default in (("subscription_id", None), ("sync_mode", "standing"), ("period_rule", "advance")):
        if col not in agr.columns:
            agr[col] = default
    agr["sync_mode"] = agr["sync_mode"].astype(object).where(agr["sync_mode"].notna(), "standing")
    agr["period_rule"] = agr["period_rule"].astype(object).where(agr["period_rule"].notna(), "advance")
    agr = agr[agr["agreement_id"].notna()]
    cols = ["agreement_id", "sync_mode", "period_rule"]
    sub_level = _first_per(agr[agr["subscription_id"].notna()], ["vendor_customer_id", "subscription_id"])
    cust_level = _first_per(agr[agr["subscription_id"].isna()], ["vendor_customer_id"])
    a1, k1 = _left_merge(V[["vendor_customer_id", "subscription_id"]],
                         sub_level[["vendor_customer_id", "subscription_id", *cols]].astype(
                             {"vendor_customer_id": object, "subscription_id": object}),
                         ["vendor_customer_id", "subscription_id"], cache)
    a2, k2 = _left_merge(V[["vendor_customer_id"]],
                         cust_level[["vendor_customer_id", *cols]].astype({"vendor_customer_id": object}),
                         ["vendor_customer_id"], cache)
    use_sub = a1["agreement_id"].notna().to_numpy()[k1]
    for col in cols:
        _put(V, col, np.where(use_sub, a1[col].to_numpy(dtype=object)[k1], a2[col].to_numpy(dtype=object)[k2]))

    prod = m.products.copy()
    for col, default in (("term", None), ("billing_frequency", None), ("own_cost", True), ("own_price", True),
                         ("quantity_basis", None)):
        if col not in prod.columns:
            prod[col] = default
    prod = prod[prod["catalog_item_id"].notna()]
    pcols = ["catalog_item_id", "own_cost", "own_price", "quantity_basis"]
    exact = _first_per(prod[prod["term"].notna() & prod["billing_frequency"].notna()],
                       ["sku", "term", "billing_frequency"])
    by_term = _first_per(prod[prod["term"].notna() & prod["billing_frequency"].isna()], ["sku", "term"])
    any_ = _first_per(prod[prod["term"].isna()], ["sku"])
    p1, k1 = _left_merge(V[["sku", "term", "billing_frequency"]].astype(object),
                         exact[["sku", "term", "billing_frequency", *pcols]].astype(
                             {"sku": object, "term": object, "billing_frequency": object}),
                         ["sku", "term", "billing_frequency"], cache)
    p2, k2 = _left_merge(V[["sku", "term"]].astype(object),
                         by_term[["sku", "term", *pcols]].astype({"sku": object, "term": object}), ["sku", "term"], cache)
    p3, k3 = _left_merge(V[["sku"]].astype(object), any_[["sku", *pcols]].astype({"sku": object}), ["sku"], cache)
    h1 = p1["catalog_item_id"].notna().to_numpy()[k1]
    h2 = p2["catalog_item_id"].notna().to_numpy()[k2]
    for col in pcols:
        _put(V, col, np.where(h1, p1[col].to_numpy(dtype=object)[k1],
                          np.where(h2, p2[col].to_numpy(dtype=object)[k2], p3[col].to_numpy(dtype=object)[k3])))
    for col in ("own_cost", "own_price"):
        if len(V):
            _put(V, col, np.array([True if _isnull(v) else bool(v) for v in V[col].to_numpy(dtype=object).tolist()],
                                  dtype=bool))
        else:
            _put(V, col, V[col].map(lambda v: True if _isnull(v) else bool(v)))

    rules = m.rules.copy()
    if "sku" not in rules.columns:
        rules["sku"] = None
    if "value" not in rules.columns:
        rules["value"] = None
    _put(V, "do_not_sync", False)
    _put(V, "fixed_quantity", None)
    _put(V, "cap", None)
    if len(rules):
        for rule, col in (("do_not_sync", "do_not_sync"), ("fixed_quantity", "fixed_quantity"), ("cap", "cap")):
            r = rules[rules["rule"] == rule]
            if not len(r):
                continue
            vals = r.assign(_v=True if rule == "do_not_sync" else r["value"].map(_to_dec))
            cust = _first_per(vals[vals["sku"].isna()], ["vendor_customer_id"])[["vendor_customer_id", "_v"]]
            per = _first_per(vals[vals["sku"].notna()], ["vendor_customer_id", "sku"])[["vendor_customer_id", "sku", "_v"]]
            c1, k1 = _left_merge(V[["vendor_customer_id", "sku"]], per.astype(object), ["vendor_customer_id", "sku"], cache)
            c2, k2 = _left_merge(V[["vendor_customer_id"]], cust.astype(object), ["vendor_customer_id"], cache)
            got = np.where(c1["_v"].notna().to_numpy()[k1], c1["_v"].to_numpy(dtype=object)[k1],
                           c2["_v"].to_numpy(dtype=object)[k2])
            if rule == "do_not_sync":
                V[col] = pd.Series(got, dtype=object).notna().to_numpy() & (got != False)  # noqa: E712
            else:
                _put(V, col, [None if _isnull(x) else x for x in got])
    return V


def _landing(V: pd.DataFrame, month: str) -> np.ndarray:
    """True where the line belongs to the billing month (see the module docstring)."""
    ps = pd.Series(V["period_start"], dtype=object).str[:7]
    pe = pd.Series(V["period_end"], dtype=object).str[:7]
    ef = pd.Series(V["effective_date"], dtype=object).str[:7]
    ct = V["charge_type"].to_numpy(dtype=object)
    arrears = (V["period_rule"].to_numpy(dtype=object) == "arrears") | (ct == "usage") | (ct == "credit")
    land = np.where(arrears, pe.fillna(ps).fillna(ef).to_numpy(dtype=object),
                    ps.fillna(pe).fillna(ef).to_numpy(dtype=object))
    land = pd.Series(land, dtype=object)
    missing = land.isna().to_numpy()
    land = land.fillna(month).to_numpy(dtype=object)
    prev = _prev_month(month)
    ok = land == month
    ok |= (ct == "usage") & (land == prev)
    ok |= (ct == "credit") & (land.astype(str) <= month)
    return ok | missing


def _keys(V: pd.DataFrame, vendor: str, month: str) -> None:
    """Set V['line_key'] (the addition key) and V['key'] (the plan row key), vectorised."""
    ct = V["charge_type"].to_numpy(dtype=object)
    monthly = (V["sync_mode"].to_numpy(dtype=object) == "monthly") | (ct == "one_time") | (ct == "credit")
    vend = str(vendor).replace("|", "/").replace("~", "-")
    cust_v = V["vendor_customer_id"].to_numpy(dtype=object)
    line_v = _coalesce(V["subscription_id"].to_numpy(dtype=object), V["sku"].to_numpy(dtype=object))
    if pd.isna(cust_v).any() or pd.isna(line_v).any():  # rare: keep pandas' missing-value semantics
        clean = lambda s: s.str.replace("|", "/", regex=False).str.replace("~", "-", regex=False)  # noqa: E731
        sub = V["subscription_id"]
        base = ((vend + "|") + clean(V["vendor_customer_id"].astype(str)) + "|"
                + clean(sub.where(sub.notna(), V["sku"]).astype(str))).to_numpy(dtype=object)
    else:  # one pass in plain Python strings (pandas 3 Arrow-string ops are slower here)
        cl, ll = cust_v.tolist(), line_v.tolist()
        try:  # all text and nothing to escape (the usual case): no per-part replace
            joined = "\x00".join(cl) + "\x00" + "\x00".join(ll)
            escape = "|" in joined or "~" in joined
        except TypeError:
            escape = True
        if escape:
            base = np.array([f"{vend}|{str(c).replace('|', '/').replace('~', '-')}|{str(x).replace('|', '/').replace('~', '-')}"
                             for c, x in zip(cl, ll)], dtype=object)
        else:
            base = np.array([f"{vend}|{c}|{x}" for c, x in zip(cl, ll)], dtype=object)
    suffix = np.where(monthly, "|" + month, "").astype(object) + np.where(ct == "credit", "|" + KIND_CREDIT, "").astype(object)
    full = base + suffix
    out = full + np.where(~V["in_period"].to_numpy(), "|" + KIND_OUT_OF_PERIOD, "").astype(object)
    for name, values, is_out in (("line_key", full, False), ("key", out, True)):
        long = np.flatnonzero(np.array([len(v) if isinstance(v, str) else 0 for v in values.tolist()]) > MAX_KEY_LEN)
        for i in long:
            r = V.iloc[i]
            kinds = [k for k in ((KIND_CREDIT if r["charge_type"] == "credit" else None),
                                 (KIND_OUT_OF_PERIOD if is_out and not r["in_period"] else None)) if k]
            values[i] = line_key(vendor, r["vendor_customer_id"], r["subscription_id"], r["sku"],
                                 month if monthly[i] else None, "|".join(kinds) or None)
        _put(V, name, values)


_GROUP_FIRST = [
    "key", "line_key", "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "term", "billing_frequency", "currency", "company_id", "agreement_id",
    "sync_mode", "period_rule", "catalog_item_id", "own_cost", "own_price", "quantity_basis", "do_not_sync",
    "fixed_quantity", "cap", "in_period",
]


def _group(V: pd.DataFrame) -> pd.DataFrame:
    """One row per plan key: sum quantities and dollars; only duplicated keys pay for Python."""
    dup = V["key"].duplicated(keep=False).to_numpy()
    single = V.loc[~dup]
    G1 = single[_GROUP_FIRST]  # copy-on-write: a new frame, V is never written through it
    _put(G1, "vendor_lines", [[x] for x in single["line_no"].astype("int64").tolist()])
    for src, dst in (("quantity", "quantity"), ("unit_cost", "unit_cost"), ("unit_price", "unit_price"),
                     ("amount", "amount"), ("price_amount", "price_amount"), ("vendor_prorated", "vendor_prorated"),
                     ("effective_date", "effective_date"), ("period_start", "period_start"),
                     ("period_end", "period_end")):
        G1[dst] = single[src].to_numpy(dtype=object)
    if not dup.any():
        return G1.reset_index(drop=True)
    multi = V.loc[dup]
    rows = []
    for _, grp in multi.groupby("key", sort=False):
        first = grp.iloc[0]
        rec = {c: first[c] for c in _GROUP_FIRST}
        qtys = list(grp["quantity"])
        qty = sum(qtys, ZERO)
        rec["vendor_lines"] = [int(x) for x in grp["line_no"]]
        rec["quantity"] = qty
        rec["amount"] = sum(grp["amount"], ZERO)
        pa = list(grp["price_amount"])
        rec["price_amount"] = None if any(x is None for x in pa) else sum(pa, ZERO)
        rec["vendor_prorated"] = bool(grp["vendor_prorated"].any())
        for col in ("unit_cost", "unit_price"):
            vals = list(grp[col])
            if any(v is None for v in vals):
                rec[col] = None
            elif len(set(vals)) == 1:
                rec[col] = vals[0]
            elif qty:
                rec[col] = (sum((q * v for q, v in zip(qtys, vals)), ZERO) / qty).quantize(Decimal("0.0001"))
            else:
                rec[col] = vals[0]
        eff = [e for e in grp["effective_date"] if isinstance(e, str)]
        rec["effective_date"] = min(eff) if eff else None
        ps = [e for e in grp["period_start"] if isinstance(e, str)]
        pe = [e for e in grp["period_end"] if isinstance(e, str)]
        rec["period_start"] = min(ps) if ps else None
        rec["period_end"] = max(pe) if pe else None
        rec["_mixed_units"] = len(set(grp["unit_cost"])) > 1
        rows.append(rec)
    G2 = pd.DataFrame(rows)
    G = pd.concat([G1, G2], ignore_index=True)
    return G


def reconcile(vendor_lines: pd.DataFrame, snapshot: Mapping[str, Any] | SnapshotFrames, mappings: Mappings,
              context: Context) -> Plan:
    """Reconcile one billing month; see the module docstring for every rule applied."""
    # the plan allocates ~10 small objects per row and creates no cycles: pausing the cyclic
    # garbage collector for the call avoids repeated full-heap scans (a large share of the time)
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        return _reconcile(vendor_lines, snapshot, mappings, context)
    finally:
        if was_enabled:
            gc.enable()


def _reconcile(vendor_lines: pd.DataFrame, snapshot: Mapping[str, Any] | SnapshotFrames, mappings: Mappings,
               context: Context) -> Plan:
    ctx = context
    M = ctx.month
    m_start, m_end = _bdom.addition_dates(M)
    prev_end = m_start.fromordinal(m_start.toordinal() - 1)
    S = snapshot_frames(snapshot, line_key_field=ctx.line_key_field, line_key_field_id=ctx.line_key_field_id)

    # ---- vendor side ---------------------------------------------------------------------
    V = _normalise_lines(vendor_lines)
    total_lines = len(V)
    total_dollars = sum(V["amount"], ZERO) if total_lines else ZERO
    V = _map_lines(V, mappings)
    _put(V, "in_period", _landing(V, M) if total_lines else np.array([], dtype=bool))
    if total_lines:
        _keys(V, ctx.vendor, M)
    else:
        _put(V, "line_key", pd.Series([], dtype=object))
        _put(V, "key", pd.Series([], dtype=object))
    G = _group(V) if total_lines else _empty(_GROUP_FIRST + ["vendor_lines", "quantity", "unit_cost", "unit_price",
                                                             "amount", "effective_date", "period_start", "period_end"])
    if "_mixed_units" not in G.columns:
        _put(G, "_mixed_units", False)
    _put(G, "_mixed_units", G["_mixed_units"].fillna(False).astype(bool))
    n = len(G)

    # ---- ConnectWise side: names and statuses ----------------------------------------------
    companies = S.companies.set_index("company_id") if len(S.companies) else None
    agreements = S.agreements.drop_duplicates("agreement_id").set_index("agreement_id")
    catalog = S.catalog.drop_duplicates("catalog_item_id").set_index("catalog_item_id")

    indexers: dict[tuple[int, str], np.ndarray] = {}

    def lookup(frame: pd.DataFrame | None, keys: pd.Series, col: str) -> np.ndarray:
        if frame is None or not len(frame) or col not in frame.columns:
            return np.full(len(keys), None, dtype=object)
        if not frame.index.is_unique:
            return frame[col].reindex(keys.to_numpy()).to_numpy(dtype=object)
        ix = indexers.get((id(frame), keys.name))
        if ix is None:
            ix = indexers[(id(frame), keys.name)] = frame.index.get_indexer(keys.to_numpy())
        # reindex semantics: missing keys give NaN (ints/bools upcast like pandas does)
        return pd.api.extensions.take(frame[col].to_numpy(), ix, allow_fill=True).astype(object)

    _put(G, "agreement_name", lookup(agreements, G["agreement_id"], "name"))
    _put(G, "_agr_found", pd.Series(lookup(agreements, G["agreement_id"], "name"), dtype=object).notna().to_numpy() | (
        pd.Series(lookup(agreements, G["agreement_id"], "company_id"), dtype=object).notna().to_numpy()))
    agr_status = lookup(agreements, G["agreement_id"], "status")
    agr_cancelled = lookup(agreements, G["agreement_id"], "cancelled")
    agr_end = lookup(agreements, G["agreement_id"], "end_date")
    agr_noend = lookup(agreements, G["agreement_id"], "no_end")
    _put(G, "_prorate", pd.Series(lookup(agreements, G["agreement_id"], "prorate"), dtype=object).fillna(False).astype(bool).to_numpy())
    _put(G, "_parent", lookup(agreements, G["agreement_id"], "parent_name"))
    _put(G, "_agr_company", lookup(agreements, G["agreement_id"], "company_id"))
    _put(G, "company_name", lookup(companies, G["company_id"], "name"))
    comp_deleted = pd.Series(lookup(companies, G["company_id"], "deleted"), dtype=object).fillna(False).astype(bool).to_numpy()
    _put(G, "product_identifier", lookup(catalog, G["catalog_item_id"], "identifier"))
    _put(G, "product_description", lookup(catalog, G["catalog_item_id"], "description"))
    cat_found = pd.Series(G["product_identifier"], dtype=object).notna().to_numpy() | pd.Series(
        G["product_description"], dtype=object).notna().to_numpy()
    _put(G, "_cat_inactive", pd.Series(lookup(catalog, G["catalog_item_id"], "inactive"), dtype=object).fillna(False).astype(bool).to_numpy())
    cat_price = lookup(catalog, G["catalog_item_id"], "price")
    cat_cost = lookup(catalog, G["catalog_item_id"], "cost")

    status = pd.Series(agr_status, dtype=object).fillna("").to_numpy()
    cancelled = (status == "Cancelled") | pd.Series(agr_cancelled, dtype=object).fillna(False).astype(bool).to_numpy()
    endd = pd.Series(agr_end, dtype=object)
    expired = (status == "Expired") | (endd.notna().to_numpy() & (_str_filled(endd, "9999") < m_start.isoformat())
                                       & ~pd.Series(agr_noend, dtype=object).fillna(False).astype(bool).to_numpy())
    inactive = status == "Inactive"

    in_period = G["in_period"].astype(bool).to_numpy()
    has_company = G["company_id"].notna().to_numpy()
    has_agr = G["agreement_id"].notna().to_numpy()
    has_prod = G["catalog_item_id"].notna().to_numpy()
    cause = np.select(
        [~in_period, G["do_not_sync"].astype(bool).to_numpy(), ~has_company, comp_deleted,
         ~has_agr, has_agr & ~G["_agr_found"].to_numpy(), cancelled, expired, inactive, ~has_prod, has_prod & ~cat_found],
        ["out_of_period", "excluded_by_rule", "unmapped_customer", "company_deleted",
         "no_agreement", "no_agreement", "agreement_cancelled", "agreement_expired", "agreement_inactive",
         "unmapped_product", "unmapped_product"],
        default="",
    ).astype(object)
    _put(G, "cause", cause)

    # ---- quantities after rules --------------------------------------------------------------
    ct = G["charge_type"].to_numpy(dtype=object)
    rule_ok = (ct == "recurring") | (ct == "usage")
    fixed = G["fixed_quantity"].to_numpy(dtype=object)
    cap = G["cap"].to_numpy(dtype=object)
    qraw = G["quantity"].to_numpy(dtype=object)
    qty = qraw.copy()
    for i in np.flatnonzero(rule_ok & pd.Series(fixed, dtype=object).notna().to_numpy()):
        qty[i] = fixed[i]
    for i in np.flatnonzero(rule_ok & pd.Series(cap, dtype=object).notna().to_numpy()):
        qty[i] = min(qty[i], cap[i])
    _put(G, "vendor_quantity_raw", qraw)
    _put(G, "vendor_quantity", qty)
    price = G["unit_price"].to_numpy(dtype=object).copy()
    credit = ct == "credit"
    price_at_cost = credit & pd.Series(price, dtype=object).isna().to_numpy()
    price[price_at_cost] = G["unit_cost"].to_numpy(dtype=object)[price_at_cost]
    _put(G, "vendor_unit_price", price)
    _put(G, "vendor_unit_cost", G["unit_cost"].to_numpy(dtype=object))

    # ---- additions: active in the month, ours, keyed ----------------------------------------
    A = S.additions
    mapped_agr = pd.unique(mappings.agreements["agreement_id"].dropna()) if len(mappings.agreements) else []
    A = A[A["agreement_id"].isin(mapped_agr)]
    eff = A["effective_date"]
    can = A["cancelled_date"]
    active = (eff.isna().to_numpy() | (_str_filled(eff, "", via_object=True) <= m_end.isoformat())) & (
        can.isna().to_numpy() | (_str_filled(can, "9999", via_object=True) >= m_start.isoformat()))
    A = A[active]  # boolean selection: already a frame of its own (copy-on-write)
    vprefix = str(ctx.vendor).replace("|", "/").replace("~", "-") + "|"
    journal = ctx.journal if ctx.journal is not None else _empty(["key", "addition_id", "written_at"])
    jlast_by_id: pd.Series | None = None
    jlast_by_key: pd.Series | None = None
    if len(journal):
        j = journal.copy()
        j["written_at"] = j["written_at"].map(_ts)
        if "addition_id" in j.columns and j["addition_id"].notna().any():
            jj = j[j["addition_id"].notna()]
            jlast_by_id = jj.groupby("addition_id")["written_at"].max()
            jkey_by_id = jj.dropna(subset=["key"]).drop_duplicates("addition_id", keep="last").set_index("addition_id")["key"]
            missing = A["key"].isna().to_numpy()
            if missing.any():
                A.loc[missing, "key"] = jkey_by_id.reindex(A.loc[missing, "addition_id"].to_numpy()).to_numpy()
        if "key" in j.columns:
            jlast_by_key = j.dropna(subset=["key"]).groupby("key")["written_at"].max()
    akey = A["key"].astype(object)
    ours = akey.notna().to_numpy() & akey.fillna("").astype(str).str.startswith(vprefix).to_numpy()
    A["ours"] = ours
    A["free"] = akey.isna().to_numpy()  # no key at all: a person's line (adoptable)
    # last write by billbridge; manual edit = someone else updated after it
    last_write = np.full(len(A), None, dtype=object)
    if jlast_by_id is not None:
        last_write = jlast_by_id.reindex(A["addition_id"].to_numpy()).to_numpy(dtype=object)
    if jlast_by_key is not None:
        by_key = jlast_by_key.reindex(A["key"].to_numpy()).to_numpy(dtype=object)
        lw = pd.Series(last_write, dtype=object)
        last_write = lw.where(lw.notna(), pd.Series(by_key, dtype=object)).to_numpy(dtype=object)
    lw = pd.Series(last_write, dtype=object)
    date_entered = _ts_array(A["date_entered"]) if len(A) else np.array([], dtype=object)
    baseline = _str_filled(lw.where(lw.notna(), pd.Series(date_entered, dtype=object)), "")
    last_upd = _str_filled(pd.Series(_ts_array(A["last_updated"]), dtype=object), "") \
        if len(A) else np.array([], dtype=object)
    by_person = _str_filled(A["updated_by"], "") != str(ctx.api_member)
    A["manual"] = (A["ours"].to_numpy() | pd.Series(last_write, dtype=object).notna().to_numpy()) & by_person & (last_upd > baseline)
    A["quantity_d"] = _dec_array(A["quantity"]) if len(A) else np.array([], dtype=object)
    A["unit_price_d"] = _dec_array(A["unit_price"]) if len(A) else np.array([], dtype=object)
    A["unit_cost_d"] = _dec_array(A["unit_cost"]) if len(A) else np.array([], dtype=object)

    # keyed matches (agreement, key)
    keyed = A[A["ours"]]
    workable = (G["cause"] == "").to_numpy()
    gcode, acode = _pair_codes(G["agreement_id"].to_numpy(dtype=object), G["line_key"].to_numpy(dtype=object),
                               keyed["agreement_id"].to_numpy(dtype=object), keyed["key"].to_numpy(dtype=object))
    # first addition per (agreement, key) in snapshot order, and how many carry it (a left merge, by codes)
    uniq, first, counts = np.unique(acode, return_index=True, return_counts=True)
    at = np.minimum(np.searchsorted(uniq, gcode), max(len(uniq) - 1, 0))
    hit = (uniq[at] == gcode) if len(uniq) else np.zeros(n, dtype=bool)
    match_id = np.full(n, np.nan, dtype=object)
    if hit.any():
        match_id[hit] = keyed["addition_id"].to_numpy(dtype=object)[first[at[hit]]]
    dup_key = np.zeros(n, dtype=bool)
    if hit.any():
        dup_key[hit] = counts[at[hit]] > 1
    match_id = np.where(workable, match_id, None)
    matched = pd.Series(match_id, dtype=object).notna().to_numpy()

    # free (keyless) active additions per (agreement, product)
    free = A[A["free"]]
    free_counts = free.groupby(["agreement_id", "product_id"]).size()
    ap = pd.MultiIndex.from_arrays([G["agreement_id"].to_numpy(dtype=object), G["catalog_item_id"].to_numpy(dtype=object)])
    n_free = free_counts.reindex(ap).fillna(0).to_numpy().astype(int) if len(free_counts) else np.zeros(n, dtype=int)
    line_kind = rule_ok  # recurring / usage lines take part in adoption and the one-line rule
    standing = (G["sync_mode"].to_numpy(dtype=object) != "monthly")
    wants_adopt = workable & ~matched & line_kind & standing
    want_counts = pd.Series(1, index=ap[wants_adopt]).groupby(level=[0, 1]).size() if wants_adopt.any() else pd.Series(dtype=int)
    n_want = want_counts.reindex(ap).fillna(0).to_numpy().astype(int) if len(want_counts) else np.zeros(n, dtype=int)
    adopt = wants_adopt & (n_free == 1) & (n_want == 1)
    adopted_ap = set(zip(ap.get_level_values(0)[adopt], ap.get_level_values(1)[adopt]))
    leftover = n_free - np.array([1 if (a, p) in adopted_ap else 0 for a, p in zip(ap.get_level_values(0), ap.get_level_values(1))]) \
        if adopted_ap else n_free
    ambiguous = workable & line_kind & (
        dup_key
        | (wants_adopt & ((n_free >= 2) | ((n_free == 1) & (n_want >= 2))))
        | (~wants_adopt & (leftover >= 1)))
    if adopt.any():
        free1 = free.drop_duplicates(["agreement_id", "product_id"]).set_index(["agreement_id", "product_id"])["addition_id"]
        adopted_ids = free1.reindex(ap[adopt]).to_numpy(dtype=object)
        match_id[adopt] = adopted_ids
    G.loc[ambiguous, "cause"] = "ambiguous"
    _put(G, "_n_free", n_free)
    _put(G, "_keyed", matched)
    _put(G, "_dup_key", dup_key)
    match_id = np.where(ambiguous, None, match_id)
    _put(G, "cw_addition_id", match_id)
    _put(G, "_adopted", adopt & ~ambiguous)
    A_by_id = A.drop_duplicates("addition_id").set_index("addition_id")
    mid = pd.Series(match_id, dtype=object)

    pos = A_by_id.index.get_indexer(mid.to_numpy()) if len(A_by_id) and len(mid) else np.full(n, -1)
    found = pos >= 0

    def acol(col: str) -> np.ndarray:
        out = np.full(n, None, dtype=object)
        if found.any():
            out[found] = A_by_id[col].to_numpy(dtype=object)[pos[found]]
        return out

    _put(G, "cw_quantity", acol("quantity_d"))
    _put(G, "cw_unit_price", acol("unit_price_d"))
    _put(G, "cw_unit_cost", acol("unit_cost_d"))
    _put(G, "cw_effective_date", acol("effective_date"))
    _put(G, "cw_cancelled_date", acol("cancelled_date"))
    _put(G, "_cw_product", acol("product_id"))
    _put(G, "_manual", pd.Series(acol("manual"), dtype=object).fillna(False).astype(bool).to_numpy())
    _put(G, "_updated_by", acol("updated_by"))
    _put(G, "_last_updated", acol("last_updated"))

    # ---- target values and diffs -------------------------------------------------------------
    has_match = mid.notna().to_numpy()
    month_bound = ~standing | (ct == "one_time") | credit
    own_price = G["own_price"].astype(bool).to_numpy()
    own_cost = G["own_cost"].astype(bool).to_numpy()
    vprice = G["vendor_unit_price"].to_numpy(dtype=object)
    vcost = G["vendor_unit_cost"].to_numpy(dtype=object)
    vprice_known = pd.Series(vprice, dtype=object).notna().to_numpy()
    vcost_known = pd.Series(vcost, dtype=object).notna().to_numpy()
    cwq = G["cw_quantity"].to_numpy(dtype=object)
    cwp = G["cw_unit_price"].to_numpy(dtype=object)
    cwc = G["cw_unit_cost"].to_numpy(dtype=object)
    write_price = own_price & vprice_known
    write_cost = own_cost & vcost_known
    d_qty = has_match & (pd.Series(qty, dtype=object) != pd.Series(cwq, dtype=object)).to_numpy()
    d_price = has_match & write_price & (pd.Series(vprice, dtype=object) != pd.Series(cwp, dtype=object)).to_numpy()
    d_cost = has_match & write_cost & (pd.Series(vcost, dtype=object) != pd.Series(cwc, dtype=object)).to_numpy()
    # target dates
    eff_v = pd.Series(G["effective_date"], dtype=object)
    eff_in_month = eff_v.notna().to_numpy() & (eff_v.fillna("").str[:7].to_numpy() == M)
    target_eff = np.where(month_bound | ~eff_in_month, m_start.isoformat(), eff_v.to_numpy(dtype=object))
    target_can = np.where(month_bound, m_end.isoformat(), None)
    cw_eff = pd.Series(G["cw_effective_date"], dtype=object).to_numpy()
    cw_can = pd.Series(G["cw_cancelled_date"], dtype=object).to_numpy()
    d_dates = has_match & month_bound & ((cw_eff != target_eff) | (cw_can != target_can))
    d_key = G["_adopted"].to_numpy()
    d_product = has_match & (pd.Series(G["_cw_product"], dtype=object) != G["catalog_item_id"]).to_numpy()
    any_diff = d_qty | d_price | d_cost | d_dates | d_key | d_product
    overridden = G["key"].isin(ctx.overrides).to_numpy()
    manual_block = has_match & any_diff & G["_manual"].to_numpy() & ~overridden & (G["cause"] == "").to_numpy()
    G.loc[manual_block, "cause"] = "manually_edited"
    blocked = (G["cause"] != "").to_numpy()
    action = np.where(blocked, "blocked", np.where(~has_match, "create", np.where(any_diff, "update", "in_sync"))).astype(object)
    _put(G, "action", action)
    _put(G, "cause", G["cause"].where(blocked, None))
    _put(G, "_override_used", has_match & any_diff & G["_manual"].to_numpy() & overridden & ~blocked)
    G["_d_qty"], G["_d_price"], G["_d_cost"], G["_d_dates"], G["_d_key"], G["_d_product"] = (
        d_qty, d_price, d_cost, d_dates, d_key, d_product)

    # new values (what CW holds after the write)
    is_create = action == "create"
    is_update = action == "update"
    changes = is_create | is_update
    new_q = np.where(changes, qty, np.where(action == "in_sync", cwq, None))
    cat_price_d = _dec_array(pd.Series(cat_price, dtype=object)) if n else np.array([], dtype=object)
    cat_cost_d = _dec_array(pd.Series(cat_cost, dtype=object)) if n else np.array([], dtype=object)
    new_p = np.where(is_create, np.where(write_price | credit, vprice, cat_price_d),
                     np.where(is_update, np.where(write_price, vprice, cwp), np.where(action == "in_sync", cwp, None)))
    new_c = np.where(is_create, np.where(write_cost, vcost, cat_cost_d),
                     np.where(is_update, np.where(write_cost, vcost, cwc), np.where(action == "in_sync", cwc, None)))
    _put(G, "new_quantity", new_q)
    _put(G, "new_unit_price", new_p)
    _put(G, "new_unit_cost", new_c)
    _put(G, "effective_date", np.where(changes, target_eff, G["cw_effective_date"].to_numpy(dtype=object)))
    _put(G, "cancelled_date", np.where(changes, target_can, G["cw_cancelled_date"].to_numpy(dtype=object)))
    _put(G, "_target_eff", target_eff)
    _put(G, "_target_can", target_can)
    _put(G, "_write_price", write_price | credit)
    _put(G, "_write_cost", write_cost)
    _put(G, "_price_at_cost", price_at_cost)
    _put(G, "_credit_for", None)
    if credit.any():
        orig = [line_key(ctx.vendor, r.vendor_customer_id, r.subscription_id, r.sku)
                for r in G.loc[credit, ["vendor_customer_id", "subscription_id", "sku"]].itertuples()]
        G.loc[credit, "_credit_for"] = pd.Series(orig, index=G.index[credit], dtype=object)
    _put(G, "_cat_price", cat_price_d)
    _put(G, "_cat_cost", cat_cost_d)

    # ---- cancels -------------------------------------------------------------------------------
    C = _cancel_rows(keyed, G, S, mappings, ctx, M, m_start, m_end, prev_end, codes=(gcode, acode))
    rules = mappings.rules
    if len(C) and len(rules) and "rule" in rules.columns:
        whole = rules["sku"].isna() if "sku" in rules.columns else pd.Series(True, index=rules.index)
        hands_off = set(rules.loc[(rules["rule"] == "do_not_sync").to_numpy() & whole.to_numpy(), "vendor_customer_id"])
        C["do_not_sync"] = [(parse_line_key(k) or {}).get("vendor_customer_id") in hands_off for k in C["key"]]

    rows = _assemble(G, C, ctx, M, m_start, m_end, S)
    summary = _summarise(rows, ctx, total_lines, total_dollars, V)
    return Plan(rows=rows, summary=summary)


def _pair_codes(a1: np.ndarray, b1: np.ndarray, a2: np.ndarray, b2: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Integer codes of the pairs (a1, b1) and (a2, b2) in one code space: equal pairs, equal codes.
    A pair with a missing part gets a code no pair without one can have."""
    ca, _ = pd.factorize(np.concatenate([a1, a2]).astype(object), use_na_sentinel=True)
    cb, ub = pd.factorize(np.concatenate([b1, b2]).astype(object), use_na_sentinel=True)
    code = ca.astype(np.int64) * (len(ub) + 1) + cb.astype(np.int64)
    code[(ca < 0) | (cb < 0)] = -1
    return code[:len(a1)], code[len(a1):]


def _cancel_rows(A: pd.DataFrame, G: pd.DataFrame, S: SnapshotFrames, m: Mappings, ctx: Context, M: str,
                 m_start: date, m_end: date, prev_end: date,
                 codes: tuple[np.ndarray, np.ndarray] | None = None) -> pd.DataFrame:
    """Additions billbridge manages that no vendor line of the month asks for any more."""
    if not len(A):
        return pd.DataFrame()
    akeys = A["key"].astype(object)
    # a key still produced by the vendor on the same agreement, or held by a line that cannot be written
    g_agr = G["agreement_id"].astype(object)
    g_key = G["line_key"].astype(object)
    gcode, acode = codes if codes is not None else _pair_codes(
        g_agr.to_numpy(dtype=object), g_key.to_numpy(dtype=object),
        A["agreement_id"].to_numpy(dtype=object), akeys.to_numpy(dtype=object))
    same = np.isin(acode, gcode[gcode >= 0])
    elsewhere_ok = akeys.isin(g_key[(g_agr.notna() & G["cause"].isna()).to_numpy()]).to_numpy()
    held = akeys.isin(g_key).to_numpy()
    keep = ~same & (~held | elsewhere_ok)
    C = A[keep].copy() if len(A) else A
    if len(C):  # lines of earlier months (monthly mode) are left alone
        months = C["key"].astype(object).str.extract(r"\|(\d{4}-\d{2})(?:\||$)", expand=False)
        C = C[(months.isna() | (months == M)).to_numpy()]
    if not len(C):
        return pd.DataFrame()
    invoiced = set(S.invoices.loc[S.invoices["date"].fillna("").astype(str).str[:7] == M, "agreement_id"].dropna())
    _put(C, "invoiced", C["agreement_id"].isin(invoiced).to_numpy())
    target = np.where(C["invoiced"].to_numpy(), m_end.isoformat(), prev_end.isoformat())
    effd = _str_filled(C["effective_date"], "")
    _put(C, "never_invoiced", effd > target)
    _put(C, "cancelled_target", np.where(C["never_invoiced"], effd, target))
    return C


def _reason_names(r: Mapping[str, Any]) -> tuple[str, str, str]:
    cust = r.get("vendor_customer_name") or r.get("vendor_customer_id") or "?"
    prod = r.get("product_description") or r.get("product_name") or r.get("sku") or "?"
    agr = r.get("agreement_name") or (f"agreement #{r['agreement_id']}" if not _isnull(r.get("agreement_id")) else "no agreement")
    return str(cust), str(prod), str(agr)


def _fmt(d: Any) -> str:
    if _isnull(d):
        return "-"
    if isinstance(d, Decimal):
        return format(_plain(d), "f")
    return str(d)


def _money(d: Any) -> str:
    return "-" if _isnull(d) else format_money(Decimal(d))


def _blocked_reason(r: Mapping[str, Any], ctx: Context) -> str:
    cust, prod, agr = _reason_names(r)
    cause = r["cause"]
    vq = _fmt(r.get("vendor_quantity"))
    if cause == "unmapped_customer":
        return f"{cust} is not linked to a ConnectWise company yet: map the customer to sync {prod} ({vq})."
    if cause == "company_deleted":
        return f"{cust} is mapped to {r.get('company_name') or 'a company'}, which is deleted in ConnectWise: map it to the live company."
    if cause == "no_agreement":
        if not _isnull(r.get("agreement_id")):
            return f"{cust} is mapped to agreement #{r['agreement_id']}, which ConnectWise no longer has: map an existing agreement."
        company = r.get("company_name")
        who = cust if not company or company == cust else f"{cust} (ConnectWise company {company})"
        return (f"{who} has no {ctx.vendor_name or ctx.vendor} agreement mapped: "
                f"map or create one to bill {prod} ({vq}).")
    if cause == "agreement_cancelled":
        return f"{agr} for {cust} is cancelled in ConnectWise: {prod} ({vq}) cannot be billed there."
    if cause == "agreement_expired":
        return f"{agr} for {cust} ended before this month: renew it or map another agreement to bill {prod} ({vq})."
    if cause == "agreement_inactive":
        return f"{agr} for {cust} is inactive in ConnectWise: {prod} ({vq}) cannot be billed there."
    if cause == "unmapped_product":
        if not _isnull(r.get("catalog_item_id")):
            return f"{r.get('sku')} ({r.get('product_name')}) is mapped to catalog item #{r['catalog_item_id']}, which ConnectWise no longer has."
        return f"The vendor SKU {r.get('sku')} ({r.get('product_name')}, {r.get('term')} term) is not mapped to a ConnectWise product: map it to bill {cust} for {vq}."
    if cause == "ambiguous":
        if r.get("_dup_key"):
            return f"{agr} for {cust} has two active lines carrying billbridge's key for {prod}: cancel the duplicate in ConnectWise."
        if r.get("_keyed"):
            return (f"{agr} for {cust} has another active {prod} line, added by hand, next to the one billbridge keeps "
                    f"current: the customer would be billed twice. Cancel or merge the extra line, then reconcile again.")
        return (f"{agr} for {cust} has {int(r.get('_n_free') or 0)} active {prod} line(s) billbridge cannot tell apart "
                f"from the vendor's subscription(s): keep one line per product, then reconcile again.")
    if cause == "manually_edited":
        who = r.get("_updated_by") or "someone"
        when = str(r.get("_last_updated") or "")[:10]
        return (f"{who} changed {prod} on {agr} for {cust} by hand on {when} (ConnectWise has {_fmt(r.get('cw_quantity'))} "
                f"at {_money(r.get('cw_unit_price'))}, the vendor bills {vq}): billbridge leaves it alone unless you override.")
    if cause == "excluded_by_rule":
        return f"{cust} is set to 'do not sync': {prod} ({vq}) is left out on purpose."
    if cause == "out_of_period":
        return (f"This {prod} line for {cust} covers {r.get('period_start') or '?'} to {r.get('period_end') or '?'}, "
                f"which belongs to another billing month: it is not part of {ctx.month}.")
    return CAUSES.get(cause, cause)


def _assemble(G: pd.DataFrame, C: pd.DataFrame, ctx: Context, M: str, m_start: date, m_end: date,
              S: SnapshotFrames) -> pd.DataFrame:
    n = len(G)
    G = G.copy(deep=False)
    _put(G, "vendor", ctx.vendor)
    _put(G, "vendor_line_count", [len(x) for x in G["vendor_lines"]] if n else [])
    _put(G, "vendor_amount", G["amount"])
    _put(G, "bucket", np.where(G["action"] != "blocked", "reconciled",
                           np.where(G["cause"].isin(list(EXCLUDED_CAUSES)), "excluded", "blocked")).astype(object))
    action = G["action"].to_numpy(dtype=object)
    currency = G["currency"].to_numpy(dtype=object)
    one_cur = len(set(currency)) <= 1
    q = _quantum(currency[0] if n else "USD")

    def ext(qs: np.ndarray, us: np.ndarray) -> np.ndarray:
        if one_cur:
            out = np.empty(len(qs), dtype=object)
            for i, (a, b) in enumerate(zip(qs, us)):
                out[i] = ZERO if (a is None or b is None) else (a * b).quantize(q, rounding=ROUND_HALF_UP)
            return out
        return np.array([_ext(a, b, c) for a, b, c in zip(qs, us, currency)], dtype=object)

    # impacts: only create/update rows move money; in_sync and blocked rows are 0
    changes = (action == "create") | (action == "update")
    pi = np.full(n, ZERO, dtype=object)
    mi = np.full(n, ZERO, dtype=object)
    if changes.any():
        idx = np.flatnonzero(changes)
        nq, npz, nc = (G[c].to_numpy(dtype=object)[idx] for c in ("new_quantity", "new_unit_price", "new_unit_cost"))
        oq = np.where(action[idx] == "create", None, G["cw_quantity"].to_numpy(dtype=object)[idx])
        op, oc = (G[c].to_numpy(dtype=object)[idx] for c in ("cw_unit_price", "cw_unit_cost"))
        new_rev, new_cost = ext(nq, npz), ext(nq, nc)
        old_rev, old_cost = ext(oq, op), ext(oq, oc)
        pi[idx] = new_rev - old_rev
        mi[idx] = (new_rev - new_cost) - (old_rev - old_cost)
    _put(G, "price_impact", pi)
    _put(G, "margin_impact", mi)

    # flags, proration, writes/requests (changed rows only), reasons
    flags = [() for _ in range(n)]
    cw_pr = np.full(n, None, dtype=object)
    v_pr = np.full(n, None, dtype=object)
    writes = np.full(n, None, dtype=object)
    requests = np.full(n, None, dtype=object)
    for i in range(n):
        writes[i] = []
    _flag_rows(G, flags, cw_pr, v_pr, M, m_start, m_end)
    _put(G, "cw_proration", cw_pr)
    _put(G, "vendor_proration", v_pr)
    base = "/finance/agreements"
    cf_field = {"id": ctx.line_key_field_id, "caption": ctx.line_key_field}
    chg = np.flatnonzero(changes)
    # the changed rows' values, column by column as plain lists (the same objects ``to_numpy(object)`` gives)
    cols = {c: G[c].to_numpy(dtype=object)[chg].tolist() for c in (
        "agreement_id", "catalog_item_id", "new_quantity", "_write_price", "vendor_unit_price", "_write_cost",
        "vendor_unit_cost", "_target_eff", "_target_can", "line_key", "_d_product", "_cw_product", "_d_qty",
        "cw_quantity", "vendor_quantity", "_d_price", "cw_unit_price", "_d_cost", "cw_unit_cost", "_d_dates",
        "cw_effective_date", "cw_cancelled_date", "_d_key", "cw_addition_id")}
    names = list(cols)
    for i, vals in zip(chg.tolist(), zip(*cols.values())):
        r = dict(zip(names, vals))
        agr = r["agreement_id"]
        if action[i] == "create":
            body: dict[str, Any] = {"product": {"id": _jsonid(r["catalog_item_id"])}, "billCustomer": ctx.bill_customer,
                                    "quantity": _num(r["new_quantity"])}
            diff = [{"field": "product", "from": None, "to": {"id": _jsonid(r["catalog_item_id"])}},
                    {"field": "quantity", "from": None, "to": r["new_quantity"]}]
            if r["_write_price"] and r["vendor_unit_price"] is not None:
                body["unitPrice"] = _num(r["vendor_unit_price"])
                diff.append({"field": "unitPrice", "from": None, "to": r["vendor_unit_price"]})
            if r["_write_cost"]:
                body["unitCost"] = _num(r["vendor_unit_cost"])
                diff.append({"field": "unitCost", "from": None, "to": r["vendor_unit_cost"]})
            body["effectiveDate"] = cw_date(r["_target_eff"])
            diff.append({"field": "effectiveDate", "from": None, "to": r["_target_eff"]})
            if r["_target_can"] is not None:
                body["cancelledDate"] = cw_date(r["_target_can"])
                diff.append({"field": "cancelledDate", "from": None, "to": r["_target_can"]})
            body["customFields"] = [{**cf_field, "value": r["line_key"]}]
            diff.append({"field": f"customFields/{ctx.line_key_field}", "from": None, "to": r["line_key"]})
            writes[i] = diff
            requests[i] = {"method": "POST", "path": f"{base}/{_jsonid(agr)}/additions", "body": body}
        else:
            ops, diff = [], []

            def rep(path: str, old: Any, new: Any, wire: Any) -> None:
                ops.append({"op": "replace", "path": path, "value": wire})
                diff.append({"field": path, "from": old, "to": new})

            if r["_d_product"]:
                rep("product", {"id": _jsonid(r["_cw_product"])}, {"id": _jsonid(r["catalog_item_id"])},
                    {"id": _jsonid(r["catalog_item_id"])})
            if r["_d_qty"]:
                rep("quantity", r["cw_quantity"], r["vendor_quantity"], _num(r["vendor_quantity"]))
            if r["_d_price"]:
                rep("unitPrice", r["cw_unit_price"], r["vendor_unit_price"], _num(r["vendor_unit_price"]))
            if r["_d_cost"]:
                rep("unitCost", r["cw_unit_cost"], r["vendor_unit_cost"], _num(r["vendor_unit_cost"]))
            if r["_d_dates"]:
                if r["cw_effective_date"] != r["_target_eff"]:
                    rep("effectiveDate", r["cw_effective_date"], r["_target_eff"], cw_date(r["_target_eff"]))
                if r["cw_cancelled_date"] != r["_target_can"]:
                    rep("cancelledDate", r["cw_cancelled_date"], r["_target_can"], cw_date(r["_target_can"]))
            if r["_d_key"]:
                ops.append({"op": "replace", "path": "customFields", "value": [{**cf_field, "value": r["line_key"]}]})
                diff.append({"field": f"customFields/{ctx.line_key_field}", "from": None, "to": r["line_key"]})
            writes[i] = diff
            requests[i] = {"method": "PATCH", "path": f"{base}/{_jsonid(agr)}/additions/{_jsonid(r['cw_addition_id'])}",
                           "body": ops}
    _put(G, "writes", writes)
    _put(G, "request", requests)
    _put(G, "flags", flags)
    _put(G, "credit_for", G["_credit_for"])
    _put(G, "reason", _reasons(G, ctx))

    out = G.reindex(columns=list(ROW_COLUMNS))
    if len(C):
        out = pd.concat([out, _cancel_frame(C, G, S, ctx, M)], ignore_index=True) if n else _cancel_frame(C, G, S, ctx, M)
    out = out.reset_index(drop=True)
    for col in out.columns:  # text columns: None for missing (pandas 3 would give NaN)
        if out[col].dtype != object:
            if pd.api.types.is_string_dtype(out[col].dtype) or col in ("cause", "cw_addition_id", "company_id",
                                                                       "agreement_id", "catalog_item_id"):
                s = out[col].astype(object)
                out[col] = s.where(s.notna(), None)
        elif col in ("cause", "subscription_id", "company_name", "agreement_name", "product_identifier",
                     "product_description", "credit_for", "quantity_basis"):
            vals = out[col].to_numpy(dtype=object)
            na = pd.isna(vals)
            if na.any():  # else nothing to clean: the column stays as it is
                vals = vals.copy()
                vals[na] = None
                out[col] = pd.Series(vals, index=out.index, dtype=object)
    return out


class _Rows:
    """Column arrays of a frame, pulled once; ``rows[i]["col"]`` without per-row pandas overhead."""

    def __init__(self, df: pd.DataFrame):
        self._arrays = _LazyColumns(df)

    def __getitem__(self, i: int) -> "_Row":
        return _Row(self._arrays, i)


class _LazyColumns(dict):
    """column name -> object array, converted on first use."""

    def __init__(self, df: pd.DataFrame):
        super().__init__()
        self._df = df

    def __missing__(self, col: str) -> np.ndarray:
        arr = self._df[col].to_numpy(dtype=object)
        self[col] = arr
        return arr

    def get(self, col: str, default: Any = None) -> Any:
        return self[col] if col in self._df.columns else default

    def __iter__(self):
        return iter(self._df.columns)

    def __len__(self) -> int:
        return len(self._df.columns)


class _Row:
    """One row of :class:`_Rows` (read-only, dict-like)."""

    __slots__ = ("_a", "_i")

    def __init__(self, arrays: dict[str, np.ndarray], i: int):
        self._a, self._i = arrays, i

    def __getitem__(self, col: str) -> Any:
        return self._a[col][self._i]

    def get(self, col: str, default: Any = None) -> Any:
        a = self._a.get(col)
        return default if a is None else a[self._i]

    def __iter__(self):
        return iter(self._a)

    def __len__(self) -> int:
        return len(self._a)


def _jsonid(x: Any) -> Any:
    if _isnull(x):
        return None
    try:
        return int(x)
    except (TypeError, ValueError):
        return x


def _flag_rows(G: pd.DataFrame, flags: list, cw_pr: np.ndarray, v_pr: np.ndarray, M: str, m_start: date,
               m_end: date) -> None:
    """Per-row flags; Python runs only over rows that raise one."""
    n = len(G)
    if not n:
        return
    action = G["action"].to_numpy(dtype=object)
    ct = G["charge_type"].to_numpy(dtype=object)
    created = pd.Series(G["customer_created"], dtype=object)
    late_days = created.fillna("").astype(str).str[8:10]
    del late_days
    # late-month BDOM: the account bills on one of the last six days of a month (bdom.late_month_risk)
    codes, uniques = pd.factorize(created, use_na_sentinel=True)
    risk = np.array([_late_month(u) for u in uniques] + [False], dtype=bool)
    late = risk[codes]
    term = G["term"].astype(object).fillna("").to_numpy()
    cwq = G["cw_quantity"].to_numpy(dtype=object)
    vq = G["vendor_quantity"].to_numpy(dtype=object)
    has_cw = pd.Series(cwq, dtype=object).notna().to_numpy()
    annual_dec = np.zeros(n, dtype=bool)
    if has_cw.any():
        idx = np.flatnonzero(has_cw & ((term == "annual") | (term == "triennial")))
        for i in idx:
            if vq[i] is not None and vq[i] < cwq[i]:
                annual_dec[i] = True
    eff = _str_filled(pd.Series(G["_target_eff"], dtype=object), "")
    mid_month = (eff > m_start.isoformat()) & (action == "create")
    prorate = G["_prorate"].to_numpy()
    mask = (late | annual_dec | mid_month | G["_cat_inactive"].to_numpy() | G["_parent"].notna().to_numpy()
            | G["_mixed_units"].to_numpy() | G["_override_used"].to_numpy() | G["_price_at_cost"].to_numpy()
            | (ct == "credit") | (ct == "usage") | G["_adopted"].to_numpy() | G["vendor_prorated"].astype(bool).to_numpy()
            | (pd.Series(G["_agr_company"], dtype=object).notna().to_numpy()
               & (pd.Series(G["_agr_company"], dtype=object) != G["company_id"]).to_numpy()
               & G["company_id"].notna().to_numpy())
            | (~G["_write_price"].to_numpy() & G["own_price"].astype(bool).to_numpy() & (G["action"] != "blocked").to_numpy()))
    view = _Rows(G)
    for i in np.flatnonzero(mask):
        r = view[i]
        f = []
        if late[i]:
            f.append("late_month_bdom")
        if annual_dec[i]:
            f.append("annual_term_decrease")
        if mid_month[i]:
            f.append("mid_month_start")
            e = date.fromisoformat(eff[i])
            unit = r["new_unit_price"] if r["new_unit_price"] is not None else r["vendor_unit_cost"]
            qv = r["new_quantity"] if r["new_quantity"] is not None else ZERO
            cur = r["currency"] or "USD"
            if unit is not None:
                if prorate[i]:
                    f.append("prorated_by_connectwise")
                    cw_pr[i] = _cw_proration(unit, qv, e, cur)
                if r["vendor_prorated"]:
                    v_pr[i] = r["price_amount"] if r["price_amount"] is not None else r["amount"]
                else:
                    ps = date.fromisoformat(r["period_start"]) if isinstance(r["period_start"], str) else m_start
                    pe = date.fromisoformat(r["period_end"]) if isinstance(r["period_end"], str) else m_end
                    if pe < ps:
                        ps, pe = m_start, m_end
                    v_pr[i] = _vendor_proration(unit, qv, e, ps, pe, cur)
        if r["vendor_prorated"]:
            f.append("vendor_prorated")
        if r["_cat_inactive"]:
            f.append("catalog_item_inactive")
        if not _isnull(r["_parent"]):
            f.append("child_agreement")
        if r["_mixed_units"]:
            f.append("mixed_unit_costs")
        if r["_override_used"]:
            f.append("overrides_manual_edit")
        if r["_price_at_cost"]:
            f.append("credit_priced_at_cost")
        if ct[i] == "credit":
            f.append("credit")
        if ct[i] == "usage":
            f.append("usage_in_arrears")
        if r["_adopted"]:
            f.append("adopts_existing_line")
        if (not _isnull(r["_agr_company"]) and not _isnull(r["company_id"]) and r["_agr_company"] != r["company_id"]):
            f.append("agreement_company_mismatch")
        if (not r["_write_price"]) and r["own_price"] and r["action"] != "blocked":
            f.append("no_vendor_price")
        flags[i] = tuple(f)


def _text(values: np.ndarray) -> np.ndarray:
    """Decimal/number column -> display text, each distinct value formatted once."""
    codes, uniques = pd.factorize(pd.Series(values, dtype=object), use_na_sentinel=True)
    conv = np.array([_fmt(u) for u in uniques] + ["-"], dtype=object)
    return conv[codes]


def _coalesce(*arrays: np.ndarray) -> np.ndarray:
    """First non-missing value per position across object arrays (pandas ``where(notna, ...)`` chain)."""
    out = arrays[0].copy()
    for other in arrays[1:]:
        missing = pd.isna(out)
        if not missing.any():
            break
        out[missing] = other[missing]
    return out


def _reasons(G: pd.DataFrame, ctx: Context) -> list[str]:
    """Plain-words reason per row; in-sync rows (the bulk) are built column-wise."""
    n = len(G)
    if not n:
        return []
    out = np.empty(n, dtype=object)
    action = G["action"].to_numpy(dtype=object)
    ct = G["charge_type"].to_numpy(dtype=object)
    cust = _coalesce(G["vendor_customer_name"].to_numpy(dtype=object), G["vendor_customer_id"].to_numpy(dtype=object))
    prod = _coalesce(G["product_description"].to_numpy(dtype=object), G["product_name"].to_numpy(dtype=object),
                     G["sku"].to_numpy(dtype=object), np.full(n, "?", dtype=object))
    agr = G["agreement_name"].to_numpy(dtype=object).copy()
    no_name = pd.isna(agr)
    if no_name.any():
        agr[no_name] = ["agreement #" + str(x) for x in G["agreement_id"].to_numpy(dtype=object)[no_name]]
    vq = _text(G["vendor_quantity"].to_numpy(dtype=object))
    plain = (action == "in_sync") & (ct != "credit")
    if plain.any():
        out[plain] = [f"{c}: {p} on {g} is {q} in ConnectWise, as the vendor bills."
                      for c, p, g, q in zip(cust[plain].tolist(), prod[plain].tolist(), agr[plain].tolist(),
                                            vq[plain].tolist())]
    view = _Rows(G)
    rest = np.flatnonzero(~plain)
    # rows that are not blocked read plain per-column lists (the same objects ``to_numpy(object)`` gives)
    nb = rest[action[rest] != "blocked"]
    cols = {c: G[c].to_numpy(dtype=object)[nb].tolist() for c in (
        "vendor_quantity", "vendor_amount", "_credit_for", "new_unit_price", "_target_eff", "sync_mode", "_d_qty",
        "cw_quantity", "_d_price", "cw_unit_price", "vendor_unit_price", "_d_cost", "cw_unit_cost",
        "vendor_unit_cost", "_d_dates", "_target_can", "_d_product", "_d_key", "flags", "_override_used",
        "_updated_by")}
    names = list(cols)
    plain_rows = dict(zip(nb.tolist(), (dict(zip(names, vals)) for vals in zip(*cols.values()))))
    for i in rest.tolist():
        r = plain_rows.get(i) or view[i]
        a = action[i]
        c, p, g = str(cust[i]), str(prod[i]), str(agr[i])
        if a == "blocked":
            out[i] = _blocked_reason(r, ctx)
            continue
        q = vq[i]
        if ct[i] == "credit":
            base = (f"Vendor refund of {_fmt(-r['vendor_quantity'])} x {p} for {c} ({_money(r['vendor_amount'])}), "
                    f"matched to the original line {r['_credit_for']}")
            out[i] = base + (": add it as a one-month credit line on " + g + "." if a == "create"
                             else ": already on " + g + "." if a == "in_sync" else ": correct the credit line on " + g + ".")
        elif a == "create":
            what = "one-time charge" if ct[i] == "one_time" else "line for " + M_label(r)
            price = _money(r["new_unit_price"]) if r["new_unit_price"] is not None else "the catalog price"
            out[i] = f"{c}: the vendor bills {q} x {p} but {g} has no {what}: add {q} at {price} from {r['_target_eff']}."
        else:
            parts = []
            if r["_d_qty"]:
                parts.append(f"quantity {_fmt(r['cw_quantity'])} -> {q}")
            if r["_d_price"]:
                parts.append(f"price {_money(r['cw_unit_price'])} -> {_money(r['vendor_unit_price'])}")
            if r["_d_cost"]:
                parts.append(f"cost {_money(r['cw_unit_cost'])} -> {_money(r['vendor_unit_cost'])}")
            if r["_d_dates"]:
                parts.append(f"dates -> {r['_target_eff']} to {r['_target_can']}")
            if r["_d_product"]:
                parts.append("product -> " + p)
            if r["_d_key"]:
                parts.append("take over the existing line (adds billbridge's key)")
            note = ""
            if "annual_term_decrease" in (r["flags"] or ()):
                note = " Careful: an annual-term seat decrease is usually not refunded by the vendor."
            if r["_override_used"]:
                note += f" Overwrites {r['_updated_by']}'s manual change (you allowed it)."
            out[i] = f"{c}: {p} on {g} differs from the vendor: " + ", ".join(parts) + "." + note
    return list(out)


def M_label(r: Mapping[str, Any]) -> str:  # noqa: N802 - tiny helper for the create reason
    return "this month" if r.get("sync_mode") == "monthly" else "it"


def _cancel_frame(C: pd.DataFrame, G: pd.DataFrame, S: SnapshotFrames, ctx: Context, M: str) -> pd.DataFrame:
    agreements = S.agreements.drop_duplicates("agreement_id").set_index("agreement_id")
    catalog = S.catalog.drop_duplicates("catalog_item_id").set_index("catalog_item_id")
    companies = S.companies.drop_duplicates("company_id").set_index("company_id")
    wanted = {(parse_line_key(k) or {}).get("vendor_customer_id") for k in C["key"]}
    gid = G["vendor_customer_id"].astype(object)
    sel = gid.isin(wanted).to_numpy()
    names = dict(zip(gid[sel], G["vendor_customer_name"].astype(object)[sel]))
    plan_keys = set(G["key"].astype(object)[G["key"].isin(C["key"]).to_numpy()])
    rows = []
    seen: dict[str, int] = {}
    for r in C.itertuples(index=False):
        parsed = parse_line_key(r.key) or {}
        cust_id = parsed.get("vendor_customer_id")
        agr = agreements.loc[r.agreement_id] if r.agreement_id in agreements.index else None
        comp_id = agr["company_id"] if agr is not None else None
        comp_name = companies["name"].get(comp_id) if (comp_id is not None and len(companies)) else None
        cat = catalog.loc[r.product_id] if r.product_id in catalog.index else None
        agr_name = agr["name"] if agr is not None else f"agreement #{r.agreement_id}"
        status = agr["status"] if agr is not None else None
        key = r.key
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1 or key in plan_keys:  # a second line with the key, or the key moved agreement
            key = f"{key}#{r.addition_id}"
        prod_desc = cat["description"] if cat is not None else r.product_identifier
        cust_name = names.get(cust_id) or comp_name or cust_id
        cause = None
        if agr is not None and (status == "Cancelled" or agr["cancelled"]):
            cause = "agreement_cancelled"
        elif agr is not None and (status == "Expired" or (isinstance(agr["end_date"], str) and agr["end_date"] < M + "-01"
                                                  and not agr["no_end"])):
            cause = "agreement_expired"
        elif getattr(r, "do_not_sync", False):
            cause = "excluded_by_rule"
        elif r.manual and key not in ctx.overrides and r.key not in ctx.overrides:
            cause = "manually_edited"
        target = r.cancelled_target
        cq, cp, cc = r.quantity_d, r.unit_price_d, r.unit_cost_d
        cur = "USD"
        flags = []
        if r.never_invoiced:
            flags.append("never_invoiced")
        flags.append("invoiced_this_month" if r.invoiced else "not_invoiced_this_month")
        if r.manual and cause is None:
            flags.append("overrides_manual_edit")
        already = (r.cancelled_date == target)
        if cause:
            action = "blocked"
            pi = mi = ZERO
            writes: list = []
            req = None
            if cause == "excluded_by_rule":
                reason = (f"The vendor no longer bills {prod_desc} for {cust_name}, but the customer is set to "
                          f"'do not sync': the line on {agr_name} is left as it is.")
            elif cause == "manually_edited":
                reason = (f"The vendor no longer bills {prod_desc} for {cust_name}, but {r.updated_by} changed that line on "
                          f"{agr_name} by hand on {str(r.last_updated)[:10]}: billbridge leaves it alone unless you override.")
            else:
                reason = f"The vendor no longer bills {prod_desc} for {cust_name}, but {agr_name} is {cause.split('_')[1]}: nothing to end there."
        elif already:
            action, pi, mi, writes, req = "in_sync", ZERO, ZERO, [], None
            reason = f"{cust_name}: {prod_desc} on {agr_name} already ends on {target}, as the vendor stopped billing it."
        else:
            action = "cancel"
            old_rev, old_cost = _ext(cq, cp, cur), _ext(cq, cc, cur)
            pi = -old_rev
            mi = -(old_rev - old_cost)
            writes = [{"field": "cancelledDate", "from": r.cancelled_date, "to": target}]
            req = {"method": "PATCH", "path": f"/finance/agreements/{_jsonid(r.agreement_id)}/additions/{_jsonid(r.addition_id)}",
                   "body": [{"op": "replace", "path": "cancelledDate", "value": cw_date(target)}]}
            why = ("the agreement was already invoiced for " + M) if r.invoiced else ("the last invoiced month is before " + M)
            reason = (f"{cust_name}: the vendor no longer bills {prod_desc} ({_fmt(cq)} on {agr_name}): end the line on "
                      f"{target} ({why}); the line is kept for history, not deleted.")
        rows.append({
            "key": key, "action": action, "cause": cause, "reason": reason,
            "bucket": ("excluded" if cause in EXCLUDED_CAUSES else "blocked") if cause else "reconciled",
            "flags": tuple(flags), "vendor": ctx.vendor,
            "vendor_customer_id": cust_id, "vendor_customer_name": cust_name,
            "subscription_id": parsed.get("line"), "sku": None, "product_name": None, "charge_type": None,
            "term": None, "billing_frequency": None, "sync_mode": "monthly" if parsed.get("month") else "standing",
            "quantity_basis": None, "company_id": comp_id, "company_name": comp_name,
            "agreement_id": r.agreement_id, "agreement_name": agr_name, "catalog_item_id": r.product_id,
            "product_identifier": cat["identifier"] if cat is not None else r.product_identifier,
            "product_description": prod_desc, "vendor_lines": [], "vendor_line_count": 0,
            "vendor_amount": ZERO, "vendor_quantity_raw": ZERO, "vendor_quantity": ZERO,
            "vendor_unit_cost": None, "vendor_unit_price": None, "cw_addition_id": r.addition_id,
            "cw_quantity": cq, "cw_unit_price": cp, "cw_unit_cost": cc, "cw_effective_date": r.effective_date,
            "cw_cancelled_date": r.cancelled_date, "new_quantity": cq, "new_unit_price": cp, "new_unit_cost": cc,
            "effective_date": r.effective_date, "cancelled_date": target if action == "cancel" else r.cancelled_date,
            "writes": writes, "request": req, "price_impact": pi, "margin_impact": mi, "cw_proration": None,
            "vendor_proration": None, "credit_for": None, "currency": cur,
        })
    # do-not-sync customers: their lines are hands-off, including ends
    out = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
    return out


def _dsum(values: np.ndarray) -> Decimal:
    """Exact sum of the Decimals in an object array (``None`` skipped; plain ``0`` adds nothing)."""
    return sum((x for x in values.tolist() if x is not None and x is not ZERO), ZERO)


def _n_distinct(ids: np.ndarray) -> int:
    """``nunique()`` of the customer ids (``None`` for missing after :func:`_normalise_lines`)."""
    seen = set(ids.tolist())
    seen.discard(None)
    if any(isinstance(x, float) and x != x for x in seen):  # a NaN slipped through: pandas' count
        return int(pd.Series(ids, dtype=object).nunique())
    return len(seen)


def _summarise(rows: pd.DataFrame, ctx: Context, total_lines: int, total_dollars: Decimal, V: pd.DataFrame) -> Summary:
    n = len(rows)
    lines = rows["vendor_line_count"].fillna(0).astype("int64").to_numpy() if n else np.array([], dtype="int64")
    bucket = rows["bucket"].to_numpy(dtype=object) if n else np.array([], dtype=object)
    amounts = rows["vendor_amount"].to_numpy(dtype=object) if n else np.array([], dtype=object)
    pis = rows["price_impact"].to_numpy(dtype=object) if n else np.array([], dtype=object)
    mis = rows["margin_impact"].to_numpy(dtype=object) if n else np.array([], dtype=object)
    per = {}
    for b in ("reconciled", "blocked", "excluded"):
        mask = bucket == b
        per[b] = (int(lines[mask].sum()), _dsum(amounts[mask]))
    got_lines = sum(v[0] for v in per.values())
    got_dollars = sum((v[1] for v in per.values()), ZERO)
    if got_lines != total_lines or got_dollars != total_dollars:
        raise ConservationError(
            f"vendor total {total_lines} lines / {total_dollars} != reconciled {per['reconciled']} + blocked "
            f"{per['blocked']} + excluded {per['excluded']}")

    def agg(col: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        if not n:
            return out
        names = rows[col].astype(object).fillna("").to_numpy(dtype=object)
        codes, uniques = pd.factorize(names, sort=True)
        for k, name in enumerate(uniques):
            if name == "":
                continue
            mask = codes == k
            out[str(name)] = {
                "rows": int(mask.sum()), "lines": int(lines[mask].sum()),
                "dollars": _dsum(amounts[mask]), "price_impact": _dsum(pis[mask]),
                "margin_impact": _dsum(mis[mask]),
            }
        return out

    by_action = agg("action")
    by_cause = agg("cause")
    if total_lines == 0:
        status = "empty"
    elif per["reconciled"][0] == 0 and per["blocked"][0] == 0 and per["excluded"][0] == total_lines and \
            set(rows.loc[rows["vendor_line_count"] > 0, "cause"]) <= {"out_of_period"}:
        status = "nothing_in_period"
    elif any(a in by_action for a in ("create", "update", "cancel")):
        status = "changes"
    elif "blocked" in by_action:
        status = "blocked"
    else:
        status = "in_sync"
    coverage = (per["reconciled"][1] / total_dollars).quantize(Decimal("0.0001")) if total_dollars else ZERO
    return Summary(
        month=ctx.month, vendor=ctx.vendor, status=status, lines_checked=total_lines, dollars_checked=total_dollars,
        lines_reconciled=per["reconciled"][0], dollars_reconciled=per["reconciled"][1],
        lines_blocked=per["blocked"][0], dollars_blocked=per["blocked"][1],
        lines_excluded=per["excluded"][0], dollars_excluded=per["excluded"][1],
        rows=int(len(rows)), customers=_n_distinct(V["vendor_customer_id"].to_numpy(dtype=object)) if len(V) else 0,
        by_action=by_action, by_cause=by_cause,
        price_impact=_dsum(pis),
        margin_impact=_dsum(mis),
        requests=int(rows["request"].notna().sum()) if len(rows) else 0,
        coverage=coverage,
    )


# --------------------------------------------------------------------------------------------
# JSON
# --------------------------------------------------------------------------------------------


def _jsonable(x: Any) -> Any:
    if isinstance(x, Decimal):
        return format(x, "f")
    if isinstance(x, (date, datetime)):
        return x.isoformat()
    if isinstance(x, dict):
        return {k: _jsonable(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_jsonable(v) for v in x]
    if isinstance(x, np.generic):
        return x.item()
    if _isnull(x):
        return None
    return x


def plan_to_json(plan: Plan) -> dict[str, Any]:
    """``{"summary": ..., "rows": [...]}`` with Decimals as strings and dates ISO (for ``--json``).

    Request bodies keep JSON numbers (what ConnectWise receives); diff values are strings.
    """
    rows = []
    cols = list(plan.rows.columns)
    for rec in plan.rows.itertuples(index=False, name=None):
        row = {}
        for c, v in zip(cols, rec):
            if c == "request":
                row[c] = None if _isnull(v) else v
            else:
                row[c] = _jsonable(v)
        rows.append(row)
    return {"summary": _jsonable(plan.summary.to_dict()), "rows": rows}
