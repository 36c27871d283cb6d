"""The monthly billing review (pure): totals, what changed since last month, alerts, charts.

:func:`month_review` takes plain inputs — the month's plan rows (``reconcile``'s columns), the
previous month's plan rows *or* vendor lines, the push results and the agreement ids ConnectWise
already invoiced for the month — and returns a :class:`MonthReview`. No network, no database.

Money (Decimal, each line rounded once to the cent):

* **vendor cost** of a row = ``vendor_amount`` (the vendor's extended cost).
* **billed price** = what ConnectWise bills for the row once the plan is applied:
  ``quantity x unit price`` after the change (``new_*``, else ``cw_*``) for in_sync / update /
  create rows (a create without a price uses its ``price_impact``, the catalog price); 0 for a
  cancel; for blocked / excluded rows what ConnectWise bills today (often nothing: that cost is
  not re-billed, which the margin shows).
* **margin** (one definition for the headline, the per-customer chart, the alerts and the
  workbook): per review line, billed price - vendor cost when ConnectWise bills the line (an
  in_sync / update / create row, or a blocked row ConnectWise still bills), else 0; **margin %** =
  margin / billed price. The vendor cost of lines ConnectWise does not bill (blocked, excluded,
  unmapped) is **not re-billed** (column ``not_rebilled``) and shown on its own, so one unmapped
  customer does not read as a collapse of the margin on everything else, and a customer whose
  every line is blocked shows $0.00 margin and its cost as not re-billed, in every view alike.
* Month over month: billed price and margin are compared only with a month that had a plan; a
  month known only from its vendor lines is priced at the vendor's prices, a different basis, so
  only its vendor cost is compared (``MonthReview.comparable``).

Several vendors and currencies (Rule 7.1, "in totals"): every review line carries its ``vendor`` and
``currency`` (a line without one is USD). Totals, margin, coverage, the per-customer figures, the
alerts' amounts, the trend and the charts are **per currency** and never add two currencies:
:func:`totals_by_currency` (``MonthReview.currency_totals``), :func:`by_vendor` (one row per vendor
and currency, ``MonthReview.vendors``), :func:`plan_figures` (the Reconcile headline per vendor and
currency, from the plan rows). :func:`totals` of lines in two currencies is an :class:`InputError`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from billbridge.errors import InputError
from billbridge.model import ALERT_KINDS, CHANGE_KINDS, EXCLUDED_CAUSES, chart_text, label
from billbridge.money import extended, format_money

__all__ = [
    "Totals", "MonthReview", "ALERT_KINDS", "CHANGE_KINDS", "review_lines", "lines_from_vendor", "totals",
    "totals_by_currency", "currencies", "by_vendor", "by_customer", "plan_figures", "currency_figures",
    "impacts_by_currency", "impact_figure", "bridge_figure",
    "changes", "alerts", "month_review", "trend_frame", "margin_by_customer_figure", "trend_figure",
    "actions_figure", "DEFAULT_CURRENCY",
]

ZERO = Decimal(0)
#: the currency of a line that names none (the generic format's default)
DEFAULT_CURRENCY = "USD"
LINE_COLUMNS = ("key", "vendor", "customer_id", "customer", "sku", "product", "charge_type", "term", "action", "cause",
                "bucket", "flags", "agreement_id", "quantity", "unit_cost", "unit_price", "cost", "price", "margin",
                "not_rebilled", "price_impact", "vendor_price", "currency")


def _d(v: Any) -> Decimal | None:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA or v is pd.NaT:
        return None
    return v if isinstance(v, Decimal) else Decimal(str(v))


def _ext(q: Decimal | None, p: Decimal | None, *, credit: bool = False, currency: Any = None) -> Decimal:
    """``money.extended`` (the one rule), 0 when the quantity or the unit is missing."""
    return extended(q, p, currency if isinstance(currency, str) and currency else "USD", credit=credit) or ZERO


def _pct(num: Decimal, den: Decimal) -> Decimal | None:
    return (num / den).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP) if den else None


def _first(*vals: Any) -> Any:
    for v in vals:
        if _d(v) is not None:
            return _d(v)
    return None


def _qty(v: Any) -> str:
    """A quantity as a person writes it: ``16``, ``2.5`` (never ``16.0`` or ``None``)."""
    d = _d(v)
    if d is None:
        return ""
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize(), "f")


def _flags(v: Any) -> tuple:
    if v is None or (isinstance(v, float) and v != v):
        return ()
    return tuple(v) if isinstance(v, (list, tuple)) else (str(v),)


def _get(r: dict, col: str) -> Any:
    v = r.get(col)
    return None if isinstance(v, float) and v != v else v


def _cur(v: Any) -> str:
    """A line's currency code (:data:`DEFAULT_CURRENCY` when it names none)."""
    return v.strip().upper() if isinstance(v, str) and v.strip() else DEFAULT_CURRENCY


def _currency_of(lines: pd.DataFrame) -> pd.Series:
    if "currency" not in lines.columns:
        return pd.Series(DEFAULT_CURRENCY, index=lines.index, dtype=object)
    return lines["currency"].map(_cur)


def currencies(lines: pd.DataFrame) -> list[str]:
    """The currencies of review lines (or plan rows), in code order."""
    return sorted(set(_currency_of(lines))) if len(lines) else []


# ------------------------------------------------------------------------------------ lines
BILLING_ACTIONS = ("in_sync", "update", "create")


def _margin(action: Any, cost: Decimal, price: Decimal) -> dict[str, Decimal]:
    """The one margin rule (module docstring): ``margin`` on what ConnectWise bills, the cost of a
    line it does not bill as ``not_rebilled``."""
    if action in BILLING_ACTIONS or price != ZERO:
        return {"margin": price - cost, "not_rebilled": ZERO}
    return {"margin": ZERO, "not_rebilled": cost}


