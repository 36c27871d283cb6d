"""Read and validate a vendor file into canonical vendor lines (pure: bytes in, frames out).

:func:`parse_file` reads CSV (``,`` ``;`` tab, sniffed; UTF-8 with or without BOM, else cp1252;
CRLF; quoted fields with commas and newlines) or XLSX, maps the columns through a
:class:`~billbridge.sources.formats.ColumnMapping`, and validates every line **vectorised**. It
reports **every** problem with the row as the operator sees it (header = row 1) and the file's
column name.

Implementation (fast path, measured by ``bench/bench_load.py``): pyarrow's multi-threaded C CSV
reader reads every cell as a string; each column is then **dictionary-encoded** (one hash pass),
and every rule runs on the column's *distinct values* only (a 100,000-line file has a few dozen
distinct dates, SKUs, charge types and unit costs), with :mod:`pyarrow.compute` kernels (regex
validation, ``strptime`` plus a day-of-month check that rejects 2026-02-30 which arrow would roll
over). Row-level work is numpy indexing of those per-value results. Extended amounts are exact
integer minor units: ``quantity x unit`` as scaled ``int64`` rounded half away from zero once per
line (Python ``Decimal`` only when a product does not fit in 63 bits), computed once per distinct
(quantity, unit, credit, currency) combination. Python runs per *problem*, never per good row.
The canonical lines stay an Arrow table (:attr:`ParseResult.table`, dictionary-encoded) that the
store writes as one blob; the pandas frame :attr:`ParseResult.lines` is built only when asked.

Cells are never evaluated: ``=SUM(A1)``, ``+1``, ``@x`` stay text (a formula-looking cell in a number
column is "not a number"); ``-5`` in a quantity column is the number -5.
"""

from __future__ import annotations

