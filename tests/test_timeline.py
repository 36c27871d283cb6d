"""Timeline figure builders: what is drawn where, and that late-month risks are red."""

from __future__ import annotations

from datetime import date

import pandas as pd
import plotly.graph_objects as go

from billbridge import store as st
from billbridge.sources import demo_lines, parse_file, sample_bytes
from billbridge.store import Store
from billbridge.sources import load_demo
from billbridge.timeline import COLORS, account_calendar, bdom_histogram, period_frame, timeline_figure

M = "2026-11"
DAY_MS = 86_400_000


def trace(fig: go.Figure, name: str):
    return next(t for t in fig.data if t.name == name)


def test_calendar_uses_the_creation_day_as_bdom_clamped_to_the_month():
    cal = account_calendar(demo_lines(M), M).set_index("vendor_customer_id")
    assert cal.loc["DC-10001", "bdom"] == date(2026, 11, 4)
    assert (cal.loc["DC-10002", "anchor"], cal.loc["DC-10002", "bdom"]) == (31, date(2026, 11, 30))
    assert cal.loc["DC-10001", "cw_start"] == date(2026, 11, 1) and cal.loc["DC-10001", "cw_end"] == date(2026, 11, 30)
    assert cal.loc["DC-10001", "cw_invoice"] == date(2026, 12, 1)


def test_calendar_flags_late_month_risk_and_split_periods():
    cal = account_calendar(demo_lines(M), M).set_index("vendor_customer_id")
    assert cal.loc["DC-10005", "late_risk"]  # created 29 Oct, bills on the 29th
    assert cal.loc["DC-10016", "late_risk"]  # BDOM 27
    assert not cal.loc["DC-10001", "late_risk"]
    assert cal.loc["DC-10001", "split"]  # 4 Nov -> 3 Dec spans two CW months
    assert not cal.loc["DC-10013", "split"]  # BDOM 1: calendar months


def test_timeline_has_vendor_periods_cw_span_and_both_invoice_dates():
    fig = timeline_figure(demo_lines(M), M)
    assert [t.name for t in fig.data] == ["Vendor period (advance)", "Vendor period (arrears)", "CW additions",
                                          "Vendor invoice", "CW invoice"]
    acme = "Acme Dental Group (DC-10001)"
    adv = trace(fig, "Vendor period (advance)")
    i = list(adv.y).index(acme)
    assert adv.base[i] == "2026-11-04" and adv.x[i] == 30 * DAY_MS  # 4 Nov -> 4 Dec
    cw = trace(fig, "CW additions")
    assert set(cw.base) == {"2026-11-01"} and set(cw.x) == {30 * DAY_MS}
    assert set(trace(fig, "CW invoice").x) == {"2026-12-01"}
    vi = trace(fig, "Vendor invoice")
    assert vi.x[list(vi.y).index(acme)] == "2026-11-04"
    assert len(cw.y) == 25  # every account of the month


def test_usage_periods_are_drawn_in_arrears_ending_on_the_bdom():
    fig = timeline_figure(demo_lines(M), M, customers=["DC-10014"])
    arr = trace(fig, "Vendor period (arrears)")
    assert list(arr.base) == ["2026-10-05"] and list(arr.x) == [31 * DAY_MS]


def test_late_month_risks_are_red_and_others_are_not():
    fig = timeline_figure(demo_lines(M), M, customers=["DC-10005", "DC-10001"])
    adv = trace(fig, "Vendor period (advance)")
    colors = dict(zip(adv.y, adv.marker.color))
    assert colors["Evergreen Family Practice (DC-10005)"] == COLORS["risk"]
    assert colors["Acme Dental Group (DC-10001)"] == COLORS["advance"]
    vi = trace(fig, "Vendor invoice")
    assert dict(zip(vi.y, vi.marker.color))["Evergreen Family Practice (DC-10005)"] == COLORS["risk"]


def test_filters_by_customer_name_and_risk_only():
    fig = timeline_figure(demo_lines(M), M, risk_only=True)
    labels = set(trace(fig, "CW additions").y)
    assert "Evergreen Family Practice (DC-10005)" in labels and "Acme Dental Group (DC-10001)" not in labels
    only = timeline_figure(demo_lines(M), M, customers=["Xenon Labs"])
    assert list(trace(only, "CW additions").y) == ["Xenon Labs (DC-10024)"]