def _ruled(lines: pd.DataFrame) -> pd.DataFrame:
    """``lines`` with ``margin`` and ``not_rebilled`` by :func:`_margin` (review lines built
    elsewhere, e.g. by hand in a notebook, follow the same rule)."""
    if "not_rebilled" in lines.columns and not lines["not_rebilled"].isna().any():
        return lines
    out = [_margin(a, c, p) for a, c, p in zip(lines["action"], lines["cost"], lines["price"])]
    return lines.assign(margin=[o["margin"] for o in out], not_rebilled=[o["not_rebilled"] for o in out])


def review_lines(plan_rows: pd.DataFrame) -> pd.DataFrame:
    """Plan rows -> one review line per row (:data:`LINE_COLUMNS`) with cost, price and margin."""
    out = []
    for r in plan_rows.to_dict("records"):
        if r.get("target") not in (None, "addition") and not (isinstance(r.get("target"), float)):
            continue  # queued company/agreement creations carry no money
        action = _get(r, "action")
        cost = _d(_get(r, "vendor_amount")) or ZERO
        credit, cur = _get(r, "charge_type") == "credit", _get(r, "currency")
        if action in ("in_sync", "update", "create"):
            q = _first(_get(r, "new_quantity"), _get(r, "cw_quantity"))
            p = _first(_get(r, "new_unit_price"), _get(r, "cw_unit_price"))
            price = _ext(q, p, credit=credit, currency=cur) if p is not None else (_d(_get(r, "price_impact")) or ZERO)
        elif action == "cancel":
            price = ZERO
        else:
            price = _ext(_d(_get(r, "cw_quantity")), _d(_get(r, "cw_unit_price")), credit=credit, currency=cur)
        out.append({
            "key": r.get("key"), "vendor": _get(r, "vendor"), "currency": _cur(cur),
            "customer_id": _get(r, "vendor_customer_id"),
            "customer": _get(r, "vendor_customer_name") or _get(r, "company_name") or _get(r, "vendor_customer_id"),
            "sku": _get(r, "sku"), "product": _get(r, "product_name") or _get(r, "sku"),
            "charge_type": _get(r, "charge_type"), "term": _get(r, "term"), "action": action,
            "cause": _get(r, "cause"), "bucket": _get(r, "bucket"), "flags": _flags(r.get("flags")),
            "agreement_id": _get(r, "agreement_id"),
            "quantity": _d(_get(r, "vendor_quantity")), "unit_cost": _d(_get(r, "vendor_unit_cost")),
            "unit_price": _first(_get(r, "new_unit_price"), _get(r, "vendor_unit_price"), _get(r, "cw_unit_price")),
            "cost": cost, "price": price, **_margin(action, cost, price),
            "price_impact": _d(_get(r, "price_impact")) or ZERO,
            "vendor_price": _ext(_d(_get(r, "vendor_quantity")), _d(_get(r, "vendor_unit_price")), credit=credit, currency=cur)
            if _d(_get(r, "vendor_unit_price")) is not None else price,
        })
    return pd.DataFrame(out, columns=list(LINE_COLUMNS))


def lines_from_vendor(vendor_lines: pd.DataFrame) -> pd.DataFrame:
    """A month known only from its vendor lines (no plan): cost = quantity x unit cost, price =
    quantity x the vendor's unit price (0 when the file has none), each by ``money.extended``."""
    out = []
    for r in vendor_lines.to_dict("records"):
        q, c, p = _d(_get(r, "quantity")), _d(_get(r, "unit_cost")), _d(_get(r, "unit_price"))
        credit, cur = _get(r, "charge_type") == "credit", _get(r, "currency")
        cost, price = _ext(q, c, credit=credit, currency=cur), _ext(q, p, credit=credit, currency=cur)
        out.append({"key": None, "vendor": _get(r, "vendor"), "currency": _cur(cur),
                    "customer_id": _get(r, "vendor_customer_id"), "customer": _get(r, "vendor_customer_name"),
                    "sku": _get(r, "sku"), "product": _get(r, "product_name") or _get(r, "sku"),
                    "charge_type": _get(r, "charge_type"), "term": _get(r, "term"), "action": None, "cause": None,
                    "bucket": None, "flags": (), "agreement_id": None, "quantity": q, "unit_cost": c, "unit_price": p,
                    "cost": cost, "price": price, **_margin(None, cost, price), "price_impact": ZERO,
                    "vendor_price": price})
    return pd.DataFrame(out, columns=list(LINE_COLUMNS))


@dataclass
class Totals:
    vendor_cost: Decimal = ZERO
    billed_price: Decimal = ZERO
    margin: Decimal = ZERO
    margin_pct: Decimal | None = None
    customers: int = 0
    lines: int = 0
    unbilled_cost: Decimal = ZERO  # vendor cost of lines ConnectWise does not bill


def totals(lines: pd.DataFrame) -> Totals:
    """Sum of the review lines of one currency (exact: sums of per-line rounded amounts); see the
    module docstring. Lines in two currencies are refused (Rule 7.1): use :func:`totals_by_currency`."""
    found = currencies(lines)
    if len(found) > 1:
        raise InputError(f"the lines are in {len(found)} currencies ({', '.join(found)}): their totals are kept apart "
                         "(review.totals_by_currency), never added")
    lines = _ruled(lines)
    cost = sum(lines["cost"], ZERO)
    price = sum(lines["price"], ZERO)
    margin = sum(lines["margin"], ZERO)
    return Totals(cost, price, margin, _pct(margin, price),
                  int(lines["customer_id"].dropna().nunique()), int(len(lines)), sum(lines["not_rebilled"], ZERO))


def totals_by_currency(lines: pd.DataFrame) -> dict[str, Totals]:
    """:func:`totals` per currency (code order): a USD and a EUR bill are two totals, never one."""
    cur = _currency_of(lines)
    return {c: totals(lines[cur == c]) for c in currencies(lines)}


