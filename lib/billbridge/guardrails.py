"""The margin guard read back for a month's review (issue 12): the lines whose cost moved while the customer's
price did not, and the lines whose margin is below the threshold.

::

    from billbridge import guardrails
    watch = guardrails.margin_watch(store, "2026-11")
    watch.cost_only        # rows flagged cost_only_change: old and new cost, the price, margin before and after
    watch.below_threshold  # rows flagged low_margin: the price, the cost, the margin after, the price rule
    watch.threshold        # the global threshold in effect (a product mapping may set its own)
    watch.cost_only_total  # {currency: margin impact of the cost-only changes} (never two currencies added)
    guardrails.override(store, "2026-10", causes=["past_month"])          # confirm every correction line offered
    guardrails.override(store, "2026-10", ["demo|DC-1|S-1"], reason="credit agreed")   # an invoiced month

Both frames are plan rows of the month's newest plan (columns of :data:`COST_ONLY_COLUMNS` /
:data:`BELOW_THRESHOLD_COLUMNS`, names of :data:`billbridge.model.ROW_COLUMNS`, so
:func:`billbridge.model.column_label` names their headers; money and percents Decimal). What counts as either
is decided once, by the rules (:mod:`billbridge.rules.margin`): this reads their flags.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

import pandas as pd

from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import store as st
from billbridge.errors import InputError, NotFoundError
from billbridge.model import REASON_REQUIRED_CAUSES, OVERRIDE_CAUSES, label
from billbridge.money import sum_by_currency

__all__ = ["MarginWatch", "margin_watch", "override", "COST_ONLY_COLUMNS", "BELOW_THRESHOLD_COLUMNS"]

#: what :attr:`MarginWatch.cost_only` shows of each row
COST_ONLY_COLUMNS = ("key", "vendor_customer_name", "company_name", "agreement_name", "product_description", "sku",
                     "currency", "new_quantity", "cw_unit_cost", "new_unit_cost", "new_unit_price", "margin_pct_before",
                     "margin_pct_after", "margin_impact", "price_rule", "action")
#: what :attr:`MarginWatch.below_threshold` shows of each row
BELOW_THRESHOLD_COLUMNS = ("key", "vendor_customer_name", "company_name", "agreement_name", "product_description",
                           "sku", "currency", "new_quantity", "new_unit_price", "new_unit_cost", "margin_pct_before",
                           "margin_pct_after", "price_rule", "action")


@dataclass
class MarginWatch:
    """A month's cost-only changes and margins below the threshold (empty frames when there is no plan)."""

    month: str
    plan_id: int | None
    threshold: Decimal
    cost_only: pd.DataFrame = field(repr=False)
    below_threshold: pd.DataFrame = field(repr=False)

    @property
    def cost_only_total(self) -> dict[str, Decimal]:
        """The monthly margin impact of the cost-only changes, per currency."""
        return sum_by_currency(self.cost_only["margin_impact"], self.cost_only["currency"])


def _flagged(rows: pd.DataFrame, flag: str, columns: tuple[str, ...]) -> pd.DataFrame:
    if not len(rows):
        return pd.DataFrame({c: pd.Series([], dtype=object) for c in columns})
    mask = [flag in (f or ()) for f in rows["flags"]]
    out = rows.loc[mask, [c for c in columns if c in rows.columns]].reset_index(drop=True)
    return out.reindex(columns=list(columns)).astype(object)


def margin_watch(store: st.Store, month: str) -> MarginWatch:
    """The cost-only changes and below-threshold margins of ``month``'s newest plan (see the module)."""
    plan = mo.latest_plan(store, month)
    rows = plan.rows if plan is not None else pd.DataFrame(columns=["flags"])
    return MarginWatch(month=month, plan_id=plan.id if plan is not None else None, threshold=mp.margin_threshold(store),
                       cost_only=_flagged(rows, "cost_only_change", COST_ONLY_COLUMNS),
                       below_threshold=_flagged(rows, "low_margin", BELOW_THRESHOLD_COLUMNS))


def needs_reason(cause: str | None, flags: Iterable[str] | None) -> bool:
    """Whether overriding a row of ``cause`` (with ``flags``) needs a reason: it would write into a month
    ConnectWise already invoiced (Rule 6.6) — an ``already_invoiced`` row, or a past month's correction in an
    invoiced month. The page and ``billbridge override`` ask by this one rule."""
    return cause in REASON_REQUIRED_CAUSES or (cause == "past_month" and "invoiced_this_month" in (flags or ()))


def override(store: st.Store, month: str, keys: Iterable[str] = (), *, causes: Iterable[str] = (),
             reason: str | None = None, remove: bool = False) -> int:
    """Override rows of ``month``'s newest plan (their ``keys``, and every row blocked by one of ``causes``, of
    :data:`billbridge.model.OVERRIDE_CAUSES`) with ``reason`` (kept in the push journal; an invoiced month needs
    one), or take the overrides back (``remove``); returns how many. The month's next plan reads them."""
    plan = mo.latest_plan(store, month)
    if plan is None:
        raise NotFoundError(f"No plan for {month}: run 'billbridge reconcile {month}' first.")
    causes = set(causes)
    bad = sorted(causes - set(OVERRIDE_CAUSES))
    if bad:
        known = ", ".join(f"{c} ({label(c, 'cause')})" for c in OVERRIDE_CAUSES)
        raise InputError(f"Cannot override {', '.join(bad)}: the causes that can be overridden are {known}.",
                         column="--cause")
    picked = list(dict.fromkeys([*keys, *(k for k, c in zip(plan.rows["key"], plan.rows["cause"]) if c in causes)]))
    if not picked:
        raise InputError("Name the rows to override (their keys) or a cause.", column="KEY")
    unknown = sorted(set(picked) - set(plan.rows["key"]))
    if remove:
        return st.remove_override(store, month, picked)
    if unknown:
        raise InputError(f"Not in plan {plan.id} for {month}: {', '.join(unknown)} "
                         f"('billbridge reconcile {month} --json' lists the row keys).", column="KEY")
    cause_of = dict(zip(plan.rows["key"], plan.rows["cause"]))
    flags_of = dict(zip(plan.rows["key"], plan.rows["flags"])) if "flags" in plan.rows else {}
    invoiced = [k for k in picked if needs_reason(cause_of.get(k), flags_of.get(k))]
    if invoiced and not (reason or "").strip():
        raise InputError(f"ConnectWise already invoiced {month} for {', '.join(invoiced[:3])}"
                         f"{' and more' if len(invoiced) > 3 else ''}: an override there needs a reason the push "
                         f"journal keeps (--reason TEXT).", column="--reason")
    return st.set_override(store, month, picked, reason)
