"""Vendor sources as a registry: one module per vendor, file formats and vendor APIs alike.

A :class:`Source` turns what a vendor gives (a file, or the answer of its API) into canonical
vendor lines with its own charge-type table. Every source's lines go through the **same**
validation (the vectorised checks of :mod:`billbridge.sources.parse`) and the **same**
all-or-nothing, versioned store path (:func:`billbridge.sources.load.load_month` ->
``store.record_import``) as a file: a source never writes to the store itself.

::

    from billbridge.sources import registry

    registry.names()                      # generic, intermedia, interworks, phin, microsoft, …, pax8, sherweb
    registry.names(kind="api")            # pax8, sherweb
    src = registry.get("microsoft")       # Source(name, kind, label, charge_types, guesses, …)
    src.charge_types["cyclecharge"]       # 'recurring'
    registry.load_month(store, "2026-11", data, "recon.csv", "microsoft")   # a file source
    registry.pull(store, "pax8", "2026-11", draft=False, progress=None)      # an API source

How a non-preset source reaches the store: it builds a :class:`SourceLines` (canonical text
columns, ``extended_cost`` = the vendor's own extended amount, the :data:`EXTRA_COLUMNS` it knows,
the vendor's row per line, and every problem it found itself: an unknown charge type, a subtotal
that breaks the vendor's rounding rule). :func:`validate` writes the canonical columns as a
``generic`` CSV, runs :func:`~billbridge.sources.parse.parse_file` on it (every check a file gets),
and maps the problems back onto the vendor's rows and column names; the vendor's own amounts
replace the recomputed ``extended_cost`` so the import's vendor cost is the vendor's figure to the
cent (Rule 7.7). The result is an ordinary :class:`~billbridge.sources.parse.ParseResult`.

The four column-mapping presets (``generic``, ``intermedia``, ``interworks``, ``phin``) are
registered through a thin adapter over :data:`~billbridge.sources.formats.PRESETS` (unchanged).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from billbridge.bdom import parse_billing_month
from billbridge.errors import InputError
from billbridge.sources import load as _load
from billbridge.sources.formats import CANONICAL_COLUMNS, GENERIC, PRESETS, SYNONYMS, ColumnMapping
from billbridge.sources.parse import ParseResult, Problem, parse_file as _parse_file

__all__ = [
    "EXTRA_COLUMNS", "KINDS", "Source", "SourceLines", "register", "get", "names", "file_names",
    "validate", "parse_file", "load_month", "pull", "link_credits", "decimal_text", "vendor_of", "draft_format",
]

KINDS = ("file", "api")

#: Canonical columns a source may add next to :data:`~billbridge.sources.formats.CANONICAL_COLUMNS`
#: (and ``extended_cost``, the vendor's own extended amount, which every non-preset source sets).
#: Declared here, and only here. They are kept on :attr:`ParseResult.table` / ``lines`` (preview,
#: problems) and stored on ``vendor_lines`` (``store.EXTRA_LINE_COLUMNS``, the same names in the same
#: order, checked by tests/test_store_vendor_extras.py; migration m010 added them).
EXTRA_COLUMNS: dict[str, str] = {
    "vendor_line_id": "the vendor's own id of the line (Pax8 item id, Sherweb chargeId, Microsoft OrderId)",
    "vendor_invoice_id": "the vendor's invoice the line is on (Microsoft InvoiceNumber, Pax8 invoice id, Sherweb invoice number)",
    "vendor_charge_type": "the vendor's charge type as it wrote it (Microsoft ChargeType, Pax8 type, Sherweb chargeType)",
    "vendor_customer_external_id": "the partner's own reference for the customer kept at the vendor (Pax8 externalId)",
    "vendor_customer_domain": "the customer's domain at the vendor (Microsoft CustomerDomainName; matching uses it)",
    "tax": "tax on the line in the line's currency (Microsoft TaxTotal, Pax8 salesTax): shown, never re-billed",
    "exchange_rate": "pricing-to-billing currency rate the vendor applied (Microsoft PCToBCExchangeRate): shown, never applied",
    "pricing_currency": "the currency the vendor priced the line in (Microsoft PricingCurrency)",
    "list_unit_cost": "the vendor's unit price before adjustments and deductions (Microsoft UnitPrice, Sherweb listPrice)",
    "deductions": "the vendor's deductions on the line as JSON text (Sherweb PromotionalMoney / PromotionalPercentage / PerformancePercentage)",
    "deduction_total": "the deductions' total for the line (Sherweb deductions[].totalValue summed)",
    "vendor_prorated": "'true' when the vendor itself prorated the line (a window shorter than the full period)",
    "credit_for_line": "for a credit: the line_no of the charge it refunds in the same load (same subscription); empty when that charge was billed in an earlier month",
    "commitment_end": "the last day of the subscription's current commitment term at the vendor (Pax8 commitmentTerm.endDate); dates an annual or three-year term",
}


@dataclass(frozen=True)
class Source:
    """One vendor source.

    * ``kind``: ``"file"`` (``parse(data, file_name, billing_month) -> ParseResult``) or ``"api"``
      (``fetch(settings, billing_month, *, draft, progress) -> SourceLines``).
    * ``charge_types``: the vendor's charge-type values (lower-case) -> billbridge's charge type
      (``recurring``, ``usage``, ``one_time``, ``credit``; ``"by sign"`` when the amount's sign
      decides). A value not in it is a load problem naming the value and the row.
    * ``guesses``: the ``charge_types`` keys that are our reading, not the vendor's published word.
    * ``vendor``: the default vendor name imports are versioned under (default: ``name``).
    """

    name: str
    kind: str
    label: str
    charge_types: Mapping[str, str] = field(default_factory=dict)
    guesses: frozenset[str] = frozenset()
    parse: Callable[[bytes, str, str], ParseResult] | None = None
    fetch: Callable[..., "SourceLines"] | None = None
    description: str = ""
    vendor: str | None = None
    preset: bool = False  # a column-mapping preset of formats.py (loaded by load.py directly)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"a source's kind is file or api, not {self.kind!r}")
        if self.kind == "file" and self.parse is None:
            raise ValueError(f"file source {self.name!r} needs a parse function")
        if self.kind == "api" and self.fetch is None:
            raise ValueError(f"api source {self.name!r} needs a fetch function")

    @property
    def default_vendor(self) -> str:
        return self.vendor or self.name

    def charge_table(self) -> pd.DataFrame:
        """The charge-type table for documentation and the UI: vendor value, charge type, guess."""
        return pd.DataFrame(
            [{"vendor value": k, "charge type": v, "guess": k in self.guesses} for k, v in self.charge_types.items()],
            columns=["vendor value", "charge type", "guess"],
        )


_REGISTRY: dict[str, Source] = {}
#: display order; sources registered later without a place here come after, by name
_ORDER = ("generic", "intermedia", "interworks", "phin", "microsoft", "microsoft-graph", "pax8", "sherweb")


def register(source: Source) -> Source:
    """Add (or replace) a source under its name; returns it."""
    _REGISTRY[source.name] = source
    return source


def get(name: str) -> Source:
    """The source registered as ``name``; an :class:`InputError` listing the known ones otherwise."""
    try:
        return _REGISTRY[name]
    except (KeyError, TypeError):
        raise InputError(f"unknown source {name!r}; known sources: {', '.join(names())}") from None


def names(kind: str | None = None) -> list[str]:
    """Registered source names (optionally of one kind), in display order."""
    rank = {n: i for i, n in enumerate(_ORDER)}
    found = [n for n, s in _REGISTRY.items() if kind is None or s.kind == kind]
    return sorted(found, key=lambda n: (rank.get(n, len(rank)), n))


def file_names() -> list[str]:
    """Names of the file formats (presets and vendor file sources): the Load month page's list."""
    return names(kind="file")


