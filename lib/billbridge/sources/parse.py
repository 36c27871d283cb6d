"""Read and validate a vendor file into canonical vendor lines (pure: bytes in, frames out).

:func:`parse_file` reads CSV (``,`` ``;`` tab, sniffed; UTF-8 with or without BOM, else cp1252;
CRLF; quoted fields with commas and newlines) or XLSX, maps the columns through a
:class:`~billbridge.sources.formats.ColumnMapping`, and validates every line **vectorised** (pandas
/ pyarrow column operations; Python runs per *problem*, never per good row). It reports **every**
problem with the row as the operator sees it (header = row 1) and the file's column name.

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
      with dates ISO and money as exact decimal strings, ``None`` when empty) plus
      ``landing_month`` and ``out_of_month``. Empty when the structure is unusable.
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


def _read_csv_fast(body: bytes, ncols: int, delimiter: str) -> pd.DataFrame | None:
    """All cells as strings via pyarrow (multi-threaded C); None when it can't (ragged rows...)."""
    try:
        import pyarrow as pa
        import pyarrow.csv as pacsv
    except ImportError:  # pragma: no cover - pyarrow is pandas' string backend here
        return None
    names = [f"c{i}" for i in range(ncols)]
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 24),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: pa.string() for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except (pa.ArrowInvalid, pa.ArrowException):
        return None
    return table.to_pandas()


def _read_csv_slow(text: str, ncols: int, delimiter: str) -> tuple[pd.DataFrame, list[Problem], list[int]]:
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
    df = pd.DataFrame(rows, columns=[f"c{i}" for i in range(ncols)], dtype="str") if rows else pd.DataFrame(
        columns=[f"c{i}" for i in range(ncols)], dtype="str")
    return df, problems, numbers


def _read(data: bytes, file_name: str, fmt: ColumnMapping):
    """-> (header, cells frame c0.., row numbers, encoding, delimiter, problems)."""
    if _is_xlsx(data, file_name):
        raw = pd.read_excel(io.BytesIO(data), dtype=str, header=None, keep_default_na=False, engine="openpyxl")
        if raw.empty:
            return [], pd.DataFrame(), np.array([], dtype=np.int64), "xlsx", None, []
        header = [str(h).strip() for h in raw.iloc[0].tolist()]
        cells = raw.iloc[1:].reset_index(drop=True)
        cells.columns = [f"c{i}" for i in range(len(header))]
        cells = cells.astype("str")
        numbers = np.arange(2, len(cells) + 2, dtype=np.int64)
        blank = (cells.apply(lambda c: c.str.strip()) == "").all(axis=1) if len(cells) else pd.Series([], dtype=bool)
        cells, numbers = cells[~blank.to_numpy()].reset_index(drop=True), numbers[~blank.to_numpy()]
        return header, cells, numbers, "xlsx", None, []
    body, text, encoding = _decode(data)
    if not text.strip():
        return [], pd.DataFrame(), np.array([], dtype=np.int64), encoding, None, []
    delimiter = fmt.delimiter or _sniff(text)
    header = _header(text, delimiter)
    cells = _read_csv_fast(body, len(header), delimiter) if "\n" in text.strip() else None
    problems: list[Problem] = []
    if cells is not None:
        numbers = np.arange(2, len(cells) + 2, dtype=np.int64)
    else:
        cells, problems, nums = _read_csv_slow(text, len(header), delimiter)
        numbers = np.asarray(nums, dtype=np.int64)
    return header, cells, numbers, encoding, delimiter, problems


# ---------------------------------------------------------------------------------- validation
_NUM_POINT = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?|[-+]?\.\d+"
_NUM_COMMA = r"[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?|[-+]?,\d+"
_ISO_SHAPE = r"\d{4}-\d{1,2}-\d{1,2}"
_LOCAL_SHAPE = r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}"


