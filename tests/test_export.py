"""Excel / CSV export of the month review: opens with openpyxl, totals equal the plan's, formulas stay text."""

from __future__ import annotations

import io
from decimal import Decimal

import pandas as pd
from click.testing import CliRunner
from openpyxl import load_workbook

from billbridge import export, review
from billbridge.cli import main
from test_review_store import open_demo


def _rows(**over):
    base = {"key": "k1", "action": "update", "vendor_customer_id": "C1", "vendor_customer_name": "=1+1",
            "sku": "S", "product_name": "@SUM(A1)", "charge_type": "recurring", "vendor_amount": Decimal("10.01"),
            "vendor_quantity": Decimal(3), "vendor_unit_cost": Decimal("3.337"), "vendor_unit_price": Decimal("5"),
            "new_quantity": Decimal(3), "new_unit_price": Decimal("5.005"), "flags": (), "bucket": "reconciled",
            "price_impact": Decimal("0")}
    base.update(over)
    return pd.DataFrame([base, dict(base, key="k2", vendor_customer_name="Beta", vendor_amount=Decimal("0.02"))])


def test_formula_looking_text_stays_text_in_workbook_and_csv():
    rv = review.month_review(_rows(), month="2026-11")
    wb = load_workbook(io.BytesIO(export.workbook_bytes(rv)))
    cells = [c for row in wb["plan"].iter_rows() for c in row]
    one_plus_one = [c for c in cells if c.value == "=1+1"]
    assert one_plus_one and all(c.data_type == "s" for c in one_plus_one)
    assert any(c.value == "@SUM(A1)" and c.data_type == "s" for c in cells)
    assert "'=1+1" in export.csv_bytes(rv).decode()


def test_workbook_has_the_five_sheets_and_summary_totals_to_the_cent():
    rv = review.month_review(_rows(), month="2026-11")
    wb = load_workbook(io.BytesIO(export.workbook_bytes(rv)))
    assert wb.sheetnames == list(export.SHEETS)
    summary = {r[0]: r[1] for r in wb["summary"].iter_rows(min_row=2, values_only=True)}
    assert Decimal(str(summary["Vendor cost"])) == Decimal("10.03")
    assert Decimal(str(summary["ConnectWise bills"])) == Decimal("30.04")  # 15.015 -> 15.02, twice


def test_cli_export_writes_workbook_whose_totals_equal_the_plan(app_env, tmp_path):
    store, conn, plans = open_demo(app_env)
    plan, _ = plans["2026-11"]
    xlsx, csv_file = tmp_path / "review.xlsx", tmp_path / "plan.csv"
    result = CliRunner().invoke(main, ["export", "2026-11", "--xlsx", str(xlsx), "--csv", str(csv_file)])
    assert result.exit_code == 0, result.output
    wb = load_workbook(xlsx)
    summary = {r[0]: r[1] for r in wb["summary"].iter_rows(min_row=2, values_only=True)}
    plan_cost = sum(plan.rows["vendor_amount"].dropna(), Decimal(0))
    assert Decimal(str(summary["Vendor cost"])).quantize(Decimal("0.01")) == plan_cost
    sheet = sheet_frame(wb["plan"])
    assert sum(Decimal(str(v)) for v in sheet["Vendor cost"]).quantize(Decimal("0.01")) == plan_cost
    lines = pd.read_csv(csv_file, dtype=str, encoding="utf-8-sig", keep_default_na=False)
    assert sum(map(Decimal, lines["Vendor cost"])) == plan_cost
    # one margin everywhere: the workbook's margin column and the CSV's add up to the headline
    headline = Decimal(str(summary["Margin"])).quantize(Decimal("0.01"))
    assert sum(Decimal(str(v)) for v in sheet["Margin"]).quantize(Decimal("0.01")) == headline
    assert sum(map(Decimal, lines["Margin"])) == headline
    assert Decimal(str(summary["Not re-billed"])).quantize(Decimal("0.01")) == sum(
        map(Decimal, lines["Not re-billed"]))


def sheet_frame(ws) -> pd.DataFrame:
    rows = list(ws.iter_rows(values_only=True))
    return pd.DataFrame(rows[1:], columns=rows[0])


def test_workbook_is_for_people_labels_whole_ids_frozen_filtered_money_formatted():
    rows = _rows(action="blocked", cause="unmapped_customer", bucket="blocked", agreement_id=2.0,
                 flags=["late_month_bdom", "credit"], charge_type="one_time", term="none", new_quantity=None,
                 vendor_quantity=Decimal("12.000000"))
    rv = review.month_review(rows, month="2026-11")
    wb = load_workbook(io.BytesIO(export.workbook_bytes(rv)))
    ws = wb["plan"]
    sheet = sheet_frame(ws)
    assert not any("_" in str(h) for h in sheet.columns)
    assert {"Customer", "Vendor customer id", "Charge type", "Vendor cost", "Margin", "Not re-billed"} <= set(sheet.columns)
    first = sheet.iloc[0]
    assert first["Action"] == "Blocked" and first["Cause"] == "Customer not mapped"
    assert first["Flags"] == "Late-month billing day, Credit" and first["Charge type"] == "One-time"
    assert first["Term"] == "No term" and first["Agreement id"] == 2
    assert isinstance(ws.cell(row=2, column=list(sheet.columns).index("Agreement id") + 1).value, int)
    assert first["Quantity"] == 12 and first["Margin"] == 0 and first["Not re-billed"] == 10.01
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref.startswith("A1:")
    money_col = list(sheet.columns).index("Vendor cost") + 1
    assert "$" in ws.cell(row=2, column=money_col).number_format
    assert all(ws.column_dimensions[c].width >= 8 for c in "ABCDEF")
    values = {str(v) for row in ws.iter_rows(values_only=True) for v in row if v is not None}
    assert not values & {"None", "nan", "NaN", "blocked", "unmapped_customer", "late_month_bdom", "2.0", "12.0"}
    alerts = sheet_frame(wb["alerts"])
    assert "Blocked or unmapped" in set(alerts["Kind"])
    assert "Customer not mapped" in " ".join(str(d) for d in alerts["Detail"] if isinstance(d, str))


def test_cli_export_without_plan_exits_2(app_env, tmp_path):
    result = CliRunner().invoke(main, ["export", "2026-11", "--xlsx", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2 and "no plan" in result.output
    assert CliRunner().invoke(main, ["export", "Nov", "--xlsx", str(tmp_path / "x.xlsx")]).exit_code == 2
