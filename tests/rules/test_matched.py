"""Matching (section 8, Rule 5.2): a row keeps the active line carrying its key; a standing recurring or usage
row adopts the single keyless line for its product; one active line per (agreement, product), else
``ambiguous``."""

from __future__ import annotations

import pandas as pd

from rules_support import addition, lines, mappings, only, run, snapshot, vline


def test_the_keyed_line_is_matched():
    r = only(run(lines(vline()), snapshot([addition(7)])), key="demo|DC-1|S-1")
    assert (r.action, r.cw_addition_id) == ("in_sync", 7)


def test_a_line_ended_before_the_month_is_not_active():
    r = only(run(lines(vline()), snapshot([addition(7, cancelled="2026-10-31")])), key="demo|DC-1|S-1")
    assert r.action == "create"


def test_the_single_keyless_line_is_adopted_and_gets_the_key():
    r = only(run(lines(vline(qty="9")), snapshot([addition(1, key=None, qty=8, updated_by="jsmith")])),
             key="demo|DC-1|S-1")
    assert r.action == "update" and "adopts_existing_line" in r.flags
    assert {"op": "replace", "path": "customFields",
            "value": [{"id": 7, "caption": "BillbridgeKey", "value": "demo|DC-1|S-1"}]} in r.request["body"]


def test_two_keyless_lines_for_one_product_are_ambiguous():
    snap = snapshot([addition(1, key=None), addition(2, key=None, qty=2)])
    r = only(run(lines(vline()), snap), key="demo|DC-1|S-1")
    assert r.cause == "ambiguous" and "2 active Hosted PBX seat line(s)" in r.reason


def test_one_keyless_line_wanted_by_two_subscriptions_is_ambiguous_for_both():
    plan = run(lines(vline(sub="S-1"), vline(sub="S-9")), snapshot([addition(1, key=None)]))
    assert plan.rows["cause"].tolist() == ["ambiguous", "ambiguous"]


def test_a_keyless_line_next_to_the_one_billbridge_keeps_is_ambiguous():
    r = only(run(lines(vline()), snapshot([addition(1), addition(2, key=None, qty=2)])), key="demo|DC-1|S-1")
    assert r.cause == "ambiguous" and "billed twice" in r.reason


def test_two_lines_with_one_key_are_ambiguous():
    r = only(run(lines(vline()), snapshot([addition(1), addition(2)])), key="demo|DC-1|S-1")
    assert r.cause == "ambiguous" and "cancel the duplicate" in r.reason


def test_monthly_rows_never_adopt():
    r = only(run(lines(vline()), snapshot([addition(1, key=None)]), mappings(mode="monthly")),
             key="demo|DC-1|S-1|2026-11")
    assert r.cause == "ambiguous"


def test_the_journal_knows_the_key_of_a_line_whose_custom_field_was_cleared():
    journal = pd.DataFrame([{"key": "demo|DC-1|S-1", "addition_id": 1, "written_at": "2026-10-01T10:00:00Z"}])
    r = only(run(lines(vline()), snapshot([addition(1, key=None)]), journal=journal), key="demo|DC-1|S-1")
    assert (r.action, r.cw_addition_id) == ("in_sync", 1)