def _number(s: pd.Series, decimal_comma: bool, money: bool) -> tuple[pd.Series, np.ndarray]:
    """Text -> canonical decimal text (``-1234.50``) and a bad-value mask (vectorised)."""
    t = s
    if money:
        t = t.str.replace(r"[\s\u00a0$€£]", "", regex=True)
    else:
        t = t.str.replace(r"[\s\u00a0]", "", regex=True)
    paren = (t.str.startswith("(") & t.str.endswith(")")).to_numpy(dtype=bool)
    if paren.any():
        t = t.where(~paren, t.str.slice(1, -1))
    ok = t.str.fullmatch(_NUM_COMMA if decimal_comma else _NUM_POINT).to_numpy(dtype=bool, na_value=False)
    if decimal_comma:
        t = t.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
    else:
        t = t.str.replace(",", "", regex=False)
    t = t.str.lstrip("+")
    t = t.where(~t.str.endswith("."), t.str.rstrip("."))
    t = t.where(~t.str.startswith("."), "0" + t)
    t = t.where(~t.str.startswith("-."), "-0" + t.str.slice(1))
    if paren.any():
        t = t.where(~paren, ("-" + t).str.replace("--", "", regex=False))
    return t, ~ok


def _units(t: pd.Series) -> tuple[np.ndarray, int]:
    """Canonical decimal text -> (integer units, scale) exactly; object ints when int64 would overflow."""
    neg = t.str.startswith("-").to_numpy(dtype=bool)
    body = t.str.lstrip("-")
    parts = body.str.split(".", n=1, expand=True)
    ip = parts[0].where(parts[0] != "", "0")
    fp = parts[1].fillna("") if parts.shape[1] > 1 else pd.Series("", index=t.index, dtype="str")
    scale = int(fp.str.len().max() or 0) if len(fp) else 0
    digits = ip + fp.str.pad(scale, side="right", fillchar="0") if scale else ip
    if int(digits.str.len().max() or 0) <= 18:
        u = digits.astype("int64").to_numpy()
    else:
        u = np.array([int(x) for x in digits.tolist()], dtype=object)
    return np.where(neg, -u, u), scale