def vendor_of(name: str) -> str:
    """The vendor name a source's imports are versioned under by default."""
    return get(name).default_vendor


# ------------------------------------------------------------------------------ shared helpers
_PLAIN_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def decimal_text(value: Any, *, places: int | None = None, min_places: int = 0) -> str | None:
    """A number as exact canonical decimal text (``-13.50``), or None when it is not a number.

    ``value``: a str (JSON numbers are read as their text), int or Decimal; exponent forms are
    expanded. ``places`` rounds half away from zero to that many decimals (used only where a
    source says so); ``min_places`` pads (money gets at least two decimals). Each distinct value
    is converted once (a bill repeats a few dozen amounts).
    """
    if value is None or isinstance(value, bool):
        return None
    return _decimal_text(str(value), places, min_places)


@functools.lru_cache(maxsize=65536)
def _decimal_text(value: str, places: int | None, min_places: int) -> str | None:
    text = value.strip()
    if not text or not _PLAIN_NUMBER.match(text):
        return None
    try:
        d = Decimal(text)
    except InvalidOperation:
        return None
    if places is not None:
        from decimal import ROUND_HALF_UP

        d = d.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)
    s = format(d, "f")
    if s.startswith("-") and not any(ch not in "-0." for ch in s):
        s = s[1:]  # no negative zero
    if min_places:
        whole, _, frac = s.partition(".")
        s = f"{whole}.{frac.ljust(min_places, '0')}" if len(frac) < min_places else s
    return s


