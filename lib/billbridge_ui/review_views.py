"""Month review page pieces: the meeting's sections (:mod:`billbridge.meeting`), each with its dollar figure in its
currency, its rows and a link to them on the Reconcile page, and the waterfalls from last month's billed total
to this month's (one per currency, by cause and by vendor). No billing policy here: the figures are the
library's."""

from __future__ import annotations

import streamlit as st

import billbridge_ui as ui
from billbridge import meeting as mt
from billbridge import review
from billbridge_ui.links import rows_link
from billbridge_ui.tables import display_frame


def render_bridge(m: mt.Meeting) -> None:
    """The waterfalls, one per currency (two currencies never share an axis): by cause, and by vendor."""
    if m.start_basis != "plan":
        st.caption("No plan for last month: the waterfall starts at what ConnectWise held when this plan was built.")
    for cur in m.currencies:
        by_cause, by_vendor = st.columns(2)
        by_cause.plotly_chart(review.bridge_figure(m, cur, "cause"), width="stretch", key=f"mr_bridge_cause_{cur}")
        by_vendor.plotly_chart(review.bridge_figure(m, cur, "vendor"), width="stretch", key=f"mr_bridge_vendor_{cur}")


def render_sections(m: mt.Meeting, month: str, vendor: str | None) -> None:
    """Every section: its question, its figure per currency, its rows, links to them."""
    for s in m.sections:
        st.subheader(s.title)
        count = len(s.rows)
        if count:
            st.markdown(f"**{ui.amounts(s.figures)}** {s.figure_words} · {count} row{'s' if count != 1 else ''} · "
                        f"{s.question}")
        else:
            st.markdown(f"Nothing this month: {s.question}.")
        if s.name == "changed":
            render_bridge(m)
        if count:
            with st.expander(f"The {count} row{'s' if count != 1 else ''}", expanded=False):
                st.dataframe(display_frame(s.rows, ["customer", "product", "amount", "detail", "vendor"],
                                           money={"amount"}), hide_index=True, width="stretch", key=f"mr_sec_{s.name}")
            links = st.container(horizontal=True, wrap=True)
            with links:
                for words, filters in s.links:
                    rows_link(words, month, vendor, filters)
