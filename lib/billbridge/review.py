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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import pandas as pd

from billbridge.model import ALERT_KINDS, CHANGE_KINDS, chart_text, label
from billbridge.money import extended, format_money

__all__ = [
    "Totals", "MonthReview", "ALERT_KINDS", "CHANGE_KINDS", "review_lines", "lines_from_vendor", "totals",
    "changes", "alerts", "month_review", "trend_frame", "margin_by_customer_figure", "trend_figure",
    "actions_figure",
]

ZERO = Decimal(0)
LINE_COLUMNS = ("key", "customer_id", "customer", "sku", "product", "charge_type", "term", "action", "cause",
                "bucket", "flags", "agreement_id", "quantity", "unit_cost", "unit_price", "cost", "price", "margin",
                "not_rebilled", "price_impact", "vendor_price")


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
            "key": r.get("key"), "customer_id": _get(r, "vendor_customer_id"),
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
        out.append({"key": None, "customer_id": _get(r, "vendor_customer_id"), "customer": _get(r, "vendor_customer_name"),
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
    """Sum of the review lines (exact: sums of per-line rounded amounts); see the module docstring."""
    lines = _ruled(lines)
    cost = sum(lines["cost"], ZERO)
    price = sum(lines["price"], ZERO)
    margin = sum(lines["margin"], ZERO)
    return Totals(cost, price, margin, _pct(margin, price),
                  int(lines["customer_id"].dropna().nunique()), int(len(lines)), sum(lines["not_rebilled"], ZERO))


def by_customer(lines: pd.DataFrame) -> pd.DataFrame:
    """Per customer: ``price`` (what ConnectWise bills), ``cost``, ``margin`` and ``not_rebilled``
    (exact sums of the lines, so they add up to :func:`totals`), biggest billed price first."""
    cols = ["customer", "price", "cost", "margin", "not_rebilled"]
    if not len(lines):
        return pd.DataFrame(columns=cols)
    lines = _ruled(lines)
    named = lines.assign(customer=lines["customer"].map(lambda v: "(no customer)" if _d_text(v) is None else str(v)))
    per = named.groupby("customer", sort=True).agg(**{c: (c, lambda s: sum(s, ZERO)) for c in cols[1:]}).reset_index()
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
        k = (r["customer_id"], r["sku"])
        a = rows.setdefault(k, {"customer_id": k[0], "sku": k[1], "customer": r["customer"], "product": r["product"],
                                "quantity": ZERO, "unit_cost": None, "unit_price": None, "cost": ZERO, "price": ZERO})
        standing = r["charge_type"] in (None, "recurring", "usage")
        if standing and r["quantity"] is not None:
            a["quantity"] += r["quantity"]
            a["unit_cost"] = a["unit_cost"] or r["unit_cost"]
            a["unit_price"] = a["unit_price"] or r["unit_price"]
        a["cost"] += r["cost"]
        a["price"] += r["vendor_price"]
    return pd.DataFrame(list(rows.values()),
                        columns=["customer_id", "sku", "customer", "product", "quantity", "unit_cost", "unit_price",
                                 "cost", "price"])


CHANGE_COLUMNS = ("kind", "customer_id", "customer", "sku", "product", "quantity_before", "quantity_now",
                  "unit_price_before", "unit_price_now", "unit_cost_before", "unit_cost_now", "price_before",
                  "price_now", "impact")


def changes(previous: pd.DataFrame, current: pd.DataFrame) -> pd.DataFrame:
    """What changed between two months' review lines, one row per (customer, product) and kind.

    Compares the vendor side (quantities, unit prices and costs the vendor billed, priced at the
    vendor's unit price), not what ConnectWise bills, so a blocked line is not a "change".
    ``impact`` is the change of that price (of vendor cost when neither month has a price).
    Sorted by absolute impact, biggest first (the top movers)."""
    prev, cur = _by_product(previous), _by_product(current)
    pc, cc = set(prev["customer_id"]), set(cur["customer_id"])
    m = prev.merge(cur, on=["customer_id", "sku"], how="outer", suffixes=("_b", "_n"))
    out = []
    for r in m.to_dict("records"):
        before = isinstance(r.get("cost_b"), Decimal)
        now = isinstance(r.get("cost_n"), Decimal)
        pb, pn = (r["price_b"] if before else ZERO), (r["price_n"] if now else ZERO)
        cb, cn = (r["cost_b"] if before else ZERO), (r["cost_n"] if now else ZERO)
        impact = (pn - pb) if (pb or pn) else (cn - cb)
        base = {"customer_id": r["customer_id"], "customer": r["customer_n"] if now else r["customer_b"],
                "sku": r["sku"], "product": r["product_n"] if now else r["product_b"],
                "quantity_before": r["quantity_b"] if before else None, "quantity_now": r["quantity_n"] if now else None,
                "unit_price_before": _d(r.get("unit_price_b")), "unit_price_now": _d(r.get("unit_price_n")),
                "unit_cost_before": _d(r.get("unit_cost_b")), "unit_cost_now": _d(r.get("unit_cost_n")),
                "price_before": pb, "price_now": pn, "impact": impact}
        kinds = []
        if not before:
            kinds.append("new_customer" if r["customer_id"] not in pc else "new_product")
        elif not now:
            kinds.append("lost_customer" if r["customer_id"] not in cc else "retired_product")
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
ALERT_COLUMNS = ("kind", "what", "customer", "key", "agreement_id", "dollars", "detail")


def alerts(lines: pd.DataFrame, previous: pd.DataFrame | None = None, *, push_results: pd.DataFrame | None = None,
           invoiced_agreement_ids: set[int] | frozenset[int] = frozenset(),
           margin_threshold: Decimal = Decimal("0.20"), customer_change_threshold: Decimal = Decimal("0.25")) -> pd.DataFrame:
    """Things that deserve a decision (kinds: :data:`ALERT_KINDS`). Thresholds are shares (0.20 = 20 %):
    a customer alerts when its margin % is *below* ``margin_threshold`` or its billed price moved by
    *at least* ``customer_change_threshold`` of last month's."""
    out: list[dict[str, Any]] = []
    lines = _ruled(lines)

    def add(kind, customer=None, key=None, agreement_id=None, dollars=ZERO, detail=""):
        out.append({"kind": kind, "what": ALERT_KINDS[kind], "customer": customer, "key": key,
                    "agreement_id": agreement_id, "dollars": dollars, "detail": detail})

    per = lines.groupby("customer_id", sort=True).agg(customer=("customer", "first"), cost=("cost", lambda s: sum(s, ZERO)),
                                                      price=("price", lambda s: sum(s, ZERO)),
                                                      margin=("margin", lambda s: sum(s, ZERO))) if len(lines) else None
    if per is not None:
        for cid, r in per.iterrows():
            pct = _pct(r["margin"], r["price"])
            if r["price"] > 0 and pct is not None and pct < margin_threshold:
                add("low_margin", r["customer"], dollars=r["margin"], detail=f"margin {pct * 100:.1f}%")
        if previous is not None and len(previous):
            prev = previous.groupby("customer_id").agg(p=("vendor_price", lambda s: sum(s, ZERO)))["p"].to_dict()
            now = lines.groupby("customer_id").agg(p=("vendor_price", lambda s: sum(s, ZERO)))["p"].to_dict()
            for cid, r in per.iterrows():
                before, after = prev.get(cid), now.get(cid, ZERO)
                if before and abs(after - before) >= abs(before) * customer_change_threshold:
                    add("customer_change", r["customer"], dollars=after - before,
                        detail=f"{format_money(before)} → {format_money(after)} ({(after - before) / before * 100:+.1f}%)")
    late_seen = set()
    for r in lines.to_dict("records"):
        if "annual_term_decrease" in r["flags"]:
            add("annual_term_decrease", r["customer"], r["key"], r["agreement_id"], r["price_impact"],
                f"{r['product']}: quantity now {_qty(r['quantity'])}")
        if "late_month_bdom" in r["flags"] and r["customer_id"] not in late_seen:
            late_seen.add(r["customer_id"])
            add("late_month_bdom", r["customer"], dollars=per.loc[r["customer_id"], "cost"] if per is not None else ZERO)
        if r["bucket"] == "blocked" or (r["action"] == "blocked" and r["bucket"] != "excluded"):
            add("blocked", r["customer"], r["key"], r["agreement_id"], r["cost"],
                f"{r['product']}: {label(r['cause'], 'cause') or 'blocked'}")
    if invoiced_agreement_ids:
        inv = lines[lines["agreement_id"].map(lambda a: a is not None and a == a and int(a) in invoiced_agreement_ids)]
        for aid, grp in inv.groupby("agreement_id", sort=True):
            pending = grp[grp["action"].isin(["update", "create", "cancel"])]
            add("already_invoiced", grp["customer"].iloc[0], agreement_id=int(aid), dollars=sum(pending["price_impact"], ZERO),
                detail=f"{len(pending)} pending changes bill from the next invoice")
    if push_results is not None and len(push_results):
        last = push_results.drop_duplicates("key", keep="first")  # newest run first
        names = dict(zip(lines["key"], lines["customer"]))
        for r in last[last["result"] == "failed"].to_dict("records"):
            add("push_failed", names.get(r["key"]), r["key"], _get(r, "agreement_id"), ZERO, r.get("reason") or "")
    return pd.DataFrame(out, columns=list(ALERT_COLUMNS))


# ------------------------------------------------------------------------------------ review
@dataclass
class MonthReview:
    month: str
    previous_month: str | None
    totals: Totals
    previous_totals: Totals | None
    lines: pd.DataFrame
    changes: pd.DataFrame
    alerts: pd.DataFrame
    push_results: pd.DataFrame = field(default_factory=pd.DataFrame)
    trend: pd.DataFrame = field(default_factory=pd.DataFrame)
    #: "plan" when the previous month had a plan, "vendor" when only its vendor lines are known
    previous_basis: str | None = None

    @property
    def comparable(self) -> tuple[str, ...]:
        """The totals that can be compared with the previous month on the same basis."""
        if self.previous_totals is None:
            return ()
        if self.previous_basis == "plan":
            return ("vendor_cost", "billed_price", "margin", "margin_pct", "unbilled_cost")
        return ("vendor_cost",)

    def movers(self, top: int = 10) -> pd.DataFrame:
        """The biggest changes by dollar impact (one row per customer and product)."""
        return self.changes.drop_duplicates(["customer_id", "sku"]).head(top)

    def delta(self, name: str) -> Decimal | None:
        """Month-over-month change of a :class:`Totals` field (None without a previous month, or
        when the previous month's figure is on another basis; see :attr:`comparable`)."""
        if name not in self.comparable:
            return None
        a, b = getattr(self.totals, name), getattr(self.previous_totals, name)
        return None if a is None or b is None else a - b


def month_review(plan_rows: pd.DataFrame, *, month: str, previous_rows: pd.DataFrame | None = None,
                 previous_lines: pd.DataFrame | None = None, previous_month: str | None = None,
                 push_results: pd.DataFrame | None = None, invoiced_agreement_ids=frozenset(),
                 history: dict[str, pd.DataFrame] | None = None, margin_threshold: Decimal = Decimal("0.20"),
                 customer_change_threshold: Decimal = Decimal("0.25"), previous_basis: str | None = None) -> MonthReview:
    """The whole review of ``month`` from plain inputs (see the module docstring); ``plan_rows``
    may also be :func:`review_lines` already.

    ``previous_rows`` (the previous month's plan rows, or its :func:`review_lines`) wins over
    ``previous_lines`` (its vendor lines); ``previous_basis`` ("plan" | "vendor") says which one
    review lines passed as ``previous_rows`` came from (default: "plan"). ``history``: ``{month: plan rows or review lines}`` for the trend (this month is added)."""
    lines = _ruled(plan_rows) if "cost" in plan_rows.columns else review_lines(plan_rows)
    basis = previous_basis or ("plan" if previous_rows is not None else ("vendor" if previous_lines is not None else None))
    if previous_rows is not None and "cost" in previous_rows.columns:
        prev = _ruled(previous_rows)  # already review lines
    else:
        prev = review_lines(previous_rows) if previous_rows is not None else (
            lines_from_vendor(previous_lines) if previous_lines is not None else None)
    hist = {m: (_ruled(h) if "cost" in h.columns else review_lines(h)) for m, h in (history or {}).items()}
    if prev is not None and previous_month:
        hist.setdefault(previous_month, prev)
    hist[month] = lines
    return MonthReview(
        month=month, previous_month=previous_month if prev is not None else None, totals=totals(lines),
        previous_totals=totals(prev) if prev is not None else None, lines=lines,
        changes=changes(prev, lines) if prev is not None else pd.DataFrame(columns=list(CHANGE_COLUMNS)),
        alerts=alerts(lines, prev, push_results=push_results, invoiced_agreement_ids=set(invoiced_agreement_ids),
                      margin_threshold=margin_threshold, customer_change_threshold=customer_change_threshold),
        push_results=push_results if push_results is not None else pd.DataFrame(),
        trend=trend_frame({m: totals(h) for m, h in hist.items()}),
        previous_basis=basis if prev is not None else None,
    )


def trend_frame(by_month: dict[str, Totals]) -> pd.DataFrame:
    """Totals per month (oldest first): month, vendor_cost, billed_price, margin, margin_pct."""
    rows = [{"month": m, "vendor_cost": t.vendor_cost, "billed_price": t.billed_price, "margin": t.margin,
             "margin_pct": t.margin_pct} for m, t in sorted(by_month.items())]
    return pd.DataFrame(rows, columns=["month", "vendor_cost", "billed_price", "margin", "margin_pct"])


# ------------------------------------------------------------------------------------ figures
_BIG = dict(font=dict(size=18), margin=dict(l=10, r=10, t=50, b=10))


def margin_by_customer_figure(lines: pd.DataFrame, top: int = 20):
    """Per customer (the ``top`` biggest by billed price and cost not re-billed), two panels on one
    customer axis: the margin on what ConnectWise bills (red below zero) and the vendor cost that
    is not re-billed (grey), by the same rule as the headline (:func:`by_customer` adds up to
    :func:`totals`)."""
    import plotly.graph_objects as go
    from plotly.subplots import make_subplots

    from billbridge.money import format_money

    per = by_customer(lines).head(top).iloc[::-1]  # biggest at the top
    names = [chart_text(c) for c in per["customer"]]
    unbilled = any(per["not_rebilled"])
    fig = make_subplots(rows=1, cols=2 if unbilled else 1, shared_yaxes=True, horizontal_spacing=0.04,
                        column_widths=[0.6, 0.4] if unbilled else [1.0],
                        subplot_titles=("Margin on what ConnectWise bills", "Vendor cost not re-billed")
                        if unbilled else ("Margin on what ConnectWise bills",))
    fig.add_trace(go.Bar(name="Margin", x=[float(v) for v in per["margin"]], y=names, orientation="h",
                         marker_color=["#c0392b" if v < 0 else "#2e86c1" for v in per["margin"]],
                         text=[format_money(v) for v in per["margin"]], textposition="auto", textfont_size=13,
                         hovertemplate="%{y}: margin %{text}<extra></extra>"), row=1, col=1)
    if unbilled:
        fig.add_trace(go.Bar(name="Not re-billed", x=[float(v) for v in per["not_rebilled"]], y=names,
                             orientation="h", marker_color="#95a5a6",
                             text=[format_money(v) if v else "" for v in per["not_rebilled"]], textposition="auto",
                             textfont_size=13, hovertemplate="%{y}: %{text} of vendor cost not re-billed<extra></extra>"), row=1, col=2)
    fig.update_layout(title="Margin by customer", showlegend=False, height=max(300, 30 * len(per) + 130), **_BIG)
    fig.update_xaxes(title_text="$ per month")
    return fig


def trend_figure(trend: pd.DataFrame):
    """Month-over-month vendor cost, billed price and margin."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for col, name in (("vendor_cost", "Vendor cost"), ("billed_price", "ConnectWise bills"), ("margin", "Margin")):
        fig.add_trace(go.Scatter(x=list(trend["month"]), y=[float(v) for v in trend[col]], name=name,
                                 mode="lines+markers"))
    fig.update_layout(title="Month over month", yaxis_title="$ per month", xaxis={"type": "category"}, height=380,
                      **_BIG)
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
