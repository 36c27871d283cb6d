"""billbridge: the page list (table of contents) and the sidebar shared by every page."""

import streamlit as st

import billbridge_ui as ui
from billbridge import clock

st.set_page_config(page_title="billbridge", page_icon=":material/receipt_long:", layout="wide")
st.session_state[ui.SHELL_KEY] = True  # pages opened without the shell go through it first

# The table of contents. Each section lists its pages in workflow order; sections with no page
# yet are left out. Add a page with one line in its section.
PAGES = {
    "Month": [
        st.Page("pages/load_month.py", title="Load month", icon=":material/upload_file:", default=True),
        st.Page("pages/timeline.py", title="Timeline", icon=":material/calendar_month:"),
    ],
    "Reconcile": [
        st.Page("pages/mappings.py", title="Mappings", icon=":material/link:"),
        st.Page("pages/reconcile.py", title="Reconcile", icon=":material/rule:"),
        st.Page("pages/sync_status.py", title="Sync status", icon=":material/sync:"),
    ],
    "Review": [
        st.Page("pages/month_review.py", title="Month review", icon=":material/groups:"),
    ],
    "ConnectWise": [
        st.Page("pages/agreements.py", title="Agreements", icon=":material/handshake:"),
        st.Page("pages/connection.py", title="Connection", icon=":material/cable:"),
    ],
}
PAGES = {section: pages for section, pages in PAGES.items() if pages}

cfg = ui.config()
with st.sidebar:
    st.markdown("### billbridge")
    if cfg.sandbox:
        st.badge("SANDBOX", icon=":material/science:", color="orange")
        st.caption("Local ConnectWise emulator, no real site is touched.")
    else:
        st.badge(f"{cfg.cw.site} · {cfg.cw.company_id}", icon=":material/cloud:", color="blue")
    current = ui.billing_month()  # the URL's ?month= on a new session, else this month
    options = ui.month_options(clock.current_month(), known=[current])
    st.selectbox(
        "Billing month",
        options,
        index=options.index(current),
        key="month_picker",
        on_change=lambda: ui.set_billing_month(st.session_state["month_picker"]),
        help="The calendar month whose ConnectWise invoice you are preparing. Every page uses it; "
             "it is kept in the address (?month=), so a refresh or a shared link opens the same month.",
    )
    ui.vendor_picker(st.session_state.get(ui.MONTH_KEY, current))  # every page narrows to it (or shows all)
    ui.keep_month_in_url()

navigation = st.navigation(PAGES)
linked = ui.linked_page(PAGES)  # a link to a page opened before any session ran this shell
if linked is not None and linked.url_path != navigation.url_path:
    st.switch_page(linked, query_params=st.query_params.to_dict())
navigation.run()
