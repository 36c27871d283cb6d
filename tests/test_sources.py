"""Vendor files: reading, validation (every problem, right row and column), presets, demo vendor."""

from __future__ import annotations

import codecs
import csv
import io
import os
from pathlib import Path
from decimal import Decimal

import pandas as pd
import pytest

from billbridge import demo_world as world
from billbridge.sources import (
    CANONICAL_COLUMNS,
    ColumnMapping,
    demo_lines,
    demo_month,
    file_columns,
    parse_file,
    problems_csv,
    sample_bytes,
)

M = "2026-11"
HEADER = "vendor_customer_id,vendor_customer_name,sku,quantity,unit_cost,period_start,period_end,charge_type"
GOOD = "C1,Acme,SKU1,3,18.00,2026-11-04,2026-12-03,recurring"


def csv_bytes(*lines: str, sep: str = "\n", encoding: str = "utf-8") -> bytes:
    return sep.join(lines).encode(encoding) + sep.encode(encoding)


def problems_of(res):
    return [(p.row, p.column, p.reason) for p in res.problems]


# ----------------------------------------------------------------------------- file structure
def test_empty_file_is_one_problem_and_no_lines():
    for data in (b"", b"   \n\n"):
        res = parse_file(data, "x.csv", "generic", M)
        assert not res.ok and [p.reason for p in res.problems] == ["the file is empty"]
        assert res.line_count == 0


def test_header_only_file_says_so():
    res = parse_file(csv_bytes(HEADER), "x.csv", "generic", M)
    assert [p.reason for p in res.problems] == ["the file has a header but no lines"]


def test_missing_required_columns_are_all_named_in_one_problem_with_the_columns_found():
    res = parse_file(csv_bytes("vendor_customer_name,quantity", "Acme,3"), "x.csv", "generic", M)
    assert len(res.problems) == 1 and res.problems[0].row == 1
    reason = res.problems[0].reason
    assert "missing required columns 'vendor_customer_id', 'sku', 'unit_cost'" in reason
    assert "the file's columns are 'vendor_customer_name', 'quantity'" in reason


def test_a_file_that_is_not_a_vendor_bill_gets_one_message_not_one_per_row():
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_bytes()
    res = parse_file(readme, "README.csv", "generic", M)
    assert len(res.problems) == 1, [str(p) for p in res.problems[:5]]
    assert "missing required columns" in res.problems[0].reason and "'# billbridge'" in res.problems[0].reason
    assert not res.warnings  # no "unknown column" noise either


@pytest.mark.parametrize("data", [
    bytes(range(256)) * 40,  # every byte value
    os.urandom(5000),  # once ended in a _csv.Error traceback
    b"\x89PNG\r\n\x1a\n" + os.urandom(3000),
    b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600),  # an old .xls
])
def test_binary_files_get_one_clear_message(data):
    res = parse_file(data, "bill.csv", "generic", M)
    assert len(res.problems) == 1 and res.problems[0].row is None
    assert "not a text (CSV) or Excel" in res.problems[0].reason or ".xls" in res.problems[0].reason
    with pytest.raises(ValueError, match="xls|binary"):
        file_columns(data, "bill.csv")


def test_a_damaged_xlsx_is_one_problem_not_a_traceback():
    res = parse_file(b"PK\x03\x04" + os.urandom(400), "bill.xlsx", "generic", M)
    assert [p.row for p in res.problems] == [None] and "Excel workbook" in res.problems[0].reason


def test_utf16_text_export_from_excel_is_read():
    text = "\t".join(HEADER.split(",")) + "\r\n" + "\t".join(GOOD.split(",")) + "\r\n"
    res = parse_file(codecs.BOM_UTF16_LE + text.encode("utf-16-le"), "x.txt", "generic", M)
    assert res.ok, res.problems and res.line_count == 1 and res.encoding == "utf-16"


@pytest.mark.parametrize("encoding", ["utf-8", "cp1252"])
def test_blank_rows_are_skipped_and_counted_not_reported(encoding):
    body = [GOOD, ",,,,,,,", "  ,, ,,,,,", GOOD.replace("C1", "C2").replace("Acme", "Acmé"), ",,,,,,,", ""]
    res = parse_file(csv_bytes(HEADER, *body, sep="\r\n", encoding=encoding), "x.csv", "generic", M)
    assert res.ok, [str(p) for p in res.problems]
    assert res.line_count == 2 and res.blank_rows == 4 and res.blank_note == "4 blank rows skipped"
    assert res.lines["line_no"].tolist() == [2, 5]  # numbering keeps the file's rows