@dataclass
class SourceLines:
    """What a non-preset source produced, before the shared validation (:func:`validate`).

    * ``lines``: one row per vendor line, canonical text columns (:data:`CANONICAL_COLUMNS`) plus
      ``extended_cost`` (the vendor's own extended amount, exact decimal text) and any of
      :data:`EXTRA_COLUMNS`; ``""`` = missing. Dates ISO ``YYYY-MM-DD``.
    * ``rows``: the vendor's row per line (a file row with the header as row 1, a JSON line's
      number, or an API item's position in the pull), stored as ``line_no``.
    * ``columns``: canonical field -> the vendor's own column or field name (for messages).
    * ``line_ids``: the vendor's identity per line (optional). Two lines with the same duplicate
      key but different ids are two real vendor lines (two seat additions on one day), not a
      duplicate.
    * ``problems`` / ``warnings``: what the source found itself (named by vendor row and column).
    * ``row_names``: optional words per line added to its problems (an API item's id).
    * ``encoding`` / ``delimiter``: how the vendor's bytes were read (shown with the preview).
    * ``vendor_total``: the vendor's own total of ``extended_cost`` (checked against the import).
    """

    source: str
    file_name: str
    sha256: str
    lines: pd.DataFrame
    rows: Sequence[int]
    columns: dict[str, str] = field(default_factory=dict)
    line_ids: Sequence[str] | None = None
    problems: list[Problem] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    row_names: Sequence[str] | None = None
    encoding: str | None = None  # how the vendor's bytes were read (``utf-8-sig``, ``gzip JSON lines``)
    delimiter: str | None = None  # the vendor file's delimiter, when it has one

    @property
    def vendor_total(self) -> Decimal:
        return _decimal_sum(self.lines["extended_cost"]) if "extended_cost" in self.lines else Decimal("0.00")


