"""Month review: the billing meeting on a shared screen (totals, changes, alerts, charts, export)."""

from decimal import Decimal

import pandas as pd
import streamlit as st

import billbridge_ui as ui
from billbridge import export, review

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
c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Vendor cost", ui.money(t.vendor_cost), _delta("vendor_cost"), delta_color="inverse", border=True)
c2.metric("ConnectWise billed", ui.money(t.billed_price), _delta("billed_price"), border=True,
          help="What ConnectWise bills for the month once the plan is pushed.")
c3.metric("Margin", ui.money(t.margin), _delta("margin"), border=True,
          help="Billed price minus the vendor cost of the lines ConnectWise bills.")
c4.metric("Margin %", f"{t.margin_pct * 100:.1f}%" if t.margin_pct is not None else "—", _delta("margin_pct", True),
          border=True)
c5.metric("Not re-billed", ui.money(t.unbilled_cost), _delta("unbilled_cost"), delta_color="inverse", border=True,
          help="Vendor cost of lines ConnectWise does not bill yet (blocked or unmapped): fix them on Mappings.")
if rv.previous_totals is None:
    st.caption("No previous month to compare with.")
elif rv.previous_basis == "plan":
    st.caption(f"Compared with {rv.previous_month}.")
else:
    st.caption(f"Compared with {rv.previous_month}'s vendor bill (no plan was made that month), so only the vendor "
               "cost is compared.")

SHORT = {"low_margin": "Low margin", "customer_change": "Big customer change", "annual_term_decrease": "Annual-term cuts",
         "late_month_bdom": "Late-month BDOM", "blocked": "Blocked / unmapped", "already_invoiced": "Already invoiced",
         "push_failed": "Push failed"}
al = rv.alerts
counts = al.groupby("kind").agg(n=("kind", "size"), dollars=("dollars", lambda s: sum(s, Decimal(0)))) if len(al) else None
st.subheader("Decide")
if counts is None:
    st.success("Nothing needs a decision.")
else:
    cols = st.columns(min(4, len(counts)))
    for i, (kind, r) in enumerate(counts.iterrows()):
        cols[i % len(cols)].metric(SHORT.get(kind, kind), int(r["n"]), ui.money(r["dollars"]), delta_color="off",
                                   border=True, help=review.ALERT_KINDS[kind])
    with st.expander("Every alert"):
        st.dataframe(al.drop(columns=["what"]), hide_index=True, width="stretch",
                     column_config={"dollars": st.column_config.NumberColumn(format="dollar")})

st.subheader("What changed")
if rv.previous_totals is None:
    st.info("Load the previous month to see what changed.")
else:
    kinds = rv.changes.groupby("kind").size() if len(rv.changes) else pd.Series(dtype=int)
    cols = st.columns(4)
    for i, kind in enumerate(review.CHANGE_KINDS):
        cols[i % 4].metric(kind.replace("_", " "), int(kinds.get(kind, 0)))
    movers = rv.movers(10)
    st.dataframe(movers[["customer", "product", "kind", "quantity_before", "quantity_now", "impact"]], hide_index=True,
                 width="stretch", column_config={"impact": st.column_config.NumberColumn("$ impact", format="dollar")})

left, right = st.columns(2)
left.plotly_chart(review.margin_by_customer_figure(rv.lines, top=15), width="stretch")
right.plotly_chart(review.actions_figure(rv.lines, rv.push_results), width="stretch")
if len(rv.trend) > 1:
    st.plotly_chart(review.trend_figure(rv.trend), width="stretch")

st.subheader("Export")
d1, d2 = st.columns(2)
d1.download_button("Excel workbook", export.workbook_bytes(rv), f"billbridge-review-{month}.xlsx",
                   "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", key="mr_xlsx",
                   icon=":material/table_view:")
d2.download_button("Plan CSV", export.csv_bytes(rv), f"billbridge-review-{month}.csv", "text/csv", key="mr_csv",
                   icon=":material/download:")
