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
    assert Decimal(str(summary["ConnectWise billed price"])) == Decimal("30.04")  # 15.015 -> 15.02, twice


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
    sheet_cost = sum(Decimal(str(r[0])) for r in wb["plan"].iter_rows(min_row=2, min_col=16, max_col=16, values_only=True))
    assert sheet_cost.quantize(Decimal("0.01")) == plan_cost
    lines = pd.read_csv(csv_file, dtype=str)
    assert sum(map(Decimal, lines["cost"])) == plan_cost


def test_cli_export_without_plan_exits_2(app_env, tmp_path):
    result = CliRunner().invoke(main, ["export", "2026-11", "--xlsx", str(tmp_path / "x.xlsx")])
    assert result.exit_code == 2 and "no plan" in result.output
    assert CliRunner().invoke(main, ["export", "Nov", "--xlsx", str(tmp_path / "x.xlsx")]).exit_code == 2