def test_blank_rows_in_a_ragged_file_are_counted_too():
    res = parse_file(csv_bytes(HEADER, GOOD, "C2,Acme,SKU1", "", ",,,,,,,"), "x.csv", "generic", M)
    assert (3, None, "row has 3 values, the header has 8") in problems_of(res) and res.blank_rows == 2
    assert {p.row for p in res.problems} == {3}


def _xlsx(rows, formulas=()):
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    for r in rows:
        ws.append(r)
    for cell, formula in formulas:
        ws[cell] = formula
    buf = io.BytesIO()
    wb.save(buf)  # openpyxl saves formulas without a cached value, like any program that is not Excel
    return buf.getvalue()


def test_xlsx_formula_without_a_saved_value_is_named_with_the_fix():
    header = HEADER.split(",")
    row = GOOD.split(",")
    data = _xlsx([header, row, [c.replace("C1", "C2") for c in row]],
                 formulas=[("E3", "=E2*1"), ("A3", '=CONCAT("C","2")')])
    res = parse_file(data, "bill.xlsx", "generic", M)
    got = {(p.row, p.column): p for p in res.problems}
    assert set(got) == {(3, "unit_cost"), (3, "vendor_customer_id")}  # not "required value is empty"
    assert "formula whose value was never saved" in got[(3, "unit_cost")].reason
    assert "save it" in got[(3, "unit_cost")].reason and got[(3, "unit_cost")].value == "=E2*1"


def test_xlsx_blank_rows_are_counted():
    data = _xlsx([HEADER.split(","), GOOD.split(","), [None] * 8, GOOD.replace("C1", "C2").split(",")])
    res = parse_file(data, "bill.xlsx", "generic", M)
    assert res.ok and res.line_count == 2 and res.blank_rows == 1


def test_missing_preset_column_is_named_as_the_vendor_spells_it():
    res = parse_file(csv_bytes("Account ID,Account Name,Item Code,Quantity", "A,B,C,1"), "x.csv", "intermedia", M)
    assert [p.column for p in res.problems] == ["Unit Price"]
    assert "unit_cost" in res.problems[0].reason


def test_unknown_columns_are_warnings_not_problems():
    res = parse_file(csv_bytes(HEADER + ",Notes,Region", GOOD + ",hello,EU"), "x.csv", "generic", M)
    assert res.ok
    assert res.warnings == ["unknown column 'Notes' ignored", "unknown column 'Region' ignored"]


@pytest.mark.parametrize("sep", [",", ";", "\t"])
def test_delimiter_is_sniffed_comma_semicolon_tab(sep):
    data = csv_bytes(HEADER.replace(",", sep), GOOD.replace(",", sep))
    res = parse_file(data, "x.csv", "generic", M)
    assert res.ok and res.delimiter == sep and res.line_count == 1
    assert res.lines.loc[0, "extended_cost"] == "54.00"


def test_utf8_bom_cp1252_and_crlf_are_read():
    name = "Société Générale Müller"
    for data, enc in [
        (codecs.BOM_UTF8 + csv_bytes(HEADER, GOOD.replace("Acme", name)), "utf-8-sig"),
        (csv_bytes(HEADER, GOOD.replace("Acme", name), encoding="cp1252"), "cp1252"),
        (csv_bytes(HEADER, GOOD.replace("Acme", name), sep="\r\n"), "utf-8"),
    ]:
        res = parse_file(data, "x.csv", "generic", M)
        assert res.ok, res.problems
        assert res.encoding == enc
        assert res.lines.loc[0, "vendor_customer_name"] == name
        assert res.lines.loc[0, "vendor_customer_id"] == "C1"  # no BOM glued to the first header


def test_quoted_fields_with_commas_and_newlines_keep_row_numbers_as_records():
    data = csv_bytes(HEADER, 'C1,"Cedar & Pine Law, LLP\nSuite 2",SKU1,3,18.00,2026-11-04,2026-12-03,recurring',
                     "C2,Bluebird,SKU1,x,18.00,2026-11-04,2026-12-03,recurring")
    res = parse_file(data, "x.csv", "generic", M)
    assert res.lines.loc[0, "vendor_customer_name"] == "Cedar & Pine Law, LLP\nSuite 2"
    assert problems_of(res) == [(3, "quantity", "not a number")]