#: :func:`by_vendor`'s columns
VENDOR_COLUMNS = ("vendor", "currency", "vendor_cost", "billed_price", "margin", "margin_pct", "unbilled_cost",
                  "customers", "lines")


def by_vendor(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per vendor and currency (:data:`VENDOR_COLUMNS`): the month review's row per vendor;
    the rows of one currency add up to its :func:`totals_by_currency`."""
    if not len(lines):
        return pd.DataFrame(columns=list(VENDOR_COLUMNS))
    vendor = lines["vendor"].map(lambda v: _d_text(v) or "") if "vendor" in lines.columns else pd.Series("", index=lines.index)
    keyed = lines.assign(_vendor=vendor, _currency=_currency_of(lines))
    rows = []
    for (v, c), grp in keyed.groupby(["_vendor", "_currency"], sort=True):
        t = totals(grp)
        rows.append({"vendor": v or None, "currency": c, "vendor_cost": t.vendor_cost, "billed_price": t.billed_price,
                     "margin": t.margin, "margin_pct": t.margin_pct, "unbilled_cost": t.unbilled_cost,
                     "customers": t.customers, "lines": t.lines})
    return pd.DataFrame(rows, columns=list(VENDOR_COLUMNS))


def by_customer(lines: pd.DataFrame) -> pd.DataFrame:
    """Per customer and currency: ``price`` (what ConnectWise bills), ``cost``, ``margin`` and
    ``not_rebilled`` (exact sums of the lines, so they add up to :func:`totals_by_currency`),
    biggest billed price first (amounts of two currencies are compared, never added)."""
    cols = ["customer", "currency", "price", "cost", "margin", "not_rebilled"]
    if not len(lines):
        return pd.DataFrame(columns=cols)
    lines = _ruled(lines)
    named = lines.assign(customer=lines["customer"].map(lambda v: "(no customer)" if _d_text(v) is None else str(v)),
                         currency=_currency_of(lines))
    per = named.groupby(["customer", "currency"], sort=True).agg(
        **{c: (c, lambda s: sum(s, ZERO)) for c in cols[2:]}).reset_index()
    per["_size"] = per["price"].map(abs) + per["not_rebilled"].map(abs)
    return per.sort_values(["_size", "customer"], ascending=[False, True], kind="stable").drop(columns="_size") \
        .reset_index(drop=True)


def _d_text(v: Any) -> str | None:
    return None if v is None or (isinstance(v, float) and v != v) or v is pd.NA or str(v) == "" else str(v)


# ------------------------------------------------------------------------------------ changes
def _by_product(lines: pd.DataFrame) -> pd.DataFrame:
    lines = lines[lines["sku"].notna() & lines["customer_id"].notna()]
    rows = {}
    for r in lines.to_dict("records"):
        k = (_d_text(r.get("vendor")) or "", r["customer_id"], r["sku"], _cur(r.get("currency")))
        a = rows.setdefault(k, {"vendor": k[0], "customer_id": k[1], "sku": k[2], "currency": k[3],
                                "customer": r["customer"], "product": r["product"],
                                "quantity": ZERO, "unit_cost": None, "unit_price": None, "cost": ZERO, "price": ZERO})
        standing = r["charge_type"] in (None, "recurring", "usage")
        if standing and r["quantity"] is not None:
            a["quantity"] += r["quantity"]
            a["unit_cost"] = a["unit_cost"] or r["unit_cost"]
            a["unit_price"] = a["unit_price"] or r["unit_price"]
        a["cost"] += r["cost"]
        a["price"] += r["vendor_price"]
    return pd.DataFrame(list(rows.values()),
                        columns=["vendor", "customer_id", "sku", "currency", "customer", "product", "quantity",
                                 "unit_cost", "unit_price", "cost", "price"])


CHANGE_COLUMNS = ("kind", "vendor", "customer_id", "customer", "sku", "product", "quantity_before", "quantity_now",
                  "unit_price_before", "unit_price_now", "unit_cost_before", "unit_cost_now", "price_before",
                  "price_now", "impact", "currency")


def changes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """What changed between two months' review lines, one row per (customer, product) and kind.

    Compares the vendor side (quantities, unit prices and costs the vendor billed, priced at the
    vendor's unit price), not what ConnectWise bills, so a blocked line is not a "change".
    ``impact`` is the change of that price (of vendor cost when neither month has a price).
    Sorted by absolute impact, biggest first (the top movers)."""
    prev, cur = _by_product(previous), _by_product(current)
    pc, cc = set(zip(prev["vendor"], prev["customer_id"])), set(zip(cur["vendor"], cur["customer_id"]))
    m = prev.merge(cur, on=["vendor", "customer_id", "sku", "currency"], how="outer", suffixes=("_b", "_n"))
    out = []
    for r in m.to_dict("records"):
        before = isinstance(r.get("cost_b"), Decimal)
        now = isinstance(r.get("cost_n"), Decimal)
        pb, pn = (r["price_b"] if before else ZERO), (r["price_n"] if now else ZERO)
        cb, cn = (r["cost_b"] if before else ZERO), (r["cost_n"] if now else ZERO)
        impact = (pn - pb) if (pb or pn) else (cn - cb)
        base = {"vendor": r["vendor"] or None, "currency": r["currency"],
                "customer_id": r["customer_id"], "customer": r["customer_n"] if now else r["customer_b"],
                "sku": r["sku"], "product": r["product_n"] if now else r["product_b"],
                "quantity_before": r["quantity_b"] if before else None, "quantity_now": r["quantity_n"] if now else None,
                "unit_price_before": _d(r.get("unit_price_b")), "unit_price_now": _d(r.get("unit_price_n")),
                "unit_cost_before": _d(r.get("unit_cost_b")), "unit_cost_now": _d(r.get("unit_cost_n")),
                "price_before": pb, "price_now": pn, "impact": impact}
        kinds = []
        if not before:
            kinds.append("new_customer" if (r["vendor"], r["customer_id"]) not in pc else "new_product")
        elif not now:
            kinds.append("lost_customer" if (r["vendor"], r["customer_id"]) not in cc else "retired_product")
        elif r["quantity_b"] > 0 and r["quantity_n"] == 0:
            kinds.append("retired_product")  # only a credit or one-off left
        elif r["quantity_b"] == 0 and r["quantity_n"] > 0:
            kinds.append("new_product")
        else:
            if r["quantity_n"] > r["quantity_b"]:
                kinds.append("quantity_increase")
            elif r["quantity_n"] < r["quantity_b"]:
                kinds.append("quantity_decrease")
            if None not in (base["unit_price_before"], base["unit_price_now"]) and base["unit_price_before"] != base["unit_price_now"]:
                kinds.append("price_change")
            if None not in (base["unit_cost_before"], base["unit_cost_now"]) and base["unit_cost_before"] != base["unit_cost_now"]:
                kinds.append("cost_change")
        out += [dict(base, kind=k) for k in kinds]
    df = pd.DataFrame(out, columns=list(CHANGE_COLUMNS))
    if len(df):
        df = df.assign(_abs=df["impact"].map(abs)).sort_values(["_abs", "customer", "kind"], ascending=[False, True, True],
                                                                kind="stable").drop(columns="_abs")
    return df.reset_index(drop=True)


# ------------------------------------------------------------------------------------ alerts
ALERT_COLUMNS = ("kind", "what", "customer", "key", "agreement_id", "dollars", "detail", "currency")


def alerts(lines: pd.DataFrame, previous: pd.DataFrame | None = None, *, push_results: pd.DataFrame | None = None,
           invoiced_agreement_ids: set[int] | frozenset[int] = frozenset(),
           margin_threshold: Decimal = Decimal("0.20"), customer_change_threshold: Decimal = Decimal("0.25")) -> pd.DataFrame:
    """Things that deserve a decision (kinds: :data:`ALERT_KINDS`). Thresholds are shares (0.20 = 20 %):
    a customer alerts when its margin % is *below* ``margin_threshold`` or its billed price moved by
    *at least* ``customer_change_threshold`` of last month's."""
    out: list[dict[str, Any]] = []
    lines = _ruled(lines)
    lines = lines.assign(currency=_currency_of(lines))

    def add(kind, customer=None, key=None, agreement_id=None, dollars=ZERO, detail="", currency=DEFAULT_CURRENCY):
        out.append({"kind": kind, "what": ALERT_KINDS[kind], "customer": customer, "key": key,
                    "agreement_id": agreement_id, "dollars": dollars, "detail": detail, "currency": currency})

    # per customer and currency: a customer's amounts in two currencies are two figures
    per = lines.groupby(["customer_id", "currency"], sort=True).agg(
        customer=("customer", "first"), cost=("cost", lambda s: sum(s, ZERO)), price=("price", lambda s: sum(s, ZERO)),
        margin=("margin", lambda s: sum(s, ZERO))) if len(lines) else None
    if per is not None:
        for (cid, cur), r in per.iterrows():
            pct = _pct(r["margin"], r["price"])
            if r["price"] > 0 and pct is not None and pct < margin_threshold:
                add("low_margin", r["customer"], dollars=r["margin"], detail=f"margin {pct * 100:.1f}%", currency=cur)
        if previous is not None and len(previous):
            previous = previous.assign(currency=_currency_of(previous))
            prev = previous.groupby(["customer_id", "currency"]).agg(p=("vendor_price", lambda s: sum(s, ZERO)))["p"].to_dict()
            now = lines.groupby(["customer_id", "currency"]).agg(p=("vendor_price", lambda s: sum(s, ZERO)))["p"].to_dict()
            for (cid, cur), r in per.iterrows():
                before, after = prev.get((cid, cur)), now.get((cid, cur), ZERO)
                if before and abs(after - before) >= abs(before) * customer_change_threshold:
                    add("customer_change", r["customer"], dollars=after - before, currency=cur,
                        detail=f"{format_money(before, cur)} → {format_money(after, cur)} "
                               f"({(after - before) / before * 100:+.1f}%)")
    late_seen = set()
    for r in lines.to_dict("records"):
        cur = r["currency"]
        if "annual_term_decrease" in r["flags"]:
            add("annual_term_decrease", r["customer"], r["key"], r["agreement_id"], r["price_impact"],
                f"{r['product']}: quantity now {_qty(r['quantity'])}", cur)
        if "late_month_bdom" in r["flags"] and (r["customer_id"], cur) not in late_seen:
            late_seen.add((r["customer_id"], cur))
            add("late_month_bdom", r["customer"], dollars=per.loc[(r["customer_id"], cur), "cost"] if per is not None
                else ZERO, currency=cur)
        if r["bucket"] == "blocked" or (r["action"] == "blocked" and r["bucket"] != "excluded"):
            add("blocked", r["customer"], r["key"], r["agreement_id"], r["cost"],
                f"{r['product']}: {label(r['cause'], 'cause') or 'blocked'}", cur)
    if invoiced_agreement_ids:
        inv = lines[lines["agreement_id"].map(lambda a: a is not None and a == a and int(a) in invoiced_agreement_ids)]
        for (aid, cur), grp in inv.groupby(["agreement_id", "currency"], sort=True):
            pending = grp[grp["action"].isin(["update", "create", "cancel"])]
            add("already_invoiced", grp["customer"].iloc[0], agreement_id=int(aid), dollars=sum(pending["price_impact"], ZERO),
                detail=f"{len(pending)} pending changes bill from the next invoice", currency=cur)
    if push_results is not None and len(push_results):
        last = push_results.drop_duplicates("key", keep="first")  # newest run first
        names = dict(zip(lines["key"], lines["customer"]))
        curs = dict(zip(lines["key"], lines["currency"]))
        for r in last[last["result"] == "failed"].to_dict("records"):
            add("push_failed", names.get(r["key"]), r["key"], _get(r, "agreement_id"), ZERO, r.get("reason") or "",
                curs.get(r["key"], DEFAULT_CURRENCY))
    return pd.DataFrame(out, columns=list(ALERT_COLUMNS))


# ------------------------------------------------------------------------------------ review
@dataclass
class MonthReview:
    """The review of one month. Amounts are per currency (Rule 7.1): :attr:`currency_totals` holds
    one :class:`Totals` per currency, :attr:`vendors` one row per vendor and currency; :attr:`totals`
    is the month's totals when it has a single currency (an :class:`InputError` otherwise)."""

    month: str
    previous_month: str | None
    currency_totals: dict[str, Totals]
    previous_currency_totals: dict[str, Totals] | None
    lines: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame
    push_results: pd.DataFrame = field(default_factory=pd.DataFrame)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: "plan" when the previous month had a plan, "vendor" when only its vendor lines are known
    previous_basis: str | None = None
    vendors: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=list(VENDOR_COLUMNS)))
    #: the vendor the review is narrowed to (None: every vendor of the month)
    vendor: str | None = None
    #: the meeting's questions answered (:mod:`billbridge.meeting`: the waterfall and the sections); None when the
    #: review was made from review lines rather than plan rows
    meeting: Any = None

    @property
    def currencies(self) -> list[str]:
        """This month's currencies (code order), then any only the previous month had."""
        prev = [c for c in (self.previous_currency_totals or {}) if c not in self.currency_totals]
        return [*self.currency_totals, *prev]

    def totals_for(self, currency: str) -> Totals:
        return self.currency_totals.get(currency) or Totals()

    def previous_totals_for(self, currency: str) -> Totals | None:
        if self.previous_currency_totals is None:
            return None
        return self.previous_currency_totals.get(currency) or Totals()

    @property
    def totals(self) -> Totals:
        """The month's totals when it has one currency (no currency at all: zeros)."""
        found = list(self.currency_totals)
        if len(found) > 1:
            raise InputError(f"{self.month} is billed in {len(found)} currencies ({', '.join(found)}): read "
                             "currency_totals, never one total")
        return self.currency_totals[found[0]] if found else Totals()

    @property
    def previous_totals(self) -> Totals | None:
        if self.previous_currency_totals is None:
            return None
        found = self.currencies
        if len(found) > 1:
            raise InputError(f"{self.previous_month} and {self.month} are billed in several currencies: read "
                             "previous_currency_totals")
        return self.previous_totals_for(found[0]) if found else Totals()

    @property
    def comparable(self) -> tuple[str, ...]:
        """The totals that can be compared with the previous month on the same basis."""
        if self.previous_currency_totals is None:
            return ()
        if self.previous_basis == "plan":
            return ("vendor_cost", "billed_price", "margin", "margin_pct", "unbilled_cost")
        return ("vendor_cost",)

    def movers(self, top: int = 10) -> pd.DataFrame:
        """The biggest changes by impact (one row per customer and product; amounts of two currencies
        are compared by size, never added)."""
        return self.changes.drop_duplicates(["vendor", "customer_id", "sku", "currency"]).head(top)

    def delta(self, name: str, currency: str | None = None) -> Decimal | None:
        """Month-over-month change of a :class:`Totals` field in ``currency`` (default: the month's
        one currency); None without a previous month, or when the previous month's figure is on
        another basis (see :attr:`comparable`)."""
        if name not in self.comparable:
            return None
        if currency is None:
            found = self.currencies
            if len(found) != 1:
                return None
            currency = found[0]
        a, b = getattr(self.totals_for(currency), name), getattr(self.previous_totals_for(currency), name)
        return None if a is None or b is None else a - b


