"""Figure builders for the Timeline page (plotly; no Streamlit): where vendor periods fall on
ConnectWise's calendar months.

* :func:`account_calendar`: one row per vendor customer (account) for a billing month: BDOM
  anchor, the month's vendor invoice date, the CW addition span and invoice date, risk flags.
* :func:`period_frame`: one row per vendor period drawn (from the import lines).
* :func:`timeline_figure`: horizontal bars per account: vendor periods (BDOM to BDOM, advance and
  arrears), the CW addition span (1st to last day), markers for the vendor invoice date and the CW
  invoice date (1st of next month); late-month risks in red.
* :func:`bdom_histogram`: how many accounts bill on each day of the month.

Input lines are an import's lines (:func:`billbridge.store.import_lines`) or a parse result's
``lines``/``rows``: text ISO dates or ``datetime.date`` both work.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta
from decimal import Decimal

import pandas as pd
import plotly.graph_objects as go

from billbridge.model import COMMITMENT_TERMS, chart_text, label
from billbridge.money import format_money
from billbridge.rules import terms

from billbridge.bdom import (
    Timing,
    VendorPeriod,
    addition_dates,
    billing_date,
    cw_invoice_date,
    days_in_month,
    default_timing,
    is_split,
    late_month_risk,
    parse_billing_month,
    period_for_billing_month,
)

__all__ = ["COLORS", "WINDOW_DAYS", "account_calendar", "period_frame", "view_window", "timeline_figure", "bdom_histogram",
           "COMMITMENT_DAYS", "COMMITMENT_COLUMNS", "commitments"]

#: colours used by the figures (tests assert on them; the page legend explains them)
COLORS = {
    "advance": "#1f77b4",  # vendor period billed in advance
    "arrears": "#17becf",  # vendor period billed in arrears
    "cw": "#b0b0b0",  # ConnectWise addition span
    "vendor_invoice": "#2ca02c",
    "cw_invoice": "#9467bd",
    "risk": "#d62728",  # late-month risk
    "day": "#1f77b4",  # histogram bar, ordinary day
}
_MS_PER_DAY = 86_400_000


def _dates(s: pd.Series) -> pd.Series:
    return pd.to_datetime(s, errors="coerce").dt.date


def account_calendar(lines: pd.DataFrame, billing_month: str) -> pd.DataFrame:
    """One row per vendor customer: ``vendor_customer_id``, ``vendor_customer_name``, ``label``,
    ``anchor`` (BDOM day: creation day, else the day recurring periods start), ``bdom`` (this
    month's billing date), ``cw_start``/``cw_end`` (addition dates), ``cw_invoice``, ``late_risk``
    (BDOM or a subscription start in the last six days of the month), ``split`` (a vendor period
    spans two CW months), ``line_count``, ``vendor`` (the lines' ``vendor`` column when they have one:
    several vendors' lines can be drawn together)."""
    parse_billing_month(billing_month)
    cols = ["vendor_customer_id", "vendor_customer_name", "label", "anchor", "bdom", "cw_start", "cw_end",
            "cw_invoice", "late_risk", "split", "line_count", "vendor"]
    if lines is None or not len(lines):
        return pd.DataFrame(columns=cols)
    df = lines.copy()
    for c in ("customer_created", "period_start", "period_end", "effective_date"):
        df[c] = _dates(df[c]) if c in df else None
    if "charge_type" not in df:
        df["charge_type"] = "recurring"
    y, m = parse_billing_month(billing_month)
    first, last = addition_dates(billing_month)
    out = []
    for cid, g in df.groupby("vendor_customer_id", sort=False):
        created = g["customer_created"].dropna()
        rec = g[g["charge_type"].fillna("recurring") == "recurring"]["period_start"].dropna()
        anchor = None
        if len(created):
            anchor = created.iloc[0].day
        elif len(rec):
            anchor = rec.iloc[0].day
        elif g["period_start"].notna().any():
            anchor = g["period_start"].dropna().iloc[0].day
        bdom = billing_date(anchor, y, m) if anchor else None
        eff = [d for d in g["effective_date"].dropna() if first <= d <= last]
        risk = bool((bdom is not None and late_month_risk(bdom)) or any(late_month_risk(d) for d in eff))
        split = any(is_split(p) for p in _periods(g, anchor, billing_month))
        name = str(g["vendor_customer_name"].iloc[0]) if "vendor_customer_name" in g else str(cid)
        out.append({"vendor_customer_id": cid, "vendor_customer_name": name, "label": f"{name} ({cid})",
                    "anchor": anchor, "bdom": bdom, "cw_start": first, "cw_end": last,
                    "cw_invoice": cw_invoice_date(billing_month), "late_risk": risk, "split": split,
                    "line_count": int(len(g)), "vendor": g["vendor"].iloc[0] if "vendor" in g else None})
    return pd.DataFrame(out, columns=cols)


def _periods(g: pd.DataFrame, anchor: int | None, billing_month: str) -> list[VendorPeriod]:
    return [p for p, _ in _period_rows(g, anchor, billing_month)]


def _period_rows(g: pd.DataFrame, anchor: int | None, billing_month: str) -> list[tuple[VendorPeriod, str]]:
    seen: dict[tuple, str] = {}
    for ps, pe, ct in zip(g["period_start"], g["period_end"], g["charge_type"].fillna("recurring")):
        timing = default_timing(ct).value if ct in ("recurring", "usage", "one_time", "credit") else "advance"
        if isinstance(ps, date) and isinstance(pe, date) and pe >= ps:
            p = VendorPeriod(ps, pe + timedelta(days=1))
        elif anchor:
            p = period_for_billing_month(anchor, billing_month, Timing(timing))
        else:
            continue
        seen.setdefault((p.start, p.next_start, timing), timing)
    return [(VendorPeriod(s, n), t) for (s, n, t) in seen]


def period_frame(lines: pd.DataFrame, billing_month: str) -> pd.DataFrame:
    """The vendor periods to draw: ``label``, ``timing`` (advance|arrears), ``start``, ``next_start``,
    ``end``, ``days``, ``split``, ``late_risk`` (of the account)."""
    cal = account_calendar(lines, billing_month)
    cols = ["vendor_customer_id", "label", "timing", "start", "next_start", "end", "days", "split", "late_risk"]
    if not len(cal):
        return pd.DataFrame(columns=cols)
    df = lines.copy()
    for c in ("period_start", "period_end"):
        df[c] = _dates(df[c]) if c in df else None
    if "charge_type" not in df:
        df["charge_type"] = "recurring"
    rows = []
    info = cal.set_index("vendor_customer_id")
    for cid, g in df.groupby("vendor_customer_id", sort=False):
        acct = info.loc[cid]
        for p, timing in _period_rows(g, acct["anchor"], billing_month):
            rows.append({"vendor_customer_id": cid, "label": acct["label"], "timing": timing, "start": p.start,
                         "next_start": p.next_start, "end": p.end, "days": p.days, "split": is_split(p),
                         "late_risk": bool(acct["late_risk"])})
    return pd.DataFrame(rows, columns=cols)


def _filter(cal: pd.DataFrame, customers: Iterable[str] | None, risk_only: bool) -> pd.DataFrame:
    if customers is not None:
        wanted = set(customers)
        cal = cal[cal["vendor_customer_id"].isin(wanted) | cal["vendor_customer_name"].isin(wanted)]
    if risk_only:
        cal = cal[cal["late_risk"]]
    return cal


#: days shown either side of the billing month: the previous and the next vendor period fit, and an
#: annual or triennial line is clipped to this window (with a "continues" marker) instead of
#: stretching the axis until every monthly bar is a sliver
WINDOW_DAYS = 35


def view_window(billing_month: str) -> tuple[date, date]:
    """The span the timeline shows: from ``WINDOW_DAYS`` before the month's 1st to ``WINDOW_DAYS``
    after its last day (the CW invoice on the 1st of the next month is inside)."""
    first, last = addition_dates(billing_month)
    return first - timedelta(days=WINDOW_DAYS), last + timedelta(days=WINDOW_DAYS + 1)


def timeline_figure(
    lines: pd.DataFrame,
    billing_month: str,
    customers: Iterable[str] | None = None,
    risk_only: bool = False,
    title: str | None = None,
) -> go.Figure:
    """The month's timeline (see module doc). Traces, in order: ``Vendor period (advance)``,
    ``Vendor period (arrears)``, ``CW additions``, ``Vendor invoice``, ``CW invoice`` and, when a
    period reaches past the :func:`view_window`, ``Continues``: bars are clipped to the window
    (the hover keeps the full dates) and a triangle marks the side where the period goes on, so a
    monthly line stays readable next to an annual one. Bars of accounts at late-month risk are
    outlined and coloured :data:`COLORS` ``["risk"]``; the ``Vendor invoice`` markers of those
    accounts are red too. ``customers`` (ids or names) and ``risk_only`` filter the accounts."""
    cal = _filter(account_calendar(lines, billing_month), customers, risk_only)
    periods = period_frame(lines, billing_month)
    periods = periods[periods["vendor_customer_id"].isin(cal["vendor_customer_id"])]
    axis = _axis_labels(cal)
    labels = [axis[x] for x in cal["label"]]
    lo, hi = view_window(billing_month)
    fig = go.Figure()
    clipped: list[tuple[str, date, str]] = []  # (label, window edge, "left"|"right")
    for timing in ("advance", "arrears"):
        p = periods[periods["timing"] == timing]
        starts = [max(d, lo) for d in p["start"]]
        ends = [min(d, hi) for d in p["next_start"]]
        for lab, s0, e0, s1, e1 in zip(p["label"], p["start"], p["next_start"], starts, ends):
            if s0 < lo and e1 > lo:
                clipped.append((axis[lab], lo, "left"))
            if e0 > hi and s1 < hi:
                clipped.append((axis[lab], hi, "right"))
        colors = [COLORS["risk"] if r else COLORS[timing] for r in p["late_risk"]]
        fig.add_trace(go.Bar(
            name=f"Vendor period ({timing})", orientation="h", y=[axis[x] for x in p["label"]],
            base=[d.isoformat() for d in starts],
            x=[max(0, (e - b).days) * _MS_PER_DAY for b, e in zip(starts, ends)],
            marker={"color": colors, "line": {"color": [COLORS["risk"] if r else "rgba(0,0,0,0)" for r in p["late_risk"]], "width": 2}},
            opacity=0.85, offsetgroup=timing,
            customdata=[[s.isoformat(), e.isoformat(), int(n), "split across two CW months" if sp else "", chart_text(lab)]
                        for s, e, n, sp, lab in zip(p["start"], p["end"], p["days"], p["split"], p["label"])],
            hovertemplate="%{customdata[4]}<br>%{customdata[0]} → %{customdata[1]} (%{customdata[2]} days)<br>%{customdata[3]}<extra>" + timing + "</extra>",
        ))
    first, last = addition_dates(billing_month)
    fig.add_trace(go.Bar(
        name="CW additions", orientation="h", y=labels, base=[first.isoformat()] * len(labels),
        x=[((last - first).days + 1) * _MS_PER_DAY] * len(labels), marker={"color": COLORS["cw"]},
        opacity=0.5, offsetgroup="cw",
        hovertemplate="%{y}<br>ConnectWise additions " + f"{first.isoformat()} → {last.isoformat()}" + "<extra></extra>",
    ))
    has_bdom = cal[cal["bdom"].notna()]
    fig.add_trace(go.Scatter(
        name="Vendor invoice", mode="markers", y=[axis[x] for x in has_bdom["label"]],
        x=[d.isoformat() for d in has_bdom["bdom"]],
        marker={"symbol": "diamond", "size": 11, "color": [COLORS["risk"] if r else COLORS["vendor_invoice"] for r in has_bdom["late_risk"]]},
        hovertemplate="%{y}<br>vendor invoice %{x}<extra></extra>",
    ))
    inv = cw_invoice_date(billing_month)
    fig.add_trace(go.Scatter(
        name="CW invoice", mode="markers", y=labels, x=[inv.isoformat()] * len(labels),
        marker={"symbol": "star", "size": 12, "color": COLORS["cw_invoice"]},
        hovertemplate="%{y}<br>ConnectWise invoice %{x}<extra></extra>",
    ))
    if clipped:
        fig.add_trace(go.Scatter(
            name="Continues beyond the view", mode="markers", y=[c[0] for c in clipped],
            x=[c[1].isoformat() for c in clipped],
            marker={"symbol": ["triangle-left" if c[2] == "left" else "triangle-right" for c in clipped], "size": 13,
                    "color": "#444"},
            hovertemplate="%{y}<br>the vendor period continues beyond %{x}<extra></extra>",
        ))
    fig.add_vrect(x0=first.isoformat(), x1=(last + timedelta(days=1)).isoformat(), fillcolor=COLORS["cw"], opacity=0.08, line_width=0)
    height = max(320, 28 * len(labels) + 160)
    fig.update_layout(
        title=title or f"Billing month {billing_month}: vendor periods and ConnectWise dates",
        barmode="overlay", xaxis={"type": "date", "range": [lo.isoformat(), hi.isoformat()]},
        yaxis={"categoryorder": "array", "categoryarray": labels[::-1], "title": None},
        legend={"orientation": "h", "yanchor": "top", "y": -34 / (height - 140), "x": 0}, height=height,
        margin={"l": 10, "r": 10, "t": 50, "b": 90},  # the legend sits just under the dates, whatever the height
    )
    return fig


#: characters of a customer name kept on the chart's axis (the hover shows it whole)
AXIS_NAME = 26


def _axis_labels(cal: pd.DataFrame) -> dict[str, str]:
    """Account label -> the text on the y axis: the name cut to :data:`AXIS_NAME` characters and the
    vendor id, as text (never markup), so the bars keep most of a laptop's width."""
    out = {}
    for lab, name, cid in zip(cal["label"], cal["vendor_customer_name"], cal["vendor_customer_id"]):
        short = name if len(str(name)) <= AXIS_NAME else str(name)[:AXIS_NAME - 1].rstrip() + "…"
        out[lab] = chart_text(f"{short} ({cid})")
    return out


def bdom_histogram(lines: pd.DataFrame, billing_month: str | None = None, title: str | None = None) -> go.Figure:
    """How many accounts bill on each day of the month (one bar per day 1-31).

    With ``billing_month`` the days are that month's clamped BDOMs (anchor 31 counts on the 30th
    in November) and bars in the month's last six days are red (late-month risk); without it, the
    anchor days themselves, with days 26-31 red."""
    if billing_month:
        cal = account_calendar(lines, billing_month)
        days = [d.day for d in cal["bdom"].dropna()]
        y, m = parse_billing_month(billing_month)
        risky = {d for d in range(1, days_in_month(y, m) + 1) if late_month_risk(date(y, m, d))}
    else:
        cal = account_calendar(lines, "2000-01")
        days = [int(a) for a in cal["anchor"].dropna()]
        risky = set(range(26, 32))
    counts = pd.Series(days, dtype="int64").value_counts().reindex(range(1, 32), fill_value=0)
    fig = go.Figure(go.Bar(
        name="Accounts", x=list(range(1, 32)), y=counts.tolist(),
        marker={"color": [COLORS["risk"] if d in risky else COLORS["day"] for d in range(1, 32)]},
        hovertemplate="day %{x}: %{y} accounts<extra></extra>",
    ))
    fig.update_layout(
        title=title or ("Accounts billed on each day" + (f" of {billing_month}" if billing_month else " (BDOM anchor)")),
        xaxis={"title": "day of month", "dtick": 1, "range": [0.5, 31.5]}, yaxis={"title": "accounts"},
        bargap=0.15, height=320, margin={"l": 10, "r": 10, "t": 50, "b": 10},
    )
    return fig


# --------------------------------------------------------------------------------------- commitments
#: how far ahead the Timeline looks for renewals and cancellation windows (days from today)
COMMITMENT_DAYS = 60
#: the columns of :func:`commitments` (all text a person reads, but ``key``: the plan row's key)
COMMITMENT_COLUMNS = ("on", "event", "customer", "product", "agreement", "term", "seats", "term_end", "term_source",
                      "window_end", "at_risk", "key")


def _as_date(v) -> date:
    return v if isinstance(v, date) else date.fromisoformat(str(v)[:10])


def _window_text(stamp: datetime) -> str:
    """A window's close as a person reads it: ``2026-10-10 00:00 UTC``."""
    return stamp.strftime("%Y-%m-%d %H:%M UTC")


def _blank(v) -> bool:
    return v is None or v is pd.NA or (isinstance(v, float) and v != v) or v == ""


def _text(v) -> str:
    return "" if _blank(v) else str(v)


def _seats(v) -> str:
    if _blank(v):
        return ""
    d = Decimal(str(v))
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize(), "f")


def commitments(rows: pd.DataFrame, today: date, days: int = COMMITMENT_DAYS) -> pd.DataFrame:
    """The commitment terms of a plan's rows (:mod:`billbridge.rules.terms`) that renew, or whose
    cancellation window is open, between ``today`` and ``today + days``: one row per event, soonest first,
    in words (:data:`COMMITMENT_COLUMNS`; money in the row's currency).

    A term renews the day after its last day; a term already over counts on, renewing every 12 (36) months
    from its start (new-commerce terms renew automatically). Every renewal opens a 168-hour window to
    reduce seats, shown with the renewal. A window that is open (it closes after ``today`` 00:00 UTC) or
    opens in the view (a purchase or a seat addition) is listed on the day it closes.
    """
    if rows is None or not len(rows) or "term_start" not in rows.columns:
        return pd.DataFrame(columns=list(COMMITMENT_COLUMNS))
    last = today + timedelta(days=days)
    now = terms.window_end(today) - terms.WINDOW  # today, 00:00 UTC
    keep = rows["term_start"].notna() & rows["term"].isin(list(COMMITMENT_TERMS))
    out: list[dict] = []
    for r in rows[keep].to_dict("records"):
        start = _as_date(r["term_start"])
        months = COMMITMENT_TERMS[r["term"]]
        k = 1
        while terms.anniversary(start, k * months) < today:
            k += 1
        renews = terms.anniversary(start, k * months)
        risk, cur = r.get("commitment_at_risk"), _text(r.get("currency")) or "USD"
        common = {
            "customer": _text(r.get("vendor_customer_name")) or _text(r.get("vendor_customer_id")),
            "product": _text(r.get("product_description")) or _text(r.get("product_name")) or _text(r.get("sku")),
            "agreement": _text(r.get("agreement_name")), "term": label(r["term"], "value"),
            "seats": _seats(r.get("vendor_quantity")), "term_end": str(renews - timedelta(days=1)),
            "term_source": label(_text(r.get("term_source")) or "derived", "value"),
            "at_risk": "" if _blank(risk) else format_money(risk, cur), "key": _text(r.get("key")),
        }
        if renews <= last:
            out.append({**common, "on": str(renews), "event": "Renews",
                        "window_end": _window_text(terms.window_end(renews))})
        if not _blank(r.get("window_end")):
            closes = datetime.fromisoformat(str(r["window_end"]).replace("Z", "+00:00"))
            opened = (closes - terms.WINDOW).date()
            if closes > now and opened <= last and opened != renews:
                out.append({**common, "on": str(closes.date()), "event": "Cancellation window closes",
                            "window_end": _window_text(closes)})
    frame = pd.DataFrame(out, columns=list(COMMITMENT_COLUMNS))
    return frame.sort_values(["on", "customer", "product"], kind="stable").reset_index(drop=True)
