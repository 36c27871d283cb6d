"""Frames as a person reads them on a page: headers in words, labels for codes, money as money,
whole-number ids, quantities without ``.0``, and never a "None", "nan" or Python list in a cell.

``st.dataframe`` shows a missing value as a grey "None"; :func:`display_frame` turns every cell
into what a person reads (text for money and missing values; counts and ticks stay numbers and
checkboxes). The labels come from :mod:`billbridge.model` (the same table the workbook and the
review CSV use, through :func:`billbridge.export.people_frame`).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pandas as pd

from billbridge import export
from billbridge.model import column_label

__all__ = ["display_frame", "blank_text", "qty_text", "cell_text"]

#: money columns beyond the review's (export.MONEY)
MONEY = export.MONEY | {"total_cost", "total_price", "bill_amount", "vendor_amount", "vendor_unit_cost",
                        "vendor_unit_price", "cw_unit_price", "cw_unit_cost", "new_unit_price", "new_unit_cost",
                        "margin_impact", "extended_cost", "extended_price", "at_stake"}


def qty_text(v: Any) -> str:
    """``14`` / ``2.5`` for a quantity (Decimal, float or text); '' when missing."""
    if v is None or v == "" or (isinstance(v, float) and v != v) or v is pd.NA:
        return ""
    try:
        d = Decimal(str(v))
    except ArithmeticError:
        return str(v)
    return format(d.quantize(Decimal(1)) if d == d.to_integral_value() else d.normalize(), "f")


def cell_text(col: str, v: Any, money: frozenset[str] | set[str] = frozenset(), currency: Any = "USD") -> Any:
    """One cell as a person reads it (see the module docstring); money in ``currency``."""
    from billbridge_ui import money as fmt_money

    if v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v):
        return ""
    if isinstance(v, bool):
        return v
    if col in money:
        try:
            return fmt_money(v, currency)
        except ArithmeticError:
            return str(v)
    if isinstance(v, Decimal):
        return qty_text(v)
    if isinstance(v, float):
        return qty_text(v)
    if isinstance(v, datetime):
        return v.strftime("%Y-%m-%d %H:%M")
    if isinstance(v, date):
        return v.isoformat()
    if hasattr(v, "item"):  # numpy scalars
        return cell_text(col, v.item(), money, currency)
    if isinstance(v, str) and v in ("nan", "NaN", "None", "<NA>"):
        return ""
    return v


def display_frame(frame: pd.DataFrame, columns: Iterable[str] | None = None, *, kind: str | None = None,
                  money: Iterable[str] = (), rename: dict[str, str] | None = None, index: str | None = None) -> pd.DataFrame:
    """``frame`` ready for ``st.dataframe``: the chosen ``columns`` (in order; all by default),
    labels for coded columns (``kind`` names the label table of a ``kind`` column: "alert",
    "change"), ``money`` columns (plus the usual ones) as ``$1,234.50`` / ``€5,440.55`` in the
    row's ``currency`` (the frame's ``currency`` column, shown or not; USD without one), headers from
    :data:`billbridge.model.COLUMN_LABELS` unless ``rename`` says otherwise; ``index``: a
    column whose values become the index (kept as it is, e.g. for selection)."""
    cols = [c for c in (list(columns) if columns is not None else list(frame.columns)) if c in frame.columns]
    money_cols = MONEY | set(money)
    people = export.people_frame(frame, tuple(cols), kind)
    names = rename or {}
    cur = list(frame["currency"]) if "currency" in frame.columns else ["USD"] * len(frame)
    out = pd.DataFrame({names.get(c, column_label(c)): _one_type([cell_text(c, v, money_cols, k)
                                                                  for v, k in zip(people[column_label(c)], cur)])
                        for c in cols}, columns=[names.get(c, column_label(c)) for c in cols])
    if index is not None:
        out.index = list(frame[index])
    return out


def _one_type(values: list[Any]) -> list[Any]:
    """A column of numbers with blanks ('') as text throughout (an id column of a blocked row has no
    agreement): a column mixing the two cannot be sent to the browser as it is."""
    kinds = {type(v) for v in values if not isinstance(v, bool)}
    if str in kinds and len(kinds) > 1:
        return ["" if v == "" else str(v) for v in values]
    return values


#: coded columns of page frames beyond the review's (export.CODED)
_CODED = {"change": "value", "kind": "value", "sync_mode": "value", "period_rule": "value", "rule": "value"}


def blank_text(frame: pd.DataFrame, keep: Iterable[str] = (), money: Iterable[str] = ()) -> pd.DataFrame:
    """``frame`` with the same columns and index, every cell as a person reads it (for a data
    editor, whose column names the page's save code reads): labels for codes, money as money,
    '' for missing values. Columns in ``keep`` are left as they are, except that missing becomes ''."""
    from billbridge.model import label

    keep, money_cols = set(keep), MONEY | set(money)
    out = frame.copy().astype(object)
    cur = list(frame["currency"]) if "currency" in frame.columns else ["USD"] * len(frame)
    for c in out.columns:
        if c in keep:
            out[c] = [cell_text(c, v) if v is None or (isinstance(v, float) and v != v) else v for v in frame[c]]
        elif c in _CODED or c in export.CODED:
            out[c] = [label(v, _CODED.get(c) or export.CODED[c]) for v in frame[c]]
        else:
            out[c] = [export._human(c, v) for v in frame[c]]
            out[c] = [cell_text(c, v, money_cols, k) for v, k in zip(out[c], cur)]
    return out
