"""Microsoft Partner Center new-commerce reconciliation files: the loaded vendor cost is the file's
Subtotal sum to the cent, every Subtotal follows Microsoft's ROUNDDOWN rule, every ChargeType is
mapped or refused by name, and the CSV download and the Graph export load the same."""

from __future__ import annotations

import csv
import gzip
import io
import json
from decimal import ROUND_DOWN, Decimal

import pytest
from hypothesis import given, settings as hsettings
from hypothesis import strategies as hs

from billbridge import demo_world, sources
from billbridge import store as st
from billbridge.sources import microsoft as ms
from billbridge.store import Store

MONTH = sources.SAMPLE_MONTH
CENT = Decimal("0.01")


def _subtotal_sum(csv_bytes: bytes) -> Decimal:
    text = csv_bytes.decode("utf-8-sig")
    return sum((Decimal(r["Subtotal"]) for r in csv.DictReader(io.StringIO(text))), Decimal("0"))


def _row(**over) -> dict[str, str]:
    """One seat-based cycle charge (Microsoft's own field values), changed by ``over``."""
    base = dict(ms.demo_rows(MONTH)[0])
    base.update(over)
    return base


def _seat(eup: str, qty: int, rate: str = "1") -> str:
    return str((Decimal(eup) * Decimal(rate)).quantize(CENT, rounding=ROUND_DOWN) * qty)


def _parse(rows, fmt="csv"):
    data = ms.to_csv(rows) if fmt == "csv" else ms.to_jsonl_gz(rows)
    return sources.parse_file(data, f"recon.{fmt}", "microsoft", MONTH)


def test_the_sample_loads_and_its_vendor_cost_is_the_files_subtotal_sum_to_the_cent(tmp_path):
    data = sources.sample_bytes("microsoft")
    store = Store.open(tmp_path / "b.db")
    result = sources.load_month(store, MONTH, data, "microsoft.csv", "microsoft")
    assert result.status == "loaded", result.problems
    assert result.vendor == "microsoft"
    imp = st.get_import(store, result.import_id)
    assert imp["total_cost"] == _subtotal_sum(data) == Decimal("2715.68")
    assert imp["format"] == "microsoft" and imp["line_count"] == 9
    stored = st.import_lines(store, result.import_id)
    assert sum(stored["extended_cost"]) == _subtotal_sum(data)


def test_the_graph_export_loads_the_same_lines_as_the_csv():
    a = sources.parse_file(sources.sample_bytes("microsoft"), "m.csv", "microsoft", MONTH)
    b = sources.parse_file(sources.sample_bytes("microsoft-graph"), "m.jsonl.gz", "microsoft", MONTH)
    c = sources.parse_file(gzip.decompress(sources.sample_bytes("microsoft-graph")), "m.jsonl", "microsoft", MONTH)
    assert a.ok and b.ok and c.ok
    cols = ["vendor_customer_id", "sku", "charge_type", "quantity", "unit_cost", "period_start", "period_end",
            "extended_cost", "tax"]
    assert a.lines[cols].equals(b.lines[cols]) and b.lines[cols].equals(c.lines[cols])
    assert a.total_cost == b.total_cost
    assert b.lines["line_no"].tolist() == list(range(1, 10))  # a JSON line's number; the CSV's row is one more
    assert a.lines["line_no"].tolist() == list(range(2, 11))


def test_the_shipped_samples_are_what_the_generator_makes_from_the_demo_world():
    assert sources.sample_bytes("microsoft") == ms.demo_csv(MONTH)
    assert sources.sample_bytes("microsoft-graph") == ms.demo_jsonl_gz(MONTH)


def test_the_sample_bills_demo_world_customers_so_it_reconciles_against_the_sandbox():
    lines = sources.parse_file(sources.sample_bytes("microsoft"), "m.csv", "microsoft", MONTH).lines
    names = {c.vendor_name for c in demo_world.CUSTOMERS}
    assert set(lines["vendor_customer_name"]) <= names
    assert set(lines["vendor_customer_domain"].str.endswith(".onmicrosoft.com")) == {True}


def test_a_file_with_an_unknown_charge_type_is_refused_naming_it_and_the_row(tmp_path):
    rows = ms.demo_rows(MONTH)
    rows[2] = {**rows[2], "ChargeType": "loyaltyBonus"}
    store = Store.open(tmp_path / "b.db")
    result = sources.load_month(store, MONTH, ms.to_csv(rows), "recon.csv", "microsoft")
    assert result.status == "invalid" and "nothing was stored" in result.message
    (p,) = result.problems
    assert (p.row, p.column, p.value) == (4, "ChargeType", "loyaltyBonus")
    assert "unknown Microsoft charge type 'loyaltyBonus'" in p.reason
    assert st.list_imports(store) == []


