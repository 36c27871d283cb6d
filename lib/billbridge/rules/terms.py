"""Commitment terms: a subscription's term, its start and end, the cancellation window and what a seat
decrease outside it costs -> flags ``in_cancellation_window``, ``agreement_ends_before_term``,
``agreement_outlasts_term``; columns ``term_start``, ``term_end``, ``term_source``, ``window_end``,
``commitment_at_risk``.

Rules implemented (billing-rules.md):

- **Rules 4.1-4.6** commitment terms (annual, triennial), the 168-hour cancellation window after purchase,
  renewal or each seat addition, and what the MSP keeps paying to the term end.

FOUNDATION: the flags and columns are named and wired here; until the rule is implemented (branch
``terms``) the flags are never set (:data:`FLAG_SQL` FALSE) and the columns are NULL.
"""

from __future__ import annotations

DECIDES = ("in_cancellation_window", "agreement_ends_before_term", "agreement_outlasts_term")

#: where the flags of this file come from, over a vendor row's tables (rules/flags.py lists them)
FLAG_SQL = {
    "in_cancellation_window": "FALSE",
    "agreement_ends_before_term": "FALSE",
    "agreement_outlasts_term": "FALSE",
}

#: the plan row columns this file fills, over the vendor row's tables
COLUMNS = ("NULL::VARCHAR AS term_start, NULL::VARCHAR AS term_end, NULL::VARCHAR AS term_source, "
           "NULL::VARCHAR AS window_end, NULL::VARCHAR AS commitment_at_risk")
