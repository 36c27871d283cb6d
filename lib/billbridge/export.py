"""Month review inputs from the store, and the review as an Excel workbook or CSV (issue 6).

* :func:`load_review` gathers what :func:`billbridge.review.month_review` needs from the store:
  the month's newest plan, the previous month's plan (or its vendor lines), the push results, the
  agreements the month's snapshot shows as already invoiced, and up to six months of history.
* :func:`workbook_bytes` / :func:`write_xlsx`: sheets ``summary``, ``plan``, ``changes``, ``alerts``,
  ``push results``. Money is written as numbers with 2 decimals; a text cell that starts like a
  formula (``= + - @``) is stored as text, never evaluated. Totals are the review's exact Decimals.
* :func:`csv_bytes`: the plan lines as CSV (formula-looking text prefixed with ``'``).
"""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from billbridge import review as rv
from billbridge.bdom import add_months

__all__ = ["previous_month", "load_review", "workbook_bytes", "write_xlsx", "csv_bytes", "write_csv", "SHEETS"]

SHEETS = ("summary", "plan", "changes", "alerts", "push results")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def previous_month(month: str, back: int = 1) -> str:
    """The month ``back`` months before ``month`` (``YYYY-MM``)."""
    return add_months(month, -back)


def _month_lines(store, month: str) -> tuple[pd.DataFrame, str] | None:
    """Review lines of a month and their basis: its newest plan ("plan"), else its vendor lines
    ("vendor"), else None."""
    from billbridge import month as mo

    plan = mo.latest_plan(store, month)
    if plan is not None and len(plan.rows):
        return rv.review_lines(plan.rows), "plan"
    imports = mo.month_vendor_lines(store, month)
    if imports:
        return rv.lines_from_vendor(pd.concat([lines for _imp, lines in imports.values()], ignore_index=True)), "vendor"
    return None


def load_review(store, month: str, *, margin_threshold: Decimal = Decimal("0.20"),
                customer_change_threshold: Decimal = Decimal("0.25"), history_months: int = 6) -> rv.MonthReview | None:
    """The review of ``month`` from what the store holds (None when the month has no plan)."""
    from billbridge import month as mo
    from billbridge import store as st_
    from billbridge.snapshot import invoiced_agreements

    plan = mo.latest_plan(store, month)
    if plan is None:
        return None
    prev_month = previous_month(month)
    history, bases = {}, {}
    for back in range(history_months - 1, 0, -1):
        m = previous_month(month, back)
        got = _month_lines(store, m)
        if got is not None:
            history[m], bases[m] = got
    prev = history.get(prev_month)
    snap = mo.snapshot_for(store, month)
    push = st_.push_row_results(store, month=month)
    if len(push) and "dry_run" in push:
        push = push[push["dry_run"].fillna(0).astype(int) == 0]
    return rv.month_review(
        plan.rows, month=month, previous_rows=prev, previous_month=prev_month, previous_basis=bases.get(prev_month),
        push_results=push,
        invoiced_agreement_ids=invoiced_agreements(snap) if snap else set(), history=history,
        margin_threshold=margin_threshold, customer_change_threshold=customer_change_threshold,
    )


# ------------------------------------------------------------------------------------ values
def _cell(v: Any) -> Any:
    """A value openpyxl can write: Decimal -> float for the cell (the text form is exact to the
    cent), tuples/lists -> '; '-joined text, NaN -> None."""
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return None
    if isinstance(v, Decimal):
        return float(v)
    if isinstance(v, (list, tuple, set)):
        return "; ".join(str(x) for x in v)
    if isinstance(v, dict):
        return str(v)
    if hasattr(v, "item"):
        return v.item()
    return v


def summary_rows(review: rv.MonthReview) -> list[tuple[str, Any, Any, Any]]:
    """(measure, this month, previous month, change) rows of the summary sheet."""
    t, p = review.totals, review.previous_totals
    out = []
    for name, label in (("vendor_cost", "Vendor cost"), ("billed_price", "ConnectWise billed price"),
                        ("margin", "Margin"), ("margin_pct", "Margin %"),
                        ("unbilled_cost", "Vendor cost not re-billed"), ("customers", "Customers"),
                        ("lines", "Plan rows")):
        a = getattr(t, name)
        b = getattr(p, name) if p else None
        if name in ("customers", "lines"):
            change = (a - b) if b is not None else None
        else:  # money is compared only on the same basis (see MonthReview.comparable)
            change = review.delta(name)
        out.append((label, a, b, change))
    return out


def _sheet(ws, frame: pd.DataFrame, money: set[str]) -> None:
    from openpyxl.styles import Font

    ws.append(list(frame.columns))
    for c in ws[1]:
        c.font = Font(bold=True)
    for rec in frame.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in rec])
    for row in ws.iter_rows(min_row=2):
        for c, name in zip(row, frame.columns):
            if isinstance(c.value, str) and c.value.startswith(_FORMULA_START):
                c.data_type = "s"  # never a formula: text typed by a vendor or an operator
            elif name in money and isinstance(c.value, (int, float)):
                c.number_format = "#,##0.00"


def workbook_bytes(review: rv.MonthReview) -> bytes:
    """The review as an .xlsx (see the module docstring for the sheets)."""
    from openpyxl import Workbook
    from openpyxl.styles import Font

    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    ws.append([f"Billing month {review.month}", "this month", f"previous ({review.previous_month or '-'})", "change"])
    for c in ws[1]:
        c.font = Font(bold=True)
    for label, a, b, d in summary_rows(review):
        ws.append([label, _cell(a), _cell(b), _cell(d)])
        fmt = "0.00%" if label == "Margin %" else ("0" if label in ("Customers", "Plan rows") else "#,##0.00")
        for c in ws[ws.max_row][1:]:
            c.number_format = fmt
    ws.column_dimensions["A"].width = 28
    money = {"quantity", "unit_cost", "unit_price", "cost", "price", "margin", "price_impact", "vendor_price",
             "quantity_before", "quantity_now", "unit_price_before", "unit_price_now", "unit_cost_before",
             "unit_cost_now", "price_before", "price_now", "impact", "dollars"}
    _sheet(wb.create_sheet("plan"), review.lines, money)
    _sheet(wb.create_sheet("changes"), review.changes, money)
    _sheet(wb.create_sheet("alerts"), review.alerts, money)
    push = review.push_results
    cols = [c for c in ("key", "result", "reason", "action", "company_name", "agreement_id", "addition_id", "http_status",
                        "cw_message", "run_id", "run_started_at", "operator") if c in push.columns]
    _sheet(wb.create_sheet("push results"), push[cols] if cols else pd.DataFrame(columns=["key", "result"]), money)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(review: rv.MonthReview, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(workbook_bytes(review))
    return path


def _csv_text(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v) or v is pd.NA:
        return ""
    if isinstance(v, Decimal):
        return format(v, "f")
    if isinstance(v, (list, tuple, set)):
        v = "; ".join(str(x) for x in v)
    s = str(v)
    if isinstance(v, str) and s.startswith(_FORMULA_START):
        return "'" + s  # a spreadsheet opening the CSV must not evaluate it
    return s


def csv_bytes(review: rv.MonthReview) -> bytes:
    """The plan lines of the review as CSV (UTF-8, exact decimal text)."""
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(list(review.lines.columns))
    for rec in review.lines.itertuples(index=False, name=None):
        w.writerow([_csv_text(v) for v in rec])
    return buf.getvalue().encode("utf-8")


def write_csv(review: rv.MonthReview, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(csv_bytes(review))
    return path