def _arrow_text(col: Any) -> pa.Array:
    """A text column (a pandas Series of any string or object dtype, an Arrow array, a numpy array
    or a list) as one Arrow string array; missing values are ``""``. Arrow-backed columns are
    not copied."""
    if isinstance(col, pd.Series):
        backing = getattr(col.array, "_pa_array", None)
        col = backing if backing is not None else col.to_numpy(dtype=object, na_value=None)
    if isinstance(col, (pa.Array, pa.ChunkedArray)):
        a = col if pa.types.is_string(col.type) else pc.cast(col, pa.string())
    else:
        values = np.asarray(col, dtype=object)
        try:
            a = pa.array(values, type=pa.string(), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            a = pa.array([None if v is None or v != v else str(v) for v in values], type=pa.string())
    if isinstance(a, pa.ChunkedArray):
        a = a.combine_chunks()
    return pc.fill_null(a, "")


def _nullable(a: pa.Array) -> pa.Array:
    return pc.if_else(pc.equal(a, ""), pa.scalar(None, pa.string()), a)


def _decimal_sum(values: Any) -> Decimal:
    counts = pc.value_counts(_arrow_text(values))
    return sum((Decimal(v) * int(k) for v, k in zip(counts.field("values").to_pylist(),
                                                    counts.field("counts").to_pylist()) if v),
               Decimal("0.00"))


def _canonical_csv(lines: pd.DataFrame) -> bytes:
    n = len(lines)
    blank = pa.array([""] * n, type=pa.string())
    cols = {c: (_arrow_text(lines[c]) if c in lines else blank) for c in CANONICAL_COLUMNS}
    sink = pa.BufferOutputStream()
    pacsv.write_csv(pa.table(cols), sink, write_options=pacsv.WriteOptions(quoting_style="needed"))
    return sink.getvalue().to_pybytes()


_DUPLICATE_OF = re.compile(r"^duplicate of row (\d+)\b")


def validate(lines: SourceLines, billing_month: str) -> ParseResult:
    """Run the shared validation on a source's canonical lines; return a :class:`ParseResult`
    whose rows, columns, amounts and problems speak the vendor's language.

    Every check a file gets (required values, numbers, dates, periods, duplicates, landing month,
    currency) runs on the canonical columns; the problems are mapped back to the vendor's rows and
    column names; the vendor's ``extended_cost`` replaces the recomputed one, so ``total_cost`` is
    the vendor's own total; the :data:`EXTRA_COLUMNS` ride along on the table.
    """
    parse_billing_month(billing_month)
    df = lines.lines.reset_index(drop=True)
    rows = np.asarray(list(lines.rows), dtype=np.int64)
    if len(rows) != len(df):
        raise ValueError("SourceLines.rows must give one vendor row per line")
    parsed = _parse_file(_canonical_csv(df), "canonical.csv", GENERIC, billing_month) if len(df) else \
        ParseResult(file_name=lines.file_name, format=lines.source, billing_month=billing_month, sha256="")
    parsed.file_name = lines.file_name
    parsed.format = lines.source
    parsed.sha256 = lines.sha256
    parsed.encoding, parsed.delimiter = lines.encoding, lines.delimiter
    colname = {c: lines.columns.get(c, c) for c in CANONICAL_COLUMNS}
    ids = None if lines.line_ids is None else list(lines.line_ids)

    def vendor_row(csv_row: int | None) -> int | None:
        if csv_row is None or not 2 <= csv_row < len(rows) + 2:
            return None if csv_row is None or csv_row == 1 else csv_row
        return int(rows[csv_row - 2])

    problems: list[Problem] = list(lines.problems)
    for p in parsed.problems:
        if p.reason == "the file has a header but no lines":
            continue
        m = _DUPLICATE_OF.match(p.reason)
        reason = p.reason
        if m:
            if ids is not None and p.row is not None:
                a, b = p.row - 2, int(m.group(1)) - 2
                if 0 <= a < len(ids) and 0 <= b < len(ids) and ids[a] and ids[b] and ids[a] != ids[b]:
                    continue  # two real vendor lines that share the duplicate key
            reason = f"duplicate of row {vendor_row(int(m.group(1)))}" + p.reason[m.end():]
        problems.append(Problem(vendor_row(p.row), colname.get(p.column, p.column) if p.column else None,
                                reason, p.value))
    if not len(df) and not problems:
        problems.append(Problem(None, None, f"{lines.file_name} has no lines"))
    if lines.row_names is not None:
        label = dict(zip(rows.tolist(), lines.row_names))
        problems = [Problem(p.row, p.column, f"{p.reason} ({label[p.row]})", p.value) if p.row in label else p
                    for p in problems]
    problems.sort(key=lambda p: (p.row or 0))
    parsed.problems = problems
    parsed.warnings = [*lines.warnings, *parsed.warnings]
    parsed.columns = {c: colname[c] for c in CANONICAL_COLUMNS if c in lines.columns}
    if parsed.table is not None and parsed.table.num_rows == len(df):
        t = parsed.table.set_column(parsed.table.schema.get_field_index("line_no"), "line_no",
                                    pa.array(rows, type=pa.int64()))
        if "extended_cost" in df:
            t = t.set_column(t.schema.get_field_index("extended_cost"), "extended_cost",
                             _nullable(_arrow_text(df["extended_cost"])))
            parsed.total_cost = lines.vendor_total
        for c in EXTRA_COLUMNS:
            if c in df:
                t = t.append_column(c, _nullable(_arrow_text(df[c])))
        parsed.table = t
        parsed.__dict__.pop("lines", None)
        parsed.__dict__.pop("rows", None)
    return parsed


def link_credits(lines: pd.DataFrame, rows: Sequence[int]) -> tuple[pd.Series, int]:
    """For each credit line, the vendor row of the charge it refunds (Rule 6.5): same customer,
    subscription and SKU, not a credit, whose period holds the credit's first day (else the latest
    one starting before it). -> (``credit_for_line`` texts, number of credits with no original in
    this load: their charge was billed in an earlier month, or they name no subscription)."""
    n = len(lines)
    out = np.full(n, "", dtype=object)
    is_credit = np.asarray(pc.equal(_arrow_text(lines["charge_type"]), "credit").to_numpy(zero_copy_only=False),
                           dtype=bool)
    credits = np.flatnonzero(is_credit)
    if not len(credits):
        return pd.Series(out, index=lines.index), 0
    blank = pa.array([""] * n, type=pa.string())
    cols = {c: (_arrow_text(lines[c]) if c in lines else blank)
            for c in ("vendor_customer_id", "subscription_id", "sku", "period_start", "period_end")}
    sub = cols["subscription_id"]
    wanted = sorted({v for v in sub.take(pa.array(credits)).to_pylist() if v})
    in_wanted = np.asarray(pc.is_in(sub, value_set=pa.array(wanted, type=pa.string())).to_numpy(zero_copy_only=False),
                           dtype=bool)
    candidates = np.flatnonzero(in_wanted & ~is_credit)

    def at(idx: np.ndarray) -> list[tuple]:
        take = pa.array(idx, type=pa.int64())
        return list(zip(*(cols[c].take(take).to_pylist() for c in cols))) if len(idx) else []

    charges: dict[tuple, list[tuple[str, str, int]]] = {}
    for i, (cust, s_id, sku, ps, pe) in zip(candidates, at(candidates)):
        charges.setdefault((cust, s_id, sku), []).append((ps, pe, int(rows[i])))
    missing = 0
    for i, (cust, s_id, sku, start, _end) in zip(credits, at(credits)):
        cands = charges.get((cust, s_id, sku), []) if s_id else []
        holding = [c for c in cands if c[0] and c[0] <= start and (not c[1] or start <= c[1])]
        before = [c for c in cands if c[0] and c[0] <= start]
        pick = max(holding or before, default=None, key=lambda c: (c[0], c[2]))
        if pick is None:
            missing += 1
        else:
            out[i] = str(pick[2])
    return pd.Series(out, index=lines.index), missing


# ---------------------------------------------------------------------------- file entry points
def _is_direct(fmt: Any) -> bool:
    """Whether ``fmt`` goes straight to load.py (a preset, a mapping, or a saved format's name)."""
    if isinstance(fmt, (ColumnMapping, dict)):
        return True
    src = _REGISTRY.get(fmt) if isinstance(fmt, str) else None
    return src is None or src.preset


def parse_file(data: bytes, file_name: str, fmt: str | ColumnMapping | dict = "generic",
               billing_month: str = "") -> ParseResult:
    """Read and validate one vendor file (pure): a preset, a :class:`ColumnMapping`, or a
    registered file source such as ``"microsoft"``. See :func:`billbridge.sources.parse.parse_file`."""
    if _is_direct(fmt):
        return _parse_file(data, file_name, fmt, billing_month)
    src = get(fmt)
    if src.kind != "file":
        raise InputError(f"{src.label} is pulled from its API, not loaded from a file (sources.pull)")
    return src.parse(data, file_name, billing_month)


def load_month(store, billing_month: str, data: bytes, file_name: str, fmt: str | ColumnMapping | dict = "generic",
               vendor: str | None = None, exclude_out_of_month: bool = False, loaded_by: str | None = None):
    """Parse, validate and store one vendor file as the month's import (all or nothing,
    versioned): :func:`billbridge.sources.load.load_month` for presets and saved formats; a
    registered file source (``"microsoft"``) parses with its own module and stores the same way.
    ``vendor`` defaults to the source's vendor name."""
    if _is_direct(fmt):
        try:
            return _load.load_month(store, billing_month, data, file_name, fmt, vendor=vendor,
                                    exclude_out_of_month=exclude_out_of_month, loaded_by=loaded_by)
        except InputError as exc:  # load.py knows the presets; every registered file format is named here
            if exc.reason != "unknown format":
                raise
            saved_for = f"a format saved for vendor {vendor}" if vendor else "a saved format: name its --vendor"
            raise InputError(f"unknown format {fmt!r}: use one of {', '.join(file_names())} (or {saved_for})",
                             column="format", reason="unknown format") from None
    src = get(fmt)
    parsed = parse_file(data, file_name, fmt, billing_month)
    return _store(store, parsed, src, vendor, exclude_out_of_month, loaded_by)


def _store(store, parsed: ParseResult, src: Source, vendor: str | None, exclude_out_of_month: bool,
           loaded_by: str | None, format_name: str | None = None):
    """The one store path: load.py's (unchanged check, all-or-nothing versioned record, diff)."""
    return _load.load_month(store, parsed.billing_month, parsed, parsed.file_name,
                            ColumnMapping(name=format_name or src.name), vendor=vendor or src.default_vendor,
                            exclude_out_of_month=exclude_out_of_month, loaded_by=loaded_by)


def draft_format(name: str) -> str:
    """The ``format`` an API source's draft pull is stored under (``pax8-draft``): the imports
    table tells a draft from the final bill by it."""
    return f"{name}{DRAFT_SUFFIX}"


DRAFT_SUFFIX = "-draft"


# ----------------------------------------------------------------------------- API entry point
def pull(store, vendor: str, billing_month: str, *, draft: bool = False,
         progress: Callable[[int, int | None, str], None] | None = None, settings=None,
         secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
         loaded_by: str | None = None, exclude_out_of_month: bool = False, **options: Any):
    """Pull ``vendor``'s bill for ``billing_month`` from its API and store it like a file: the
    same :class:`~billbridge.sources.load.LoadResult` as :func:`load_month` (all or nothing,
    versioned; a draft followed by the final bill shows what changed).

    * ``draft``: the vendor's not-yet-invoiced charges (Pax8 draft items, Sherweb unbilled
      charges) to reconcile before the bill exists.
    * ``progress(done, total, text)``: called as pages arrive (``total`` None while unknown).
    * ``settings``: a :class:`~billbridge.sources.settings.VendorSettings`; by default the
      vendor's ``[pax8]``/``[sherweb]`` secrets section (``secrets``) or environment, and with
      no credentials configured, the sandbox's emulator of that vendor.
    * ``options``: passed to the source's fetch (e.g. ``concurrency``).

    HTTP failures raise :class:`~billbridge.sources.http.VendorAPIError` (nothing is stored).
    """
    from billbridge.sources import settings as _settings

    src = get(vendor)
    if src.kind != "api":
        raise InputError(f"{src.label} comes as a file; load it with sources.load_month (format {src.name!r})")
    parse_billing_month(billing_month)
    vendor_name = src.default_vendor
    if draft:
        from billbridge import store as st

        latest = st.latest_import(store, vendor_name, billing_month)
        if latest is not None and not str(latest["format"]).endswith(DRAFT_SUFFIX):
            raise InputError(f"the final {src.label} bill for {billing_month} is already loaded (version "
                             f"{latest['version']}); a draft pulled now would replace it")
    if settings is None:
        settings = _settings.resolve(src.name, secrets=secrets, env=env)
    lines = src.fetch(settings, billing_month, draft=draft, progress=progress, **options)
    if progress:
        progress(0, None, f"Checking {len(lines.lines):,} lines")
    parsed = validate(lines, billing_month)
    result = _store(store, parsed, src, None, exclude_out_of_month, loaded_by,
                    format_name=draft_format(src.name) if draft else src.name)
    if progress:
        progress(1, 1, result.message)
    return result


# ------------------------------------------------------------------- the presets, as sources
def _preset_charge_types(mapping: ColumnMapping) -> dict[str, str]:
    table = dict(SYNONYMS["charge_type"])
    table.update({k.lower(): v for k, v in mapping.value_maps.get("charge_type", {}).items()})
    if "charge_type" in mapping.constants:
        table = {mapping.constants["charge_type"]: mapping.constants["charge_type"]}
    return table


def _preset_source(mapping: ColumnMapping) -> Source:
    name = mapping.name

    def parse(data: bytes, file_name: str, billing_month: str) -> ParseResult:
        return _parse_file(data, file_name, PRESETS[name], billing_month)

    return Source(name=name, kind="file", label=name.capitalize() if name != "generic" else "billbridge generic",
                  charge_types=_preset_charge_types(mapping), parse=parse, description=mapping.description,
                  preset=True)


for _m in PRESETS.values():
    register(_preset_source(_m))

# The vendor modules register themselves when imported; billbridge.sources (the package, which runs
# before any of its modules) imports each of them, so the registry is complete whatever imports it.
