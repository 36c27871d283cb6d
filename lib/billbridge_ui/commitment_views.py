"""The Timeline's commitments section: renewals and open cancellation windows of the month's newest plan for
the next :data:`billbridge.timeline.COMMITMENT_DAYS` days from today (Streamlit glue; the events come from
:func:`billbridge.timeline.commitments`, the terms from :mod:`billbridge.rules.terms`)."""

from __future__ import annotations

from datetime import timedelta

import streamlit as st

from billbridge import clock, timeline
from billbridge import store as bst
from billbridge_ui.layout import METRIC, metric_row

__all__ = ["show_commitments"]

_HEADERS = {"on": "Date", "event": "What happens", "customer": "Customer", "product": "Product",
            "agreement": "Agreement", "term": "Term", "seats": "Seats", "term_end": "Term ends",
            "term_source": "Term from", "window_end": "Reduce seats until", "at_risk": "At risk"}


def show_commitments(store: bst.Store, month: str, vendor: str | None) -> None:
    """The section: two counts and the events, soonest first (or what to do when the month has no plan)."""
    today = clock.today()
    days = timeline.COMMITMENT_DAYS
    st.subheader(f"Commitments: the next {days} days")
    meta = bst.latest_plan_meta(store, month)
    if meta is None:
        st.info(f"Reconcile {month} to see its annual and three-year terms: their renewals and cancellation "
                "windows are worked out with the plan.")
        st.page_link("pages/reconcile.py", label="Reconcile", icon=":material/rule:")
        return
    rows = bst.plan_table(store, meta["id"])
    if vendor is not None and "vendor" in rows.columns:
        rows = rows[rows["vendor"] == vendor]
    events = timeline.commitments(rows, today, days)
    m = metric_row()
    m.metric("Renewals", int((events["event"] == "Renews").sum()), width=METRIC)
    m.metric("Open cancellation windows", int((events["event"] != "Renews").sum()), width=METRIC)
    st.caption(f"From {today} to {today + timedelta(days=days)}, as the plan of {month} knows the terms. "
               "Seats of an annual or three-year term can be reduced only within 168 hours of a purchase, a renewal "
               "or a seat addition; after that the MSP pays for them to the term end. \"Derived\" terms were worked "
               "out by billbridge where the vendor's data do not date them.")
    if not len(events):
        st.info(f"No renewal and no open cancellation window in the next {days} days.")
        return
    shown = [c for c in _HEADERS if c not in ("agreement", "at_risk") or (events[c] != "").any()]
    st.dataframe(events[shown].rename(columns=_HEADERS), hide_index=True, width="stretch", key="tl_commitments")
