"""Month review inputs from the store, and the review as an Excel workbook or CSV (issue 6).

* :func:`load_review` gathers what :func:`billbridge.review.month_review` needs from the store:
  the month's newest plan, the previous month's plan (or its vendor lines), the push results, the
  agreements the month's snapshot shows as already invoiced, and up to six months of history.
* :func:`workbook_bytes` / :func:`write_xlsx`: sheets ``summary``, ``vendors``, ``plan``, ``changes``,
  ``alerts``, ``push results``, and the meeting's (:mod:`billbridge.meeting`, issue 12): ``bridge`` (each
  waterfall's steps, per currency, by cause and by vendor, from last month's billed total to this month's),
  ``meeting`` (each question's dollar figure per currency, its rows, where the page lists them) and
  ``meeting rows`` (the rows behind each question), written for people (Rule 7.1: the summary has one block of rows per
  currency, ``vendors`` one row per vendor and currency, every money cell carries its row's currency
  in its number format, ``€5,440.55``, and every sheet with amounts has a Currency column): headers from :data:`billbridge.model.COLUMN_LABELS`, labels
  instead of codes (actions, causes, flags, alert and change kinds, charge types), whole-number
  ids, quantities without ``.0``, money as numbers in a money format; the header row is frozen
  and filterable and the columns are sized to their text. A text cell that starts like a
  formula (``= + - @``) is stored as text, never evaluated. Totals are the review's exact Decimals.
* :func:`csv_bytes`: the plan sheet as CSV for people (same headers and labels; money as exact
  decimal text in the row's Currency; formula-looking text prefixed with ``'``). The mappings CSV
  (:func:`billbridge.mappings.export_csv`) is the one meant for re-import and keeps its codes.
"""

from __future__ import annotations

import codecs
import csv
import io
from decimal import Decimal
from pathlib import Path
from typing import Any

import pandas as pd

from billbridge import review as rv
from billbridge.bdom import add_months
from billbridge.model import column_label, label, labels

__all__ = ["previous_month", "load_review", "workbook_bytes", "write_xlsx", "csv_bytes", "write_csv", "SHEETS",
           "people_frame"]

SHEETS = ("summary", "vendors", "plan", "changes", "alerts", "push results", "bridge", "meeting", "meeting rows")
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
        return rv.lines_from_vendor(pd.concat([lines.assign(vendor=vendor) for vendor, (_imp, lines) in imports.items()],
                                              ignore_index=True)), "vendor"
    return None


def load_review(store, month: str, *, margin_threshold: Decimal = Decimal("0.20"),
                customer_change_threshold: Decimal = Decimal("0.25"), history_months: int = 6,
                vendor: str | None = None) -> rv.MonthReview | None:
    """The review of ``month`` from what the store holds (None when the month has no plan);
    ``vendor``: narrowed to that vendor (its lines, its previous months, its push results)."""
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
        margin_threshold=margin_threshold, customer_change_threshold=customer_change_threshold, vendor=vendor,
    )


# ------------------------------------------------------------------------------------ values
#: the columns of each sheet for people, in reading order (machine names; headers from model.COLUMN_LABELS)
PLAN_COLUMNS = ("vendor", "customer", "customer_id", "product", "sku", "charge_type", "term", "action", "cause", "flags",
                "agreement_id", "quantity", "unit_cost", "unit_price", "cost", "price", "margin", "not_rebilled",
                "price_impact", "vendor_price", "currency", "bucket", "key")
CHANGE_COLUMNS = ("kind", "vendor", "customer", "customer_id", "product", "sku", "quantity_before", "quantity_now",
                  "unit_price_before", "unit_price_now", "unit_cost_before", "unit_cost_now", "price_before",
                  "price_now", "impact", "currency")
ALERT_COLUMNS = ("kind", "customer", "detail", "dollars", "currency", "what", "agreement_id", "key")
VENDOR_COLUMNS = ("vendor", "currency", "vendor_cost", "billed_price", "margin", "margin_pct", "unbilled_cost",
                  "customers", "lines")
PUSH_COLUMNS = ("key", "result", "reason", "action", "company_name", "agreement_id", "addition_id", "http_status",
                "cw_message", "run_id", "run_started_at", "operator")
