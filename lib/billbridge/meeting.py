"""The billing meeting's questions, answered from one month's plan (pure): what changed and why, which
margins fell below the threshold, whose cost moved while the price did not, which commitments renew or lock
in soon, and what is blocked and what it costs not to bill it (issue 12, items 2 and 5).

:func:`meeting` takes the month's plan rows, its review lines and last month's (:mod:`billbridge.review`)
and returns a :class:`Meeting`: the **bridge** (the waterfall's steps) and the **sections**, each with its
dollar figure per currency, the rows behind it and the filter that shows those rows on the Reconcile page.
Amounts are per currency (Rule 7.1): one bridge per currency, a section's figure is ``{currency: Decimal}``.

**The bridge** (a waterfall per currency) runs from last month's billed total to this month's:

- *last month's billed total* is what ConnectWise bills for the previous month once that month's newest plan
  is pushed: the review's "ConnectWise bills" of that month (:func:`billbridge.review.totals_by_currency`,
  ``billed_price``; rows in sync bill what ConnectWise holds, the changes what they set). That is the
  figure the Month review headline already compares with, so the waterfall and the headline's change are
  one number. It is the billbridge side of last month, not ConnectWise's invoice: an invoice also holds
  what billbridge does not manage (services, tax). Without a plan for last month (only its vendor bill,
  priced on another basis, or nothing) the bridge starts at what ConnectWise held when this month's plan was
  built, and says so (``Meeting.start_basis`` ``"connectwise"``).
- *this month's billed total* is the review's ``billed_price`` of this month: what ConnectWise bills once
  this plan is pushed.
- the steps: ``Since last month's plan`` (what ConnectWise held when this plan was built minus last month's
  billed total: last month's changes not pushed, its one-month lines, edits made in ConnectWise since; 0
  when there is nothing in between), then the parts of this plan's ``impact_by_cause``
  (:mod:`billbridge.rules.impact`: quantity, price, proration, credits) summed over its changed rows.
  What ConnectWise held is this month's billed total minus the plan's price impact, so the steps add up
  from the start to the end to the cent.
- *by vendor*: the same start and end, one step per vendor (its billed total this month minus last month's).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import pandas as pd

from billbridge.model import CAUSES, EXCLUDED_CAUSES, IMPACT_CAUSE_LABELS, IMPACT_CAUSES, label
from billbridge.money import format_money

__all__ = ["Meeting", "Section", "meeting", "SECTIONS", "BRIDGE_COLUMNS", "SECTION_ROW_COLUMNS",
           "RENEWAL_DAYS"]

ZERO = Decimal(0)
CHANGED = ("create", "update", "cancel")
#: renewals this many days ahead are "soon" (the Timeline shows the same window)
RENEWAL_DAYS = 60
#: the sections, in the order the meeting walks them: name -> (title, the question it answers)
SECTIONS: dict[str, tuple[str, str]] = {
    "changed": ("What changed and why", "the plan's changes to what ConnectWise bills, by cause"),
    "margins": ("Margins below the threshold", "lines whose margin falls below the threshold, or below cost"),
    "cost_only": ("Cost changed, price did not", "the MSP's cost moved and the customer's price stayed"),
    "commitments": ("Commitments that renew or lock in soon",
                    "seat cuts the vendor will not take back, cancellation windows closing, renewals within "
                    f"{RENEWAL_DAYS} days"),
    "blocked": ("Blocked, and what it costs not to bill it", "vendor cost ConnectWise does not bill this month"),
}
#: what each section's figure is
FIGURE_WORDS = {"changed": "change per month", "margins": "margin per month", "cost_only": "margin change per month",
                "commitments": "at risk to the term end", "blocked": "vendor cost not re-billed per month"}
BRIDGE_COLUMNS = ("currency", "kind", "step", "label", "amount", "measure")
SECTION_ROW_COLUMNS = ("section", "vendor", "customer", "product", "amount", "detail", "currency", "key")


@dataclass
class Section:
    """One question of the meeting: its figure per currency, the rows behind it, and the Reconcile filters that
    list those rows (``links``: ``(words, {"action"|"cause"|"flag": [codes]})``; a filter ``{"page":
    "timeline"}`` points at the Timeline instead)."""

    name: str
    title: str
    question: str
    figures: dict[str, Decimal]
    rows: pd.DataFrame
    links: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    @property
    def figure_words(self) -> str:
        return FIGURE_WORDS.get(self.name, "")


@dataclass
class Meeting:
    """The month's answers: :attr:`bridge` (:data:`BRIDGE_COLUMNS`, a waterfall's steps per currency and kind
    ``cause`` | ``vendor``), :attr:`sections` in :data:`SECTIONS` order, where the bridge starts
    (``start_basis`` ``"plan"``: last month's plan, ``"connectwise"``: what ConnectWise held)."""

    month: str
    previous_month: str | None
    start_basis: str
    bridge: pd.DataFrame
    sections: list[Section]

    def section(self, name: str) -> Section:
        return next(s for s in self.sections if s.name == name)

    @property
    def currencies(self) -> list[str]:
        return sorted(set(self.bridge["currency"])) if len(self.bridge) else []

    def steps(self, currency: str, kind: str = "cause") -> pd.DataFrame:
        b = self.bridge
        return b[(b["currency"] == currency) & (b["kind"] == kind)].reset_index(drop=True)

    def section_rows(self) -> pd.DataFrame:
        """Every section's rows in one frame (:data:`SECTION_ROW_COLUMNS`), for the workbook."""
        frames = [s.rows for s in self.sections if len(s.rows)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(SECTION_ROW_COLUMNS))


# ------------------------------------------------------------------------------------ values
def _d(v: Any) -> Decimal | None:
    if v is None or v is pd.NA or (isinstance(v, float) and v != v):
        return None
    try:
        return v if isinstance(v, Decimal) else Decimal(str(v))
    except ArithmeticError:
        return None


def _cur(v: Any) -> str:
    return v.strip().upper() if isinstance(v, str) and v.strip() else "USD"


def _flags(v: Any) -> tuple[str, ...]:
    if isinstance(v, str):
        return tuple(f for f in v.split(",") if f)
    return tuple(v) if isinstance(v, (list, tuple)) else ()


def _date(v: Any) -> date | None:
    if isinstance(v, date):
        return v
    if isinstance(v, str) and len(v) >= 10:
        try:
            return date.fromisoformat(v[:10])
        except ValueError:
            return None
    return None


def impact_parts(v: Any) -> dict[str, Decimal] | None:
    """A row's ``impact_by_cause`` as ``{cause: Decimal}`` (a mapping, its JSON text, or None)."""
    if isinstance(v, str) and v.strip():
        import json

        v = json.loads(v)
    if not isinstance(v, dict):
        return None
    return {c: _d(v.get(c)) or ZERO for c in IMPACT_CAUSES}


def _sum(values) -> Decimal:
    return sum(values, ZERO)


# ------------------------------------------------------------------------------------ the bridge
def _bridge(rows: pd.DataFrame, lines: pd.DataFrame, previous: pd.DataFrame | None, month: str,
            previous_month: str | None) -> tuple[pd.DataFrame, str]:
    basis = "plan" if previous is not None else "connectwise"
    out: list[dict[str, Any]] = []
    cur_of_lines = lines["currency"].map(_cur) if len(lines) else pd.Series(dtype=object)
    prev_cur = previous["currency"].map(_cur) if previous is not None and len(previous) else pd.Series(dtype=object)
    row_cur = rows["currency"].map(_cur) if len(rows) else pd.Series(dtype=object)
    currencies = sorted(set(cur_of_lines) | set(prev_cur))
    changed = rows[rows["action"].isin(CHANGED)] if len(rows) else rows
    start_word = f"{previous_month} billed" if basis == "plan" else "ConnectWise before this plan"
    for cur in currencies:
        mine = lines[cur_of_lines == cur] if len(lines) else lines
        end = _sum(mine["price"]) if len(mine) else ZERO
        ch = changed[row_cur.loc[changed.index] == cur] if len(changed) else changed
        parts = {c: ZERO for c in IMPACT_CAUSES}
        impact = ZERO
        for v, pi in zip(ch["impact_by_cause"] if "impact_by_cause" in ch else [], ch["price_impact"] if len(ch) else []):
            got = impact_parts(v)
            pi = _d(pi) or ZERO
            impact += pi
            if got is None:  # a row stored before impact_by_cause existed: its impact is unexplained quantity
                got = {**parts.fromkeys(IMPACT_CAUSES, ZERO), "quantity": pi}
            for c in IMPACT_CAUSES:
                parts[c] += got[c]
        before = end - impact
        mine_prev = previous[prev_cur == cur] if previous is not None and len(previous) else None
        start = _sum(mine_prev["price"]) if mine_prev is not None else before

        def step(kind, name, words, amount, measure):
            out.append({"currency": cur, "kind": kind, "step": name, "label": words, "amount": amount,
                        "measure": measure})

        step("cause", "start", start_word, start, "absolute")
        step("cause", "since_last_plan", "Since last month's plan", before - start, "relative")
        for c in IMPACT_CAUSES:
            step("cause", c, IMPACT_CAUSE_LABELS.get(c, c), parts[c], "relative")
        step("cause", "end", f"{month} billed", end, "total")
        # by vendor: each vendor's billed total this month minus last month's (or minus what ConnectWise held)
        step("vendor", "start", start_word, start, "absolute")
        vendors = sorted({*(mine["vendor"].dropna() if len(mine) else []),
                          *(mine_prev["vendor"].dropna() if mine_prev is not None and len(mine_prev) else [])},
                         key=str)
        for v in vendors:
            now = _sum(mine.loc[mine["vendor"] == v, "price"]) if len(mine) else ZERO
            if mine_prev is not None:
                was = _sum(mine_prev.loc[mine_prev["vendor"] == v, "price"]) if len(mine_prev) else ZERO
            else:
                was = now - _sum(_d(p) or ZERO for p, vv in zip(ch["price_impact"], ch["vendor"]) if vv == v) \
                    if len(ch) else now
            step("vendor", f"vendor:{v}", _vendor_name(v), now - was, "relative")
        step("vendor", "end", f"{month} billed", end, "total")
    return pd.DataFrame(out, columns=list(BRIDGE_COLUMNS)), basis


def _vendor_name(v: Any) -> str:
    from billbridge.vendors import vendor_name

    return vendor_name(v) if isinstance(v, str) and v else "No vendor"


# ------------------------------------------------------------------------------------ sections
def _name(r: dict, *cols: str) -> str:
    for c in cols:
        v = r.get(c)
        if isinstance(v, str) and v:
            return v
    return ""


def _section_rows(section: str, picked: list[tuple[dict, Decimal, str]]) -> pd.DataFrame:
    out = [{"section": section, "vendor": r.get("vendor"),
            "customer": _name(r, "vendor_customer_name", "company_name", "vendor_customer_id"),
            "product": _name(r, "product_description", "product_name", "sku"), "amount": amount, "detail": detail,
            "currency": _cur(r.get("currency")), "key": r.get("key")} for r, amount, detail in picked]
    df = pd.DataFrame(out, columns=list(SECTION_ROW_COLUMNS))
    if len(df):
        df = df.assign(_abs=df["amount"].map(abs)).sort_values(["_abs", "customer"], ascending=[False, True],
                                                                kind="stable").drop(columns="_abs")
    return df.reset_index(drop=True)


def _figures(picked: list[tuple[dict, Decimal, str]]) -> dict[str, Decimal]:
    out: dict[str, Decimal] = {}
    for r, amount, _ in picked:
        c = _cur(r.get("currency"))
        out[c] = out.get(c, ZERO) + amount
    return dict(sorted(out.items()))


def _parts_words(parts: dict[str, Decimal] | None, cur: str) -> str:
    if not parts:
        return ""
    return " · ".join(f"{IMPACT_CAUSE_LABELS.get(c, c).lower()} {format_money(v, cur)}" for c, v in parts.items() if v)


def _pct(v: Any) -> str:
    d = _d(v)
    return "" if d is None else f"{d:.1f}%"


def meeting(plan_rows: pd.DataFrame, lines: pd.DataFrame, *, month: str, previous_lines: pd.DataFrame | None = None,
            previous_month: str | None = None, today: date | None = None) -> Meeting:
    """The meeting of ``month`` (module docstring): ``plan_rows`` the month's plan rows (already narrowed to a
    vendor when the review is), ``lines`` their review lines (:func:`billbridge.review.review_lines`),
    ``previous_lines`` last month's review lines when last month had a plan, ``today`` the day renewals are
    counted from (:func:`billbridge.clock.today` by default)."""
    from billbridge import clock

    today = today or clock.today()
    rows = plan_rows
    if "target" in rows.columns:
        rows = rows[rows["target"].isna() | (rows["target"] == "addition")]
    rows = rows.reset_index(drop=True)
    for col in ("currency", "vendor", "flags", "impact_by_cause", "price_impact", "cause"):  # rows built by hand
        if col not in rows.columns:
            rows = rows.assign(**{col: None})
    bridge, basis = _bridge(rows, lines, previous_lines, month, previous_month)
    by_key = {k: r for k, r in zip(lines["key"], lines.to_dict("records"))} if len(lines) else {}
    recs = rows.to_dict("records")
    for r in recs:
        r["_flags"] = _flags(r.get("flags"))
        r["_line"] = by_key.get(r.get("key"), {})

    changed, margins, cost_only, commitments, blocked = [], [], [], [], []
    soon = today.toordinal() + RENEWAL_DAYS
    for r in recs:
        cur, flags, line = _cur(r.get("currency")), r["_flags"], r["_line"]
        if r.get("action") in CHANGED:
            impact = _d(r.get("price_impact")) or ZERO
            why = _parts_words(impact_parts(r.get("impact_by_cause")), cur) or "the monthly price does not change"
            changed.append((r, impact, f"{label(r['action'], 'action')}: {why}"))
        if "low_margin" in flags or r.get("cause") == "negative_margin":
            before, after = _pct(r.get("margin_pct_before")), _pct(r.get("margin_pct_after"))
            words = (f"margin {before} → {after}" if before and after else f"margin {after or before}"
                     if after or before else "margin below the threshold")
            if r.get("cause") == "negative_margin":
                words = "below cost, blocked: " + words
            margins.append((r, line.get("margin", ZERO) if line else ZERO, words))
        if "cost_only_change" in flags:
            was, now = _d(r.get("cw_unit_cost")), _d(r.get("new_unit_cost"))
            words = f"unit cost {format_money(was, cur)} → {format_money(now, cur)}" if was is not None \
                and now is not None else "the cost changed"
            cost_only.append((r, _d(r.get("margin_impact")) or ZERO, words + ", price unchanged"))
        at_risk = _d(r.get("commitment_at_risk"))
        term_end = _date(r.get("term_end"))
        if "annual_term_decrease" in flags:
            commitments.append((r, at_risk or ZERO, "seat cut outside the cancellation window: paid to "
                                + (term_end.isoformat() if term_end else "the term end")))
        elif "in_cancellation_window" in flags:
            w = _date(r.get("window_end"))
            commitments.append((r, at_risk or ZERO, "cancellation window open" + (f" until {w.isoformat()}" if w else "")
                                + ": the seats lock in after it"))
        elif term_end is not None and today.toordinal() <= term_end.toordinal() <= soon \
                and r.get("action") not in ("cancel",):
            commitments.append((r, ZERO, f"renews on {term_end.isoformat()} "
                                         f"({format_money(line.get('price', ZERO) if line else ZERO, cur)} a month)"))
        cause = r.get("cause")
        if cause and cause not in EXCLUDED_CAUSES and r.get("action") == "blocked":
            # what ConnectWise does not bill of it: the review's own "not re-billed" (the headline's figure); a
            # blocked row ConnectWise still bills (a past month's standing line, a hand edit) costs only the rest
            cost = line.get("not_rebilled", ZERO) if line else (_d(r.get("vendor_amount")) or ZERO)
            would = line.get("vendor_price") if line else None
            words = label(cause, "cause") or CAUSES.get(cause, "")
            if would:
                words += f"; would bill {format_money(would, cur)}"
            blocked.append((r, cost, words))

    def flagged(flag: str, picked) -> bool:
        return any(flag in r["_flags"] for r, _, _ in picked)

    links = {
        "changed": [("the changed rows", {"action": list(CHANGED)})],
        "margins": [(w, f) for w, f, on in (
            ("rows flagged low margin", {"flag": ["low_margin"]}, flagged("low_margin", margins)),
            ("rows blocked below cost", {"cause": ["negative_margin"]},
             any(r.get("cause") == "negative_margin" for r, _, _ in margins))) if on],
        "cost_only": [("rows whose cost changed", {"flag": ["cost_only_change"]})],
        "commitments": [(w, f) for w, f, on in (
            ("seat cuts outside the window", {"flag": ["annual_term_decrease"]}, flagged("annual_term_decrease", commitments)),
            ("open cancellation windows", {"flag": ["in_cancellation_window"]},
             flagged("in_cancellation_window", commitments)),
            ("renewals on the Timeline", {"page": "timeline"},
             any(not ({"annual_term_decrease", "in_cancellation_window"} & set(r["_flags"])) for r, _, _ in commitments))
        ) if on],
        "blocked": [("the blocked rows", {"cause": sorted({r["cause"] for r, _, _ in blocked})})],
    }
    picked = {"changed": changed, "margins": margins, "cost_only": cost_only, "commitments": commitments,
              "blocked": blocked}
    sections = [Section(name, *SECTIONS[name], figures=_figures(picked[name]), rows=_section_rows(name, picked[name]),
                        links=links[name] if picked[name] else []) for name in SECTIONS]
    return Meeting(month=month, previous_month=previous_month if basis == "plan" else None, start_basis=basis,
                   bridge=bridge, sections=sections)