def month_review(plan_rows: pd.DataFrame, *, month: str, previous_rows: pd.DataFrame | None = None,
                 previous_lines: pd.DataFrame | None = None, previous_month: str | None = None,
                 push_results: pd.DataFrame | None = None, invoiced_agreement_ids=frozenset(),
                 history: dict[str, pd.DataFrame] | None = None, margin_threshold: Decimal = Decimal("0.20"),
                 customer_change_threshold: Decimal = Decimal("0.25"), previous_basis: str | None = None,
                 vendor: str | None = None, today=None) -> MonthReview:
    """The whole review of ``month`` from plain inputs (see the module docstring); ``plan_rows``
    may also be :func:`review_lines` already.

    ``previous_rows`` (the previous month's plan rows, or its :func:`review_lines`) wins over
    ``previous_lines`` (its vendor lines); ``previous_basis`` ("plan" | "vendor") says which one
    review lines passed as ``previous_rows`` came from (default: "plan"). ``history``: ``{month: plan
    rows or review lines}`` for the trend (this month is added). ``vendor``: only that vendor's lines
    (this month, the previous one and the history alike). ``meeting``: from plan rows, the meeting's waterfall
    and sections (:func:`billbridge.meeting.meeting`; ``today`` dates the renewals)."""
    lines = _only(_ruled(plan_rows) if "cost" in plan_rows.columns else review_lines(plan_rows), vendor)
    basis = previous_basis or ("plan" if previous_rows is not None else ("vendor" if previous_lines is not None else None))
    if previous_rows is not None and "cost" in previous_rows.columns:
        prev = _ruled(previous_rows)  # already review lines
    else:
        prev = review_lines(previous_rows) if previous_rows is not None else (
            lines_from_vendor(previous_lines) if previous_lines is not None else None)
    prev = _only(prev, vendor) if prev is not None else None
    hist = {m: _only(_ruled(h) if "cost" in h.columns else review_lines(h), vendor) for m, h in (history or {}).items()}
    if prev is not None and previous_month:
        hist.setdefault(previous_month, prev)
    hist[month] = lines
    if push_results is not None and vendor is not None and len(push_results) and "key" in push_results:
        push_results = push_results[push_results["key"].isin(set(lines["key"].dropna()))]
    return MonthReview(
        month=month, previous_month=previous_month if prev is not None else None,
        currency_totals=totals_by_currency(lines),
        previous_currency_totals=totals_by_currency(prev) if prev is not None else None, lines=lines,
        changes=changes(prev, lines) if prev is not None else pd.DataFrame(columns=list(CHANGE_COLUMNS)),
        alerts=alerts(lines, prev, push_results=push_results, invoiced_agreement_ids=set(invoiced_agreement_ids),
                      margin_threshold=margin_threshold, customer_change_threshold=customer_change_threshold),
        push_results=push_results if push_results is not None else pd.DataFrame(),
        trend=trend_frame({m: totals_by_currency(h) for m, h in hist.items()}),
        previous_basis=basis if prev is not None else None, vendors=by_vendor(lines), vendor=vendor,
        meeting=None if "cost" in plan_rows.columns else _meeting(
            plan_rows if vendor is None or "vendor" not in plan_rows.columns else plan_rows[plan_rows["vendor"] == vendor],
            lines, month=month, previous_lines=prev if basis == "plan" else None, previous_month=previous_month,
            today=today),
    )