#: money columns (a money number format in Excel, two decimals in CSV)
MONEY = frozenset({"unit_cost", "unit_price", "cost", "price", "margin", "not_rebilled", "price_impact", "vendor_price",
                   "unit_price_before", "unit_price_now", "unit_cost_before", "unit_cost_now", "price_before",
                   "price_now", "impact", "dollars", "vendor_cost", "billed_price", "unbilled_cost"})
#: quantities (written without a trailing ".0")
QUANTITIES = frozenset({"quantity", "quantity_before", "quantity_now"})
#: ids (whole numbers, never "2.0")
IDS = frozenset({"agreement_id", "company_id", "addition_id", "run_id", "http_status", "catalog_item_id"})
#: coded columns and the label table that names their values
CODED = {"action": "action", "cause": "cause", "charge_type": "value", "term": "value", "bucket": "value",
         "result": "value"}
MONEY_FORMAT = '"$"#,##0.00;[Red]-"$"#,##0.00'


def money_format(currency: str | None) -> str:
    """The Excel number format of an amount in ``currency``: ``"€"#,##0.00`` for EUR, ``#,##0.00
    "CHF"`` for a currency without a symbol of its own, the currency's decimals (Rule 7.1: a EUR cell
    never reads as dollars)."""
    from billbridge.money import CURRENCY_SYMBOLS, minor_unit

    cur = rv._cur(currency)
    places = minor_unit(cur)
    body = "#,##0" + ("." + "0" * places if places else "")
    symbol = CURRENCY_SYMBOLS.get(cur)
    if symbol:
        return f'"{symbol}"{body};[Red]-"{symbol}"{body}'
    return f'{body} "{cur}";[Red]-{body} "{cur}"'


