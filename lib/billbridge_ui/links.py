"""Links to plan rows: a page (Month review) points at "these rows" on the Reconcile page with the filter in the
URL (``?action=create,update&cause=no_agreement&flag=low_margin``, next to ``?month=`` and ``?vendor=``), and the
Reconcile page applies it. The parameter names and how they are read live here, once.

A link opened in the session (``st.page_link``) keeps the session; the Reconcile page reads the parameters
once (:func:`apply_row_filter`): the action and cause go into its own filter widgets, the flags into a filter
of their own the page shows with a way back to every row, and the parameters leave the URL.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

import billbridge_ui as ui

#: the URL parameters of a row filter -> the Reconcile page's widget key (None: the flag filter, no widget)
PARAMS = {"action": "flt_action", "cause": "flt_cause", "flag": None}
#: the Reconcile page's filter widgets a link empties first
CLEARED = ("flt_action", "flt_cause", "flt_customer", "flt_product")
#: the flags the Reconcile grid is narrowed to (session state)
FLAG_KEY = "flt_flag"
PAGES = {"reconcile": "pages/reconcile.py", "timeline": "pages/timeline.py"}


def query(month: str, vendor: str | None, filters: dict[str, list[str]]) -> dict[str, str]:
    """The query parameters of a link to ``month``'s rows matching ``filters`` (``{"action"|"cause"|"flag":
    [codes]}``)."""
    out = {ui.MONTH_PARAM: month}
    if vendor:
        out[ui.VENDOR_PARAM] = vendor
    for name in PARAMS:
        if filters.get(name):
            out[name] = ",".join(filters[name])
    return out


def rows_link(words: str, month: str, vendor: str | None, filters: dict[str, Any]) -> None:
    """A link to the rows (the Reconcile page, filtered), or to the Timeline for ``{"page": "timeline"}``."""
    page = filters.get("page", "reconcile")
    icon = ":material/calendar_month:" if page == "timeline" else ":material/rule:"
    st.page_link(PAGES[page], label=f"See {words}", icon=icon, query_params=query(month, vendor, filters))


def apply_row_filter(facets: dict[str, list[str]]) -> list[str] | None:
    """On the Reconcile page, before its filter widgets: the URL's row filter, applied once (action and cause into
    their widgets, as far as the plan has them: ``facets`` are the widgets' choices; flags kept in session
    state); returns the flags the grid is narrowed to (None: no flag filter)."""
    got = {name: [v for v in st.query_params.get(name, "").split(",") if v] for name in PARAMS if name in st.query_params}
    if got:  # a link names the whole filter: the grid's other filters start empty
        for widget in CLEARED:
            st.session_state[widget] = []
        for name, values in got.items():
            widget = PARAMS[name]
            if widget is not None:
                st.session_state[widget] = [v for v in values if v in facets.get(f"{name}s", [])]
            del st.query_params[name]
        st.session_state[FLAG_KEY] = got.get("flag") or None
    return st.session_state.get(FLAG_KEY) or None


def show_flag_filter(flags: list[str] | None) -> None:
    """Say that the grid shows only rows with ``flags`` (from a link), with a button back to every row."""
    if not flags:
        return
    from billbridge.model import labels

    c = st.container(horizontal=True, vertical_alignment="center")
    c.caption(f"Only rows flagged {labels(flags)} (from a link).")
    if c.button("Clear the flag filter", key="clear_flag_filter", icon=":material/filter_alt_off:"):
        st.session_state[FLAG_KEY] = None
        st.rerun()