def _meeting(*args, **kwargs):
    from billbridge.meeting import meeting

    return meeting(*args, **kwargs)


def _only(lines: pd.DataFrame, vendor: str | None) -> pd.DataFrame:
    """Review lines of one vendor (all of them for None)."""
    if vendor is None or "vendor" not in lines.columns:
        return lines
    return lines[lines["vendor"] == vendor].reset_index(drop=True)


TREND_COLUMNS = ["month", "currency", "vendor_cost", "billed_price", "margin", "margin_pct"]


def trend_frame(by_month: dict[str, Totals | dict[str, Totals]]) -> pd.DataFrame:
    """Totals per month and currency (oldest first): month, currency, vendor_cost, billed_price,
    margin, margin_pct. ``by_month`` values: ``{currency: Totals}`` (or one :class:`Totals`, USD)."""
    rows = []
    for m, per in sorted(by_month.items()):
        per = per if isinstance(per, dict) else {DEFAULT_CURRENCY: per}
        for cur, t in per.items():
            rows.append({"month": m, "currency": cur, "vendor_cost": t.vendor_cost, "billed_price": t.billed_price,
                         "margin": t.margin, "margin_pct": t.margin_pct})
    return pd.DataFrame(rows, columns=TREND_COLUMNS)


# ------------------------------------------------------------------------------------ plan rows
#: :func:`plan_figures`'s columns: the Reconcile headline per vendor and currency
FIGURE_COLUMNS = ("vendor", "currency", "lines", "rows", "customers", "dollars", "reconciled_lines", "reconciled",
                  "blocked_lines", "blocked", "excluded_lines", "excluded", "coverage", "price_impact", "margin_impact",
                  "requests", "by_action")


