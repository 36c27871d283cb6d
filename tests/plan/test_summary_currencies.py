"""The plan summary per currency (section 9, "Rule 7.1 in totals"): ``by_currency`` holds each currency's
figures, conservation holds (and is checked) per currency, and a plan of several currencies has no money
total at the top level, in its action and cause entries, or after merging vendors' summaries."""

from __future__ import annotations

import dataclasses
from decimal import Decimal as D

import pytest
from hypothesis import given, strategies as st

from billbridge.errors import ConservationError
from billbridge.plan import summary as summary_mod
from rules_support import addition, lines, run, snapshot, vline
from test_reconcile_properties import SETTINGS, ctx, line_amount, month

from billbridge.plan import reconcile


def two_currency_plan():
    usd = vline(sub="S-1", qty="10", cost="18.00")
    eur = vline(sub="S-2", sku="EXCH-MBX", qty="4", cost="4.50", price="7.00") | {"currency": "EUR"}
    return run(lines(usd, eur), snapshot([addition(1, qty=10)]))


def test_a_plan_of_two_currencies_has_each_ones_figures_and_no_total_of_both():
    s = two_currency_plan().summary
    assert s.currencies == ["EUR", "USD"] and s.currency is None
    assert s.by_currency["USD"]["dollars_checked"] == D("180.00") and s.by_currency["EUR"]["dollars_checked"] == D("18.00")
    assert s.by_currency["EUR"]["lines_checked"] == 1 and s.by_currency["USD"]["lines_checked"] == 1
    for f in (s.dollars_checked, s.dollars_reconciled, s.dollars_blocked, s.price_impact, s.margin_impact, s.coverage):
        assert f is None
    assert s.lines_checked == 2 and s.rows == sum(f["rows"] for f in s.by_currency.values())  # counts do add up
    for entry in [*s.by_action.values(), *s.by_cause.values()]:
        assert entry["dollars"] is None and set(entry["by_currency"]) <= {"EUR", "USD"}


def test_a_plan_of_one_currency_keeps_its_money_at_the_top_as_always():
    s = run(lines(vline() | {"currency": "EUR"}), snapshot([addition(1, qty=8)])).summary
    assert s.currency == "EUR" and s.currencies == ["EUR"]
    assert s.dollars_checked == D("180.00") == s.by_currency["EUR"]["dollars_checked"]
    assert s.by_action["update"]["dollars"] == D("180.00")


def test_merging_vendors_adds_each_currency_on_its_own():
    a = two_currency_plan().summary
    b = run(lines(vline(qty="2")), snapshot([addition(1, qty=2)])).summary
    m = summary_mod.merge([a, b], "2026-11")
    assert m.currencies == ["EUR", "USD"] and m.dollars_checked is None
    assert m.by_currency["USD"]["dollars_checked"] == D("180.00") + D("36.00")
    assert m.by_currency["EUR"] == a.by_currency["EUR"]
    assert m.lines_checked == 3 and m.customers == a.customers + b.customers
    usd_only = summary_mod.merge([b, b], "2026-11")
    assert usd_only.currency == "USD" and usd_only.dollars_checked == D("72.00")


def test_conservation_is_checked_per_currency_and_the_error_names_it():
    s = two_currency_plan().summary
    broken = {c: dict(f) for c, f in s.by_currency.items()}
    broken["EUR"]["dollars_blocked"] += D("0.01")
    with pytest.raises(ConservationError, match="EUR"):
        summary_mod.merge([dataclasses.replace(s, by_currency=broken), s], "2026-11")


CURRENCIES = ("USD", "EUR", "GBP")


@SETTINGS
@given(month(), st.lists(st.sampled_from(CURRENCIES), min_size=25, max_size=25))
def test_every_currency_conserves_on_its_own_for_random_months(m, picks):
    vl, snap, maps = m
    vl["currency"] = picks[: len(vl)]
    s = reconcile(vl, snap, maps, ctx()).summary
    for cur in set(vl["currency"]):
        mine = vl[vl["currency"] == cur]
        expected = sum((line_amount(q, c, t == "credit") for q, c, t in
                        zip(mine["quantity"], mine["unit_cost"], mine["charge_type"])), D("0"))
        f = s.by_currency[cur]
        assert f["lines_checked"] == len(mine) and f["dollars_checked"] == expected
        assert f["lines_reconciled"] + f["lines_blocked"] + f["lines_excluded"] == len(mine)
        assert f["dollars_reconciled"] + f["dollars_blocked"] + f["dollars_excluded"] == expected
    several = len(set(s.by_currency)) > 1
    assert (s.dollars_checked is None) == several and (s.currency is None) == (several or not s.by_currency)
