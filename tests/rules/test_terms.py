"""Commitment terms (Rules 4.1-4.6). FOUNDATION: the flags and columns exist and are not set yet (branch
``terms`` implements them)."""

from __future__ import annotations

from rules_support import addition, lines, only, run, snapshot, vline


def test_until_implemented_no_term_flag_is_set_and_the_term_columns_are_empty():
    r = only(run(lines(vline(sub="S-7", sku="M365-BP-ANN", qty="16", cost="22.00", price="26.40", term="annual")),
                 snapshot([addition(7, product=503, qty=18, price=26.4, cost=22.0, key="demo|DC-1|S-7")])),
             key="demo|DC-1|S-7")
    assert not {"in_cancellation_window", "agreement_ends_before_term", "agreement_outlasts_term"} & set(r.flags)
    assert (r.term_start, r.term_end, r.term_source, r.window_end, r.commitment_at_risk) == (None,) * 5