@pytest.mark.parametrize("charge_type, expected", [
    ("new", "recurring"), ("renew", "recurring"), ("cycleCharge", "recurring"), ("addQuantity", "recurring"),
    ("trialConversion", "recurring"), ("CYCLECHARGE", "recurring"),
])
def test_every_new_commerce_charge_type_for_a_charge_is_mapped(charge_type, expected):
    parsed = _parse([_row(ChargeType=charge_type)])
    assert parsed.ok, parsed.problems
    assert parsed.lines["charge_type"].tolist() == [expected]
    assert parsed.lines["vendor_charge_type"].tolist() == [charge_type]


@pytest.mark.parametrize("charge_type", ["removeQuantity", "cancelImmediate", "customerCredit", "creditNote",
                                         "moveQuantity"])
def test_every_new_commerce_refund_charge_type_is_a_credit(charge_type):
    parsed = _parse([_row(ChargeType=charge_type, Quantity="-2", BillableQuantity="-2",
                          Subtotal=_seat("26.40", -2), TaxTotal="0.00", Total=_seat("26.40", -2))])
    assert parsed.ok, parsed.problems
    assert parsed.lines["charge_type"].tolist() == ["credit"]
    assert parsed.total_cost == Decimal("-52.80")


def test_move_quantity_with_a_positive_subtotal_is_the_charge_on_the_target():
    parsed = _parse([_row(ChargeType="moveQuantity")])
    assert parsed.ok and parsed.lines["charge_type"].tolist() == ["recurring"]


def test_a_refund_with_a_positive_subtotal_and_a_charge_with_a_negative_one_are_problems():
    parsed = _parse([_row(ChargeType="removeQuantity"),
                     _row(SubscriptionId="other", Subtotal="-1.00", TaxTotal="0.00", Total="-1.00",
                          EffectiveUnitPrice="1", BillableQuantity="-1", Quantity="-1")])
    reasons = [(p.row, p.column, p.reason) for p in parsed.problems]
    assert (2, "Subtotal", "a refund line (credit) with a positive Subtotal") in reasons
    assert any(r[0] == 3 and r[1] == "Subtotal" and "negative Subtotal" in r[2] for r in reasons)


def test_a_subtotal_that_breaks_the_seat_rule_is_a_problem_naming_row_and_column():
    parsed = _parse([_row(), _row(SubscriptionId="s2", EffectiveUnitPrice="13.199999", BillableQuantity="3",
                                  Quantity="3", Subtotal="39.60", TaxTotal="0", Total="39.60")])
    (p,) = parsed.problems
    assert (p.row, p.column, p.value) == (3, "Subtotal", "39.60")
    assert "ROUNDDOWN(EffectiveUnitPrice × PCToBCExchangeRate, 2) × BillableQuantity = 39.57" in p.reason


def test_seat_unit_cost_is_rounded_down_in_the_billing_currency_and_the_rate_is_shown_not_applied():
    rate = "0.9213"
    sub = _seat("26.40", 7, rate)  # ROUNDDOWN(24.32232, 2) x 7 = 170.24
    parsed = _parse([_row(Currency="EUR", PricingCurrency="USD", PCToBCExchangeRate=rate, BillableQuantity="7",
                          Quantity="7", Subtotal=sub, TaxTotal="0.00", Total=sub)])
    assert parsed.ok, parsed.problems
    line = parsed.lines.iloc[0]
    assert (line["unit_cost"], line["quantity"], line["extended_cost"]) == ("24.32", "7", "170.24")
    assert (line["currency"], line["exchange_rate"], line["pricing_currency"]) == ("EUR", rate, "USD")
    assert parsed.total_cost == Decimal("170.24")


def test_a_foreign_currency_line_without_a_rate_is_a_problem():
    parsed = _parse([_row(Currency="EUR", PricingCurrency="USD", PCToBCExchangeRate="")])
    assert [(p.row, p.column) for p in parsed.problems] == [(2, "PCToBCExchangeRate")]


def _usage(eup: str, qty: str, rate: str) -> str:
    inner = (Decimal(eup) * Decimal(qty)).quantize(CENT, rounding=ROUND_DOWN)
    return str((inner * Decimal(rate)).quantize(CENT, rounding=ROUND_DOWN))


