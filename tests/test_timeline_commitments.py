"""Timeline commitments: renewals and open cancellation windows of the next 60 days (Rules 4.3, 4.6), from
the terms the plan worked out (rules/terms.py), in words, money in the row's currency."""

from __future__ import annotations

from datetime import date

import pandas as pd

from apptest_util import open_page
from billbridge import month as mo
from billbridge import sources
from billbridge.store import Store
from billbridge.timeline import COMMITMENT_COLUMNS, commitments

TODAY = date(2026, 11, 20)  # the suite's today (conftest.SUITE_TODAY)


def row(key, term="annual", start="2025-12-05", source="derived", window="2025-12-12T00:00:00Z", risk=None,
        currency="USD", qty="12"):
    return {"key": key, "vendor_customer_name": f"Customer {key}", "product_description": "M365 Business Premium",
            "agreement_name": "Cloud", "term": term, "term_start": start, "term_source": source, "window_end": window,
            "commitment_at_risk": risk, "currency": currency, "vendor_quantity": qty}


def test_renewals_and_open_windows_of_the_next_60_days_soonest_first():
    rows = pd.DataFrame([
        row("renews-soon"),                                                   # renews 2026-12-05
        row("renews-later", start="2026-02-01"),                              # renews 2027-02-01: after 60 days
        row("rolled-on", start="2024-01-10", window="2024-01-17T00:00:00Z"),  # renewed 2025-01-10, renews 2027-01-10
        row("bought", start="2026-11-17", source="vendor", window="2026-11-24T00:00:00Z"),  # window open
        row("added", start="2026-03-01", window="2026-11-19T00:00:00Z"),      # a seat addition's window, closed
        row("three-years", term="triennial", start="2024-01-03", window="2024-01-10T00:00:00Z", risk="528.00",
            currency="EUR"),                                                  # renews 2027-01-03
        row("monthly", term="monthly", start=None, window=None),
    ])
    events = commitments(rows, TODAY)
    assert list(events.columns) == list(COMMITMENT_COLUMNS)
    assert list(zip(events["on"], events["key"], events["event"])) == [
        ("2026-11-24", "bought", "Cancellation window closes"),
        ("2026-12-05", "renews-soon", "Renews"),
        ("2027-01-03", "three-years", "Renews"),
        ("2027-01-10", "rolled-on", "Renews"),
    ]
    soon = events.set_index("key")
    assert soon.loc["renews-soon", "window_end"] == "2026-12-12 00:00 UTC"  # the renewal's own window
    assert soon.loc["renews-soon", "term_end"] == "2026-12-04" and soon.loc["renews-soon", "term_source"] == "Derived"
    assert soon.loc["bought", "term_source"] == "Vendor data" and soon.loc["bought", "window_end"] == "2026-11-24 00:00 UTC"
    assert soon.loc["three-years", "term"] == "Three years" and soon.loc["three-years", "at_risk"] == "€528.00"
    assert soon.loc["renews-soon", "at_risk"] == "" and soon.loc["renews-soon", "seats"] == "12"


def test_a_plan_without_commitments_has_no_events():
    assert commitments(pd.DataFrame([row("m", term="monthly", start=None, window=None)]), TODAY).empty
    assert commitments(pd.DataFrame(), TODAY).empty


CSV = """vendor_customer_id,vendor_customer_name,customer_created,subscription_id,sku,product_name,charge_type,billing_frequency,term,quantity,unit_cost,unit_price,period_start,period_end,effective_date,currency
T-1,Harbor Dental,2023-12-05,S-1,M365-BP-ANN,Microsoft 365 Business Premium,recurring,monthly,annual,12,22.00,26.40,2026-11-05,2026-12-04,,USD
T-2,Summit Legal,2026-11-17,S-2,M365-BP-ANN,Microsoft 365 Business Premium,recurring,monthly,annual,5,22.00,26.40,2026-11-17,2026-12-16,2026-11-17,USD
T-3,Bay Bakery,2025-06-02,S-3,M365-BP-ANN,Microsoft 365 Business Premium,recurring,monthly,annual,3,22.00,26.40,2026-11-02,2026-12-01,,USD
T-4,Bay Bakery,2025-06-02,S-4,HPBX-SEAT,Hosted PBX seat,recurring,monthly,monthly,3,18.00,25.00,2026-11-02,2026-12-01,,USD
"""


