"""Connection: which ConnectWise billbridge talks to, its version, and whether the API member may do what billbridge needs."""

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge.connectwise import check_connection

st.title("Connection")
cfg = ui.config()
conn = ui.connection()

if cfg.sandbox:
    st.info(
        "billbridge is running on its **sandbox**, a local emulator of the ConnectWise Manage REST API "
        f"with its data in `{cfg.sandbox_db}`. To use a real site, add a `[connectwise]` section to "
        "`.streamlit/secrets.toml` (see `secrets.toml.example`) or set `CW_SITE` and the keys in the environment.",
        icon=":material/science:",
    )

if st.button("Check again", key="recheck", icon=":material/refresh:"):
    st.session_state.pop("connection_report", None)
if "connection_report" not in st.session_state:
    with st.spinner("Asking ConnectWise…"):
        st.session_state["connection_report"] = check_connection(conn.client, mode=conn.mode)
report = st.session_state["connection_report"]

c1, c2, c3 = st.columns(3)
c1.metric("Mode", "Sandbox" if cfg.sandbox else "ConnectWise site")
c2.metric("Server version", report.server_version or "unknown")
c3.metric("Codebase", report.codebase or "unknown")

st.subheader("Credentials")
st.dataframe(
    pd.DataFrame(
        [
            ("Site", report.site),
            ("Company", report.company_id),
            ("Public key", report.public_key),
            ("Private key", "set, hidden" if report.private_key else "missing"),
            ("Client id", report.client_id),
            ("Configured in", cfg.source),
        ],
        columns=["setting", "value"],
    ),
    hide_index=True,
    width="stretch",
)

if report.error:
    st.error(report.error)
if report.version_error:
    st.warning(report.version_error)
for note in conn.notes:
    st.caption(note)

st.subheader("Permissions billbridge needs")
if report.permissions:
    if report.missing:
        st.warning(
            "The API member lacks " + ", ".join(f"**{p.area}: {p.permission}**" for p in report.missing)
            + ". In ConnectWise: System > Security Roles, edit the API member's role and grant these levels."
        )
    if report.unchecked:
        st.warning(
            "Could not check " + ", ".join(f"**{p.area}: {p.permission}**" for p in report.unchecked)
            + ": ConnectWise failed to answer the probe, which says nothing about the permission (the table "
            "says why). Check again in a moment."
        )
    if not report.missing and not report.unchecked:
        st.success("The API member has every permission billbridge needs.")
    st.dataframe(
        pd.DataFrame(
            [{"area": p.area, "permission": p.permission, "state": p.label, "detail": p.detail}
             for p in report.permissions]
        ),
        hide_index=True,
        width="stretch",
    )