def _missing(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _human(col: str, v: Any, kind_table: str | None = None) -> Any:
    """The value a person reads in a workbook or CSV cell: labels for codes, whole-number ids,
    quantities without ``.0``, Decimals kept exact (the writer decides the cell type), no None/nan."""
    if isinstance(v, (list, tuple, set, frozenset)):
        return labels(v, "flag") if col == "flags" else "; ".join(str(x) for x in v)
    if _missing(v):
        return None
    if col == "kind" and kind_table:
        return label(v, kind_table)
    if col == "vendor" and isinstance(v, str):
        from billbridge.vendors import vendor_name

        return vendor_name(v)
    if col in CODED:
        return label(v, CODED[col])
    if col in IDS:
        try:
            return int(Decimal(str(v)))
        except ArithmeticError:
            return str(v)
    if col in QUANTITIES or col in MONEY:
        try:
            d = v if isinstance(v, Decimal) else Decimal(str(v))
        except ArithmeticError:
            return str(v)
        if col in QUANTITIES:
            return d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize()
        return d
    if isinstance(v, dict):
        return "; ".join(f"{k}: {x}" for k, x in v.items())
    if hasattr(v, "item"):
        return v.item()
    return v


def people_frame(frame: pd.DataFrame, columns: tuple[str, ...] | None = None, kind_table: str | None = None) -> pd.DataFrame:
    """``frame`` for a person (workbook, CSV, page): the chosen ``columns`` that exist, in order,
    values by :func:`_human`, headers by :func:`billbridge.model.column_label`."""
    cols = [c for c in (columns or tuple(frame.columns)) if c in frame.columns]
    # object columns from the start: ids mixed with blanks must stay whole numbers (never "2.0")
    out = pd.DataFrame({column_label(c): pd.Series([_human(c, v, kind_table) for v in frame[c]], index=frame.index,
                                                   dtype=object) for c in cols},
                       index=frame.index, columns=[column_label(c) for c in cols])
    return out.astype(object)


def _cell(v: Any) -> Any:
    """A value openpyxl can write: Decimal -> float for the cell (the text form is exact to the
    cent), NaN -> None."""
    if _missing(v):
        return None
    if isinstance(v, Decimal):
        return float(v)
    if hasattr(v, "item"):
        return v.item()
    return v


#: the summary sheet's measures, each headed by its one label (:func:`billbridge.model.column_label`, as the
#: pages and the CSV say it)
SUMMARY_MEASURES = tuple((name, column_label(name)) for name in (
    "vendor_cost", "billed_price", "margin", "margin_pct", "unbilled_cost", "customers", "lines"))
_COUNT_MEASURES = {column_label("customers"), column_label("lines")}


def summary_rows(review: rv.MonthReview) -> list[tuple[str, Any, Any, Any, str]]:
    """(measure, this month, previous month, change, currency) rows of the summary sheet: one block
    of :data:`SUMMARY_MEASURES` per currency (a USD and a EUR bill are two blocks, never one total)."""
    out = []
    for cur in review.currencies or [rv.DEFAULT_CURRENCY]:
        t, p = review.totals_for(cur), review.previous_totals_for(cur)
        for name, text in SUMMARY_MEASURES:
            a = getattr(t, name)
            b = getattr(p, name) if p else None
            if name in ("customers", "lines"):
                change = (a - b) if b is not None else None
            else:  # money is compared only on the same basis (see MonthReview.comparable)
                change = review.delta(name, cur)
            out.append((text, a, b, change, cur))
    return out


def _finish(ws, headers: list[str], money_cols: set[int], rows: int) -> None:
    """Bold frozen header row, an autofilter over the table, column widths that fit the text."""
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    for c in ws[1]:
        c.font = Font(bold=True)
    ws.freeze_panes = "A2"
    if headers:
        ws.auto_filter.ref = f"A1:{get_column_letter(len(headers))}{max(1, rows + 1)}"
    for i, h in enumerate(headers, start=1):
        letter = get_column_letter(i)
        longest = max([len(str(h)) + 3] + [len(str(c.value)) for c in ws[letter][1:200] if c.value is not None])
        ws.column_dimensions[letter].width = max(8, min(60, longest + (3 if i in money_cols else 1)))


def _sheet(ws, frame: pd.DataFrame, columns: tuple[str, ...], kind_table: str | None = None) -> None:
    cols = [c for c in columns if c in frame.columns]
    people = people_frame(frame, tuple(cols), kind_table)
    headers = list(people.columns)
    ws.append(headers)
    for rec in people.itertuples(index=False, name=None):
        ws.append([_cell(v) for v in rec])
    money_cols = {i for i, c in enumerate(cols, start=1) if c in MONEY}
    row_currency = list(frame["currency"]) if "currency" in frame.columns else [None] * len(frame)
    for row, cur in zip(ws.iter_rows(min_row=2), row_currency):
        fmt = money_format(cur)
        for i, c in enumerate(row, start=1):
            if isinstance(c.value, str) and c.value.startswith(_FORMULA_START):
                c.data_type = "s"  # never a formula: text typed by a vendor or an operator
            elif i in money_cols and isinstance(c.value, (int, float)):
                c.number_format = fmt
    _finish(ws, headers, money_cols, len(people))


def _where(filters: dict[str, Any]) -> str:
    """Where a section's rows are, in words (the filter the page's link sets)."""
    if filters.get("page") == "timeline":
        return "Timeline page"
    parts = []
    for name, table in (("action", "action"), ("cause", "cause"), ("flag", "flag")):
        if filters.get(name):
            parts.append(f"{name} " + ", ".join(label(v, table) for v in filters[name]))
    return "Reconcile page, " + "; ".join(parts) if parts else "Reconcile page"


def _meeting_sheets(wb, review: rv.MonthReview) -> None:
    """Sheets ``bridge`` (each waterfall's steps, per currency, by cause and by vendor), ``meeting`` (each
    section's figure per currency, how many rows, where to find them) and ``meeting rows``."""
    m = review.meeting
    bridge, money_at = wb.create_sheet("bridge"), 4
    bridge.append(["Currency", "Waterfall", "Step", "Amount"])
    sections = wb.create_sheet("meeting")
    sections.append(["Question", "Figure", "Amount", "Currency", "Rows", "Where"])
    rows = wb.create_sheet("meeting rows")
    rows.append(["Question", "Customer", "Product", "Amount", "Detail", "Vendor", "Currency", "Key"])
    if m is not None:
        for r in m.bridge.to_dict("records"):
            bridge.append([r["currency"], "By cause" if r["kind"] == "cause" else "By vendor", r["label"],
                           _cell(r["amount"])])
            bridge.cell(bridge.max_row, money_at).number_format = money_format(r["currency"])
        for s in m.sections:
            where = "; ".join(_where(f) for _, f in s.links) or "no rows"
            for cur, amount in (s.figures or {rv.DEFAULT_CURRENCY: Decimal(0)}).items():
                n = int((s.rows["currency"] == cur).sum()) if len(s.rows) else 0
                sections.append([s.title, s.figure_words, _cell(amount), cur, n, where])
                sections.cell(sections.max_row, 3).number_format = money_format(cur)
            for r in s.rows.to_dict("records"):
                rows.append([s.title, r["customer"], r["product"], _cell(r["amount"]), r["detail"],
                             _human("vendor", r["vendor"]), r["currency"], r["key"]])
                rows.cell(rows.max_row, 4).number_format = money_format(r["currency"])
    for ws, money_cols in ((bridge, {4}), (sections, {3}), (rows, {4})):
        for row in ws.iter_rows(min_row=2):
            for c in row:
                if isinstance(c.value, str) and c.value.startswith(_FORMULA_START):
                    c.data_type = "s"
        _finish(ws, [c.value for c in ws[1]], money_cols, ws.max_row - 1)


def workbook_bytes(review: rv.MonthReview) -> bytes:
    """The review as an .xlsx (see the module docstring for the sheets): headers a person reads,
    frozen and filterable, money in a money format, labels instead of codes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "summary"
    title = f"Billing month {review.month}" + (f" · {review.vendor}" if review.vendor else "")
    headers = [title, "This month", f"Previous ({review.previous_month or 'none'})", "Change", "Currency"]
    ws.append(headers)
    for text, a, b, d, cur in summary_rows(review):
        ws.append([text, _cell(a), _cell(b), _cell(d), cur])
        fmt = "0.00%" if text == column_label("margin_pct") else ("0" if text in _COUNT_MEASURES else money_format(cur))
        for c in ws[ws.max_row][1:4]:
            c.number_format = fmt
    _finish(ws, headers, {2, 3, 4}, 0)
    ws.auto_filter.ref = None
    ws.column_dimensions["A"].width = 30
    _sheet(wb.create_sheet("vendors"), review.vendors, VENDOR_COLUMNS)
    for row in wb["vendors"].iter_rows(min_row=2):
        row[VENDOR_COLUMNS.index("margin_pct")].number_format = "0.00%"
    _sheet(wb.create_sheet("plan"), review.lines, PLAN_COLUMNS)
    _sheet(wb.create_sheet("changes"), review.changes, CHANGE_COLUMNS, "change")
    _sheet(wb.create_sheet("alerts"), review.alerts, ALERT_COLUMNS, "alert")
    push = review.push_results
    _sheet(wb.create_sheet("push results"), push if len(push.columns) else pd.DataFrame(columns=["key", "result"]),
           PUSH_COLUMNS)
    _meeting_sheets(wb, review)
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()


def write_xlsx(review: rv.MonthReview, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(workbook_bytes(review))
    return path


def _csv_text(col: str, v: Any) -> str:
    if _missing(v):
        return ""
    if isinstance(v, Decimal):
        return format(v.quantize(Decimal("0.01")) if col in MONEY and v == v.quantize(Decimal("0.01")) else v, "f")
    s = str(v)
    if isinstance(v, str) and s.startswith(_FORMULA_START):
        return "'" + s  # a spreadsheet opening the CSV must not evaluate it
    return s


def csv_bytes(review: rv.MonthReview) -> bytes:
    """The plan lines of the review as CSV for people (UTF-8 with BOM for Excel): the workbook's
    plan sheet, same headers and labels, money as exact decimal text (``1234.50``)."""
    people = people_frame(review.lines, PLAN_COLUMNS)
    cols = [c for c in PLAN_COLUMNS if c in review.lines.columns]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(list(people.columns))
    for rec in people.itertuples(index=False, name=None):
        w.writerow([_csv_text(c, v) for c, v in zip(cols, rec)])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


def write_csv(review: rv.MonthReview, path: str | Path) -> Path:
    path = Path(path)
    path.write_bytes(csv_bytes(review))
    return path