def _decimals(values: pd.Series) -> pd.Series:
    """Money text / Decimals / numbers as Decimals (0 when missing), each distinct value converted once."""
    codes, uniques = pd.factorize(values.astype(object).where(values.notna(), None), use_na_sentinel=True)
    conv = [(_d(u) or ZERO) for u in uniques.tolist()] + [ZERO]
    return pd.Series([conv[c] for c in codes], index=values.index, dtype=object)


def plan_figures(rows: pd.DataFrame, *, vendor: str | None = None) -> pd.DataFrame:
    """The plan's figures per vendor and currency from its rows (:data:`FIGURE_COLUMNS`; ``vendor``:
    only that vendor's): vendor lines and their vendor cost (``dollars``), reconciled / blocked /
    excluded (the plan summary's buckets, by the rows' cause), coverage (share of the dollars
    reconciled), customer price and margin impact, the ConnectWise writes proposed and rows per
    action (``by_action``: ``{action: {"rows", "dollars"}}``). A row without a currency is USD;
    the creation requests queued from Mappings carry no money and are left out. The plan's own
    summary adds every currency together; this never does (Rule 7.1)."""
    if not len(rows):
        return pd.DataFrame(columns=list(FIGURE_COLUMNS))
    df = rows
    if "target" in df.columns:
        df = df[df["target"].isna() | (df["target"] == "addition")]
    if vendor is not None:
        df = df[df["vendor"] == vendor]
    if not len(df):
        return pd.DataFrame(columns=list(FIGURE_COLUMNS))
    cause = df["cause"] if "cause" in df.columns else pd.Series(None, index=df.index, dtype=object)
    no_cause = cause.isna() | (cause.astype(object) == "")
    frame = pd.DataFrame({
        "v": df["vendor"].map(lambda v: _d_text(v) or "") if "vendor" in df.columns else "",
        "c": _currency_of(df), "action": df["action"],
        "bucket": ["reconciled" if n else ("excluded" if k in EXCLUDED_CAUSES else "blocked")
                   for n, k in zip(no_cause, cause)],
        "n": pd.to_numeric(df["vendor_line_count"], errors="coerce").fillna(0).astype(int)
        if "vendor_line_count" in df.columns else 0,
        "amount": _decimals(df["vendor_amount"]) if "vendor_amount" in df.columns else ZERO,
        "price": _decimals(df["price_impact"]) if "price_impact" in df.columns else ZERO,
        "margin": _decimals(df["margin_impact"]) if "margin_impact" in df.columns else ZERO,
        "customer": df["vendor_customer_id"] if "vendor_customer_id" in df.columns else None,
    }, index=df.index)
    total = lambda s: sum(s, ZERO)  # noqa: E731 - exact Decimal sums
    out = []
    for (v, cur), g in frame.groupby(["v", "c"], sort=True):
        buckets = g.groupby("bucket").agg(n=("n", "sum"), d=("amount", total))
        acts = g.groupby("action").agg(rows=("n", "size"), dollars=("amount", total))
        pick = lambda b, col: buckets.loc[b, col] if b in buckets.index else (ZERO if col == "d" else 0)  # noqa: E731
        dollars = pick("reconciled", "d") + pick("blocked", "d") + pick("excluded", "d")
        out.append({
            "vendor": v or None, "currency": cur, "lines": int(g["n"].sum()), "rows": int(len(g)),
            "customers": int(g["customer"].dropna().nunique()), "dollars": dollars,
            "reconciled_lines": int(pick("reconciled", "n")), "reconciled": pick("reconciled", "d"),
            "blocked_lines": int(pick("blocked", "n")), "blocked": pick("blocked", "d"),
            "excluded_lines": int(pick("excluded", "n")), "excluded": pick("excluded", "d"),
            "coverage": (pick("reconciled", "d") / dollars).quantize(Decimal("0.0001")) if dollars else ZERO,
            "price_impact": total(g["price"]), "margin_impact": total(g["margin"]),
            "requests": int(g["action"].isin(["create", "update", "cancel"]).sum()),
            "by_action": {a: {"rows": int(r["rows"]), "dollars": r["dollars"]} for a, r in acts.sort_index().iterrows()},
        })
    return pd.DataFrame(out, columns=list(FIGURE_COLUMNS))


