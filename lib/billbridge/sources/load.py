"""Load a vendor billing month into the store: validate, then all-or-nothing, versioned."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from billbridge import store as st
from billbridge.errors import InputError
from billbridge.money import format_amounts, format_money
from billbridge.sources.formats import PRESETS, ColumnMapping
from billbridge.sources.parse import ParseResult, Problem, parse_file, resolve_format
from billbridge.store import Store, diff_imports, latest_import, record_import

__all__ = ["LoadResult", "load_month", "format_for", "cost_by_currency"]


@dataclass
class LoadResult:
    """Outcome of :func:`load_month`.

    ``status``: ``"loaded"`` (new import or new version stored), ``"unchanged"`` (identical file
    already loaded: nothing stored), ``"invalid"`` (problems: nothing stored), ``"duplicate"`` (the
    same file is already loaded for the month under another vendor: nothing stored; ``duplicate_of``
    is that import).
    ``import_id``/``version``: the stored import (the existing one when unchanged).
    ``previous_id`` and ``diff`` (added / removed / quantity_changed frames) when a new version
    replaced an older one. ``excluded``: file rows left out because they bill in another month.
    """

    status: str
    message: str
    parse: ParseResult
    vendor: str
    billing_month: str
    import_id: int | None = None
    version: int | None = None
    previous_id: int | None = None
    diff: dict[str, pd.DataFrame] | None = None
    excluded: list[int] = field(default_factory=list)
    duplicate_of: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("loaded", "unchanged")

    @property
    def problems(self) -> list[Problem]:
        return self.parse.problems

    def summary(self) -> dict[str, Any]:
        """A JSON-friendly summary (for ``--json`` and logs)."""
        p = self.parse
        return {
            "status": self.status, "message": self.message, "vendor": self.vendor,
            "billing_month": self.billing_month, "import_id": self.import_id, "version": self.version,
            "file_name": p.file_name, "format": p.format, "sha256": p.sha256,
            "line_count": p.line_count - len(self.excluded), "customer_count": p.customer_count,
            "total_cost": str(p.total_cost), "total_price": str(p.total_price),
            "problem_count": len(p.problems), "warnings": list(p.warnings), "blank_rows": p.blank_rows,
            "duplicate_of": None if self.duplicate_of is None else {
                k: self.duplicate_of.get(k) for k in ("id", "vendor", "version", "file_name", "loaded_at", "loaded_by")},
            "out_of_month_rows": [int(r) for r in p.out_of_month["line_no"]] if p.line_count else [],
            "excluded_rows": self.excluded,
            "diff": None if self.diff is None else {k: int(len(v)) for k, v in self.diff.items()},
        }


def format_for(store: Store | None, fmt: str | ColumnMapping | dict, vendor: str | None) -> ColumnMapping:
    """Resolve ``fmt``: a mapping, a built-in name, or a format saved for ``vendor`` in the store
    (a saved format of the same name wins over a built-in)."""
    if isinstance(fmt, (ColumnMapping, dict)):
        return resolve_format(fmt)
    if store is not None and vendor:
        saved = st.get_format(store, vendor, fmt)
        if saved is not None:
            return resolve_format(fmt, saved)
    if fmt in PRESETS:
        return PRESETS[fmt]
    saved_for = f" or a format saved for vendor {vendor}" if vendor else " (or a saved format: name its --vendor)"
    raise InputError(f"unknown format {fmt!r}: use one of {', '.join(PRESETS)}{saved_for}", column="format",
                     reason="unknown format")


def load_month(
    store: Store,
    billing_month: str,
    data: bytes,
    file_name: str,
    fmt: str | ColumnMapping | dict = "generic",
    vendor: str | None = None,
    exclude_out_of_month: bool = False,
    loaded_by: str | None = None,
) -> LoadResult:
    """Parse, validate and store one vendor file as the ``billing_month`` import of ``vendor``.

    * Any problem: nothing is stored (``status="invalid"``; ``result.problems`` lists them all).
    * The same bytes as the latest import for this vendor and month: no-op (``"unchanged"``).
    * Otherwise a new version is stored in one transaction (older versions are kept) and ``diff``
      says what changed against the previous version.
    * Lines that bill in another month are listed in ``parse.out_of_month``; they are stored unless
      ``exclude_out_of_month`` (the operator's say).

    ``vendor`` defaults to the format's name (``generic`` for the generic format).
    """
    mapping = format_for(store, fmt, vendor)
    vendor = vendor or mapping.name
    parsed = data if isinstance(data, ParseResult) else parse_file(data, file_name, mapping, billing_month)
    base = dict(parse=parsed, vendor=vendor, billing_month=billing_month)
    if not parsed.ok:
        n = len(parsed.problems)
        return LoadResult("invalid", f"{n} problem{'s' if n != 1 else ''} found; nothing was stored.", **base)
    previous = latest_import(store, vendor, billing_month)
    if previous is not None and previous["sha256"] == parsed.sha256:
        return LoadResult(
            "unchanged",
            f"{file_name} is identical to version {previous['version']} already loaded for {vendor} {billing_month}; nothing changed.",
            import_id=previous["id"], version=previous["version"], **base,
        )
    twin, same = _same_bill_elsewhere(store, billing_month, vendor, parsed)
    if twin is not None:
        return LoadResult(
            "duplicate",
            f"Nothing was stored: {file_name} {same} already loaded for {billing_month} as vendor "
            f"{twin['vendor']} (version {twin['version']}, {twin['file_name']}, loaded {_when(twin)}). Loading it "
            "again under another vendor name would count the month twice. Load it under that vendor to make a new "
            "version, or load the other vendor's own file.",
            duplicate_of=twin, **base,
        )
    lines = parsed.table  # Arrow, straight to the store: no pandas frame on the way
    excluded: list[int] = []
    total_cost, total_price = parsed.total_cost, parsed.total_price
    customer_count = parsed.customer_count
    if exclude_out_of_month and pc.any(lines["out_of_month"]).as_py():
        excluded = lines.filter(lines["out_of_month"])["line_no"].to_pylist()
        lines = lines.filter(pc.invert(lines["out_of_month"]))
        total_cost = _sum(lines["extended_cost"])
        total_price = _sum(lines["extended_price"])
        customer_count = int(pc.count_distinct(pc.cast(lines["vendor_customer_id"], pa.string())).as_py())
    rec = record_import(
        store, vendor=vendor, billing_month=billing_month, file_name=file_name, sha256=parsed.sha256,
        format=mapping.name, lines=lines, total_cost=total_cost, total_price=total_price,
        customer_count=customer_count, loaded_by=loaded_by,
    )
    diff = diff_imports(store, previous["id"], rec["id"]) if previous is not None else None
    what = f"version {rec['version']}" if previous is not None else "version 1"
    n, k = rec["line_count"], rec["customer_count"]
    msg = (f"Loaded {n} line{'s' if n != 1 else ''} for {k} customer{'s' if k != 1 else ''} ({what}, import "
           f"{rec['id']}); "
           f"vendor cost {format_amounts(cost_by_currency(lines), empty=format_money(total_cost))}.")
    if excluded:
        msg += f" {len(excluded)} out-of-month lines left out."
    if parsed.blank_rows:
        msg += f" {parsed.blank_note.capitalize()}."
    return LoadResult("loaded", msg, import_id=rec["id"], version=rec["version"],
                      previous_id=None if previous is None else previous["id"], diff=diff, excluded=excluded, **base)


#: what makes two bills "the same content": every line's customer, subscription, SKU, charge type, quantity,
#: unit cost and price, period and currency (names, blank rows, number spelling and line order aside)
_CONTENT_COLUMNS = ("vendor_customer_id", "subscription_id", "sku", "charge_type", "quantity", "unit_cost",
                    "unit_price", "period_start", "period_end", "currency")
_CONTENT_NUMBERS = frozenset({"quantity", "unit_cost", "unit_price"})


def _content(table: pa.Table) -> list[tuple[str, ...]]:
    """The bill's lines as sorted tuples of :data:`_CONTENT_COLUMNS` (numbers normalised: 18, 18.0 and 18.00
    are one value; a missing currency is USD), to compare two bills whatever their bytes."""
    columns = []
    for name in _CONTENT_COLUMNS:
        values = (pc.cast(table[name], pa.string()).to_pylist() if name in table.column_names
                  else [None] * table.num_rows)
        if name in _CONTENT_NUMBERS:
            values = [_number(v) for v in values]
        elif name == "currency":
            values = [(v or "USD").strip().upper() for v in values]
        else:
            values = ["" if v is None else str(v).strip() for v in values]
        columns.append(values)
    return sorted(zip(*columns))


def _number(v: str | None) -> str:
    if v is None or not str(v).strip():
        return ""
    try:
        return format(Decimal(str(v).strip()).normalize(), "f")
    except ArithmeticError:
        return str(v).strip()


def _same_bill_elsewhere(store: Store, billing_month: str, vendor: str, parsed: ParseResult
                         ) -> tuple[dict[str, Any] | None, str]:
    """The import of another vendor in effect for the month (its newest version not withdrawn, the one that
    counts) holding this bill: the same bytes, or the same lines (:func:`_content`: a re-saved copy, one with
    a blank row more), and the words saying which; ``(None, "")`` when there is none."""
    others = [imp for imp in st.month_imports(store, billing_month) if imp["vendor"] != vendor]
    for imp in others:
        if imp["sha256"] == parsed.sha256:
            return imp, "is the same file"
    mine = None
    for imp in others:
        if int(imp.get("line_count") or 0) != parsed.table.num_rows:
            continue
        mine = mine if mine is not None else _content(parsed.table)
        if _content(st.import_line_table(store, imp["id"])) == mine:
            return imp, "holds the same lines as the bill"
    return None, ""


def _when(imp: dict[str, Any]) -> str:
    at = str(imp.get("loaded_at") or "")[:16].replace("T", " ")
    return f"{at} UTC" + (f" by {imp['loaded_by']}" if imp.get("loaded_by") else "")


def cost_by_currency(lines: pa.Table, column: str = "extended_cost") -> dict[str, Decimal]:
    """The lines' vendor cost (or another extended ``column``) per currency (exact; Rule 7.1: a
    message never adds two currencies)."""
    if lines is None or lines.num_rows == 0 or column not in lines.column_names:
        return {}
    cur = pc.cast(lines["currency"], pa.string()) if "currency" in lines.column_names else \
        pa.array(["USD"] * lines.num_rows, type=pa.string())
    grouped = pa.table({"c": pc.fill_null(cur, "USD"), "x": pc.cast(lines[column], pa.string())}) \
        .group_by(["c", "x"]).aggregate([("x", "count")])
    out: dict[str, Decimal] = {}
    for c, x, n in zip(grouped["c"].to_pylist(), grouped["x"].to_pylist(), grouped["x_count"].to_pylist()):
        if x is not None:
            out[c] = out.get(c, Decimal("0.00")) + Decimal(x) * int(n)
    return dict(sorted(out.items()))


def _sum(col: pa.ChunkedArray) -> Decimal:
    """Exact sum of decimal texts (each distinct amount converted once)."""
    counts = pc.value_counts(pc.cast(col, pa.string()))
    return sum((Decimal(v) * int(k) for v, k in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist())
                if v is not None), Decimal("0.00"))
