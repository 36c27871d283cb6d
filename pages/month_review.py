"""Month review: the billing meeting on a shared screen (totals, changes, alerts, charts, export)."""

from decimal import Decimal

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge import export, model, review
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import display_frame

month = ui.billing_month()
st.title(f"Month review · {month}")
store = ui.store()

with st.sidebar:
    margin_pct = st.number_input("Alert: margin below %", 0, 100, 20, key="mr_margin")
    change_pct = st.number_input("Alert: customer change ≥ %", 0, 1000, 25, key="mr_change")

rv = export.load_review(store, month, margin_threshold=Decimal(margin_pct) / 100,
                        customer_change_threshold=Decimal(change_pct) / 100)
if rv is None:
    st.info(f"No plan for {month} yet. Load the month and reconcile it first.")
    st.stop()


def _delta(name, pct=False):
    d = rv.delta(name)
    if d is None:
        return None
    return f"{d * 100:+.1f} pts" if pct else f"{'+' if d >= 0 else '-'}{ui.money(abs(d))}"


t = rv.totals
# a wrapping row: a five-figure amount with cents stays whole on a 1024-pixel laptop, side by side on a big screen
row = metric_row()
row.metric("Vendor cost", ui.money(t.vendor_cost), _delta("vendor_cost"), delta_color="inverse", border=True,
           width=METRIC)
row.metric("ConnectWise bills", ui.money(t.billed_price), _delta("billed_price"), border=True, width=METRIC,
           help="What ConnectWise bills for the month once the plan is pushed.")
row.metric("Margin", ui.money(t.margin), _delta("margin"), border=True, width=METRIC,
           help="What ConnectWise bills minus the vendor cost of those same lines (the chart and the workbook use "
                "the same rule).")
row.metric("Margin %", f"{t.margin_pct * 100:.1f}%" if t.margin_pct is not None else "—", _delta("margin_pct", True),
           border=True, width=METRIC, help="Margin as a share of what ConnectWise bills.")
row.metric("Not re-billed", ui.money(t.unbilled_cost), _delta("unbilled_cost"), delta_color="inverse", border=True,
           width=METRIC, help="Vendor cost of lines ConnectWise does not bill (blocked, unmapped or excluded): fix "
                              "them on Mappings and Reconcile.")
if rv.previous_totals is None:
    st.caption("No previous month to compare with.")
elif rv.previous_basis == "plan":
    st.caption(f"Compared with {rv.previous_month}.")
else:
    st.caption(f"Compared with {rv.previous_month}'s vendor bill (no plan was made that month), so only the vendor "
               "cost is compared.")

al = rv.alerts
counts = al.groupby("kind").agg(n=("kind", "size"), dollars=("dollars", lambda s: sum(s, Decimal(0)))) if len(al) else None
st.subheader("Decide")
if counts is None:
    st.success("Nothing needs a decision.")
else:
    row = metric_row()
    for kind, r in counts.iterrows():
        row.metric(model.label(kind, "alert"), int(r["n"]), ui.money(r["dollars"]), delta_color="off", delta_arrow="off",
                   border=True, width=METRIC, help=model.ALERT_KINDS.get(kind, ""))
    with st.expander("Every alert"):
        st.dataframe(display_frame(al, ["kind", "customer", "detail", "dollars", "agreement_id"], kind="alert"),
                     hide_index=True, width="stretch")

st.subheader("What changed")
if rv.previous_totals is None:
    st.info("Load the previous month to see what changed.")
else:
    kinds = rv.changes.groupby("kind").size() if len(rv.changes) else pd.Series(dtype=int)
    row = metric_row()
    for kind in model.CHANGE_KINDS:
        row.metric(model.label(kind, "change"), int(kinds.get(kind, 0)), width=METRIC)
    movers = rv.movers(10)
    st.dataframe(display_frame(movers, ["kind", "customer", "product", "quantity_before", "quantity_now", "impact"],
                               kind="change"), hide_index=True, width="stretch")

st.plotly_chart(review.margin_by_customer_figure(rv.lines, top=15), width="stretch", key="mr_margin_chart")
st.plotly_chart(review.actions_figure(rv.lines, rv.push_results), width="stretch", key="mr_actions_chart")
if len(rv.trend) > 1:
    st.plotly_chart(review.trend_figure(rv.trend), width="stretch", key="mr_trend_chart")

st.subheader("Export")
d = st.container(horizontal=True, wrap=True)
d.download_button("Excel workbook", export.workbook_bytes(rv), f"billbridge-review-{month}.xlsx",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="mr_xlsx",
                   icon=":material/table_view:")
d.download_button("Plan lines (CSV)", export.csv_bytes(rv), f"billbridge-review-{month}.csv", "text/csv", key="mr_csv",
                   icon=":material/download:")