import codecs
import csv
import hashlib
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import cached_property

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from billbridge.bdom import landing_month, lands_in, parse_billing_month
from billbridge.errors import InputError
from billbridge.money import MINOR_UNITS
from billbridge.sources.formats import (
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


def _frame(table: pa.Table | None) -> pd.DataFrame:
    """Arrow lines (dictionary-encoded text) -> pandas: text columns as ``StringDtype`` (NaN when
    missing), ``line_no`` int64, ``out_of_month`` bool."""
    if table is None:
        return pd.DataFrame()
    cols = {}
    for name, col in zip(table.column_names, table.columns):
        cols[name] = pc.cast(col, pa.string()) if pa.types.is_dictionary(col.type) else col
    return pa.table(cols).to_pandas(types_mapper={pa.string(): pd.StringDtype(na_value=np.nan)}.get)


@dataclass
class ParseResult:
    """What :func:`parse_file` found.

    * ``lines``: canonical text columns (``line_no`` = file row, :data:`~billbridge.store.LINE_COLUMNS`
      with dates ISO and money as exact decimal strings, missing (NA) when empty) plus
      ``landing_month`` (the billing month the line bills in: period start for advance charges,
      the day after the period end for usage and credits, else the effective date) and
      ``out_of_month``. Empty when the structure is unusable (missing columns, empty file).
      Built on first access from ``table`` (the same lines as an Arrow table, dictionary-encoded
      text, which is what the store writes).
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
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    total_cost: Decimal = Decimal("0.00")
    total_price: Decimal = Decimal("0.00")
    columns: dict[str, str] = field(default_factory=dict)  # canonical field -> file column
    blank_rows: int = 0  # rows with no value at all, skipped (Excel's trailing ",,,," lines)
    table: pa.Table | None = field(default=None, repr=False)
    _customers: int | None = field(default=None, repr=False)  # counted while checking duplicates

    @property
    def ok(self) -> bool:
        return not self.problems

    @cached_property
    def lines(self) -> pd.DataFrame:
        return _frame(self.table)

    @property
    def blank_note(self) -> str:
        """``"2 blank rows skipped"`` (empty when there were none), for messages."""
        n = self.blank_rows
        return f"{n} blank row{'s' if n != 1 else ''} skipped" if n else ""

    @property
    def line_count(self) -> int:
        return int(self.table.num_rows) if self.table is not None else 0

    @property
    def customer_count(self) -> int:
        if not self.line_count:
            return 0
        if self._customers is None:
            self._customers = int(pc.count_distinct(pc.cast(self.table["vendor_customer_id"], pa.string())).as_py())
        return self._customers

    @property
    def out_of_month(self) -> pd.DataFrame:
        if not self.line_count:
            return self.lines
        if "lines" in self.__dict__:
            return self.lines[self.lines["out_of_month"]]
        return _frame(self.table.filter(self.table["out_of_month"]))

    @cached_property
    def rows(self) -> pd.DataFrame:
        return typed_lines(self.lines)

    def problems_frame(self) -> pd.DataFrame:
        return pd.DataFrame([p.__dict__ for p in self.problems], columns=["row", "column", "reason", "value"])


def _map_unique(s: pd.Series, fn) -> pd.Series:
    """``fn`` applied once per distinct non-missing value of ``s``; None where missing."""
    codes, uniques = pd.factorize(s, use_na_sentinel=True)
    values = np.empty(len(uniques) + 1, dtype=object)
    values[:-1] = [fn(u) for u in uniques]
    values[-1] = None
    return pd.Series(values[codes], index=s.index, dtype=object)


def _dec_or_none(v: str):
    try:
        return Decimal(v)
    except ArithmeticError:
        return None


def typed_lines(lines: pd.DataFrame) -> pd.DataFrame:
    """Canonical text lines -> Decimal money/quantity and ``datetime.date`` dates (for preview).
    Each distinct value is converted once; a value that is not a number becomes None."""
    df = lines.copy()
    for c in ("quantity", "unit_cost", "unit_price", "extended_cost", "extended_price"):
        if c in df:
            df[c] = _map_unique(df[c], _dec_or_none)
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
    w.writerow(["Row", "Column", "Problem", "Value"])  # for people fixing the file in a spreadsheet
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
    raise InputError(f"unknown format {fmt!r}; built-in formats: {', '.join(PRESETS)}")


# ------------------------------------------------------------------------------------- reading
def _is_xlsx(data: bytes, file_name: str) -> bool:
    return data[:4] == b"PK\x03\x04" or file_name.lower().endswith((".xlsx", ".xlsm"))


_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
#: a file opening like this is not a vendor bill we can read (what it is, what to do)
_SIGNATURES = (
    (b"\xd0\xcf\x11\xe0", "an old Excel workbook (.xls): open it in Excel and save it as .xlsx or CSV"),
    (b"%PDF", "a PDF document: export the vendor's bill as CSV or Excel (.xlsx) instead"),
    (b"\x1f\x8b", "a compressed (gzip) file: unpack it first"),
)
#: characters that never appear in a text export (NUL and other control characters, U+FFFD)
_BINARY_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffd]")


class _Unreadable(Exception):
    """The whole file cannot be read: one problem for the file, nothing else."""


def _not_text(data: bytes, text_head: str | None) -> str | None:
    """Why ``data`` is not a text (CSV) export, or None when it looks like text."""
    for sig, what in _SIGNATURES:
        if data.startswith(sig):
            return f"the file is {what}"
    head = data[:1 << 16]
    sample = text_head[:1 << 16] if text_head is not None else head.decode("cp1252", errors="replace")
    bad = len(_BINARY_CHARS.findall(sample))
    if b"\x00" in head or bad > max(2, len(sample) // 100):
        return ("the file is not a text (CSV) or Excel (.xlsx) file: it holds binary data. Export the vendor's "
                "bill as CSV or .xlsx and load that")
    return None


def _decode(data: bytes) -> tuple[bytes, str, str]:
    """(utf-8 bytes without BOM, text, encoding name)."""
    if data.startswith(codecs.BOM_UTF8):
        body = data[3:]
        return body, body.decode("utf-8", errors="replace"), "utf-8-sig"
    if data.startswith(_UTF16_BOMS):  # Excel's "Unicode text" export
        text = data.decode("utf-16", errors="replace")
        return text.encode("utf-8"), text, "utf-16"
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
    try:
        reader = csv.reader(io.StringIO(text[:1_000_000]), delimiter=delimiter)
        for row in reader:
            return [h.replace("\ufeff", "").strip() for h in row]
    except csv.Error as exc:
        raise _Unreadable(f"the file's first line cannot be read as CSV ({exc})") from None
    return []


def _names(n: int) -> list[str]:
    return [f"c{i}" for i in range(n)]


def _read_csv_fast(body, ncols: int, delimiter: str) -> pa.Table | None:
    """All cells as dictionary-encoded strings via pyarrow's multi-threaded C reader (``body``:
    bytes or an Arrow buffer, read without a copy): each column arrives as its distinct values
    plus codes, never as one string per cell. None when it refuses (ragged rows, invalid UTF-8)."""
    names = _names(ncols)
    text = pa.dictionary(pa.int32(), pa.string())
    try:
        return pacsv.read_csv(
            pa.BufferReader(body),
            read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=_BLOCK_SIZE),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True, ignore_empty_lines=False),
            convert_options=pacsv.ConvertOptions(
                column_types={n: text for n in names}, strings_can_be_null=False,
                quoted_strings_can_be_null=False,
            ),
        )
    except pa.ArrowException:
        return None


def _table(rows: list[list[str]], ncols: int) -> pa.Table:
    cols = list(zip(*rows)) if rows else [()] * ncols
    return pa.table({n: pa.array(list(c), type=pa.string()) for n, c in zip(_names(ncols), cols)})


def _read_csv_slow(text: str, ncols: int, delimiter: str) -> tuple[pa.Table, list[Problem], list[int], int]:
    """csv-module reader for files the fast path refuses: reports ragged rows, skips (and counts)
    blank ones."""
    problems: list[Problem] = []
    rows, numbers = [], []
    blank = 0
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        next(reader, None)
        for i, rec in enumerate(reader, start=2):
            if not rec or all(not c.strip() for c in rec):
                blank += 1
                continue
            if len(rec) != ncols:
                problems.append(Problem(i, None, f"row has {len(rec)} values, the header has {ncols}"))
                rec = (rec + [""] * ncols)[:ncols]
            rows.append(rec)
            numbers.append(i)
    except csv.Error as exc:
        raise _Unreadable(f"the file cannot be read as CSV after row {len(numbers) + blank + 1} ({exc})") from None
    return _table(rows, ncols), problems, numbers, blank


def _drop_blank_rows(cells: pa.Table, numbers: np.ndarray) -> tuple[pa.Table, np.ndarray, int]:
    """Rows whose every cell is empty or spaces (Excel's trailing ``,,,,`` lines, empty lines) are
    not vendor lines: drop them. Checked on each column's distinct values, stopping at the first
    column that has no blank cell (usually the first one)."""
    if not cells.num_rows or not cells.num_columns:
        return cells, numbers, 0
    blank = None
    for col in cells.columns:
        c = _Col.encode(col)
        per_value = _np(pc.equal(pc.utf8_trim_whitespace(c.dic), ""))
        rows = c.rows(per_value)
        blank = rows if blank is None else blank & rows
        if not blank.any():
            return cells, numbers, 0
    keep = ~blank
    return cells.filter(pa.array(keep)), numbers[keep], int(blank.sum())


def _formula_cells(data: bytes) -> dict[tuple[int, int], str]:
    """Cells of the first sheet holding a formula whose value was never saved (a workbook written by
    a program, not saved in Excel): ``{(row, column index): formula}``. openpyxl's ``data_only``
    read (what pandas uses) gives them as empty; the formula read says what they hold."""
    import zipfile

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            if not any(b"<f>" in z.read(n) or b"<f " in z.read(n) for n in z.namelist()
                       if n.startswith("xl/worksheets/") and n.endswith(".xml")):
                return {}
    except (zipfile.BadZipFile, KeyError, OSError):
        return {}
    from openpyxl import load_workbook

    values = load_workbook(io.BytesIO(data), read_only=True, data_only=True).worksheets[0]
    formulas = load_workbook(io.BytesIO(data), read_only=True, data_only=False).worksheets[0]
    out: dict[tuple[int, int], str] = {}
    for r, (vals, fs) in enumerate(zip(values.iter_rows(values_only=True), formulas.iter_rows(values_only=True)), start=1):
        for j, (v, f) in enumerate(zip(vals, fs)):
            if v is None and isinstance(f, str) and f.startswith("="):
                out[(r, j)] = f
    return out


def _read_xlsx(data: bytes):
    empty_numbers = np.array([], dtype=np.int64)
    try:
        raw = pd.read_excel(io.BytesIO(data), dtype=str, header=None, keep_default_na=False, engine="openpyxl")
    except Exception:  # noqa: BLE001 - any reader failure is one problem for the file
        raise _Unreadable("the file cannot be read as an Excel workbook (.xlsx): it is damaged or not a workbook. "
                          "Open it in Excel and save it again, or export the bill as CSV") from None
    if raw.empty:
        return [], _table([], 0), empty_numbers, "xlsx", None, [], 0, {}
    values = raw.astype(str).to_numpy().tolist()
    header = [str(h).strip() for h in values[0]]
    formulas = _formula_cells(data)
    rows, numbers = [], []
    blank = 0
    for i, rec in enumerate(values[1:], start=2):
        if all(not str(c).strip() for c in rec) and not any((i, j) in formulas for j in range(len(rec))):
            blank += 1
            continue
        rows.append([str(c) for c in rec])
        numbers.append(i)
    return header, _table(rows, len(header)), np.asarray(numbers, dtype=np.int64), "xlsx", None, [], blank, formulas


_HEAD = 1 << 20  # the header and the delimiter come from the first MiB
_BLOCK_SIZE = 1 << 24  # bytes per block the CSV reader parses (blocks are read in parallel)


def _read(data: bytes, file_name: str, fmt: ColumnMapping):
    """-> (header, cells table c0.., row numbers, encoding, delimiter, problems, blank rows skipped,
    formula cells without a value).

    Fast path for a well-formed UTF-8 CSV: only the first MiB is decoded in Python (delimiter,
    header); pyarrow reads the bytes in place (a BOM is skipped by slicing, not copying) and checks
    the UTF-8. Anything it refuses (cp1252, ragged rows) goes the careful way: decode the whole
    file, then the C reader again or the csv module that reports each ragged row. Rows with no
    value at all are dropped and counted. A file that is not text at all raises :class:`_Unreadable`.
    """
    empty_numbers = np.array([], dtype=np.int64)
    if _is_xlsx(data, file_name):
        return _read_xlsx(data)
    bom = data.startswith(codecs.BOM_UTF8)
    view = memoryview(data)[3:] if bom else memoryview(data)
    if not re.search(rb"\S", view):
        return [], _table([], 0), empty_numbers, "utf-8-sig" if bom else "utf-8", None, [], 0, {}
    try:
        head = codecs.getincrementaldecoder("utf-8")().decode(view[:_HEAD], final=len(view) <= _HEAD)
    except UnicodeDecodeError:
        head = None
    if not data.startswith(_UTF16_BOMS):
        why = _not_text(data, head)
        if why:
            raise _Unreadable(why)
    if head is not None and re.search(r"\S", head):
        delimiter = fmt.delimiter or _sniff(head)
        header = _header(head, delimiter)
        if header and re.search(rb"\n\s*\S", view):
            cells = _read_csv_fast(pa.py_buffer(data).slice(3) if bom else data, len(header), delimiter)
            if cells is not None:
                numbers = np.arange(2, cells.num_rows + 2, dtype=np.int64)
                cells, numbers, blank = _drop_blank_rows(cells, numbers)
                return header, cells, numbers, "utf-8-sig" if bom else "utf-8", delimiter, [], blank, {}
    body, text, encoding = _decode(data)
    if not re.search(r"\S", text):
        return [], _table([], 0), empty_numbers, encoding, None, [], 0, {}
    if encoding == "utf-16" and _BINARY_CHARS.search(text[:1 << 16]):
        raise _Unreadable(_not_text(b"\x00", None) or "the file is not text")
    delimiter = fmt.delimiter or _sniff(text)
    header = _header(text, delimiter)
    cells = _read_csv_fast(body, len(header), delimiter) if re.search(r"\n\s*\S", text) else None
    problems: list[Problem] = []
    if cells is not None:
        numbers = np.arange(2, cells.num_rows + 2, dtype=np.int64)
        cells, numbers, blank = _drop_blank_rows(cells, numbers)
    else:
        cells, problems, nums, blank = _read_csv_slow(text, len(header), delimiter)
        numbers = np.asarray(nums, dtype=np.int64)
    return header, cells, numbers, encoding, delimiter, problems, blank, {}


def file_columns(data: bytes, file_name: str) -> list[str]:
    """The column headers of a vendor file as written in it (for mapping a custom layout).

    Raises :class:`~billbridge.errors.InputError` with a plain reason when the file is empty, not text or Excel, or has no
    header row.
    """
    try:
        if _is_xlsx(data, file_name):
            try:
                raw = pd.read_excel(io.BytesIO(data), dtype=str, header=None, keep_default_na=False, engine="openpyxl", nrows=1)
            except Exception:  # noqa: BLE001
                raise _Unreadable("the file cannot be read as an Excel workbook (.xlsx)") from None
            header = [str(h).strip() for h in raw.iloc[0]] if len(raw) else []
        else:
            why = _not_text(data, None) if not data.startswith((codecs.BOM_UTF8, *_UTF16_BOMS)) else None
            if why:
                raise _Unreadable(why)
            _, text, _ = _decode(data)
            header = _header(text, _sniff(text)) if text.strip() else []
    except _Unreadable as exc:
        raise InputError(str(exc)) from None
    header = [h for h in header if h]
    if not header:
        raise InputError("the file is empty or has no header row")
    return header


# ---------------------------------------------------------------------------------- validation
_NUM_POINT = r"^[-+]?(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d*)?$|^[-+]?\.\d+$"
_NUM_COMMA = r"^[-+]?(?:\d{1,3}(?:\.\d{3})+|\d+)(?:,\d*)?$|^[-+]?,\d+$"
_ISO = r"^\d{4}-\d{2}-\d{2}$"
_ISO_SHAPE = r"^\d{4}-\d{1,2}-\d{1,2}$"
_LOCAL_SHAPE = r"^\d{1,2}[/.\-]\d{1,2}[/.\-]\d{2,4}$"
#: decimals kept exactly: quantities up to 6, unit amounts up to 8
_Q_SCALE, _M_SCALE = 6, 8
#: quantities below 10^10, unit amounts below 10^12
_Q_WHOLE, _M_WHOLE = 10, 12
_I64 = (1 << 63) - 1
_NULL_STR = pa.scalar(None, pa.string())


class _Col:
    """A column as dictionary codes: ``idx`` (numpy int32, one per line) into ``dic`` (its distinct
    values, a small Arrow string array). Rules run on ``dic``; :meth:`rows` maps a per-value result
    back onto the lines."""

    __slots__ = ("idx", "dic", "distinct")

    def __init__(self, idx: np.ndarray, dic: pa.Array, distinct: bool = False):
        self.idx, self.dic = idx, dic
        self.distinct = distinct  # no two values in ``dic`` are equal

    @classmethod
    def encode(cls, col: pa.ChunkedArray) -> "_Col":
        if pa.types.is_dictionary(col.type):  # as the CSV reader gives it: one dictionary per block
            chunks = [c for c in col.chunks if len(c)]
            if len(chunks) > 1:
                # the blocks' dictionaries one after the other (a value may repeat across blocks),
                # codes shifted to match: far cheaper than unifying them; the duplicate key re-hashes
                starts = np.cumsum([0] + [len(c.dictionary) for c in chunks[:-1]])
                idx = np.concatenate([c.indices.to_numpy() + np.int32(o) for c, o in zip(chunks, starts)])
                return cls(idx, pa.concat_arrays([c.dictionary for c in chunks]))
            enc = col
        else:
            enc = col.dictionary_encode()  # one dictionary shared by every chunk
        chunks = [c for c in enc.chunks if len(c)]
        idx = chunks[0].indices.to_numpy() if len(chunks) == 1 else np.concatenate([c.indices.to_numpy() for c in chunks])
        return cls(idx, chunks[-1].dictionary, distinct=True)

    @classmethod
    def constant(cls, value: str, n: int) -> "_Col":
        return cls(np.zeros(n, dtype=np.int32), pa.array([value], type=pa.string()))

    def rows(self, per_value: np.ndarray) -> np.ndarray:
        return per_value[self.idx]

    def with_dic(self, dic: pa.Array) -> "_Col":
        return _Col(self.idx, dic)

    def values_at(self, rows: np.ndarray) -> list:
        return self.dic.take(pa.array(self.idx[rows])).to_pylist()

    def arrow(self) -> pa.DictionaryArray:
        return pa.DictionaryArray.from_arrays(self.idx, self.dic, safe=False)


def _text_length(a: pa.Array) -> int:
    """Total characters' bytes of a string array (what trimming would shorten)."""
    return int(pc.sum(pc.binary_length(a)).as_py() or 0)


def _np(a) -> np.ndarray:
    """Boolean arrow array -> numpy bool (nulls = False)."""
    return pc.fill_null(a, False).to_numpy(zero_copy_only=False).astype(bool, copy=False)


def _number(a: pa.Array, decimal_comma: bool, money: bool) -> tuple[pa.Array, np.ndarray, np.ndarray]:
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


def _scaled(t: pa.Array, ok: np.ndarray) -> tuple[np.ndarray, int, bool]:
    """Canonical decimal texts -> (unscaled int64 values (0 where not ``ok``), scale, all fit in
    int64). The scale is the most decimals any valid value has."""
    valid = pc.if_else(pa.array(ok), t, _NULL_STR)
    dot = pc.find_substring(valid, ".")
    places = pc.if_else(pc.greater_equal(dot, 0), pc.subtract(pc.subtract(pc.utf8_length(valid), dot), 1), 0)
    scale = int(pc.max(places).as_py() or 0)
    dec = pc.cast(valid, pa.decimal128(38, scale))
    words = np.frombuffer(dec.buffers()[1], dtype=np.int64, count=2 * (len(dec) + dec.offset))[2 * dec.offset:].reshape(-1, 2)
    lo = np.where(ok, words[:, 0], 0)
    fits = bool(np.all(~ok | (words[:, 1] == (words[:, 0] >> 63))))
    return lo, scale, fits


def _decimal_text(values: np.ndarray, places: int) -> pa.Array:
    """int64 minor units -> exact decimal text with ``places`` decimals (``-13.50``)."""
    words = np.empty((len(values), 2), dtype=np.int64)
    words[:, 0] = values
    words[:, 1] = values >> 63
    dec = pa.Array.from_buffers(pa.decimal128(38, places), len(values), [None, pa.py_buffer(words)])
    return pc.cast(dec, pa.string())


def _extended(q: _Col, q_text: pa.Array, q_ok: np.ndarray, u: _Col, u_text: pa.Array, u_ok: np.ndarray,
              credit: np.ndarray, cur: _Col, cur_places: np.ndarray) -> tuple[_Col, dict[int, int]]:
    """``quantity x unit`` per line, rounded half away from zero once per line to its currency's
    minor unit (credits always negative). Computed once per distinct (quantity, unit, credit,
    currency) combination. -> (the amounts as text, null where quantity or unit is unusable;
    {currency code index: total in minor units})."""
    nq, nu, nc = len(q_text), len(u_text), len(cur_places)
    qcode = q.rows(np.where(q_ok, np.arange(nq), nq)).astype(np.int64)
    ucode = u.rows(np.where(u_ok, np.arange(nu), nu)).astype(np.int64)
    key = ((qcode * (nu + 1) + ucode) * 2 + credit) * nc + cur.idx
    enc = pc.dictionary_encode(pa.array(key, type=pa.int64()))
    combos = enc.dictionary.to_numpy()
    inverse = enc.indices.to_numpy()
    counts = np.bincount(inverse, minlength=len(combos))
    c_cur = combos % nc
    rest = combos // nc
    c_credit = (rest % 2).astype(bool)
    rest //= 2
    c_u, c_q = rest % (nu + 1), rest // (nu + 1)
    valid = (c_q < nq) & (c_u < nu)
    c_q, c_u = np.where(valid, c_q, 0), np.where(valid, c_u, 0)
    places = cur_places[c_cur]
    qv, qs, qfit = _scaled(q_text, q_ok)
    uv, us, ufit = _scaled(u_text, u_ok)
    scale = qs + us
    bound = int(np.abs(qv).max(initial=0)) * int(np.abs(uv).max(initial=0)) * 10 ** max(0, int(places.max(initial=0)) - scale)
    totals: dict[int, int] = {}
    if qfit and ufit and bound <= _I64 // 2:  # room for the half added when rounding
        prod = qv[c_q] * uv[c_u]
        prod = np.where(c_credit, -np.abs(prod), prod)
        minor = np.zeros(len(combos), dtype=np.int64)
        parts = []
        for p in np.unique(places).tolist():
            sel = places == p
            x = prod[sel]
            if scale >= p:
                d = 10 ** (scale - p)
                r = np.sign(x) * ((np.abs(x) + d // 2) // d) if d > 1 else x
            else:
                r = x * 10 ** (p - scale)
            minor[sel] = r
            parts.append((np.flatnonzero(sel), _decimal_text(r, p)))
        if len(parts) == 1:
            text = parts[0][1]
        else:
            order = np.concatenate([i for i, _ in parts])
            text = pa.concat_arrays([t for _, t in parts]).take(pa.array(np.argsort(order)))
        text = pc.if_else(pa.array(valid), text, _NULL_STR)
        weighted = np.where(valid, minor, 0)
        safe_sum = int(np.abs(weighted).max(initial=0)) * len(key) <= _I64
        for c in np.unique(c_cur[valid]).tolist():
            sel = valid & (c_cur == c)
            totals[c] = int(np.dot(weighted[sel], counts[sel])) if safe_sum else \
                sum(a * b for a, b in zip(weighted[sel].tolist(), counts[sel].tolist()))
    else:  # a product beyond 63 bits: exact Python decimals per combination (never on real bills)
        qs_, us_ = q_text.to_pylist(), u_text.to_pylist()
        out = []
        for i in range(len(combos)):
            if not valid[i]:
                out.append(None)
                continue
            p = int(places[i])
            x = Decimal(qs_[c_q[i]]) * Decimal(us_[c_u[i]])
            if c_credit[i]:
                x = -abs(x)
            r = x.quantize(Decimal(1).scaleb(-p), rounding=ROUND_HALF_UP)
            if not r:
                r = abs(r)
            out.append(str(r))
            totals[int(c_cur[i])] = totals.get(int(c_cur[i]), 0) + int(r.scaleb(p)) * int(counts[i])
        text = pa.array(out, type=pa.string())
    return _Col(inverse.astype(np.int32, copy=False), text), totals


def _parse_dates(t: pa.Array, local: str | None):
    """Distinct date texts -> (timestamps (null when not a date), ISO text (null when not a date),
    'no such date' mask, 'not a date' mask)."""
    null_ts = pa.scalar(None, pa.timestamp("s"))
    blank = _np(pc.equal(t, ""))
    iso_shape = _np(pc.match_substring_regex(t, _ISO))
    ts = pc.strptime(pc.if_else(pa.array(iso_shape), t, _NULL_STR), format="%Y-%m-%d", unit="s", error_is_null=True)
    # arrow's strptime rolls 30 Feb over to 2 Mar: a real date prints back as the same text
    day_text = pc.utf8_slice_codeunits(pc.if_else(pa.array(iso_shape), t, "2000-01-01"), 8, 10)
    real = _np(pc.equal(pc.day(ts), pc.cast(day_text, pa.int64())))
    ts = pc.if_else(pa.array(real), ts, null_ts)
    text = pc.if_else(pa.array(real), t, _NULL_STR)
    todo = ~real & ~blank & ~iso_shape
    if local and todo.any():
        lts = pc.strptime(pc.if_else(pa.array(todo), t, _NULL_STR), format=local, unit="s", error_is_null=True)
        lreal = _np(pc.equal(pc.strftime(lts, format=local), t)) & todo
        odd = todo & ~lreal & _np(pc.is_valid(lts))  # e.g. 1/5/2026 (no zero padding): check in Python
        if odd.any():
            from datetime import datetime

            vals = t.to_pylist()
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
    no_such = not_date = np.zeros(len(t), dtype=bool)
    if bad.any():
        shaped = _np(pc.or_(pc.match_substring_regex(t, _ISO_SHAPE), pc.match_substring_regex(t, _LOCAL_SHAPE)))
        no_such, not_date = bad & shaped, bad & ~shaped
    return ts, text, no_such, not_date


def _days(ts: pa.Array) -> np.ndarray:
    """Timestamps (s) -> float days since the epoch, NaN when null."""
    return pc.cast(ts, pa.int64()).to_numpy(zero_copy_only=False).astype(float) / 86400.0


def _ym(ts: pa.Array) -> np.ndarray:
    y = pc.year(ts).to_numpy(zero_copy_only=False)
    m = pc.month(ts).to_numpy(zero_copy_only=False)
    return np.asarray(y, dtype=float) * 12 + np.asarray(m, dtype=float) - 1


def _codes(col: _Col, key_values: pa.Array) -> tuple[np.ndarray, int]:
    """Per-line codes of a key column whose distinct values are ``key_values`` (equal text = equal
    code, even when two raw values canonicalise to the same text)."""
    if col.distinct and key_values is col.dic:  # already one code per value: the reader's own
        return col.idx, len(col.dic)
    enc = pc.dictionary_encode(key_values)
    return col.rows(enc.indices.to_numpy().astype(np.int64)), len(enc.dictionary)


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
    digest = _sha256(data)
    result = ParseResult(file_name=file_name, format=mapping.name, billing_month=billing_month, sha256="")
    try:
        _parse_into(result, data, file_name, mapping, by, bm)
    finally:
        result.sha256 = digest()
    return result


def _missing_columns(missing: list[str], header: list[str], mapping: ColumnMapping) -> Problem:
    """One problem naming every required column the file lacks and the columns it has."""
    names = [mapping.column_for(f) for f in missing]
    what = ", ".join(repr(c) + (f" ({f})" if c != f else "") for c, f in zip(names, missing))
    found = [h for h in header if h]
    shown = ", ".join(repr(h[:40]) for h in found[:12]) + (f" and {len(found) - 12} more" if len(found) > 12 else "")
    reason = (f"missing required column{'s' if len(missing) > 1 else ''} {what}; "
              + (f"the file's columns are {shown}" if found else "the file's first row has no column names")
              + f" (read as the {mapping.name} format). Pick the format that matches the file, or map its columns yourself.")
    return Problem(1, names[0] if len(names) == 1 else None, reason)


def _sha256(data: bytes) -> Callable[[], str]:
    """The file's SHA-256, hashed on another thread while the file is read and checked (hashlib
    lets go of the GIL); call the result for the hex digest."""
    if len(data) < 1 << 20:
        value = hashlib.sha256(data).hexdigest()
        return lambda: value
    box: list[str] = []
    worker = threading.Thread(target=lambda: box.append(hashlib.sha256(data).hexdigest()), name="sha256", daemon=True)
    worker.start()

    def result() -> str:
        worker.join()
        return box[0] if box else hashlib.sha256(data).hexdigest()

    return result


def _parse_into(result: ParseResult, data: bytes, file_name: str, mapping: ColumnMapping, by: int, bm: int) -> None:
    """The body of :func:`parse_file`: fills ``result`` (all but the SHA-256)."""
    try:
        header, cells, numbers, result.encoding, result.delimiter, ragged, result.blank_rows, formulas = \
            _read(data, file_name, mapping)
    except _Unreadable as exc:
        result.problems.append(Problem(None, None, str(exc)))
        return
    if not header or all(not h for h in header):
        result.problems.append(Problem(None, None, "the file is empty"))
        return

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
    if missing:  # not this format's file (or not a vendor bill at all): one problem, no per-row noise
        result.problems.append(_missing_columns(missing, header, mapping))
        result.warnings = [w for w in result.warnings if not w.startswith(("unknown column", "column "))]
        return
    result.problems.extend(ragged)
    n = cells.num_rows
    if not n:
        result.problems.append(Problem(None, None, "the file has a header but no lines"))
        return

    col_name = dict(result.columns)
    cache: dict[str, _Col] = {}

    def raw(f: str) -> _Col:
        """The field's cells, trimmed, as distinct values + per-line codes."""
        if f not in cache:
            if f in src:
                c = _Col.encode(cells.column(src[f]))
                trimmed = pc.utf8_trim_whitespace(c.dic)
                # values stay distinct unless trimming changed one
                cache[f] = _Col(c.idx, trimmed, distinct=c.distinct and _text_length(trimmed) == _text_length(c.dic))
            elif f in mapping.constants:
                cache[f] = _Col.constant(mapping.constants[f], n)
            elif f in mapping.derive:
                col_name.setdefault(f, col_name.get(mapping.derive[f], f))
                cache[f] = raw(mapping.derive[f])
            else:
                cache[f] = _Col.constant("", n)
        return cache[f]

    def is_blank(a: pa.Array) -> np.ndarray:
        return _np(pc.equal(a, ""))

    bad_rows: list[tuple[np.ndarray, str, str, _Col | None]] = []  # (line mask, field, reason, values)

    def flag(col: _Col, per_value: np.ndarray, f: str, reason: str, values: _Col | None = None) -> None:
        """Every line whose value is flagged in ``per_value`` has a problem."""
        if per_value.any():
            bad_rows.append((col.rows(per_value), f, reason, values))

    def flag_rows(mask: np.ndarray, f: str, reason: str, values: _Col | None = None) -> None:
        if mask.any():
            bad_rows.append((mask, f, reason, values))

    def nullify_blank(c: _Col) -> _Col:
        return c.with_dic(pc.if_else(pc.equal(c.dic, ""), _NULL_STR, c.dic))

    out: dict[str, _Col] = {}
    for f in _TEXT_FIELDS:
        out[f] = raw(f)
    for f in REQUIRED_COLUMNS:
        if f in _TEXT_FIELDS:
            flag(out[f], is_blank(out[f].dic), f, "required value is empty")

    # ---- enumerations (blank -> None here: the caller picks the default)
    def enum(f: str, allowed: tuple[str, ...]) -> tuple[_Col, pa.Array, np.ndarray]:
        c = raw(f)
        vm = {**SYNONYMS.get(f, {}), **{k.lower(): v for k, v in mapping.value_maps.get(f, {}).items()}}
        vm.update({a: a for a in allowed})
        keys = list(vm)
        idx = pc.index_in(pc.utf8_lower(c.dic), value_set=pa.array(keys, type=pa.string()))
        mapped = pc.take(pa.array([vm[k] for k in keys], type=pa.string()), idx)
        blank = is_blank(c.dic)
        unknown = _np(pc.is_null(mapped)) & ~blank
        flag(c, unknown, f, f"unknown {f.replace('_', ' ')} (expected {', '.join(allowed)})", c)
        res = pc.if_else(pa.array(unknown), c.dic, mapped)  # unknown values kept as written
        return c, res, blank

    c, res, blank = enum("charge_type", CHARGE_TYPES)
    charge = c.with_dic(pc.if_else(pa.array(blank), "recurring", res))
    out["charge_type"] = charge
    c, res, blank = enum("billing_frequency", ("monthly", "annual"))
    out["billing_frequency"] = c.with_dic(pc.if_else(pa.array(blank), "monthly", res))
    c, res, blank = enum("term", ("monthly", "annual", "triennial", "none"))
    usage_like = charge.rows(_np(pc.is_in(charge.dic, value_set=pa.array(["usage", "one_time"]))))
    if blank.any():  # default by charge type: two extra values after the file's own
        k = len(res)
        term_idx = np.where(c.rows(blank), np.where(usage_like, k, k + 1), c.idx).astype(np.int32)
        out["term"] = _Col(term_idx, pa.concat_arrays([res, pa.array(["none", "monthly"], type=pa.string())]))
    else:
        out["term"] = c.with_dic(res)
    credit = charge.rows(_np(pc.equal(charge.dic, "credit")))

    # ---- currency
    craw = raw("currency")
    cur = pc.utf8_upper(craw.dic)
    cur = pc.if_else(pc.equal(cur, ""), "USD", cur)
    flag(craw, ~_np(pc.match_substring_regex(cur, r"^[A-Z]{3}$")), "currency", "not an ISO 4217 currency code", craw)
    cur_enc = pc.dictionary_encode(cur)  # equal codes for usd / USD / blank
    currency = _Col(craw.rows(cur_enc.indices.to_numpy()).astype(np.int32, copy=False), cur_enc.dictionary)
    out["currency"] = craw.with_dic(cur)
    currencies = [c for c in currency.dic.to_pylist() if c]
    cur_places = np.array([MINOR_UNITS.get(c, 2) for c in currency.dic.to_pylist()], dtype=np.int64)

    # ---- numbers
    qraw = raw("quantity")
    q, qbad, qlong = _number(qraw.dic, mapping.decimal_comma, money=False)
    qempty = is_blank(qraw.dic)
    flag(qraw, qempty, "quantity", "required value is empty")
    qbad &= ~qempty
    flag(qraw, qbad, "quantity", "not a number", qraw)
    flag(qraw, qlong, "quantity", f"too many digits (at most {_Q_WHOLE} before and {_Q_SCALE} after the decimal point)", qraw)
    qneg = _np(pc.starts_with(q, "-")) & ~qbad & ~qempty
    flag_rows(qraw.rows(qneg) & ~credit, "quantity", "negative quantity (only credit lines may be negative)", qraw)
    out["quantity"] = nullify_blank(qraw.with_dic(q))
    qok = ~qbad & ~qempty & ~qlong
    amount: dict[str, tuple[_Col, pa.Array, np.ndarray]] = {}
    for f in _MONEY_FIELDS:
        r = raw(f)
        m, mbad, mlong = _number(r.dic, mapping.decimal_comma, money=True)
        mempty = is_blank(r.dic)
        if f in REQUIRED_COLUMNS:
            flag(r, mempty, f, "required value is empty")
        mbad &= ~mempty
        flag(r, mbad, f, "not an amount", r)
        flag(r, mlong, f, f"too many digits (at most {_M_WHOLE} before and {_M_SCALE} after the decimal point)", r)
        mneg = _np(pc.starts_with(m, "-")) & ~mbad & ~mempty
        flag_rows(r.rows(mneg) & ~credit, f, "negative amount (only credit lines may be negative)", r)
        out[f] = nullify_blank(r.with_dic(m))
        amount[f] = (r, m, ~mbad & ~mempty & ~mlong)

    # ---- dates
    date_col: dict[str, _Col] = {}  # the date text as read (time of day stripped)
    ts_of: dict[str, pa.Array] = {}
    if PERIOD_RANGE in src:
        prc = _Col.encode(cells.column(src[PERIOD_RANGE]))
        pr = pc.utf8_trim_whitespace(prc.dic)
        parts = pc.split_pattern_regex(pr, r"\s+-\s+|\s*[–—]\s*|\s+to\s+", max_splits=1)
        start_t = pc.utf8_trim_whitespace(pc.fill_null(pc.list_element(parts, 0), ""))
        end_t = pc.utf8_trim_whitespace(pc.fill_null(pc.list_element(pc.if_else(pc.greater(pc.list_value_length(parts), 1), parts, pa.scalar(["", ""], pa.list_(pa.string()))), 1), ""))
        flag(prc, ~is_blank(pr) & is_blank(end_t), "period_start", "billing period must be 'start - end'", prc.with_dic(pr))
        cache["period_start"], cache["period_end"] = prc.with_dic(start_t), prc.with_dic(end_t)
        col_name["period_start"] = col_name["period_end"] = header[src[PERIOD_RANGE]]
    local = mapping.date_format
    expect = "YYYY-MM-DD" + (f" or {local.replace('%m', 'MM').replace('%d', 'DD').replace('%Y', 'YYYY').replace('%y', 'YY')}" if local else "")
    for f in _DATE_FIELDS:
        c = raw(f)
        t = c.dic
        if pc.any(pc.match_substring(t, ":")).as_py():
            t = pc.replace_substring_regex(t, r"[T ]00:00(?::00(?:\.0+)?)?Z?$", "")
        c = c.with_dic(t)
        date_col[f] = c
        ts, text, no_such, not_date = _parse_dates(t, local)
        flag(c, no_such, f, "no such date", c)
        flag(c, not_date, f, f"not a date (expected {expect})", c)
        ts_of[f] = ts
        out[f] = c.with_dic(text)
    ps, pe = date_col["period_start"], date_col["period_end"]
    ends_before = ps.rows(_days(ts_of["period_start"])) > pe.rows(_days(ts_of["period_end"]))
    flag_rows(ends_before, "period_end", "period ends before it starts", pe)

    # ---- extended amounts: exact, rounded once per line to the currency's minor unit
    for f, ext in (("unit_cost", "extended_cost"), ("unit_price", "extended_price")):
        u, u_text, u_ok = amount[f]
        out[ext], totals = _extended(qraw, q, qok, u, u_text, u_ok, credit, currency, cur_places)
        total = Decimal(0)
        for ci, minor in totals.items():
            total += Decimal(minor).scaleb(-int(cur_places[ci]))
        total = total.quantize(Decimal("0.01")) if all(MINOR_UNITS.get(c, 2) <= 2 for c in currencies) else total
        if f == "unit_cost":
            result.total_cost = total
        else:
            result.total_price = total

    # ---- text fields: empty = missing
    for f in _TEXT_FIELDS:
        out[f] = nullify_blank(out[f])

    # ---- duplicates (fast path: all keys distinct)
    key = np.zeros(n, dtype=np.int64)
    span = 1
    for f in DUPLICATE_KEY:
        if f in _TEXT_FIELDS:  # the trimmed text: blank and missing are the same key
            c = raw(f)
            values = c.dic
        else:
            c = out[f]
            values = c.dic
            if f in ("period_start", "period_end"):  # an unreadable date still tells lines apart
                values = pc.if_else(pc.is_null(values), date_col[f].dic, values)
            values = pc.fill_null(values, "")
        codes, card = _codes(c, values)
        if f == "vendor_customer_id":  # distinct customers: distinct trimmed ids, blank not one
            result._customers = card - int(bool(pc.any(pc.equal(values, "")).as_py()))
        if span * card > _I64 // 4:
            dense = pc.dictionary_encode(pa.array(key))
            key, span = dense.indices.to_numpy().astype(np.int64), len(dense.dictionary)
        key = key * card + codes
        span *= card
    codes, uniq = pd.factorize(key)  # pandas' int64 hash table: a few ms for 100,000 lines
    if len(uniq) < n:
        first = np.full(len(uniq), n, dtype=np.int64)
        np.minimum.at(first, codes, np.arange(n))
        first_row = first[codes]
        for i in np.flatnonzero(first_row != np.arange(n)):
            result.problems.append(Problem(int(numbers[i]), None,
                                           f"duplicate of row {int(numbers[int(first_row[i])])} (same customer, subscription, SKU, charge type and period)"))

    # ---- landing month and out-of-month lines: bdom.landing_month (the one rule) per distinct
    # combination of charge type and dates, mapped back onto the lines
    def day_values(f: str) -> list:
        return [None if v is None else v.date() for v in pc.cast(ts_of[f], pa.timestamp("s")).to_pylist()]

    dates = {f: (date_col[f].idx, day_values(f)) for f in ("period_start", "period_end", "effective_date")}
    charge_values = charge.dic.to_pylist()
    combo = charge.idx.astype(np.int64)
    for f in ("period_start", "period_end", "effective_date"):
        combo = combo * (len(dates[f][1]) + 1) + dates[f][0]
    uniq, first, inverse = np.unique(combo, return_index=True, return_inverse=True)
    month_of = [landing_month(charge_values[charge.idx[i]], *(dates[f][1][dates[f][0][i]] for f in
                                                              ("period_start", "period_end", "effective_date")))
                for i in first.tolist()]
    labels = sorted({m for m in month_of if m is not None})
    pos = {m: k for k, m in enumerate(labels)}
    per_combo = np.array([pos[m] if m is not None else len(labels) for m in month_of], dtype=np.int32)
    line_month = per_combo[inverse]
    if any(m is None for m in month_of):
        labels.append(None)
    landing_month_col = _Col(line_month, pa.array(labels, type=pa.string()))
    month = f"{by:04d}-{bm:02d}"
    ok_per_combo = np.array([lands_in(month, charge_values[charge.idx[i]], m)
                             for i, m in zip(first.tolist(), month_of)], dtype=bool)
    out_of_month = ~ok_per_combo[inverse]

    # ---- problems, in file order; a formula cell without a saved value is named as such (its
    # emptiness, or whatever else it broke, follows from that)
    unsaved = {(row, header[j]): f for (row, j), f in formulas.items() if j < len(header) and j in src.values()}
    for mask, f, reason, values in bad_rows:
        col = col_name.get(f, mapping.column_for(f))
        idx = np.flatnonzero(mask)
        vals = values.values_at(idx) if values is not None else [None] * len(idx)
        for i, v in zip(idx, vals):
            if (int(numbers[i]), col) not in unsaved:
                result.problems.append(Problem(int(numbers[i]), col, reason, v))
    for (row, col), formula in sorted(unsaved.items()):
        result.problems.append(Problem(row, col, "the cell holds a formula whose value was never saved: open the file "
                                                 "in Excel and save it (or export it as CSV), then load it again", formula))
    result.problems.sort(key=lambda p: (p.row or 0))
    arrays = {"line_no": pa.array(numbers, type=pa.int64())}
    arrays.update({c: out[c].arrow() for c in LINE_COLUMNS})
    arrays["landing_month"] = landing_month_col.arrow()
    arrays["out_of_month"] = pa.array(out_of_month)
    result.table = pa.table(arrays)
    if len(currencies) > 1:
        result.warnings.append(f"the file mixes currencies ({', '.join(sorted(currencies))}); totals add them up as numbers")
