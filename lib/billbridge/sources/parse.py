"""Read and validate a vendor file into canonical vendor lines (pure: bytes in, frames out).

:func:`parse_file` reads CSV (``,`` ``;`` tab, sniffed; UTF-8 with or without BOM, else cp1252;
CRLF; quoted fields with commas and newlines) or XLSX, maps the columns through a
:class:`~billbridge.sources.formats.ColumnMapping`, and validates every line **vectorised** (pandas
/ pyarrow column operations; Python runs per *problem*, never per good row). It reports **every**
problem with the row as the operator sees it (header = row 1) and the file's column name.

Implementation: pyarrow's C CSV reader and :mod:`pyarrow.compute` kernels (regex validation,
exact ``decimal128`` arithmetic for ``quantity x unit`` rounded half away from zero once per line,
``strptime`` plus a day-of-month check that rejects 2026-02-30 which arrow would roll over).

Cells are never evaluated: ``=SUM(A1)``, ``+1``, ``@x`` stay text (a formula-looking cell in a number
column is "not a number"); ``-5`` in a quantity column is the number -5.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
from dataclasses import dataclass, field
from decimal import Decimal
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from billbridge.bdom import parse_billing_month
from billbridge.money import MINOR_UNITS
from billbridge.sources.formats import (
    CANONICAL_COLUMNS,
    CHARGE_TYPES,
    PERIOD_RANGE,
    PRESETS,
    REQUIRED_COLUMNS,
    SYNONYMS,
    ColumnMapping,
)
from billbridge.store import LINE_COLUMNS

__all__ = ["Problem", "ParseResult", "parse_file", "problems_csv", "resolve_format", "DUPLICATE_KEY"]

#: lines with equal values here are duplicates (a credit is not a duplicate of the charge it refunds)
DUPLICATE_KEY = ("vendor_customer_id", "subscription_id", "sku", "charge_type", "period_start", "period_end")
_DATE_FIELDS = ("customer_created", "period_start", "period_end", "effective_date")
_MONEY_FIELDS = ("unit_cost", "unit_price")
_TEXT_FIELDS = ("vendor_customer_id", "vendor_customer_name", "subscription_id", "sku", "product_name")


@dataclass(frozen=True)
class Problem:
    """One input error: ``row`` in the file (header = 1; None = the whole file), ``column`` as
    named in the file's header, a plain ``reason`` and the offending ``value``."""

    row: int | None
    column: str | None
    reason: str
    value: str | None = None

    def __str__(self) -> str:
        where = f"row {self.row}" if self.row else "file"
        col = f", column {self.column!r}" if self.column else ""
        return f"{where}{col}: {self.reason}"


@dataclass
class ParseResult:
    """What :func:`parse_file` found.

    * ``lines``: canonical text columns (``line_no`` = file row, :data:`~billbridge.store.LINE_COLUMNS`
      with dates ISO and money as exact decimal strings, missing (NA) when empty) plus
      ``landing_month`` (the billing month the line bills in: period start for advance charges,
      the day after the period end for usage and credits, else the effective date) and
      ``out_of_month``. Empty when the structure is unusable (missing columns, empty file).
    * ``rows`` (lazy): the same with parsed types: Decimal money/quantity, ``datetime.date`` dates.
    * ``problems``: every problem (any problem = nothing may be stored); ``warnings``: unknown
      columns and other notes; ``out_of_month``: lines billed in another month (listed, not errors).
    """

    file_name: str
    format: str
    billing_month: str
    sha256: str
    encoding: str | None = None
    delimiter: str | None = None
    lines: pd.DataFrame = field(default_factory=pd.DataFrame)
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total_cost: Decimal = Decimal("0.00")
    total_price: Decimal = Decimal("0.00")
    columns: dict[str, str] = field(default_factory=dict)  # canonical field -> file column

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def line_count(self) -> int:
        return int(len(self.lines))

    @property
    def customer_count(self) -> int:
        return int(self.lines["vendor_customer_id"].nunique()) if len(self.lines) else 0

    @property
    def out_of_month(self) -> pd.DataFrame:
        if not len(self.lines):
            return self.lines
        return self.lines[self.lines["out_of_month"]]

    @cached_property
    def rows(self) -> pd.DataFrame:
        return typed_lines(self.lines)

    def problems_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.problems], columns=["row", "column", "reason", "value"])