def _round_units(x: np.ndarray, shift: np.ndarray) -> np.ndarray:
    """Divide integer ``x`` by ``10**shift`` rounding half away from zero (shift may be < 0)."""
    out = np.empty_like(x)
    pos = shift >= 0
    sign = np.where(x < 0, -1, 1)
    ax = np.abs(x)
    if pos.any():
        div = np.power(10, shift[pos].astype(np.int64)).astype(x.dtype) if x.dtype != object else np.array(
            [10 ** int(s) for s in shift[pos]], dtype=object)
        out[pos] = sign[pos] * ((ax[pos] + div // 2) // div)
    if (~pos).any():
        mul = np.array([10 ** int(-s) for s in shift[~pos]], dtype=x.dtype)
        out[~pos] = x[~pos] * mul
    return out


def _format_units(u: np.ndarray, places: np.ndarray) -> np.ndarray:
    """Integer minor units -> decimal text with ``places`` decimals (vectorised per distinct places)."""
    out = np.empty(len(u), dtype=object)
    for p in np.unique(places):
        m = places == p
        v = u[m]
        neg = v < 0
        a = np.abs(v)
        p = int(p)
        ip = pd.Series(a // (10**p)).astype(str)
        s = ip if p == 0 else ip + "." + pd.Series(a % (10**p)).astype(str).str.zfill(p)
        s = s.where(~pd.Series(neg), "-" + s)
        out[m] = s.to_numpy(dtype=object)
    return out


def _extended(q: pd.Series, qbad: np.ndarray, c: pd.Series, cbad: np.ndarray, places: np.ndarray,
              credit: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, dict[int, int]]:
    """Per-line ``quantity x unit``, rounded once to the currency minor unit -> (text, {places: units})."""
    ok = present & ~qbad & ~cbad
    n = len(q)
    text = np.full(n, None, dtype=object)
    totals: dict[int, int] = {}
    if not ok.any():
        return text, totals
    qu, qs = _units(q[ok])
    cu, cs = _units(c[ok])
    big = (np.abs(qu).max() if len(qu) else 0) * (np.abs(cu).max() if len(cu) else 0) >= 2**62
    if big or qu.dtype == object or cu.dtype == object:
        qu, cu = qu.astype(object), cu.astype(object)
    prod = qu * cu
    cr = credit[ok]
    if cr.any():
        prod = np.where(cr, -np.abs(prod), prod)  # a credit always reduces, whichever side has the minus
    pl = places[ok]
    rounded = _round_units(prod, qs + cs - pl)
    text[ok] = _format_units(rounded, pl)
    for p in np.unique(pl):
        totals[int(p)] = int(rounded[pl == p].sum())
    return text, totals


def _total(totals: dict[int, int]) -> Decimal:
    s = sum((Decimal(v).scaleb(-p) for p, v in totals.items()), Decimal(0))
    return s.quantize(Decimal("0.01")) if all(p <= 2 for p in totals) else s


def _ym(d: pd.Series) -> np.ndarray:
    """datetime64 series -> year*12 + month-1 as float (NaN for NaT)."""
    return (d.dt.year * 12 + d.dt.month - 1).to_numpy(dtype=float, na_value=np.nan)


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
    src: dict[str, str] = {}  # canonical field -> cell column cN
    for i, h in enumerate(header):
        f = mapping.field_for(h)
        if f is None:
            if not any(h.strip().lower() == ig.strip().lower() for ig in mapping.ignore):
                result.warnings.append(f"unknown column {h!r} ignored" if h else f"column {i + 1} has no header and is ignored")
            continue
        if f == "":
            continue
        if f in src:
            result.problems.append(Problem(1, h, f"column {h!r} and column {header[int(src[f][1:])]!r} both map to {f}"))
            continue
        src[f] = f"c{i}"
    result.columns = {f: header[int(c[1:])] for f, c in src.items()}
    available = set(src) | set(mapping.constants) | {k for k, v in mapping.derive.items() if v in src or v in mapping.constants}
    if PERIOD_RANGE in src:
        available |= {"period_start", "period_end"}
    missing = [f for f in REQUIRED_COLUMNS if f not in available]
    for f in missing:
        col = mapping.column_for(f)
        label = f"missing required column {col!r}" + (f" ({f})" if col != f else "")
        result.problems.append(Problem(1, col, label))
    if missing:
        return result
    if not len(cells):
        result.problems.append(Problem(None, None, "the file has a header but no lines"))
        return result

    n = len(cells)
    idx = pd.RangeIndex(n)
    cells.index = idx
    empty = pd.Series("", index=idx, dtype="str")
    col_name = dict(result.columns)

    def raw(f: str) -> pd.Series:
        if f in src:
            return cells[src[f]].str.strip()
        if f in mapping.constants:
            return pd.Series(mapping.constants[f], index=idx, dtype="str")
        if f in mapping.derive:
            col_name.setdefault(f, col_name.get(mapping.derive[f], f))
            return raw(mapping.derive[f])
        return empty

    bad_rows: list[tuple[np.ndarray, str, str, pd.Series | None]] = []  # (mask, field, reason, values)

    def flag(mask: np.ndarray, f: str, reason: str, values: pd.Series | None) -> None:
        if mask.any():
            bad_rows.append((mask, f, reason, values))

    out: dict[str, object] = {}
    for f in _TEXT_FIELDS:
        out[f] = raw(f)
    for f in REQUIRED_COLUMNS:
        if f in _TEXT_FIELDS:
            flag((out[f] == "").to_numpy(dtype=bool), f, "required value is empty", None)

    # ---- enumerations
    def enum(f: str, allowed: tuple[str, ...], default: str | pd.Series) -> pd.Series:
        t = raw(f)
        vm = {**SYNONYMS.get(f, {}), **{k.lower(): v for k, v in mapping.value_maps.get(f, {}).items()}}
        vm.update({a: a for a in allowed})
        low = t.str.lower()
        mapped = low.map(vm)
        blank = (t == "").to_numpy(dtype=bool)
        unknown = mapped.isna().to_numpy(dtype=bool) & ~blank
        flag(unknown, f, f"unknown {f.replace('_', ' ')} (expected {', '.join(allowed)})", t)
        res = mapped.astype(object)
        if isinstance(default, pd.Series):
            res = res.where(~blank, default.astype(object))
        else:
            res[blank] = default
        return res.where(~unknown, t.astype(object))

    charge = enum("charge_type", CHARGE_TYPES, "recurring")
    out["charge_type"] = charge
    out["billing_frequency"] = enum("billing_frequency", ("monthly", "annual"), "monthly")
    ch = charge.to_numpy(dtype=object)
    term_default = pd.Series(np.where((ch == "usage") | (ch == "one_time"), "none", "monthly"), index=idx)
    out["term"] = enum("term", ("monthly", "annual", "triennial", "none"), term_default)
    credit = ch == "credit"

    # ---- currency
    cur = raw("currency").str.upper()
    cur = cur.where(cur != "", "USD")
    flag(~cur.str.fullmatch(r"[A-Z]{3}").to_numpy(dtype=bool, na_value=False), "currency",
         "not an ISO 4217 currency code", raw("currency"))
    out["currency"] = cur
    places = cur.map(MINOR_UNITS).fillna(2).astype("int64").to_numpy()

    # ---- numbers
    qraw = raw("quantity")
    q, qbad = _number(qraw, mapping.decimal_comma, money=False)
    qempty = (qraw == "").to_numpy(dtype=bool)
    flag(qempty, "quantity", "required value is empty", None)
    qbad &= ~qempty
    flag(qbad, "quantity", "not a number", qraw)
    neg_q = q.str.startswith("-").to_numpy(dtype=bool) & ~qbad & ~qempty
    flag(neg_q & ~credit, "quantity", "negative quantity (only credit lines may be negative)", qraw)
    out["quantity"] = q
    money: dict[str, tuple[pd.Series, np.ndarray, np.ndarray]] = {}
    for f in _MONEY_FIELDS:
        r = raw(f)
        m, mbad = _number(r, mapping.decimal_comma, money=True)
        mempty = (r == "").to_numpy(dtype=bool)
        if f in REQUIRED_COLUMNS:
            flag(mempty, f, "required value is empty", None)
        mbad &= ~mempty
        flag(mbad, f, "not an amount", r)
        negm = m.str.startswith("-").to_numpy(dtype=bool) & ~mbad & ~mempty
        flag(negm & ~credit, f, "negative amount (only credit lines may be negative)", r)
        money[f] = (m, mbad, ~mempty)
        out[f] = m

    # ---- dates
    dates: dict[str, pd.Series] = {}
    date_raw: dict[str, pd.Series] = {}
    period_text = {}
    if PERIOD_RANGE in src:
        pr = cells[src[PERIOD_RANGE]].str.strip()
        parts = pr.str.split(r"\s*(?:\s-\s|–|—|\bto\b)\s*", n=1, expand=True, regex=True)
        period_text["period_start"] = parts[0].fillna("").astype("str") if 0 in parts else empty
        period_text["period_end"] = parts[1].fillna("").astype("str") if 1 in parts else empty
        nosplit = ((pr != "") & (period_text["period_end"] == "")).to_numpy(dtype=bool)
        flag(nosplit, "period_start", "billing period must be 'start - end'", pr)
        col_name["period_start"] = col_name["period_end"] = header[int(src[PERIOD_RANGE][1:])]
    local = mapping.date_format
    expect = "YYYY-MM-DD" + (f" or {local.replace('%m', 'MM').replace('%d', 'DD').replace('%Y', 'YYYY').replace('%y', 'YY')}" if local else "")
    for f in _DATE_FIELDS:
        t = period_text.get(f, raw(f))
        t = t.str.replace(r"(?:[T ]00:00(?::00(?:\.0+)?)?Z?)$", "", regex=True)
        blank = (t == "").to_numpy(dtype=bool)
        date_raw[f] = t
        if blank.all():
            dates[f] = pd.Series(pd.NaT, index=idx, dtype="datetime64[s]")
            out[f] = pd.Series(None, index=idx, dtype=object)
            continue
        iso = pd.to_datetime(t.where(t.str.fullmatch(_ISO_SHAPE), None), format="%Y-%m-%d", errors="coerce")
        d = iso
        text = t.astype(object).where(iso.notna(), None)
        if local:
            need = iso.isna().to_numpy(dtype=bool) & ~blank
            if need.any():
                loc = pd.to_datetime(t.where(need, None), format=local, errors="coerce")
                d = iso.fillna(loc)
                text = text.where(loc.isna(), loc.dt.strftime("%Y-%m-%d").astype(object))
        bad = d.isna().to_numpy(dtype=bool) & ~blank
        if bad.any():
            shaped = (t.str.fullmatch(_ISO_SHAPE) | t.str.fullmatch(_LOCAL_SHAPE)).to_numpy(dtype=bool, na_value=False)
            flag(bad & shaped, f, "no such date", t)
            flag(bad & ~shaped, f, f"not a date (expected {expect})", t)
        dates[f] = d
        out[f] = text
    ps, pe = dates["period_start"], dates["period_end"]
    flag((pe < ps).to_numpy(dtype=bool, na_value=False), "period_end", "period ends before it starts", raw("period_end") if "period_end" in src else None)

    # ---- extended amounts (exact, rounded once per line)
    ext_cost, cost_totals = _extended(q, qbad | qempty, *money["unit_cost"][:2], places, credit, money["unit_cost"][2])
    ext_price, price_totals = _extended(q, qbad | qempty, *money["unit_price"][:2], places, credit, money["unit_price"][2])
    out["extended_cost"], out["extended_price"] = ext_cost, ext_price
    result.total_cost, result.total_price = _total(cost_totals), _total(price_totals)

    # ---- the lines frame (text, None when empty)
    lines = pd.DataFrame({"line_no": numbers}, index=idx)
    for c in LINE_COLUMNS:
        v = out.get(c)
        if v is None:
            lines[c] = None
            continue
        arr = v.to_numpy(dtype=object, na_value=None) if isinstance(v, pd.Series) else v
        if c not in ("extended_cost", "extended_price") and c not in _DATE_FIELDS:
            arr = np.where(arr == "", None, arr)
        lines[c] = arr

    # ---- duplicates
    key = lines[list(DUPLICATE_KEY)].copy()
    for c in ("period_start", "period_end"):  # an unreadable date still tells lines apart
        key[c] = key[c].where(key[c].notna(), date_raw[c].to_numpy(dtype=object))
    key = key.fillna("")
    dup = key.duplicated(keep=False).to_numpy()
    if dup.any():
        first = lines["line_no"].groupby([key[c] for c in DUPLICATE_KEY], sort=False).transform("first").to_numpy()
        later = dup & (first != lines["line_no"].to_numpy())
        for i in np.flatnonzero(later):
            result.problems.append(Problem(int(numbers[i]), None,
                                           f"duplicate of row {int(first[i])} (same customer, subscription, SKU, charge type and period)"))

    # ---- landing month and out-of-month lines
    arrears = (ch == "usage") | (ch == "credit")
    start_ym = _ym(ps)
    end1_ym = _ym(pe + pd.Timedelta(days=1))
    eff_ym = _ym(dates["effective_date"])
    landing = np.where(arrears, end1_ym, start_ym)
    landing = np.where(np.isnan(landing), np.where(arrears, start_ym + 1, _ym(pe)), landing)
    landing = np.where(np.isnan(landing), eff_ym, landing)
    target = by * 12 + bm - 1
    has = ~np.isnan(landing)
    lm = np.full(n, None, dtype=object)
    if has.any():
        li = landing[has].astype(np.int64)
        lm[has] = (pd.Series(li // 12).astype(str) + "-" + pd.Series(li % 12 + 1).astype(str).str.zfill(2)).to_numpy(dtype=object)
    lines["landing_month"] = lm
    lines["out_of_month"] = has & (np.nan_to_num(landing, nan=target) != target)

    # ---- problems, in file order
    for mask, f, reason, values in bad_rows:
        col = col_name.get(f, mapping.column_for(f))
        vals = values.to_numpy(dtype=object, na_value=None) if values is not None else None
        for i in np.flatnonzero(mask):
            result.problems.append(Problem(int(numbers[i]), col, reason, None if vals is None else vals[i]))
    result.problems.sort(key=lambda p: (p.row or 0))
    result.lines = lines.reset_index(drop=True)
    if len(set(cur.unique())) > 1:
        result.warnings.append(f"the file mixes currencies ({', '.join(sorted(cur.unique()))}); totals add them up as numbers")
    return result
