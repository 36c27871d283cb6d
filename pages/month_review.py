"""Month review: the billing meeting on a shared screen (totals; what changed and why, as a waterfall from last
month's billed total to this month's; margins, cost-only changes, commitments, what is blocked, each with its
dollars and a link to its rows; alerts, charts, export)."""

from decimal import Decimal

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge import export, model, review
from billbridge import store as bst
from billbridge_ui import review_views
from billbridge_ui.layout import METRIC, metric_row
from billbridge_ui.tables import display_frame

month = ui.billing_month()
vendor = ui.vendor_filter(month)
st.title(f"Month review · {month}" + (f" · {ui.vendor_label(vendor)}" if vendor else ""))
store = ui.store()

# the alert's margin threshold starts at the one the plan's margin guard uses (the global one, Mappings page)
global_threshold = bst.get_setting(store, "margin_threshold") or model.DEFAULT_MARGIN_THRESHOLD
with st.sidebar:
    margin_pct = st.number_input("Alert: margin below %", 0, 100, int(round(global_threshold)), key="mr_margin",
                                 help="Starts at the global margin threshold (Mappings page); products with "
                                      "their own threshold are flagged by it in the sections above.")
    change_pct = st.number_input("Alert: customer change ≥ %", 0, 1000, 25, key="mr_change")

rv = export.load_review(store, month, margin_threshold=Decimal(margin_pct) / 100,
                        customer_change_threshold=Decimal(change_pct) / 100, vendor=vendor)
if rv is None:
    st.info(f"No plan for {month} yet. Load the month and reconcile it first.")
    st.stop()


def _delta(name, cur, pct=False):
    d = rv.delta(name, cur)
    if d is None:
        return None
    return f"{d * 100:+.1f} pts" if pct else f"{'+' if d >= 0 else '-'}{ui.money(abs(d), cur)}"


# one row of totals per currency (Rule 7.1: a USD and a EUR bill are two totals, never one)
several = len(rv.currencies) > 1
for cur in rv.currencies or [review.DEFAULT_CURRENCY]:
    t = rv.totals_for(cur)
    if several:
        st.markdown(f"**Amounts in {cur}**")
    # a wrapping row: a five-figure amount with cents stays whole on a 1024-pixel laptop
    row = metric_row()
    row.metric("Vendor cost", ui.money(t.vendor_cost, cur), _delta("vendor_cost", cur), delta_color="inverse",
               border=True, width=METRIC)
    row.metric("ConnectWise bills", ui.money(t.billed_price, cur), _delta("billed_price", cur), border=True,
               width=METRIC, help="What ConnectWise bills for the month once the plan is pushed.")
    row.metric("Margin", ui.money(t.margin, cur), _delta("margin", cur), border=True, width=METRIC,
               help="What ConnectWise bills minus the vendor cost of those same lines (the chart and the workbook "
                    "use the same rule).")
    row.metric("Margin %", f"{t.margin_pct * 100:.1f}%" if t.margin_pct is not None else "—",
               _delta("margin_pct", cur, True), border=True, width=METRIC,
               help="Margin as a share of what ConnectWise bills.")
    row.metric("Not re-billed", ui.money(t.unbilled_cost, cur), _delta("unbilled_cost", cur), delta_color="inverse",
               border=True, width=METRIC, help="Vendor cost of lines ConnectWise does not bill (blocked, unmapped or "
                                               "excluded): fix them on Mappings and Reconcile.")
if rv.previous_currency_totals is None:
    st.caption("No previous month to compare with.")
elif rv.previous_basis == "plan":
    st.caption(f"Compared with {rv.previous_month}.")
else:
    st.caption(f"Compared with {rv.previous_month}'s vendor bill (no plan was made that month), so only the vendor "
               "cost is compared.")

if rv.meeting is not None:  # the meeting's questions, each with its dollars and a link to its rows (issue 12)
    review_views.render_sections(rv.meeting, month, vendor)

if len(rv.vendors) > 1 or several:
    st.subheader("By vendor")
    vendors = rv.vendors.assign(margin_pct=[f"{p * 100:.1f}%" if p is not None else "—" for p in rv.vendors["margin_pct"]])
    st.dataframe(display_frame(vendors, list(export.VENDOR_COLUMNS), money={"vendor_cost", "billed_price", "unbilled_cost"}),
                 hide_index=True, width="stretch", key="mr_vendors")

al = rv.alerts
counts = al.groupby("kind").agg(n=("kind", "size")) if len(al) else None
st.subheader("Decide")
if counts is None:
    st.success("Nothing needs a decision.")
else:
    row = metric_row()
    for kind, r in counts.iterrows():
        mine = al[al["kind"] == kind]
        per = ui.amounts({c: sum(g["dollars"], Decimal(0)) for c, g in mine.groupby("currency")})
        row.metric(model.label(kind, "alert"), int(r["n"]), per, delta_color="off", delta_arrow="off",
                   border=True, width=METRIC, help=model.ALERT_KINDS.get(kind, ""))
    with st.expander("Every alert"):
        st.dataframe(display_frame(al, ["kind", "customer", "detail", "dollars", "agreement_id"], kind="alert"),
                     hide_index=True, width="stretch")

st.subheader("Changes by customer since last month")
if rv.previous_currency_totals is None:
    st.info("Load the previous month to see what changed.")
else:
    kinds = rv.changes.groupby("kind").size() if len(rv.changes) else pd.Series(dtype=int)
    row = metric_row()
    for kind in model.CHANGE_KINDS:
        row.metric(model.label(kind, "change"), int(kinds.get(kind, 0)), width=METRIC)
    movers = rv.movers(10)
    st.dataframe(display_frame(movers, ["kind", "customer", "product", "quantity_before", "quantity_now", "impact"],
                               kind="change"), hide_index=True, width="stretch")

for cur in rv.currencies:  # one chart per currency: two currencies never share an axis
    st.plotly_chart(review.margin_by_customer_figure(rv.lines, top=15, currency=cur if several else None),
                    width="stretch", key=f"mr_margin_chart_{cur}")
st.plotly_chart(review.actions_figure(rv.lines, rv.push_results), width="stretch", key="mr_actions_chart")
for cur in rv.currencies:
    if (rv.trend["currency"] == cur).sum() > 1:
        st.plotly_chart(review.trend_figure(rv.trend, currency=cur if several else None), width="stretch",
                        key=f"mr_trend_chart_{cur}")

st.subheader("Export")
d = st.container(horizontal=True, wrap=True)
suffix = f"-{vendor}" if vendor else ""
d.download_button("Excel workbook", export.workbook_bytes(rv), f"billbridge-review-{month}{suffix}.xlsx",
                  "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="mr_xlsx",
                  icon=":material/table_view:")
d.download_button("Plan lines (CSV)", export.csv_bytes(rv), f"billbridge-review-{month}{suffix}.csv", "text/csv",
                  key="mr_csv", icon=":material/download:")