def typed_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Canonical text lines -> Decimal money/quantity and ``datetime.date`` dates (for preview)."""
    df = lines.copy()
    for c in ("quantity", "unit_cost", "unit_price", "extended_cost", "extended_price"):
        if c in df:
            df[c] = df[c].map(lambda v: None if v is None or v != v else Decimal(v)).astype(object)
    for c in _DATE_FIELDS:
        if c in df:
            df[c] = pd.to_datetime(df[c], format="%Y-%m-%d", errors="coerce").dt.date.astype(object)
            df[c] = df[c].where(lines[c].notna(), None)
    return df


def problems_csv(problems: list[Problem]) -> bytes:
    """All problems as a CSV download (UTF-8 with BOM for Excel). Values that look like formulas are
    prefixed with ``'`` so a spreadsheet shows them instead of evaluating them."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(["row", "column", "reason", "value"])
    for p in problems:
        w.writerow([p.row if p.row is not None else "", _safe(p.column), _safe(p.reason), _safe(p.value)])
    return codecs.BOM_UTF8 + buf.getvalue().encode("utf-8")


def _safe(v: object) -> str:
    s = "" if v is None else str(v)
    return "'" + s if s[:1] in ("=", "+", "-", "@", "\t", "\r") else s


def resolve_format(fmt: str | ColumnMapping | dict, saved: dict | None = None) -> ColumnMapping:
    """A ColumnMapping from a preset name, a mapping, a dict, or ``saved`` (a stored mapping dict)."""
    if isinstance(fmt, ColumnMapping):
        return fmt
    if isinstance(fmt, dict):
        return ColumnMapping.from_dict(fmt)
    if saved is not None:
        return ColumnMapping.from_dict(saved)
    if fmt in PRESETS:
        return PRESETS[fmt]
    raise ValueError(f"unknown format {fmt!r}; built-in formats: {', '.join(PRESETS)}")


# ------------------------------------------------------------------------------------- reading
def _is_xlsx(data: bytes, file_name: str) -> bool:
    return data[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm"))


def _decode(data: bytes) -> tuple[bytes, str, str]:
    """(utf-8 bytes without BOM, text, encoding name)."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[3:]
        return body, body.decode("utf-8", errors="replace"), "utf-8-sig"
    try:
        return data, data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        text = data.decode("cp1252", errors="replace")
        return text.encode("utf-8"), text, "cp1252"


def _sniff(text: str) -> str:
    line = text[: text.find("\n")] if "\n" in text else text
    counts = {d: line.count(d) for d in (",", ";", "\t", "|")}
    best = max(counts, key=lambda d: (counts[d], d == ","))
    return best if counts[best] else ","


def _header(text: str, delimiter: str) -> list[str]:
    reader = csv.reader(io.StringIO(text[:1_000_000]), delimiter=delimiter)
    for row in reader:
        return [h.replace("\ufeff", "").strip() for h in row]
    return []


def _names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def _read_csv_fast(body: bytes, ncols: int, delimiter: str) -> pa.Table | None:
    """All cells as strings via pyarrow's multi-threaded C reader; None when it refuses (ragged rows)."""
    names = _names(ncols)
    try:
        return pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None


def _table(rows: list[list[str]], ncols: int) -> pa.Table:
    cols = list(zip(*rows)) if rows else [()] * ncols
    return pa.table({n: pa.array(list(c), type=pa.string()) for n, c in zip(_names(ncols), cols)})


def _read_csv_slow(text: str, ncols: int, delimiter: str) -> tuple[pa.Table, list[Problem], list[int]]:
    """csv-module reader for files the fast path refuses: reports ragged rows, skips blank ones."""
    problems: list[Problem] = []
    rows, numbers = [], []
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader, None)
    for i, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != ncols:
            problems.append(Problem(i, None, f"row has {len(rec)} values, the header has {ncols}"))
            rec = (rec + [""] * ncols)[:ncols]
        rows.append(rec)
        numbers.append(i)
    return _table(rows, ncols), problems, numbers