def test_a_metered_line_is_usage_and_follows_the_usage_rounding_rule():
    eup, qty, rate = "0.0234567", "1234.5", "0.9123"
    good = _usage(eup, qty, rate)
    meter = dict(MeterDescription="Bandwidth - Inter-region", EffectiveUnitPrice=eup, BillableQuantity=qty,
                 Quantity=qty, PCToBCExchangeRate=rate, Currency="EUR", PricingCurrency="USD",
                 TermAndBillingCycle="", BillingFrequency="", TaxTotal="0", ChargeType="new")
    parsed = _parse([_row(**meter, Subtotal=good, Total=good)])
    assert parsed.ok, parsed.problems
    line = parsed.lines.iloc[0]
    assert line["charge_type"] == "usage" and line["extended_cost"] == good
    assert line["unit_cost"] == "0.02139955"  # 0.0234567 x 0.9123 = 0.021399547..., 8 decimals
    bad = _parse([_row(**meter, Subtotal="26.45", Total="26.45")])
    (p,) = bad.problems
    assert p.column == "Subtotal" and "usage-based line" in p.reason and p.reason.endswith(f"= {good}")


def test_an_empty_billing_frequency_is_a_one_time_charge():
    parsed = _parse([_row(BillingFrequency="", TermAndBillingCycle="")])
    assert parsed.ok and parsed.lines["charge_type"].tolist() == ["one_time"]
    assert parsed.lines["term"].tolist() == ["none"]


def test_term_and_billing_frequency_stay_separate():
    parsed = _parse([_row(TermAndBillingCycle="One-Year commitment for monthly billing"),
                     _row(SubscriptionId="b", TermAndBillingCycle="3 Years commitment for annual billing",
                          BillingFrequency="Annual", ChargeStartDate="2026-11-01", ChargeEndDate="2027-10-31")])
    assert parsed.ok, parsed.problems
    assert parsed.lines[["term", "billing_frequency"]].values.tolist() == [["annual", "monthly"], ["triennial", "annual"]]
    assert parsed.lines["vendor_prorated"].isna().all()  # a whole month, a whole year


@pytest.mark.parametrize("column, value", [("BillingFrequency", "Triennial"), ("TermAndBillingCycle", "Forever")])
def test_an_unknown_billing_frequency_or_term_is_a_problem_naming_it(column, value):
    (p,) = _parse([_row(**{column: value})]).problems
    assert p.column == column and p.value == value and repr(value) in p.reason


def test_tax_is_kept_on_the_line_and_not_in_the_vendor_cost():
    parsed = sources.parse_file(sources.sample_bytes("microsoft"), "m.csv", "microsoft", MONTH)
    taxed = parsed.lines[parsed.lines["tax"] != "0.00"]
    assert taxed["vendor_customer_name"].tolist() == ["Pioneer Credit Union"]
    assert taxed["tax"].tolist() == ["79.20"] and taxed["extended_cost"].tolist() == ["1320.00"]
    assert parsed.total_cost == Decimal("2715.68")  # pre-tax


def test_a_total_that_is_not_subtotal_plus_tax_is_a_problem():
    (p,) = _parse([_row(Total="999.99")]).problems
    assert (p.row, p.column) == (2, "Total")


def test_prorations_are_vendor_prorated_and_credits_point_at_their_original_line():
    parsed = sources.parse_file(sources.sample_bytes("microsoft"), "m.csv", "microsoft", MONTH)
    lines = parsed.lines.set_index("line_no")
    adds = lines[lines["vendor_charge_type"] == "addQuantity"]
    assert set(adds["vendor_prorated"]) == {"true"}
    (credit_row,) = lines.index[lines["charge_type"] == "credit"]
    original = int(lines.at[credit_row, "credit_for_line"])
    assert lines.at[original, "vendor_charge_type"] == "addQuantity"
    assert lines.at[original, "subscription_id"] == lines.at[credit_row, "subscription_id"]


def test_us_dates_and_iso_timestamps_give_the_same_inclusive_period():
    a = _parse([_row(ChargeStartDate="2026-11-10", ChargeEndDate="2026-12-09")], "csv")
    b = _parse([_row(ChargeStartDate="2026-11-10", ChargeEndDate="2026-12-09")], "jsonl")
    assert b"11/10/2026" in ms.to_csv([_row(ChargeStartDate="2026-11-10")])
    for p in (a, b):
        assert p.ok and p.lines[["period_start", "period_end"]].values.tolist() == [["2026-11-10", "2026-12-09"]]


def test_two_seat_additions_on_one_day_are_two_lines_but_a_repeated_row_is_a_duplicate():
    add = _row(ChargeType="addQuantity", ChargeStartDate="2026-11-16", EffectiveUnitPrice="13.2",
               Subtotal="13.20", Total="13.20", TaxTotal="0", BillableQuantity="1", Quantity="1")
    assert _parse([add, {**add, "OrderId": "another-order"}]).ok
    problems = _parse([add, dict(add)]).problems
    assert [p.reason.startswith("duplicate of row 2") for p in problems] == [True]


def test_a_missing_required_column_is_named():
    data = ms.to_csv([_row()]).decode("utf-8-sig").replace("BillableQuantity", "Units").encode()
    parsed = sources.parse_file(data, "m.csv", "microsoft", MONTH)
    assert [(p.row, p.column) for p in parsed.problems] == [(1, "BillableQuantity")]


