"""Timeline: where each account's vendor periods (BDOM to BDOM) fall on ConnectWise's calendar month."""

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge import store as bst
from billbridge import timeline
from billbridge_ui.commitment_views import show_commitments
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import blank_text

month = ui.billing_month()
vendor = ui.vendor_filter(month)
st.title(f"Timeline · {month}" + (f" · {ui.vendor_label(vendor)}" if vendor else ""))
st.caption(
    "Vendor periods run from billing day to billing day; ConnectWise additions run from the 1st to the last "
    "day and are invoiced on the 1st of the next month. Accounts billed in the last six days of a month are "
    "late-month risks (red)."
)
store = ui.store()
# the imports in effect (a withdrawn one is no part of the month), of the sidebar's vendor or all
imports = [i for i in bst.month_imports(store, month) if vendor in (None, i["vendor"])]
if not imports:
    st.info(f"Nothing loaded for {month} yet. Load the vendor's bill on the Load month page first.")
    st.page_link("pages/load_month.py", label="Load month", icon=":material/upload_file:")
    st.stop()

bar = st.container(horizontal=True, wrap=True, vertical_alignment="bottom")
frames = [bst.import_lines(store, i["id"], extras=False).assign(vendor=i["vendor"]) for i in imports]
lines = pd.concat(frames, ignore_index=True)
calendar = timeline.account_calendar(lines, month)
names = sorted(calendar["label"]) if len(calendar) else []
chosen = bar.multiselect("Customers", names, key="tl_customers", placeholder="All customers", width=320)
risk_only = bar.toggle("Late-month risks only", key="tl_risk")
ids = calendar.loc[calendar["label"].isin(chosen), "vendor_customer_id"].tolist() if chosen else None

m = metric_row()
m.metric("Accounts", len(calendar), width=METRIC)
m.metric("Late-month risks", int(calendar["late_risk"].sum()) if len(calendar) else 0, width=METRIC)
m.metric("Periods split across two CW months", int(calendar["split"].sum()) if len(calendar) else 0, width=METRIC)

st.plotly_chart(
    timeline.timeline_figure(lines, month, customers=ids, risk_only=risk_only),
    width="stretch", key="tl_fig",
)
st.plotly_chart(timeline.bdom_histogram(lines, month), width="stretch", key="tl_hist")

st.subheader("Accounts")
view = calendar if ids is None else calendar[calendar["vendor_customer_id"].isin(ids)]
if risk_only:
    view = view[view["late_risk"]]
shown = ["vendor_customer_name", "vendor_customer_id", "anchor", "bdom", "cw_start", "cw_end", "cw_invoice",
         "late_risk", "split", "line_count"] + (["vendor"] if len(imports) > 1 else [])
st.dataframe(
    blank_text(view[shown]),
    hide_index=True,
    width="stretch",
    column_config={
        "vendor_customer_name": "Customer",
        "vendor_customer_id": "Vendor id",
        "anchor": st.column_config.TextColumn("BDOM anchor", help="The account's billing day (creation day)."),
        "bdom": "Billed this month",
        "cw_start": "CW addition from",
        "cw_end": "CW addition to",
        "cw_invoice": "CW invoice",
        "late_risk": st.column_config.CheckboxColumn("Late-month risk"),
        "split": st.column_config.CheckboxColumn("Period split"),
        "line_count": "Lines",
        "vendor": "Vendor",
    },
)
st.caption(f"Periods longer than the view (annual and three-year terms) are cut at its edges, {timeline.WINDOW_DAYS} "
           "days either side of the month, and marked ▸ where they go on; hover a bar for its full dates.")

show_commitments(store, month, vendor)
