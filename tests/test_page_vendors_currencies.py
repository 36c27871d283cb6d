"""Several vendors and currencies on every page (AppTest): the demo month (USD) and the interworks
sample (EUR) loaded together. Amounts read in their currency ("€5,440.55", never "$5,440.55"), totals
are per currency, and the sidebar's vendor filter narrows every month page and survives page switches
(and a refresh, through ``?vendor=``) like the billing month."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from apptest_util import APP, open_page
from billbridge import month as mo
from billbridge import sources
from billbridge.mappings import accept
from billbridge.store import Store

MONTH = "2026-11"
EUR = "€5,440.55"
MONTH_PAGES = ("timeline.py", "mappings.py", "reconcile.py", "sync_status.py", "month_review.py")


def load_both(app_env, plan: bool = True):
    from billbridge.config import load_config
    from billbridge.runtime import connect

    store = Store.open(app_env)
    sources.load_demo(store, MONTH)
    sources.load_month(store, MONTH, sources.sample_bytes("interworks"), "interworks.csv", "interworks")
    if plan:
        client = connect(load_config(None)).client
        mo.refresh_snapshot(store, client, MONTH)
        accept(store, MONTH, mo.snapshot_for(store, MONTH))
        mo.refresh_snapshot(store, client, MONTH)
        mo.build_plan(store, MONTH)
    return store


def plain(text) -> str:
    return str(text).replace("\\", "")


def words(at) -> str:
    out = [plain(e.value) for kind in ("success", "info", "warning", "error", "caption", "markdown")
           for e in getattr(at, kind)]
    out += [f"{m.label}: {m.value} {m.delta or ''}" for m in at.metric]
    for df in at.dataframe:
        out += [str(v) for v in df.value.astype(str).to_numpy().ravel()]
    return "\n".join(out)


def test_the_month_review_shows_a_total_per_currency_and_a_row_per_vendor(app_env):
    load_both(app_env)
    at = open_page("month_review.py", timeout=60, state={"billing_month": MONTH})
    assert not at.exception, at.exception
    costs = [m.value for m in at.metric if m.label == "Vendor cost"]
    assert len(costs) == 2 and EUR in costs and any(c.startswith("$") for c in costs)
    text = words(at)
    assert "Amounts in EUR" in text and "Amounts in USD" in text
    assert "$5,440.55" not in text
    by_vendor = next(d.value for d in at.dataframe if {"Vendor", "Currency", "Margin %"} <= set(d.value.columns))
    rows = by_vendor.set_index("Vendor")
    assert rows.loc["interworks.cloud", "Currency"] == "EUR" and rows.loc["interworks.cloud", "Vendor cost"] == EUR
    assert rows.loc["Demo Cloud", "Vendor cost"].startswith("$")


def test_reconcile_says_each_currencys_total_on_its_own(app_env):
    load_both(app_env)
    at = open_page("reconcile.py", timeout=60, state={"billing_month": MONTH})
    assert not at.exception, at.exception
    text = words(at)
    assert f"Vendor total {EUR} = reconciled €0.00 + blocked {EUR} + excluded €0.00" in text
    dollars = next(m for m in at.metric if m.label == "Vendor dollars").value
    assert EUR in dollars and "$" in dollars and " · " in dollars  # side by side, never added
    coverage = next(m for m in at.metric if m.label == "Coverage").value
    assert "EUR 0%" in coverage and "USD" in coverage


def test_mappings_and_the_load_history_show_euro_amounts_in_euro(app_env):
    load_both(app_env)
    at = open_page("mappings.py", timeout=60, state={"billing_month": MONTH})
    assert not at.exception, at.exception
    help_texts = {m.label: m.help for m in at.metric}
    assert f"{EUR} · $" in help_texts["Customers without a company"]  # per currency, never added
    queue = next(d.value for d in at.dataframe if "at_stake" in d.value.columns and "candidate" in d.value.columns)
    papadopoulos = queue[queue["item"].str.startswith("Papadopoulos & Partners")]
    assert set(papadopoulos["at_stake"]) == {"€4,330.26"} and set(papadopoulos["vendor_name"]) == {"interworks.cloud"}
    companies = next(d.value for d in at.dataframe if list(d.value.columns)[:3] == ["vendor", "vendor_customer_id",
                                                                                      "vendor_customer_name"])
    assert "€4,330.26" in set(companies["at_stake"]) and not companies["at_stake"].str.contains(r"\$4,330").any()
    at = open_page("load_month.py", state={"billing_month": MONTH})
    history = at.dataframe[-1].value if at.dataframe else None
    assert history is not None and EUR in set(history["Vendor cost"])


def test_the_sidebar_vendor_narrows_every_month_page_and_survives_page_switches(app_env):
    load_both(app_env)
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["billing_month"] = MONTH
    at.run()
    picker = at.sidebar.selectbox(key=f"vendor_picker_{MONTH}")
    assert picker.options == ["All vendors", "Demo Cloud", "interworks.cloud"] and picker.value == ""
    picker.select("interworks").run()
    assert at.session_state["vendor_filter"] == "interworks" and at.query_params["vendor"] == "interworks"
    for page in MONTH_PAGES:
        at.switch_page(f"pages/{page}").run()
        assert not at.exception, (page, at.exception)
        assert at.session_state["vendor_filter"] == "interworks" and at.query_params["vendor"] == "interworks"
        if page == "month_review.py":
            costs = [m.value for m in at.metric if m.label == "Vendor cost"]
            assert costs == [EUR] and not any(m.value.startswith("$") for m in at.metric if m.label == "Margin")
        if page == "timeline.py":
            assert int(next(m for m in at.metric if m.label == "Accounts").value) == 3  # interworks' customers
        if page == "reconcile.py":
            text = words(at)
            assert "interworks.cloud's lines" in text and "$" not in next(
                m for m in at.metric if m.label == "Vendor dollars").value
    # a refresh: a new session from the same URL opens on the same vendor
    again = AppTest.from_file(APP, default_timeout=60)
    again.query_params["month"], again.query_params["vendor"] = MONTH, "interworks"
    again.run()
    assert again.session_state["vendor_filter"] == "interworks"
    assert again.sidebar.selectbox(key=f"vendor_picker_{MONTH}").value == "interworks"
    # back to all vendors: the URL forgets the vendor
    again.sidebar.selectbox(key=f"vendor_picker_{MONTH}").select_index(0).run()
    assert again.session_state["vendor_filter"] is None and "vendor" not in again.query_params


def test_a_month_without_the_chosen_vendor_shows_all_of_its_vendors(app_env):
    load_both(app_env, plan=False)
    sources.load_demo(Store.open(app_env), "2026-10")
    at = open_page("timeline.py", state={"billing_month": "2026-10", "vendor_filter": "interworks"})
    assert not at.exception
    everyone = open_page("timeline.py", state={"billing_month": "2026-10"})
    accounts = lambda t: next(m for m in t.metric if m.label == "Accounts").value  # noqa: E731
    assert accounts(at) == accounts(everyone) and int(accounts(at)) > 3  # interworks has no 2026-10
    assert at.session_state["vendor_filter"] == "interworks"  # kept for the months that have it