def test_x_range_covers_every_period_and_the_cw_invoice():
    fig = timeline_figure(demo_lines(M), M)
    lo, hi = fig.layout.xaxis.range
    assert lo <= "2026-10-01" and hi >= "2026-12-31"  # Bluebird's 30 Nov -> 31 Dec period


def test_bdom_histogram_counts_accounts_per_clamped_day_and_marks_late_days_red():
    fig = bdom_histogram(demo_lines(M), M)
    bar = fig.data[0]
    counts = dict(zip(bar.x, bar.y))
    assert counts[30] == 4  # anchors 30, 30, 31, 31 bill on 30 Nov
    assert counts[31] == 0  # November has no 31st
    assert sum(bar.y) == 25
    colors = dict(zip(bar.x, bar.marker.color))
    assert colors[25] == COLORS["risk"] and colors[24] == COLORS["day"]  # 25-30 Nov are the last six days


def test_bdom_histogram_without_a_month_counts_anchor_days():
    bar = bdom_histogram(demo_lines(M)).data[0]
    counts = dict(zip(bar.x, bar.y))
    assert counts[31] == 2 and counts[30] == 2


def test_figures_accept_stored_import_lines_and_text_lines():
    store = Store.memory()
    imp = load_demo(store, M).import_id
    stored = st.import_lines(store, imp)
    a = period_frame(stored, M)
    b = period_frame(demo_lines(M), M)
    pd.testing.assert_frame_equal(a.reset_index(drop=True), b.reset_index(drop=True))
    phin = parse_file(sample_bytes("phin"), "p.csv", "phin", M).lines
    fig = timeline_figure(phin, M)  # no creation date: the period start gives the anchor
    assert set(trace(fig, "Vendor period (advance)").base) == {"2026-11-01"}


def test_empty_lines_give_an_empty_but_valid_figure():
    fig = timeline_figure(pd.DataFrame(columns=["vendor_customer_id"]), M)
    assert all(len(t.y or ()) == 0 for t in fig.data)
    assert sum(bdom_histogram(pd.DataFrame(), M).data[0].y) == 0


def test_an_annual_line_is_clipped_to_the_window_so_a_monthly_line_stays_readable():
    # was: one annual line stretched the axis over a year and every monthly bar became a sliver
    lines = pd.DataFrame([
        {"vendor_customer_id": "A", "vendor_customer_name": "Annual Co", "customer_created": "2025-01-15",
         "charge_type": "recurring", "period_start": "2026-01-15", "period_end": "2027-01-14", "effective_date": None},
        {"vendor_customer_id": "M", "vendor_customer_name": "Monthly Co", "customer_created": "2025-03-04",
         "charge_type": "recurring", "period_start": "2026-11-04", "period_end": "2026-12-03", "effective_date": None},
    ])
    fig = timeline_figure(lines, M)
    lo, hi = (date.fromisoformat(x) for x in fig.layout.xaxis.range)
    assert (hi - lo).days <= 31 + 2 * 36  # the billing month and about a month either side
    adv = trace(fig, "Vendor period (advance)")
    spans = dict(zip(adv.y, (int(x) // DAY_MS for x in adv.x)))
    assert spans["Monthly Co (M)"] == 30 and spans["Annual Co (A)"] <= (hi - lo).days
    assert spans["Monthly Co (M)"] / (hi - lo).days > 0.25  # readable, not a sliver
    more = trace(fig, "Continues beyond the view")
    assert set(more.y) == {"Annual Co (A)"} and set(more.marker.symbol) == {"triangle-left", "triangle-right"}
    hover = dict(zip(adv.y, adv.customdata))
    assert list(hover["Annual Co (A)"][:2]) == ["2026-01-15", "2027-01-14"]  # the hover keeps the full period


def test_a_customer_name_with_markup_is_shown_literally_in_the_chart():
    lines = pd.DataFrame([{"vendor_customer_id": "X", "vendor_customer_name": '<a href="http://evil.example">click</a>',
                           "customer_created": "2025-03-04", "charge_type": "recurring", "period_start": "2026-11-04",
                           "period_end": "2026-12-03", "effective_date": None}])
    fig = timeline_figure(lines, M)
    assert all("<a" not in str(y) for t in fig.data for y in (t.y or ()))
    assert trace(fig, "CW additions").y[0].startswith("&lt;a href=")