def _read(data: bytes, file_name: str, fmt: ColumnMapping):
    """-> (header, cells table c0.., row numbers, encoding, delimiter, problems)."""
    empty_numbers = np.array([], dtype=np.int64)
    if _is_xlsx(data, file_name):
        raw = pd.read_excel(io.BytesIO(data), dtype=str, header=None, keep_default_na=False, engine="openpyxl")
        if raw.empty:
            return [], _table([], 0), empty_numbers, "xlsx", None, []
        values = raw.astype(str).to_numpy().tolist()
        header = [str(h).strip() for h in values[0]]
        rows, numbers = [], []
        for i, rec in enumerate(values[1:], start=2):
            if all(not str(c).strip() for c in rec):
                continue
            rows.append([str(c) for c in rec])
            numbers.append(i)
        return header, _table(rows, len(header)), np.asarray(numbers, dtype=np.int64), "xlsx", None, []
    body, text, encoding = _decode(data)
    if not re.search(r"\S", text):
        return [], _table([], 0), empty_numbers, encoding, None, []
    delimiter = fmt.delimiter or _sniff(text)
    header = _header(text, delimiter)
    cells = _read_csv_fast(body, len(header), delimiter) if re.search(r"\n\s*\S", text) else None
    problems: list[Problem] = []
    if cells is not None:
        numbers = np.arange(2, cells.num_rows + 2, dtype=np.int64)
    else:
        cells, problems, nums = _read_csv_slow(text, len(header), delimiter)
        numbers = np.asarray(nums, dtype=np.int64)
    return header, cells, numbers, encoding, delimiter, problems


def file_columns(data: bytes, file_name: str) -> list[str]:
    """The column headers of a vendor file as written in it (for mapping a custom layout).

    Raises ``ValueError`` with a plain reason when the file is empty or has no header row.
    """
    if _is_xlsx(data, file_name):
        raw = pd.read_excel(io.BytesIO(data), dtype=str, header=None, keep_default_na=False, engine="openpyxl", nrows=1)
        header = [str(h).strip() for h in raw.iloc[0]] if len(raw) else []
    else:
        _, text, _ = _decode(data)
        header = _header(text, _sniff(text)) if text.strip() else []
    header = [h for h in header if h]
    if not header:
        raise ValueError("the file is empty or has no header row")
    return header


# ---------------------------------------------------------------------------------- validation
_NUM_POINT = r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$|^[-+]?\.\d+$"
_NUM_COMMA = r"^[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?$|^[-+]?,\d+$"
_ISO = r"^\d{4}-\d{2}-\d{2}$"
_ISO_SHAPE = r"^\d{4}-\d{1,2}-\d{1,2}$"
_LOCAL_SHAPE = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$"
#: decimals kept exactly: quantities up to 6, unit amounts up to 8
_Q_SCALE, _M_SCALE = 6, 8
#: decimal128: quantities below 10^10, unit amounts below 10^12 (product precision 37 <= 38)
_Q_WHOLE, _M_WHOLE = 10, 12
_Q_TYPE, _M_TYPE = pa.decimal128(16, _Q_SCALE), pa.decimal128(20, _M_SCALE)