def currency_figures(figures: pd.DataFrame) -> pd.DataFrame:
    """:func:`plan_figures` added up per currency over the vendors (the vendors of one currency add,
    two currencies never do): the same columns, ``vendor`` None."""
    if not len(figures):
        return figures
    out = []
    for cur, g in figures.groupby("currency", sort=True):
        row: dict[str, Any] = {"vendor": None, "currency": cur}
        for c in FIGURE_COLUMNS:
            if c in ("vendor", "currency", "coverage", "by_action"):
                continue
            row[c] = sum(g[c], ZERO) if c in ("dollars", "reconciled", "blocked", "excluded", "price_impact",
                                              "margin_impact") else int(sum(g[c]))
        acts: dict[str, dict[str, Any]] = {}
        for d in g["by_action"]:
            for act, v in d.items():
                a = acts.setdefault(act, {"rows": 0, "dollars": ZERO})
                a["rows"] += v["rows"]
                a["dollars"] += v["dollars"]
        row["by_action"] = dict(sorted(acts.items()))
        row["coverage"] = (row["reconciled"] / row["dollars"]).quantize(Decimal("0.0001")) if row["dollars"] else ZERO
        out.append(row)
    return pd.DataFrame(out, columns=list(FIGURE_COLUMNS))


# ------------------------------------------------------------------------------------ figures
_BIG = dict(font=dict(size=18), margin=dict(l=10, r=10, t=50, b=10))


def _one_currency(lines: pd.DataFrame, currency: str | None) -> tuple[pd.DataFrame, str]:
    """``lines`` of ``currency`` (default: the lines' one currency, else the first) and that code."""
    found = currencies(lines)
    cur = currency or (found[0] if found else DEFAULT_CURRENCY)
    return (lines[_currency_of(lines) == cur] if len(lines) else lines), cur


def per_month_axis(currency: str) -> str:
    """An amount axis' title: ``$ per month`` / ``€ per month`` / ``CHF per month``."""
    from billbridge.money import CURRENCY_SYMBOLS

    return f"{CURRENCY_SYMBOLS.get(currency, currency)} per month"