def test_money_dollar_thousands_and_decimal_comma():
    res = parse_file(csv_bytes(HEADER, GOOD.replace("18.00", '"$1,234.50"')), "x.csv", "generic", M)
    assert res.ok and res.lines.loc[0, "unit_cost"] == "1234.50" and res.total_cost == Decimal("3703.50")
    fmt = ColumnMapping(name="eu", generic=True, delimiter=";", decimal_comma=True, date_format="%d.%m.%Y")
    data = csv_bytes(HEADER.replace(",", ";"), "C1;Acme;SKU1;2;1.234,50;04.11.2026;03.12.2026;recurring")
    res = parse_file(data, "x.csv", fmt, M)
    assert res.ok, res.problems
    assert res.lines.loc[0, "unit_cost"] == "1234.50"
    assert res.lines.loc[0, "period_start"] == "2026-11-04"


def test_iso_and_local_dates_and_impossible_dates():
    fmt = ColumnMapping(name="us", generic=True, date_format="%m/%d/%Y")
    rows = [GOOD.replace("2026-11-04", "11/04/2026"), GOOD.replace("2026-11-04", "2026-02-30"),
            GOOD.replace("2026-11-04", "soon")]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", fmt, M)
    assert res.lines.loc[0, "period_start"] == "2026-11-04"
    assert problems_of(res) == [(3, "period_start", "no such date"),
                                (4, "period_start", "not a date (expected YYYY-MM-DD or MM/DD/YYYY)")]
    assert res.problems[0].value == "2026-02-30"


def test_quantities_non_numeric_and_negative_only_for_credits():
    rows = [GOOD.replace(",3,", ",abc,"), GOOD.replace(",3,", ",-5,").replace("SKU1", "SKU3"),
            GOOD.replace(",3,", ",-5,").replace("recurring", "credit").replace("SKU1", "SKU2"),
            GOOD.replace(",3,", ",,").replace("SKU1", "SKU4")]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", "generic", M)
    assert problems_of(res) == [
        (2, "quantity", "not a number"),
        (3, "quantity", "negative quantity (only credit lines may be negative)"),
        (5, "quantity", "required value is empty"),
    ]
    assert res.lines.loc[2, "quantity"] == "-5"
    assert res.lines.loc[2, "extended_cost"] == "-90.00"


def test_credit_lines_always_reduce_whichever_side_carries_the_minus():
    rows = [GOOD.replace(",3,18.00", ",-9,-1.50").replace("recurring", "credit")]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", "generic", M)
    assert res.ok and res.lines.loc[0, "extended_cost"] == "-13.50" and res.total_cost == Decimal("-13.50")


def test_duplicate_lines_point_at_the_first_occurrence():
    res = parse_file(csv_bytes(HEADER, GOOD, GOOD.replace("SKU1", "SKU2"), GOOD), "x.csv", "generic", M)
    assert problems_of(res) == [(4, None, "duplicate of row 2 (same customer, subscription, SKU, charge type and period)")]


def test_formula_looking_cells_stay_text_and_are_never_evaluated():
    rows = ['C1,=HYPERLINK("http://x"),@SUM(A1),3,18.00,2026-11-04,2026-12-03,recurring',
            "C2,+Acme,SKU1,=1+2,18.00,2026-11-04,2026-12-03,recurring"]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", "generic", M)
    assert res.lines.loc[0, "vendor_customer_name"] == '=HYPERLINK("http://x")'
    assert res.lines.loc[0, "sku"] == "@SUM(A1)"
    assert res.lines.loc[1, "vendor_customer_name"] == "+Acme"
    assert problems_of(res) == [(3, "quantity", "not a number")]
    out = problems_csv(res.problems).decode("utf-8-sig")
    assert "'=1+2" in out  # neutralised for spreadsheets


def test_every_problem_is_reported_with_row_and_column():
    rows = [",Acme,SKU1,3,18.00,2026-11-04,2026-12-03,recurring",
            "C2,Acme,SKU1,3,abc,2026-11-04,2026-12-03,weekly",
            "C3,Acme,,3,18.00,2026-12-04,2026-11-03,recurring"]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", "generic", M)
    assert set(problems_of(res)) == {
        (2, "vendor_customer_id", "required value is empty"),
        (3, "unit_cost", "not an amount"),
        (3, "charge_type", "unknown charge type (expected recurring, usage, one_time, credit)"),
        (4, "sku", "required value is empty"),
        (4, "period_end", "period ends before it starts"),
    }
    frame = pd.read_csv(io.BytesIO(problems_csv(res.problems)), encoding="utf-8-sig")
    assert list(frame.columns) == ["Row", "Column", "Problem", "Value"] and len(frame) == 5