def _plan_month(app_env, month="2026-11"):
    from billbridge.config import load_config
    from billbridge.runtime import connect

    conn = connect(load_config(None))
    with Store.open(app_env) as store:
        assert sources.load_month(store, month, CSV.encode(), "terms.csv", "generic").status == "loaded"
        mo.refresh_snapshot(store, conn.client, month)
        mo.build_plan(store, month)


def test_the_timeline_page_lists_renewals_and_open_windows(app_env):
    _plan_month(app_env)
    at = open_page("timeline.py", timeout=60, state={"billing_month": "2026-11"})
    assert not at.exception, at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert metrics["Renewals"] == "1" and metrics["Open cancellation windows"] == "1"
    events = at.dataframe[-1].value
    assert list(events["Customer"]) == ["Summit Legal", "Harbor Dental"]
    assert list(events["What happens"]) == ["Cancellation window closes", "Renews"]
    assert list(events["Date"]) == ["2026-11-24", "2026-12-05"]
    assert set(events["Term from"]) == {"Derived"}
    assert "Commitments: the next 60 days" in [h.value for h in at.subheader]


def test_the_timeline_page_without_a_plan_says_to_reconcile(app_env):
    with Store.open(app_env) as store:
        sources.load_month(store, "2026-11", CSV.encode(), "terms.csv", "generic")
    at = open_page("timeline.py", timeout=60, state={"billing_month": "2026-11"})
    assert not at.exception, at.exception
    assert any("Reconcile 2026-11 to see its annual and three-year terms" in i.value for i in at.info)


def test_a_microsoft_new_charge_loaded_and_planned_dates_the_term_from_the_vendor(app_env):
    from billbridge.config import load_config
    from billbridge.runtime import connect
    from billbridge.sources import microsoft

    rows = microsoft.demo_rows("2026-11")
    bought = next(r for r in rows if r["TermAndBillingCycle"].startswith("One-Year") and r["ChargeType"] == "cycleCharge")
    bought["ChargeType"] = "new"  # the purchase: the term starts on its ChargeStartDate
    conn = connect(load_config(None))
    with Store.open(app_env) as store:
        assert sources.load_month(store, "2026-11", microsoft.to_csv(rows), "recon.csv", "microsoft").status == "loaded"
        mo.refresh_snapshot(store, conn.client, "2026-11")
        plan, _ = mo.build_plan(store, "2026-11")
    annual = plan.rows[plan.rows["term"] == "annual"]
    mine = annual[annual["subscription_id"] == bought["SubscriptionId"]].iloc[0]
    start = date.fromisoformat(bought["ChargeStartDate"][:10])
    assert (mine["term_start"], mine["term_source"]) == (start.isoformat(), "vendor")
    assert mine["window_end"] == f"{date.fromordinal(start.toordinal() + 7).isoformat()}T00:00:00Z"
    assert set(annual[annual["subscription_id"] != bought["SubscriptionId"]]["term_source"]) == {"derived"}


def test_a_pax8_pull_dates_its_annual_terms_from_the_subscriptions_commitment(app_env):
    from billbridge.config import load_config
    from billbridge.runtime import connect

    conn = connect(load_config(None))
    with Store.open(app_env) as store:
        res = sources.pull(store, "pax8", "2026-11")  # nothing configured: the sandbox's Pax8 emulator
        assert res.status == "loaded"
        mo.refresh_snapshot(store, conn.client, "2026-11")
        plan, _ = mo.build_plan(store, "2026-11")
    annual = plan.rows[plan.rows["term"] == "annual"]
    # the world's annual subscriptions started 2025-03-14 and 2025-05-27: their current terms, from Pax8
    assert sorted(zip(annual["term_start"], annual["term_end"])) == [("2026-03-14", "2027-03-13"),
                                                                     ("2026-05-27", "2027-05-26")]
    assert set(annual["term_source"]) == {"vendor"}
