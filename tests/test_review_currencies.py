"""Rule 7.1 in totals: the demo month (USD) and the interworks sample (EUR) loaded together for
2026-11. Every amount carries its currency, totals / coverage / margin are per currency and two
currencies are never added: the review, its workbook and CSV, the plan figures, the CLI."""

from __future__ import annotations

import io
from decimal import Decimal

import pandas as pd
import pytest
from openpyxl import load_workbook

from billbridge import export, review, sources
from billbridge import month as mo
from billbridge import store as st
from billbridge.errors import InputError
from billbridge.mappings import accept
from billbridge.store import Store

MONTH = "2026-11"
EUR_TOTAL = Decimal("5440.55")  # the interworks sample's vendor cost


@pytest.fixture(scope="module")
def two(tmp_path_factory):
    from sandbox_fixtures import new_sandbox
    from test_month_demo import client_for

    sb = new_sandbox()
    client = client_for(sb)
    store = Store.open(tmp_path_factory.mktemp("two") / "billbridge.db")
    demo = sources.load_demo(store, MONTH)
    euro = sources.load_month(store, MONTH, sources.sample_bytes("interworks"), "interworks.csv", "interworks")
    mo.refresh_snapshot(store, client, MONTH)
    accept(store, MONTH, mo.snapshot_for(store, MONTH))
    mo.refresh_snapshot(store, client, MONTH)
    plan, plan_id = mo.build_plan(store, MONTH)
    yield {"store": store, "plan": plan, "plan_id": plan_id, "demo": demo, "euro": euro}
    store.close()
    client.close()
    sb.stop()


def usd_total(two) -> Decimal:
    return Decimal(two["demo"].summary()["total_cost"])


def test_each_load_says_its_vendor_cost_in_its_own_currency(two):
    assert two["euro"].message.endswith("vendor cost €5,440.55.")
    assert "vendor cost $" in two["demo"].message and "€" not in two["demo"].message


def test_the_review_has_one_total_per_currency_and_never_one_total_of_both(two):
    rv = export.load_review(two["store"], MONTH)
    assert rv.currencies == ["EUR", "USD"]
    assert rv.currency_totals["EUR"].vendor_cost == EUR_TOTAL
    assert rv.currency_totals["USD"].vendor_cost == usd_total(two)
    with pytest.raises(InputError, match="2 currencies"):
        rv.totals  # noqa: B018 - one total of two currencies does not exist
    with pytest.raises(InputError, match="never added"):
        review.totals(rv.lines)
    # the EUR customers are not mapped: their cost is not re-billed, in EUR, and the margin stays in USD
    assert rv.currency_totals["EUR"].unbilled_cost == EUR_TOTAL and rv.currency_totals["EUR"].margin == 0
    assert rv.delta("vendor_cost") is None  # no single currency to compare


def test_the_review_has_a_row_per_vendor_that_adds_up_to_its_currency(two):
    rv = export.load_review(two["store"], MONTH)
    vendors = rv.vendors.set_index("vendor")
    assert list(vendors.index) == ["demo", "interworks"]
    assert vendors.loc["interworks", "currency"] == "EUR" and vendors.loc["interworks", "vendor_cost"] == EUR_TOTAL
    assert vendors.loc["demo", "currency"] == "USD" and vendors.loc["demo", "vendor_cost"] == usd_total(two)
    per = review.by_customer(rv.lines)
    assert set(per[per["customer"] == "Müller Steuerberatung GmbH"]["currency"]) == {"EUR"}


def test_alerts_and_changes_carry_the_currency_of_their_amount(two):
    rv = export.load_review(two["store"], MONTH)
    blocked = rv.alerts[rv.alerts["kind"] == "blocked"]
    euro = blocked[blocked["customer"] == "Papadopoulos & Partners, Athens"]
    assert len(euro) and set(euro["currency"]) == {"EUR"}
    assert sum(blocked[blocked["currency"] == "EUR"]["dollars"], Decimal(0)) == EUR_TOTAL


def test_the_plan_figures_are_per_vendor_and_currency_and_conserve_each(two):
    rows = st.plan_table(two["store"], two["plan_id"])
    figures = review.plan_figures(rows).set_index("currency")
    assert sorted(figures.index) == ["EUR", "USD"]  # one row per vendor and currency (vendor order)
    eur, usd = figures.loc["EUR"], figures.loc["USD"]
    assert eur["vendor"] == "interworks" and eur["dollars"] == EUR_TOTAL and eur["lines"] == 7
    assert eur["reconciled"] + eur["blocked"] + eur["excluded"] == eur["dollars"] and eur["coverage"] == 0
    assert usd["dollars"] == usd_total(two) and usd["coverage"] > 0
    assert usd["reconciled"] + usd["blocked"] + usd["excluded"] == usd["dollars"]
    summary = two["plan"].summary
    # the plan's own summary says the same, per currency (one definition), and has no total of both
    assert summary.dollars_checked is None and summary.currencies == ["EUR", "USD"]
    for cur, f in summary.by_currency.items():
        row = figures.loc[cur]
        assert (f["lines_checked"], f["dollars_checked"], f["dollars_reconciled"], f["dollars_blocked"],
                f["dollars_excluded"], f["coverage"], f["price_impact"], f["margin_impact"]) == (
            row["lines"], row["dollars"], row["reconciled"], row["blocked"], row["excluded"], row["coverage"],
            row["price_impact"], row["margin_impact"])
    assert review.plan_figures(rows, vendor="interworks")["currency"].tolist() == ["EUR"]