def test_ragged_rows_are_problems_not_crashes():
    res = parse_file(csv_bytes(HEADER, GOOD, "C2,Acme,SKU1", "", GOOD.replace("C1", "C3")), "x.csv", "generic", M)
    assert (3, None, "row has 3 values, the header has 8") in problems_of(res)
    assert res.lines["line_no"].tolist() == [2, 3, 5]  # the blank line 4 is skipped, numbering kept


def test_lines_outside_the_billing_month_are_listed_not_errors():
    rows = [GOOD, GOOD.replace("2026-11-04", "2026-12-04").replace("2026-12-03", "2027-01-03"),
            "C2,Acme,MIN,100,0.01,2026-10-05,2026-11-04,usage", "C2,Acme,MIN,100,0.01,2026-11-05,2026-12-04,usage"]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", "generic", M)
    assert res.ok
    assert res.out_of_month["line_no"].tolist() == [3, 5]
    assert res.lines["landing_month"].tolist() == ["2026-11", "2026-12", "2026-11", "2026-12"]


def test_the_loader_lands_lines_by_the_one_rule_of_section_9():
    """Billing month 2026-10: anchor-1 usage for October is billed 1 Nov (another month); anchor-4
    usage for 4 Sep - 3 Oct is billed 4 Oct (this month); the loader and bdom.landing_month agree."""
    rows = ["C1,Acme,MIN,10,0.01,2026-10-01,2026-10-31,usage", "C1,Acme,MIN,10,0.01,2026-09-04,2026-10-03,usage",
            "C1,Acme,MIN,10,0.01,2026-10-04,2026-11-03,usage", "C1,Acme,SEAT,1,5.00,2026-10-04,2026-11-03,recurring",
            "C1,Acme,SEAT,1,5.00,2026-11-01,2026-11-30,recurring"]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", "generic", "2026-10")
    assert res.ok
    assert res.lines["landing_month"].tolist() == ["2026-11", "2026-10", "2026-11", "2026-10", "2026-11"]
    assert res.out_of_month["line_no"].tolist() == [2, 4, 6]


def test_defaults_charge_type_recurring_currency_usd_term_by_charge_type():
    res = parse_file(csv_bytes("vendor_customer_id,vendor_customer_name,sku,quantity,unit_cost,charge_type",
                               "C1,A,S,1,2.00,", "C1,A,U,1,2.00,usage"), "x.csv", "generic", M)
    row = res.lines.loc[0]
    assert (row["charge_type"], row["currency"], row["term"], row["billing_frequency"]) == ("recurring", "USD", "monthly", "monthly")
    assert res.lines.loc[1, "term"] == "none"


def test_rows_give_parsed_types_decimal_money_and_dates():
    res = parse_file(csv_bytes(HEADER, GOOD), "x.csv", "generic", M)
    r = res.rows.iloc[0]
    assert r["unit_cost"] == Decimal("18.00") and isinstance(r["unit_cost"], Decimal)
    assert r["quantity"] == Decimal(3)
    assert str(r["period_start"]) == "2026-11-04"


def test_xlsx_is_read_like_csv():
    res = parse_file(sample_bytes("generic.xlsx"), "generic.xlsx", "generic", M)
    assert res.ok and res.encoding == "xlsx" and res.line_count == 12
    assert res.lines.loc[0, "period_start"] == "2026-11-04"


# ------------------------------------------------------------------------------------ presets
@pytest.mark.parametrize("fmt,lines,customers", [("generic", 41, 25), ("intermedia", 14, 7), ("interworks", 7, 3), ("phin", 5, 5)])
def test_each_preset_sample_parses_without_problems(fmt, lines, customers):
    res = parse_file(sample_bytes(fmt), f"{fmt}.csv", fmt, M)
    assert res.ok, res.problems
    assert (res.line_count, res.customer_count) == (lines, customers)
    assert res.warnings == []
    assert res.out_of_month.empty


def test_intermedia_preset_maps_charge_types_and_us_dates():
    res = parse_file(sample_bytes("intermedia"), "i.csv", "intermedia", M)
    kinds = dict(zip(res.lines["sku"], res.lines["charge_type"]))
    assert kinds["VOICE-MIN"] == "usage" and kinds["PHONE-SETUP"] == "one_time" and kinds["ARCHIVE"] == "credit"
    assert res.lines.loc[0, "customer_created"] == "2024-08-04"