def margin_by_customer_figure(lines: pd.DataFrame, top: int = 20, currency: str | None = None):
    """Per customer (the ``top`` biggest by billed price and cost not re-billed) in one currency
    (``currency``, default the lines' own; one chart per currency, never two on one axis), two panels
    on one customer axis: the margin on what ConnectWise bills (red below zero) and the vendor cost
    that is not re-billed (grey), by the same rule as the headline (:func:`by_customer` adds up to
    :func:`totals_by_currency`)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from billbridge.money import format_money

    lines, cur = _one_currency(lines, currency)
    per = by_customer(lines).head(top).iloc[::-1]  # biggest at the top
    names = [chart_text(c) for c in per["customer"]]
    unbilled = any(per["not_rebilled"])
    fig = make_subplots(rows=1, cols=2 if unbilled else 1, shared_yaxes=True, horizontal_spacing=0.04,
                        column_widths=[0.6, 0.4] if unbilled else [1.0],
                        subplot_titles=("Margin on what ConnectWise bills", "Vendor cost not re-billed")
                        if unbilled else ("Margin on what ConnectWise bills",))
    fig.add_trace(go.Bar(name="Margin", x=[float(v) for v in per["margin"]], y=names, orientation="h",
                         marker_color=["#c0392b" if v < 0 else "#2e86c1" for v in per["margin"]],
                         text=[format_money(v, cur) for v in per["margin"]], textposition="auto", textfont_size=13,
                         hovertemplate="%{y}: margin %{text}<extra></extra>"), row=1, col=1)
    if unbilled:
        fig.add_trace(go.Bar(name="Not re-billed", x=[float(v) for v in per["not_rebilled"]], y=names,
                             orientation="h", marker_color="#95a5a6",
                             text=[format_money(v, cur) if v else "" for v in per["not_rebilled"]], textposition="auto",
                             textfont_size=13, hovertemplate="%{y}: %{text} of vendor cost not re-billed<extra></extra>"), row=1, col=2)
    title = "Margin by customer" + ("" if currency is None else f" ({cur})")
    fig.update_layout(title=title, showlegend=False, height=max(300, 30 * len(per) + 130), **_BIG)
    fig.update_xaxes(title_text=per_month_axis(cur))
    return fig


def trend_figure(trend: pd.DataFrame, currency: str | None = None):
    """Month-over-month vendor cost, billed price and margin of one currency (``currency``, default
    the trend's first: one chart per currency)."""
    import plotly.graph_objects as go

    if "currency" in trend.columns and len(trend):
        cur = currency or sorted(set(trend["currency"]))[0]
        trend = trend[trend["currency"] == cur]
    else:
        cur = currency or DEFAULT_CURRENCY
    fig = go.Figure()
    for col, name in (("vendor_cost", "Vendor cost"), ("billed_price", "ConnectWise bills"), ("margin", "Margin")):
        fig.add_trace(go.Scatter(x=list(trend["month"]), y=[float(v) for v in trend[col]], name=name,
                                 mode="lines+markers"))
    fig.update_layout(title="Month over month" + ("" if currency is None else f" ({cur})"),
                      yaxis_title=per_month_axis(cur), xaxis={"type": "category"}, height=380, **_BIG)
    return fig


def impacts_by_currency(rows: pd.DataFrame, vendor: str | None = None) -> dict[str, list[dict[str, str]]]:
    """Customer-price and margin impact per customer, per currency (``vendor``: that vendor's rows):
    the plan lifecycle's :func:`billbridge.plan.build.impact_by_customer` on each currency's rows
    (the plan summary's ``impact_by_customer`` has an entry per customer and currency, in one list)."""
    from billbridge.plan.build import impact_by_customer

    if vendor is not None and len(rows):
        rows = rows[rows["vendor"] == vendor]
    cur = _currency_of(rows)
    return {c: impact_by_customer(rows[cur == c]) for c in currencies(rows)}


def impact_figure(impacts: list[dict[str, str]], currency: str, *, top: int = 25):
    """The Reconcile page's "dollar impact by customer" in ``currency`` (one of
    :func:`impacts_by_currency`): monthly customer-price and margin change per customer, and the
    vendor cost still blocked."""
    import plotly.graph_objects as go

    from billbridge.money import format_money

    data = [d for d in impacts
            if any(Decimal(d[k]) for k in ("price_impact", "margin_impact", "blocked_dollars"))][:top][::-1]
    names = [chart_text(d["customer"]) for d in data]
    fig = go.Figure()
    for key, name, color in (("price_impact", "Customer price change", "#1f77b4"),
                             ("margin_impact", "Margin change", "#2ca02c"),
                             ("blocked_dollars", "Vendor cost blocked", "#d62728")):
        vals = [Decimal(d[key]) for d in data]
        fig.add_bar(y=names, x=[float(v) for v in vals], name=name, orientation="h", marker_color=color,
                    text=[format_money(v, currency) if v else "" for v in vals], textposition="auto",
                    hovertemplate="%{y}: %{text}<extra>" + name + "</extra>")
    fig.update_layout(barmode="group", height=max(260, 28 * len(names) * 2 + 120),
                      margin=dict(l=10, r=10, t=40, b=10), title=f"Monthly impact by customer ({currency})",
                      xaxis_title=per_month_axis(currency), legend=dict(orientation="h", y=-0.15))
    return fig


def bridge_figure(meeting, currency: str, kind: str = "cause"):
    """The waterfall (plotly) of one currency of a :class:`billbridge.meeting.Meeting`: from last month's billed
    total to this month's, by cause (``kind="cause"``) or by vendor (``"vendor"``); a step of 0 is left out (the
    start and end never are)."""
    import plotly.graph_objects as go

    from billbridge.money import format_money

    s = meeting.steps(currency, kind)
    s = s[(s["measure"] != "relative") | (s["amount"] != 0)]
    fig = go.Figure(go.Waterfall(
        x=list(s["label"]), y=[float(a) for a in s["amount"]], measure=list(s["measure"]),
        text=[format_money(a, currency) for a in s["amount"]], textposition="outside",
        connector={"line": {"color": "#95a5a6"}}, increasing={"marker": {"color": "#27ae60"}},
        decreasing={"marker": {"color": "#c0392b"}}, totals={"marker": {"color": "#2e86c1"}},
        hovertemplate="%{x}: %{text}<extra></extra>"))
    levels, level = [], ZERO  # the waterfall's running levels: the axis frames them, not 0 (the steps stay readable)
    for a, how in zip(s["amount"], s["measure"]):
        level = a if how != "relative" else level + a
        levels.append(level)
    lo, hi = min(levels), max(levels)
    pad = max((hi - lo) * Decimal("0.6"), abs(hi) * Decimal("0.02"), Decimal(1))
    fig.update_yaxes(range=[float(lo - pad), float(hi + pad)])
    words = "by cause" if kind == "cause" else "by vendor"
    fig.update_layout(title=f"From {s['label'].iloc[0]} to {s['label'].iloc[-1]}, {words} ({currency})",
                      yaxis_title=per_month_axis(currency), showlegend=False, height=420,
                      font=dict(size=16), margin=dict(l=10, r=10, t=60, b=10))
    return fig


def actions_figure(lines: pd.DataFrame, push_results: pd.DataFrame | None = None):
    """Rows per action, split by push status (pushed / failed / not pushed)."""
    import plotly.graph_objects as go

    status = pd.Series("Not pushed", index=lines.index)
    if push_results is not None and len(push_results):
        last = push_results.drop_duplicates("key", keep="first").set_index("key")["result"]
        got = lines["key"].map(last)
        status = got.map(lambda r: "Pushed" if r == "ok" else ("Failed" if r == "failed" else "Not pushed")).fillna("Not pushed")
    status = status.where(~lines["action"].isin(["in_sync"]), "In sync")
    from billbridge.model import label

    df = pd.DataFrame({"action": lines["action"].map(lambda a: label(a, "action") or "No action"), "status": status})
    fig = go.Figure()
    colors = {"In sync": "#7f8c8d", "Pushed": "#27ae60", "Failed": "#c0392b", "Not pushed": "#f39c12"}
    for s, color in colors.items():
        counts = df[df["status"] == s].groupby("action").size()
        if len(counts):
            fig.add_trace(go.Bar(x=list(counts.index), y=list(counts.values), name=s, marker_color=color))
    fig.update_layout(title="Actions by status", barmode="stack", yaxis_title="plan rows", height=380, **_BIG)
    return fig