def test_the_workbook_has_each_currency_on_its_own_rows_and_euro_cells_read_in_euro(two):
    rv = export.load_review(two["store"], MONTH)
    wb = load_workbook(io.BytesIO(export.workbook_bytes(rv)))
    assert wb.sheetnames == list(export.SHEETS) and "vendors" in wb.sheetnames
    summary = [r for r in wb["summary"].iter_rows(min_row=2)]
    by = {(r[0].value, r[4].value): r for r in summary}
    assert Decimal(str(by[("Vendor cost", "EUR")][1].value)) == EUR_TOTAL
    assert Decimal(str(by[("Vendor cost", "USD")][1].value)).quantize(Decimal("0.01")) == usd_total(two)
    assert "€" in by[("Vendor cost", "EUR")][1].number_format and "$" in by[("Vendor cost", "USD")][1].number_format
    assert not any(r[0].value == "Vendor cost" and r[4].value not in ("EUR", "USD") for r in summary)
    vendors = pd.DataFrame(list(wb["vendors"].iter_rows(values_only=True))[1:],
                           columns=[c.value for c in wb["vendors"][1]])
    assert vendors.set_index("Vendor").loc["interworks.cloud", "Currency"] == "EUR"
    plan = wb["plan"]
    headers = [c.value for c in plan[1]]
    cost, cur = headers.index("Vendor cost"), headers.index("Currency")
    for row in plan.iter_rows(min_row=2):
        symbol = {"EUR": "€", "USD": "$"}[row[cur].value]
        assert symbol in row[cost].number_format
    assert "Vendor" in headers and {r[headers.index("Vendor")].value for r in plan.iter_rows(min_row=2)} == {
        "Demo Cloud", "interworks.cloud"}


def test_the_csv_has_a_currency_column_and_each_currency_adds_up_on_its_own(two):
    rv = export.load_review(two["store"], MONTH)
    lines = pd.read_csv(io.BytesIO(export.csv_bytes(rv)), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    sums = lines.groupby("Currency")["Vendor cost"].apply(lambda s: sum(map(Decimal, s)))
    assert sums["EUR"] == EUR_TOTAL and sums["USD"] == usd_total(two)
    assert not lines["Agreement id"].str.contains(r"\.0$").any()  # whole ids, also next to blank ones


def test_narrowed_to_one_vendor_the_review_is_that_vendors_alone(two):
    rv = export.load_review(two["store"], MONTH, vendor="interworks")
    assert rv.vendor == "interworks" and rv.currencies == ["EUR"]
    assert rv.totals.vendor_cost == EUR_TOTAL and set(rv.lines["vendor"]) == {"interworks"}
    assert export.load_review(two["store"], MONTH, vendor="demo").totals.vendor_cost == usd_total(two)


def test_the_cli_says_each_currency_on_its_own_line(two, monkeypatch, tmp_path):
    from click.testing import CliRunner

    from billbridge.cli import main

    monkeypatch.setenv("BILLBRIDGE_DB", str(two["store"].path))
    out = CliRunner().invoke(main, ["reconcile", MONTH]).output
    assert "vendor lines 7 (€5,440.55)" in out and f"(${usd_total(two):,})" in out
    import json

    got = json.loads(CliRunner().invoke(main, ["reconcile", MONTH, "--json"]).output)["summary"]
    assert got["currencies"] == ["EUR", "USD"] and got["dollars_checked"] is None  # never one total of both
    assert got["by_currency"]["EUR"]["dollars_checked"] == "5440.55"
    assert got["by_currency"]["USD"]["dollars_checked"] == str(usd_total(two))
    out = CliRunner().invoke(main, ["export", MONTH, "--xlsx", str(tmp_path / "r.xlsx")]).output
    assert "vendor cost €5,440.55" in out and "vendor cost $" in out


def test_a_euro_customer_mapped_to_a_dollar_agreement_of_the_sandbox_is_blocked_never_converted(tmp_path):
    """Real HTTP: the sandbox's agreements carry their currency (USD), the snapshot keeps it, and the EUR
    lines of the customer mapped to one are blocked "Other currency" (Rule 7.1)."""
    from sandbox_fixtures import new_sandbox
    from test_month_demo import client_for

    sb = new_sandbox()
    client = client_for(sb)
    try:
        with Store.open(tmp_path / "billbridge.db") as store:
            sources.load_month(store, MONTH, sources.sample_bytes("interworks"), "interworks.csv", "interworks")
            agr = next(a for a in sb.records("agreements") if a["name"] == "Demo Cloud Services")
            who = "Van Dijk Logistiek B.V."
            st.set_mappings(store, "company", "interworks", [
                {"vendor_customer_id": who, "vendor_customer_name": who, "company_id": agr["company"]["id"]}])
            st.set_mappings(store, "agreement", "interworks", [
                {"vendor_customer_id": who, "subscription_id": None, "agreement_id": agr["id"],
                 "sync_mode": "standing", "period_rule": "advance"}])
            mo.refresh_snapshot(store, client, MONTH)
            plan, plan_id = mo.build_plan(store, MONTH)
            rows = [r for r in st.plan_rows(store, plan_id) if r["vendor_customer_id"] == who]
            assert rows and {(r["action"], r["cause"], r["currency"]) for r in rows} == {
                ("blocked", "currency_mismatch", "EUR")}
            reason = rows[0]["reason"]
            assert "in EUR" in reason and "bills in USD" in reason and "Demo Cloud Services" in reason
            assert "$" not in reason
            s = plan.summary
            assert s.currencies == ["EUR"] and s.by_cause["currency_mismatch"]["rows"] == len(rows)
            assert s.by_currency["EUR"]["dollars_checked"] == EUR_TOTAL  # the vendor's euros, not converted
    finally:
        client.close()
        sb.stop()