def test_interworks_preset_semicolons_decimal_comma_and_derived_ids():
    res = parse_file(sample_bytes("interworks"), "w.csv", "interworks", M)
    assert res.delimiter == ";"
    first = res.lines.loc[0]
    assert first["vendor_customer_id"] == first["vendor_customer_name"] == "Müller Steuerberatung GmbH"
    assert first["sku"] == "Microsoft 365 Business Standard" and first["term"] == "annual"
    assert res.lines.loc[2, "quantity"] == "1250.5" and res.lines.loc[2, "charge_type"] == "usage"
    assert set(res.lines["term"]) == {"annual", "monthly", "triennial"}


def test_phin_preset_splits_the_billing_period_and_uses_constants():
    res = parse_file(sample_bytes("phin"), "p.csv", "phin", M)
    row = res.lines.loc[0]
    assert (row["period_start"], row["period_end"], row["sku"], row["quantity"]) == ("2026-11-01", "2026-11-30", "PHIN-SAT", "15")
    assert res.total_cost == Decimal("328.00")


def test_column_mapping_round_trips_through_a_dict():
    m = ColumnMapping(name="custom", columns={"Client": "vendor_customer_name", "Qty": "quantity"},
                      derive={"vendor_customer_id": "vendor_customer_name"}, delimiter=";", decimal_comma=True)
    assert ColumnMapping.from_dict(m.to_dict()) == m
    with pytest.raises(ValueError):
        ColumnMapping(name="bad", columns={"X": "not_a_field"})


# -------------------------------------------------------------------------------- demo vendor
def test_demo_month_is_deterministic_and_valid_for_every_month():
    for month in world.MONTHS:
        data = demo_month(month)
        assert data == demo_month(month)
        res = parse_file(data, "demo.csv", "generic", month)
        assert res.ok, res.problems[:5]
        assert res.out_of_month.empty
        assert list(pd.read_csv(io.BytesIO(data)).columns) == list(CANONICAL_COLUMNS)


def test_demo_november_shows_every_scenario_kind():
    df = demo_lines("2026-11")
    scenarios = {world.CUSTOMERS_BY_ID[c].cw for c in df["vendor_customer_id"]}
    assert scenarios == set(world.CW_SCENARIOS)
    assert set(df["charge_type"]) == {"recurring", "usage", "one_time", "credit"}
    assert {"annual"} <= set(df["term"])
    days = {world.CUSTOMERS_BY_ID[c].created.day for c in df["vendor_customer_id"]}
    assert {29, 30, 31} <= days


def test_demo_usage_is_in_arrears_and_recurring_in_advance_from_the_bdom():
    df = demo_lines("2026-11").set_index("subscription_id")
    assert (df.loc["S-1024", "period_start"], df.loc["S-1024", "period_end"]) == ("2026-10-05", "2026-11-04")
    assert (df.loc["S-1023", "period_start"], df.loc["S-1023", "period_end"]) == ("2026-11-05", "2026-12-04")
    # BDOM 31 clamps to 30 Nov and returns to 31 Dec
    assert (df.loc["S-1032", "period_start"], df.loc["S-1032", "period_end"]) == ("2026-11-30", "2026-12-30")


def test_demo_mid_period_addition_is_prorated_from_its_start():
    df = demo_lines("2026-11").set_index("subscription_id")
    maple = df.loc["S-1022"]  # BDOM 1, added 17 Nov: 14 of 30 days of 18.00
    assert (maple["period_start"], maple["effective_date"], maple["unit_cost"]) == ("2026-11-17", "2026-11-17", "8.40")
    sep = demo_lines("2026-09")
    juniper = sep[sep["subscription_id"] == "S-1016"]  # added 3 Sep inside the 18 Aug period: catch-up + full
    assert juniper["period_start"].tolist() == ["2026-09-03", "2026-09-18"]


def test_demo_credit_in_november_only():
    nov = demo_lines("2026-11")
    credit = nov[nov["charge_type"] == "credit"]
    assert credit[["subscription_id", "quantity", "unit_cost"]].values.tolist() == [["S-1020", "-9", "-1.50"]]
    assert "credit" not in set(demo_lines("2026-10")["charge_type"])


def test_demo_rejects_months_without_history():
    with pytest.raises(ValueError):
        demo_month("2026-12")


def test_problems_csv_has_a_header_even_without_problems():
    rows = list(csv.reader(io.StringIO(problems_csv([]).decode("utf-8-sig"))))
    assert rows == [["Row", "Column", "Problem", "Value"]]