def _np(a) -> np.ndarray:
    """Boolean arrow array -> numpy bool (nulls = False)."""
    return pc.fill_null(a, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _number(a: pa.ChunkedArray, decimal_comma: bool, money: bool) -> tuple[pa.ChunkedArray, np.ndarray, np.ndarray]:
    """Text -> (canonical decimal text ``-1234.50``, bad mask, too-many-decimals mask), vectorised."""
    limit = _M_SCALE if money else _Q_SCALE
    whole = _M_WHOLE if money else _Q_WHOLE
    plain = pc.match_substring_regex(a, r"^-?\d{1,%d}(?:\.\d{1,%d})?$" % (whole, limit))
    if pc.all(plain).as_py():  # fast path: already canonical (1234.50, -5)
        return a, np.zeros(len(a), dtype=bool), np.zeros(len(a), dtype=bool)
    t = pc.replace_substring_regex(a, r"[\s\x{00a0}$€£]" if money else r"[\s\x{00a0}]", "")
    t = pc.replace_substring_regex(t, r"^\((.*)\)$", r"-\1")  # accounting negative
    ok = _np(pc.match_substring_regex(t, _NUM_COMMA if decimal_comma else _NUM_POINT))
    if decimal_comma:
        t = pc.replace_substring(pc.replace_substring(t, ".", ""), ",", ".")
    else:
        t = pc.replace_substring(t, ",", "")
    t = pc.replace_substring_regex(t, r"^\+", "")
    t = pc.replace_substring_regex(t, r"^--", "")
    t = pc.replace_substring_regex(t, r"^(-?)\.", r"\10.")  # RE2: group 1, then "0."
    t = pc.replace_substring_regex(t, r"\.$", "")
    long = _np(pc.or_(pc.match_substring_regex(t, r"\.\d{%d,}$" % (limit + 1)),
                      pc.match_substring_regex(t, r"^-?\d{%d,}" % (whole + 1)))) & ok
    return t, ~ok, long


def _decimal(t: pa.ChunkedArray, valid: np.ndarray, typ: pa.DataType) -> pa.ChunkedArray:
    masked = pc.if_else(pa.array(valid), t, pa.scalar(None, pa.string()))
    return pc.cast(masked, typ)


def parse_file(
    data: bytes,
    file_name: str,
    fmt: str | ColumnMapping | dict = "generic",
    billing_month: str = "",
) -> ParseResult:
    """Read and validate one vendor file for ``billing_month`` (``YYYY-MM``). Pure; stores nothing.

    ``fmt`` is a built-in format name (``generic``, ``intermedia``, ``interworks``, ``phin``), a
    :class:`ColumnMapping` or its dict. Returns a :class:`ParseResult` listing every problem.
    """
    by, bm = parse_billing_month(billing_month)
    mapping = resolve_format(fmt)
    result = ParseResult(file_name=file_name, format=mapping.name, billing_month=billing_month,
                         sha256=hashlib.sha256(data).hexdigest())
    header, cells, numbers, result.encoding, result.delimiter, problems = _read(data, file_name, mapping)
    result.problems.extend(problems)
    if not header or all(not h for h in header):
        result.problems.append(Problem(None, None, "the file is empty"))
        return result

    # ---- columns
    src: dict[str, int] = {}  # canonical field -> column index
    for i, h in enumerate(header):
        f = mapping.field_for(h)
        if f is None:
            if not any(h.strip().lower() == ig.strip().lower() for ig in mapping.ignore):
                result.warnings.append(f"unknown column {h!r} ignored" if h else f"column {i + 1} has no header and is ignored")
            continue
        if f == "":
            continue
        if f in src:
            result.problems.append(Problem(1, h, f"column {h!r} and column {header[src[f]]!r} both map to {f}"))
            continue
        src[f] = i
    result.columns = {f: header[i] for f, i in src.items()}
    available = set(src) | set(mapping.constants) | {k for k, v in mapping.derive.items() if v in src or v in mapping.constants}
    if PERIOD_RANGE in src:
        available |= {"period_start", "period_end"}
    missing = [f for f in REQUIRED_COLUMNS if f not in available]
    for f in missing:
        col = mapping.column_for(f)
        result.problems.append(Problem(1, col, f"missing required column {col!r}" + (f" ({f})" if col != f else "")))
    if missing:
        return result
    n = cells.num_rows
    if not n:
        result.problems.append(Problem(None, None, "the file has a header but no lines"))
        return result

    col_name = dict(result.columns)
    blank_col = pa.chunked_array([pa.array([""] * n, type=pa.string())])
    cache: dict[str, pa.ChunkedArray] = {}

    def raw(f: str) -> pa.ChunkedArray:
        if f not in cache:
            if f in src:
                col = cells.column(src[f])
                # trim only when needed: an untouched column is not copied
                trimmed = pc.utf8_trim_whitespace(col)
                cache[f] = trimmed if trimmed.nbytes != col.nbytes else col
            elif f in mapping.constants:
                cache[f] = pa.chunked_array([pa.array([mapping.constants[f]] * n, type=pa.string())])
            elif f in mapping.derive:
                col_name.setdefault(f, col_name.get(mapping.derive[f], f))
                cache[f] = raw(mapping.derive[f])
            else:
                cache[f] = blank_col
        return cache[f]

    def is_blank(a) -> np.ndarray:
        return _np(pc.equal(a, ""))

    bad_rows: list[tuple[np.ndarray, str, str, object]] = []  # (mask, field, reason, values)

    def flag(mask: np.ndarray, f: str, reason: str, values=None) -> None:
        if mask.any():
            bad_rows.append((mask, f, reason, values))

    out: dict[str, pa.ChunkedArray] = {}
    for f in _TEXT_FIELDS:
        out[f] = raw(f)
    for f in REQUIRED_COLUMNS:
        if f in _TEXT_FIELDS:
            flag(is_blank(out[f]), f, "required value is empty")

    # ---- enumerations
    def enum(f: str, allowed: tuple[str, ...], default) -> tuple[pa.ChunkedArray, np.ndarray]:
        t = raw(f)
        vm = {**SYNONYMS.get(f, {}), **{k.lower(): v for k, v in mapping.value_maps.get(f, {}).items()}}
        vm.update({a: a for a in allowed})
        keys = list(vm)
        idx = pc.index_in(pc.utf8_lower(t), value_set=pa.array(keys, type=pa.string()))
        mapped = pc.take(pa.array([vm[k] for k in keys], type=pa.string()), idx)
        blank = is_blank(t)
        unknown = _np(pc.is_null(mapped)) & ~blank
        flag(unknown, f, f"unknown {f.replace('_', ' ')} (expected {', '.join(allowed)})", t)
        res = pc.if_else(pa.array(blank), default, mapped)
        res = pc.if_else(pa.array(unknown), t, res)
        return res, unknown

    charge, _ = enum("charge_type", CHARGE_TYPES, pa.scalar("recurring"))
    out["charge_type"] = charge
    out["billing_frequency"], _ = enum("billing_frequency", ("monthly", "annual"), pa.scalar("monthly"))
    usage_like = _np(pc.is_in(charge, value_set=pa.array(["usage", "one_time"])))
    term_default = pc.if_else(pa.array(usage_like), "none", "monthly")
    out["term"], _ = enum("term", ("monthly", "annual", "triennial", "none"), term_default)
    credit = _np(pc.equal(charge, "credit"))
    arrears = _np(pc.is_in(charge, value_set=pa.array(["usage", "credit"])))

    # ---- currency
    craw = raw("currency")
    cur = pc.utf8_upper(craw)
    cur = pc.if_else(pc.equal(cur, ""), "USD", cur)
    flag(~_np(pc.match_substring_regex(cur, r"^[A-Z]{3}$")), "currency", "not an ISO 4217 currency code", craw)
    out["currency"] = cur
    currencies = [c for c in pc.unique(cur).to_pylist() if c]
    places = {c: MINOR_UNITS.get(c, 2) for c in currencies}

    # ---- numbers
    qraw = raw("quantity")
    q, qbad, qlong = _number(qraw, mapping.decimal_comma, money=False)
    qempty = is_blank(qraw)
    flag(qempty, "quantity", "required value is empty")
    qbad &= ~qempty
    flag(qbad, "quantity", "not a number", qraw)
    flag(qlong, "quantity", f"too many digits (at most {_Q_WHOLE} before and {_Q_SCALE} after the decimal point)", qraw)
    qneg = _np(pc.starts_with(q, "-")) & ~qbad & ~qempty
    flag(qneg & ~credit, "quantity", "negative quantity (only credit lines may be negative)", qraw)
    out["quantity"] = q
    qok = ~qbad & ~qempty & ~qlong
    qdec = _decimal(q, qok, _Q_TYPE)
    amount_ok: dict[str, np.ndarray] = {}
    amount_dec: dict[str, pa.ChunkedArray] = {}
    for f in _MONEY_FIELDS:
        r = raw(f)
        m, mbad, mlong = _number(r, mapping.decimal_comma, money=True)
        mempty = is_blank(r)
        if f in REQUIRED_COLUMNS:
            flag(mempty, f, "required value is empty")
        mbad &= ~mempty
        flag(mbad, f, "not an amount", r)
        flag(mlong, f, f"too many digits (at most {_M_WHOLE} before and {_M_SCALE} after the decimal point)", r)
        mneg = _np(pc.starts_with(m, "-")) & ~mbad & ~mempty
        flag(mneg & ~credit, f, "negative amount (only credit lines may be negative)", r)
        out[f] = m
        amount_ok[f] = ~mbad & ~mempty & ~mlong
        amount_dec[f] = _decimal(m, amount_ok[f], _M_TYPE)

    # ---- dates
    dates: dict[str, pa.ChunkedArray] = {}
    date_raw: dict[str, pa.ChunkedArray] = {}
    period_text: dict[str, pa.ChunkedArray] = {}
    if PERIOD_RANGE in src:
        pr = pc.utf8_trim_whitespace(cells.column(src[PERIOD_RANGE]))
        parts = pc.split_pattern_regex(pr, r"\s+-\s+|\s*[–—]\s*|\s+to\s+", max_splits=1)
        period_text["period_start"] = pc.utf8_trim_whitespace(pc.fill_null(pc.list_element(parts, 0), ""))
        period_text["period_end"] = pc.utf8_trim_whitespace(pc.fill_null(pc.list_element(pc.if_else(pc.greater(pc.list_value_length(parts), 1), parts, pa.scalar(["", ""], pa.list_(pa.string()))), 1), ""))
        nosplit = ~is_blank(pr) & is_blank(period_text["period_end"])
        flag(nosplit, "period_start", "billing period must be 'start - end'", pr)
        col_name["period_start"] = col_name["period_end"] = header[src[PERIOD_RANGE]]
    local = mapping.date_format
    expect = "YYYY-MM-DD" + (f" or {local.replace('%m', 'MM').replace('%d', 'DD').replace('%Y', 'YYYY').replace('%y', 'YY')}" if local else "")
    null_ts = pa.scalar(None, pa.timestamp("s"))
    for f in _DATE_FIELDS:
        t = period_text.get(f, raw(f))
        if pc.any(pc.match_substring(t, ":")).as_py():
            t = pc.replace_substring_regex(t, r"[T ]00:00(?::00(?:\.0+)?)?Z?$", "")
        date_raw[f] = t
        blank = is_blank(t)
        if blank.all():
            dates[f] = pa.chunked_array([pa.nulls(n, pa.timestamp("s"))])
            out[f] = pa.chunked_array([pa.nulls(n, pa.string())])
            continue
        iso_shape = _np(pc.match_substring_regex(t, _ISO))
        ts = pc.strptime(pc.if_else(pa.array(iso_shape), t, pa.scalar(None, pa.string())), format="%Y-%m-%d", unit="s", error_is_null=True)
        # arrow's strptime rolls 30 Feb over to 2 Mar: a real date prints back as the same text
        day_text = pc.utf8_slice_codeunits(pc.if_else(pa.array(iso_shape), t, "2000-01-01"), 8, 10)
        real = _np(pc.equal(pc.day(ts), pc.cast(day_text, pa.int64())))
        ts = pc.if_else(pa.array(real), ts, null_ts)
        text = pc.if_else(pa.array(real), t, pa.scalar(None, pa.string()))
        todo = ~real & ~blank & ~iso_shape
        if local and todo.any():
            lts = pc.strptime(pc.if_else(pa.array(todo), t, pa.scalar(None, pa.string())), format=local, unit="s", error_is_null=True)
            lreal = _np(pc.equal(pc.strftime(lts, format=local), t)) & todo
            odd = todo & ~lreal & _np(pc.is_valid(lts))  # e.g. 1/5/2026 (no zero padding): check in Python
            if odd.any():
                from datetime import datetime

                vals = t.to_numpy(zero_copy_only=False)
                for i in np.flatnonzero(odd):
                    try:
                        datetime.strptime(str(vals[i]), local)
                        lreal[i] = True
                    except ValueError:
                        pass
            lts = pc.if_else(pa.array(lreal), lts, null_ts)
            ts = pc.if_else(pa.array(lreal), lts, ts)
            text = pc.if_else(pa.array(lreal), pc.strftime(lts, format="%Y-%m-%d"), text)
        bad = _np(pc.is_null(ts)) & ~blank
        if bad.any():
            shaped = _np(pc.or_(pc.match_substring_regex(t, _ISO_SHAPE), pc.match_substring_regex(t, _LOCAL_SHAPE)))
            flag(bad & shaped, f, "no such date", t)
            flag(bad & ~shaped, f, f"not a date (expected {expect})", t)
        dates[f] = ts
        out[f] = text
    ps, pe = dates["period_start"], dates["period_end"]
    flag(_np(pc.less(pe, ps)), "period_end", "period ends before it starts", date_raw["period_end"])

    # ---- extended amounts: exact decimals, rounded once per line to the currency's minor unit
    for f, ext in (("unit_cost", "extended_cost"), ("unit_price", "extended_price")):
        prod = pc.multiply(qdec, amount_dec[f])
        if credit.any():
            prod = pc.if_else(pa.array(credit), pc.negate(pc.abs(prod)), prod)
        texts, total = None, Decimal(0)
        for c, p in places.items() or {"USD": 2}.items():
            rounded = pc.cast(pc.round(prod, ndigits=p, round_mode="half_towards_infinity"), pa.decimal128(38, p))
            sel = pc.equal(cur, c)
            part = pc.sum(pc.if_else(sel, rounded, pa.scalar(None, rounded.type))).as_py()
            total += part or Decimal(0)
            as_text = pc.cast(rounded, pa.string())
            texts = as_text if texts is None else pc.if_else(sel, as_text, texts)
        out[ext] = texts if texts is not None else pa.chunked_array([pa.nulls(n, pa.string())])
        total = total.quantize(Decimal("0.01")) if all(p <= 2 for p in places.values()) else total
        if f == "unit_cost":
            result.total_cost = total
        else:
            result.total_price = total

    # ---- the lines table (text; null when empty)
    arrays = {"line_no": pa.array(numbers, type=pa.int64())}
    for c in LINE_COLUMNS:
        a = out.get(c)
        if a is None:
            arrays[c] = pa.nulls(n, pa.string())
            continue
        if c in _TEXT_FIELDS or c in ("quantity", "unit_cost", "unit_price", "currency"):
            a = pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a)
        arrays[c] = a

    # ---- duplicates (fast path: all keys distinct)
    key_parts = []
    for c in DUPLICATE_KEY:
        a = arrays[c]
        if c in ("period_start", "period_end"):  # an unreadable date still tells lines apart
            a = pc.if_else(pc.is_null(a), date_raw[c], a)
        key_parts.append(pc.fill_null(a, ""))
    key = pc.binary_join_element_wise(*key_parts, "\x1f")
    if len(pc.unique(key)) < n:
        ks = pd.Series(key.to_numpy(zero_copy_only=False))
        dup = ks.duplicated(keep="first").to_numpy()
        first_idx = ks.groupby(ks, sort=False).transform(lambda s: s.index[0]).to_numpy() if dup.any() else None
        for i in np.flatnonzero(dup):
            result.problems.append(Problem(int(numbers[i]), None,
                                           f"duplicate of row {int(numbers[int(first_idx[i])])} (same customer, subscription, SKU, charge type and period)"))

    # ---- landing month and out-of-month lines
    def ym(ts) -> np.ndarray:
        y = pc.year(ts).to_numpy(zero_copy_only=False)
        m = pc.month(ts).to_numpy(zero_copy_only=False)
        return np.asarray(y, dtype=float) * 12 + np.asarray(m, dtype=float) - 1

    start_ym = ym(ps)
    end1_ym = ym(pc.add(pe, pa.scalar(86400, pa.duration("s"))))
    landing = np.where(arrears, end1_ym, start_ym)
    landing = np.where(np.isnan(landing), np.where(arrears, start_ym + 1, ym(pe)), landing)
    landing = np.where(np.isnan(landing), ym(dates["effective_date"]), landing)
    target = by * 12 + bm - 1
    has = ~np.isnan(landing)
    li = np.where(has, landing, target).astype(np.int64)
    uniq, inverse = np.unique(li, return_inverse=True)  # a handful of months: label each once
    labels = pa.array([f"{u // 12:04d}-{u % 12 + 1:02d}" for u in uniq.tolist()], type=pa.string())
    months = pc.take(labels, pa.array(inverse.astype(np.int32)))
    arrays["landing_month"] = pc.if_else(pa.array(has), months, pa.scalar(None, pa.string()))
    arrays["out_of_month"] = pa.array(has & (np.where(has, landing, target) != target))

    # ---- problems, in file order
    for mask, f, reason, values in bad_rows:
        col = col_name.get(f, mapping.column_for(f))
        idx = np.flatnonzero(mask)
        vals = pc.take(values, pa.array(idx)).to_pylist() if values is not None else [None] * len(idx)
        for i, v in zip(idx, vals):
            result.problems.append(Problem(int(numbers[i]), col, reason, v))
    result.problems.sort(key=lambda p: (p.row or 0))
    table = pa.table({k: (v.combine_chunks() if isinstance(v, pa.ChunkedArray) else v) for k, v in arrays.items()})
    result.lines = table.to_pandas(types_mapper={pa.string(): pd.StringDtype(na_value=np.nan)}.get)
    if len(currencies) > 1:
        result.warnings.append(f"the file mixes currencies ({', '.join(sorted(currencies))}); totals add them up as numbers")
    return result