def test_an_unreadable_date_and_a_non_number_are_named_by_microsofts_column():
    parsed = _parse([_row(ChargeStartDate="soon", EffectiveUnitPrice="cheap")])
    cols = {p.column for p in parsed.problems}
    assert {"ChargeStartDate", "EffectiveUnitPrice"} <= cols
    assert all(p.row == 2 for p in parsed.problems)


def test_a_changed_file_is_a_new_version_and_the_diff_says_what_changed(tmp_path):
    store = Store.open(tmp_path / "b.db")
    v1 = ms.demo_rows(MONTH)
    v2 = [dict(r) for r in v1]
    last = v2[-1]
    last.update(BillableQuantity="17", Quantity="17", Subtotal=_seat(last["EffectiveUnitPrice"], 17), TaxTotal="0.00")
    last["Total"] = last["Subtotal"]
    first = sources.load_month(store, MONTH, ms.to_csv(v1), "recon.csv", "microsoft")
    again = sources.load_month(store, MONTH, ms.to_csv(v1), "recon.csv", "microsoft")
    second = sources.load_month(store, MONTH, ms.to_csv(v2), "recon-v2.csv", "microsoft")
    assert (first.status, again.status, second.status) == ("loaded", "unchanged", "loaded")
    assert second.version == 2 and len(second.diff["quantity_changed"]) == 1
    assert second.diff["quantity_changed"]["quantity_new"].tolist() == [Decimal("17")]


def test_the_cli_style_load_defaults_the_vendor_to_the_format(tmp_path):
    store = Store.open(tmp_path / "b.db")
    r = sources.load_month(store, MONTH, sources.sample_bytes("microsoft-graph"), "m.jsonl.gz", "microsoft-graph")
    assert r.status == "loaded" and r.vendor == "microsoft-graph"
    other = Store.open(tmp_path / "c.db")
    r = sources.load_month(other, MONTH, sources.sample_bytes("microsoft-graph"), "m.jsonl.gz", "microsoft",
                           vendor="microsoft")
    assert r.status == "loaded" and r.vendor == "microsoft"
    # the same content under a second vendor name in one database is refused, naming the first import
    r = sources.load_month(store, MONTH, sources.sample_bytes("microsoft-graph"), "m.jsonl.gz", "microsoft",
                           vendor="microsoft")
    assert r.status == "duplicate" and "microsoft-graph" in r.message


@hsettings(max_examples=40, deadline=None)
@given(hs.lists(hs.tuples(hs.decimals("0.01", "500", places=6), hs.integers(1, 300),
                          hs.sampled_from(["1", "0.9213", "1.3378", "149.27"])), min_size=1, max_size=12))
def test_property_the_loaded_cost_is_the_subtotal_sum_and_quantity_times_unit_is_each_subtotal(lines):
    rows = []
    for k, (eup, qty, rate) in enumerate(lines):
        sub = _seat(str(eup), qty, rate)
        rows.append(_row(SubscriptionId=f"sub-{k}", EffectiveUnitPrice=str(eup), BillableQuantity=str(qty),
                         Quantity=str(qty), PCToBCExchangeRate=rate, Currency="EUR", PricingCurrency="USD",
                         Subtotal=sub, TaxTotal="0.00", Total=sub))
    parsed = _parse(rows)
    assert parsed.ok, parsed.problems
    assert parsed.total_cost == sum(Decimal(r["Subtotal"]) for r in rows)
    for _, line in parsed.lines.iterrows():
        assert Decimal(line["quantity"]) * Decimal(line["unit_cost"]) == Decimal(line["extended_cost"])


def test_jsonl_with_a_bad_line_names_it():
    body = gzip.decompress(sources.sample_bytes("microsoft-graph")).splitlines()
    body.insert(1, b"{not json")
    parsed = sources.parse_file(b"\n".join(body), "m.jsonl", "microsoft", MONTH)
    assert [(p.row, p.reason) for p in parsed.problems] == [(2, "not a JSON object")]
    assert json.loads(body[0])["CustomerName"]


def test_leaving_out_lines_of_another_month_keeps_the_vendors_own_amounts(tmp_path):
    rows = ms.demo_rows(MONTH)
    rows.append({**rows[0], "SubscriptionId": "next", "ChargeStartDate": "2026-12-01", "ChargeEndDate": "2026-12-31"})
    store = Store.open(tmp_path / "b.db")
    result = sources.load_month(store, MONTH, ms.to_csv(rows), "recon.csv", "microsoft", exclude_out_of_month=True)
    assert result.status == "loaded" and result.excluded == [11]
    assert st.get_import(store, result.import_id)["total_cost"] == Decimal("2715.68")