def test_numbers_too_long_to_keep_exactly_are_problems_not_crashes():
    res = parse_file(csv_bytes(HEADER, GOOD.replace(",3,", ",12345678901,"), GOOD.replace("18.00", "1.123456789").replace("SKU1", "S2"),
                               GOOD.replace("18.00", "1234567890123").replace("SKU1", "S3")), "x.csv", "generic", M)
    assert [(p.row, p.column) for p in res.problems] == [(2, "quantity"), (3, "unit_cost"), (4, "unit_cost")]
    assert all(p.reason.startswith("too many digits") for p in res.problems)


def test_duplicates_are_found_after_trimming_and_across_spellings():
    """Two lines that differ only in surrounding spaces, the charge type's case or a local date
    spelling of the same day are the same line."""
    fmt = ColumnMapping(name="us", generic=True, date_format="%m/%d/%Y")
    rows = [GOOD, " C1 ,Acme, SKU1 ,3,18.00,2026-11-04,2026-12-03,Recurring",
            "C1,Acme,SKU1,3,18.00,11/04/2026,12/03/2026,recurring", GOOD.replace("C1", "C2")]
    res = parse_file(csv_bytes(HEADER, *rows), "x.csv", fmt, M)
    assert [(p.row, p.reason[:16]) for p in res.problems] == [(3, "duplicate of row"), (4, "duplicate of row")]
    assert all("row 2" in p.reason for p in res.problems)


def test_large_file_keeps_every_problem_and_exact_totals():
    """The vectorised path on many lines: every problem on its row, totals exact to the cent."""
    header = "vendor_customer_id,vendor_customer_name,subscription_id,sku,quantity,unit_cost,period_start,period_end,charge_type"
    good = [f"C{i % 7},Acme {i % 7},S{i},SKU{i % 5},{i % 9 + 1},{(i % 13) * 1.25:.2f},2026-11-04,2026-12-03,recurring"
            for i in range(3000)]
    expected = sum(Decimal(g.split(",")[4]) * Decimal(g.split(",")[5]) for g in good)
    res = parse_file(csv_bytes(header, *good), "x.csv", "generic", M)
    assert res.ok and res.line_count == 3000 and res.total_cost == expected
    bad = list(good)
    bad[10] = bad[10].replace(",recurring", ",weekly")
    bad[2000] = bad[2000].replace("2026-11-04", "2026-02-30")
    bad.append(good[5])
    res = parse_file(csv_bytes(header, *bad), "x.csv", "generic", M)
    assert problems_of(res) == [
        (12, "charge_type", "unknown charge type (expected recurring, usage, one_time, credit)"),
        (2002, "period_start", "no such date"),
        (3002, None, "duplicate of row 7 (same customer, subscription, SKU, charge type and period)"),
    ]


def test_a_file_read_in_many_blocks_gives_the_same_lines_and_problems(monkeypatch):
    """Large files arrive in blocks, each with its own dictionary of values: duplicates across
    blocks, trimmed values and every problem are found exactly as in one block."""
    import billbridge.sources.parse as parse_mod

    header = "vendor_customer_id,vendor_customer_name,subscription_id,sku,quantity,unit_cost,period_start,period_end,charge_type"
    rows = [f"C{i % 7},Acme {i % 7},S{i},SKU{i % 5},{i % 9 + 1},{(i % 13) * 1.25:.2f},2026-11-04,2026-12-03,recurring"
            for i in range(2000)]
    rows[1500] = rows[1500].replace(",recurring", ",weekly")
    rows += [rows[3].replace("C3,", " C3 ,"), rows[1999].replace("2026-11-04", "2026-02-30")]
    data = csv_bytes(header, *rows)
    whole = parse_file(data, "x.csv", "generic", M)
    monkeypatch.setattr(parse_mod, "_BLOCK_SIZE", 4096)
    blocks = parse_file(data, "x.csv", "generic", M)
    assert problems_of(blocks) == problems_of(whole) == [
        (1502, "charge_type", "unknown charge type (expected recurring, usage, one_time, credit)"),
        (2002, None, "duplicate of row 5 (same customer, subscription, SKU, charge type and period)"),
        (2003, "period_start", "no such date"),
    ]
    pd.testing.assert_frame_equal(blocks.lines, whole.lines)
    assert (blocks.total_cost, blocks.customer_count) == (whole.total_cost, whole.customer_count) == (whole.total_cost, 7)
