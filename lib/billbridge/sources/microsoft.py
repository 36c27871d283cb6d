"""Microsoft Partner Center, new commerce: the billed invoice reconciliation file (``--format microsoft``).

Reads both shapes Microsoft gives (auto-detected):

* the reconciliation **CSV** downloaded from Partner Center › Billing › the invoice ›
  "Reconciliation file" (US dates like ``11/1/2026``; UTF-8 with or without BOM, else cp1252);
* the **Graph export**'s JSON lines, gzip-compressed or not (``reports/partners/billing/
  reconciliation/billed/export``): the same columns, ISO timestamps.

Field mapping (``*`` required column):

===================== ============================ ================================================
Microsoft column      billbridge field             notes
===================== ============================ ================================================
CustomerId*           vendor_customer_id           the customer's Microsoft Entra tenant id
CustomerName*         vendor_customer_name
CustomerDomainName    vendor_customer_domain       extra column; matching uses it later
SubscriptionId        subscription_id              credits are matched to charges by it
ProductId* + SkuId*   sku = ``ProductId:SkuId``    see "SKU" below
SkuName / ProductName product_name                 SkuName, else ProductName
ChargeType*           charge_type                  the table below; an unknown value is a problem
BillingFrequency      billing_frequency            Monthly / Annual; empty = a one-time charge
TermAndBillingCycle   term                         1 month -> monthly, 1 year -> annual, 3 years -> triennial
BillableQuantity*     quantity                     ("Use BillableQuantity for reconciliation")
EffectiveUnitPrice*   unit_cost                    in the billing currency, see "Amounts"
UnitPrice             list_unit_cost               extra column (list price, pricing currency)
ChargeStartDate*      period_start, effective_date a start date means 00:00 of that day
ChargeEndDate*        period_end                   inclusive (23:59 of that day)
Currency*             currency                     the billing currency
Subtotal*             extended_cost                the vendor's own pre-tax amount (Rule 7.7)
TaxTotal              tax                          extra column: shown, never re-billed
Total                 (checked)                    must equal Subtotal + TaxTotal
PCToBCExchangeRate    exchange_rate                extra column: shown, never applied to ConnectWise
PricingCurrency       pricing_currency             extra column
InvoiceNumber         vendor_invoice_id            extra column
OrderId               vendor_line_id               extra column; two lines of one key but two orders are not duplicates
MeterDescription      (usage marker)               a line with a meter is usage-based (guess)
===================== ============================ ================================================

**SKU = ``ProductId:SkuId``** (e.g. ``CFQ7TTC0LCHC:0002``). ``ProductId`` alone names a product
family and ``SkuId`` is only unique inside its product, so together they name exactly what was
sold. ``AvailabilityId`` is left out on purpose: it changes with the price list and the catalog
availability, not with the product, so it would break the SKU -> catalog item mapping every time
Microsoft republishes. Term and billing frequency are separate fields (Rule 4.1), and the mapping
is keyed SKU + term (Rule 4.5), so the monthly- and annual-term lines of one SKU stay apart.

Charge types (new commerce; Microsoft's "Recon file charge types")
------------------------------------------------------------------

================ ============== ===============================================================
ChargeType       charge type    meaning
================ ============== ===============================================================
new              recurring      purchase of a new subscription (its first, often prorated, period)
renew            recurring      renewal at the end of the term
cycleCharge      recurring      the periodic (monthly / annual) charge of a subscription
addQuantity      recurring      seats added mid-period, prorated to the period's end
trialConversion  recurring      **guess**: a trial converted to paid, charged like ``new``
removeQuantity   credit         refund of seats removed in the 7-day window (Rule 4.3)
cancelImmediate  credit         refund of a subscription cancelled in the 7-day window
customerCredit   credit         **guess**: a credit Microsoft granted the customer
creditNote       credit         **guess**: a credit note against an earlier charge
moveQuantity     by sign        **guess**: seats moved between subscriptions; a negative Subtotal is
                                the credit on the source, a positive one the charge on the target
================ ============== ===============================================================

Values are matched without regard to case. A line with a ``MeterDescription`` is usage-based
(``usage``, billed in arrears) unless its ChargeType is a credit (**guess**: the new-commerce
file has no explicit usage charge type). A non-credit line with an empty ``BillingFrequency`` is a
``one_time`` charge (Microsoft leaves it empty for one-time purchases). A credit's Subtotal must
not be positive and a charge's not negative (``moveQuantity`` excepted): anything else is a problem.

Amounts (Rule 7.7: the loaded vendor cost equals the file's ``Subtotal`` sum to the cent)
-----------------------------------------------------------------------------------------

``extended_cost`` = ``Subtotal`` on every line, and each line's Subtotal is checked against
Microsoft's own rule (ROUNDDOWN rounds toward zero); a line that disagrees is a problem naming the
row and the ``Subtotal`` column:

* seat-based: ``ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2) x BillableQuantity``; the
  unit cost is ``ROUNDDOWN(EffectiveUnitPrice x PCToBCExchangeRate, 2)``, so quantity x unit cost
  is the Subtotal exactly;
* usage-based: ``ROUNDDOWN(ROUNDDOWN(EffectiveUnitPrice x BillableQuantity, 2) x PCToBCExchangeRate, 2)``;
  the unit cost is ``EffectiveUnitPrice x PCToBCExchangeRate`` (more than 8 decimals are rounded to 8).

A missing ``PCToBCExchangeRate`` is 1 when the pricing and billing currencies agree. A quantity
with more than 6 decimals is rounded to 6 (a warning says how many). ``TaxTotal`` is kept on the
line and shown, never re-billed. A proration (a ChargeStartDate..ChargeEndDate window shorter than
the full month or year from its start) is marked ``vendor_prorated``; a credit gets
``credit_for_line``: the row of the charge of the same subscription it refunds.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import re
import uuid
from datetime import date, timedelta
from decimal import ROUND_DOWN, ROUND_HALF_UP, Decimal, InvalidOperation

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

from billbridge.bdom import Timing, add_months, days_in_month, parse_billing_month, period_for_billing_month
from billbridge.sources.parse import ParseResult, Problem
from billbridge.sources.registry import Source, SourceLines, decimal_text, link_credits, register, validate

__all__ = ["SOURCE", "COLUMNS", "REQUIRED", "CHARGE_TYPES", "GUESSES", "read", "parse", "demo_rows", "demo_csv",
           "demo_jsonl_gz", "to_csv", "to_jsonl_gz"]

#: every column of the file and the export (vendors/microsoft.md), in Microsoft's order
COLUMNS: tuple[str, ...] = (
    "PartnerId", "CustomerId", "CustomerName", "CustomerDomainName", "CustomerCountry", "InvoiceNumber", "MpnId",
    "ResellerMpnId", "OrderId", "OrderDate", "ProductId", "SkuId", "AvailabilityId", "SkuName", "ProductName",
    "ChargeType", "UnitPrice", "Quantity", "Subtotal", "TaxTotal", "Total", "Currency", "PriceAdjustmentDescription",
    "PublisherName", "PublisherId", "SubscriptionDescription", "SubscriptionId", "ChargeStartDate", "ChargeEndDate",
    "TermAndBillingCycle", "EffectiveUnitPrice", "UnitType", "AlternateId", "BillableQuantity", "BillingFrequency",
    "PricingCurrency", "PCToBCExchangeRate", "PCToBCExchangeRateDate", "MeterDescription", "ReservationOrderId",
    "CreditReasonCode",
)
_OPTIONAL_KNOWN = ("ReferenceId",)
REQUIRED: tuple[str, ...] = ("CustomerId", "CustomerName", "ProductId", "SkuId", "ChargeType", "BillableQuantity",
                             "EffectiveUnitPrice", "Subtotal", "ChargeStartDate", "ChargeEndDate", "Currency")

#: the columns billbridge reads (lower-case); the others are known and skipped
_READ = frozenset(c.lower() for c in (
    "CustomerId", "CustomerName", "CustomerDomainName", "SubscriptionId", "Currency", "ProductId", "SkuId", "SkuName",
    "ProductName", "ChargeType", "BillingFrequency", "TermAndBillingCycle", "MeterDescription", "BillableQuantity",
    "EffectiveUnitPrice", "Subtotal", "PCToBCExchangeRate", "TaxTotal", "Total", "UnitPrice", "PricingCurrency",
    "ChargeStartDate", "ChargeEndDate", "InvoiceNumber", "OrderId"))

BY_SIGN = "by sign"
CHARGE_TYPES: dict[str, str] = {
    "new": "recurring", "renew": "recurring", "cyclecharge": "recurring", "addquantity": "recurring",
    "trialconversion": "recurring", "removequantity": "credit", "cancelimmediate": "credit",
    "customercredit": "credit", "creditnote": "credit", "movequantity": BY_SIGN,
}
GUESSES = frozenset({"trialconversion", "customercredit", "creditnote", "movequantity"})
_SPELLING = {"cyclecharge": "cycleCharge", "addquantity": "addQuantity", "removequantity": "removeQuantity",
             "movequantity": "moveQuantity", "trialconversion": "trialConversion",
             "cancelimmediate": "cancelImmediate", "customercredit": "customerCredit", "creditnote": "creditNote"}
_FREQUENCIES = {"monthly": "monthly", "annual": "annual", "yearly": "annual", "annually": "annual"}

#: canonical field -> the Microsoft column named in messages
_FIELD_COLUMN = {
    "vendor_customer_id": "CustomerId", "vendor_customer_name": "CustomerName", "subscription_id": "SubscriptionId",
    "sku": "ProductId", "product_name": "SkuName", "charge_type": "ChargeType", "billing_frequency": "BillingFrequency",
    "term": "TermAndBillingCycle", "quantity": "BillableQuantity", "unit_cost": "EffectiveUnitPrice",
    "period_start": "ChargeStartDate", "period_end": "ChargeEndDate", "effective_date": "ChargeStartDate",
    "currency": "Currency",
}
_Q_PLACES, _U_PLACES = 6, 8
_CENT = Decimal("0.01")


# --------------------------------------------------------------------------------------- reading
def _decode(data: bytes) -> tuple[bytes, str]:
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:], "utf-8-sig"
    try:
        data.decode("utf-8")
        return data, "utf-8"
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace").encode("utf-8"), "cp1252"


def _csv_table(body: bytes, wanted: frozenset[str] | None = None) -> tuple[list[str], pa.Table, np.ndarray, list[Problem]]:
    """The cells as strings (only the ``wanted`` columns, lower-case names, when given: the file has
    40 and billbridge reads 25); row numbers as the file shows them (header = row 1)."""
    end = body.find(b"\n")
    first = (body if end < 0 else body[:end]).decode("utf-8", errors="replace")
    header = [h.replace("\ufeff", "").strip() for h in next(csv.reader([first]), [])]
    names = [f"c{i}" for i in range(len(header))]
    # a blank line inside the data shifts the C reader's row numbers: the careful reader keeps them
    blank_lines = re.search(rb"\n[ \t\r]*\n[ \t\r]*\S", body) is not None
    if header and not blank_lines:
        include = [n for n, h in zip(names, header) if wanted is None or h.lower() in wanted]
        # first without quoted newlines (much faster), then with them
        for newlines in (False, True):
            try:
                t = pacsv.read_csv(
                    pa.BufferReader(body),
                    read_options=pacsv.ReadOptions(column_names=names, skip_rows=1, block_size=1 << 20),
                    parse_options=pacsv.ParseOptions(newlines_in_values=newlines),
                    convert_options=pacsv.ConvertOptions(column_types={n: pa.string() for n in names},
                                                         include_columns=include, strings_can_be_null=False,
                                                         quoted_strings_can_be_null=False),
                )
                return header, t, np.arange(2, t.num_rows + 2, dtype=np.int64), []
            except pa.ArrowInvalid:
                continue  # a quoted newline, or ragged rows: the careful reader names them
    problems: list[Problem] = []
    rows, numbers = [], []
    reader = csv.reader(io.StringIO(body.decode("utf-8", errors="replace"), newline=""))
    next(reader, None)
    for i, rec in enumerate(reader, start=2):
        if not rec or all(not c.strip() for c in rec):
            continue
        if len(rec) != len(header):
            problems.append(Problem(i, None, f"row has {len(rec)} values, the header has {len(header)}"))
            rec = (rec + [""] * len(header))[: len(header)]
        rows.append(rec)
        numbers.append(i)
    cols = list(zip(*rows)) if rows else [()] * len(header)
    t = pa.table({n: pa.array(list(c), type=pa.string()) for n, c in zip(names, cols)})
    return header, t, np.asarray(numbers, dtype=np.int64), problems


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (dict, list)):
        return json.dumps(v, separators=(",", ":"))
    return str(v)


def _jsonl_table(body: bytes) -> tuple[list[str], pa.Table, np.ndarray, list[Problem]]:
    problems: list[Problem] = []
    records, numbers = [], []
    header: list[str] = []
    seen: set[str] = set()
    for i, line in enumerate(body.decode("utf-8", errors="replace").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line, parse_float=str, parse_int=str)
        except ValueError:
            problems.append(Problem(i, None, "not a JSON object"))
            continue
        if not isinstance(rec, dict):
            problems.append(Problem(i, None, "not a JSON object"))
            continue
        for k in rec:
            if k not in seen:
                seen.add(k)
                header.append(k)
        records.append(rec)
        numbers.append(i)
    # the export's keys are camelCase in some Graph versions: match them to the file's columns
    names = [f"c{i}" for i in range(len(header))]
    cols = {n: pa.array([_cell(r.get(h)) for r in records], type=pa.string()) for n, h in zip(names, header)}
    return header, pa.table(cols) if cols else pa.table({}), np.asarray(numbers, dtype=np.int64), problems


def read(data: bytes, file_name: str = "") -> tuple[str, list[str], pa.Table, np.ndarray, list[Problem], str]:
    """-> (shape ``"csv"``/``"jsonl"``, header, string cells ``c0..``, rows, problems, encoding)."""
    gz = data[:2] == b"\x1f\x8b"
    shape, header, cells, rows, problems, encoding = _read(data)
    if shape == "jsonl":
        encoding = f"{'gzip ' if gz else ''}JSON lines"
    return shape, header, cells, rows, problems, encoding


def _read(data: bytes) -> tuple[str, list[str], pa.Table, np.ndarray, list[Problem], str]:
    if data[:2] == b"\x1f\x8b":
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError):
            return "jsonl", [], pa.table({}), np.array([], dtype=np.int64), [Problem(None, None, "the gzip file is damaged")], "gzip"
    body, encoding = _decode(data)
    head = body.lstrip()[:1]
    if head in (b"{", b"["):
        if head == b"[":  # a JSON array instead of lines: accept it too
            try:
                recs = json.loads(body, parse_float=str, parse_int=str)
                body = "\n".join(json.dumps(r) for r in recs).encode("utf-8")
            except ValueError:
                return "jsonl", [], pa.table({}), np.array([], dtype=np.int64), [Problem(None, None, "not JSON")], encoding
        return ("jsonl", *_jsonl_table(body), encoding)
    return ("csv", *_csv_table(body, _READ), encoding)


# ------------------------------------------------------------------------------------ helpers
def _enc(col: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[str]]:
    """(per-line codes, distinct values) of a text column (trimmed; nulls as "")."""
    a = pc.utf8_trim_whitespace(pc.fill_null(col, ""))
    d = pc.dictionary_encode(a)
    d = d.combine_chunks() if isinstance(d, pa.ChunkedArray) else d
    return d.indices.to_numpy(zero_copy_only=False).astype(np.int64), d.dictionary.to_pylist()


def _dec(text: str) -> Decimal | None:
    t = (text or "").strip().replace(",", "") if text else ""
    if not t:
        return None
    try:
        d = Decimal(t)
    except InvalidOperation:
        return None
    return d if d.is_finite() else None


def _text(d: Decimal, min_places: int = 0) -> str:
    return decimal_text(d, min_places=min_places) or "0"


_US_DATE = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})(?:\s+\d{1,2}:\d{2}(?::\d{2})?(?:\s*[AP]M)?)?$", re.I)
_ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})(?:[T ].*)?$")


def _iso(text: str) -> str | None:
    """``11/1/2026``, ``11/1/2026 12:00:00 AM``, ``2026-11-01`` or ``2026-11-30T23:59:59Z`` -> ISO
    date text; None when it is not a real date."""
    m = _US_DATE.match(text)
    try:
        if m:
            return date(int(m.group(3)), int(m.group(1)), int(m.group(2))).isoformat()
        m = _ISO_DATE.match(text)
        if m:
            return date(int(m.group(1)), int(m.group(2)), int(m.group(3))).isoformat()
    except ValueError:
        return None
    return None


_TERM_PATTERNS = (
    (re.compile(r"\b(?:3|three)[\s-]*years?\b|\bp3y\b|triennial", re.I), "triennial"),
    (re.compile(r"\b(?:1|one)[\s-]*years?\b|\bp1y\b|\bannual\b|\byearly\b", re.I), "annual"),
    (re.compile(r"\b(?:1|one)[\s-]*months?\b|\bp1m\b|\bmonthly\b", re.I), "monthly"),
)


def _term(text: str) -> str | None:
    """TermAndBillingCycle -> canonical term: the commitment named first decides (``One-Year
    commitment for monthly billing`` -> annual). ``""`` when empty; None when unreadable."""
    if not text:
        return ""
    found = []
    for rx, term in _TERM_PATTERNS:
        m = rx.search(text)
        if m:
            found.append((m.start(), term))
    if not found:
        if text.strip().lower() in ("none", "n/a", "-", "one-time", "one time", "perpetual"):
            return "none"
        return None
    return min(found)[1]


def _full_period(start: date, end: date, frequency: str) -> bool:
    months = 12 if frequency == "annual" else 1
    y, m = parse_billing_month(add_months(f"{start.year:04d}-{start.month:02d}", months))
    nxt = date(y, m, min(start.day, days_in_month(y, m)))
    return end + timedelta(days=1) == nxt


# -------------------------------------------------------------------------------------- parse
def parse(data: bytes, file_name: str, billing_month: str) -> ParseResult:
    """Read, map and validate one Microsoft reconciliation file for ``billing_month``. Pure."""
    return validate(canonical(data, file_name), billing_month)


def canonical(data: bytes, file_name: str) -> SourceLines:
    """The file as canonical lines (before the shared validation): see the module docstring."""
    shape, header, cells, rows, problems, encoding = read(data, file_name)
    sha = hashlib.sha256(data).hexdigest()
    how = {"encoding": encoding, "delimiter": "," if shape == "csv" else "\n"}
    empty = SourceLines("microsoft", file_name, sha, pd.DataFrame(), [], problems=problems, **how)
    if not header:
        if not problems:
            problems.append(Problem(None, None, "the file is empty"))
        return empty
    index = {}
    for i, h in enumerate(header):
        index.setdefault(h.strip().lower(), i)
    known = {c.lower() for c in (*COLUMNS, *_OPTIONAL_KNOWN)}
    warnings = [f"unknown column {h!r} ignored" for h in header if h and h.strip().lower() not in known]
    missing = [c for c in REQUIRED if c.lower() not in index]
    for c in missing:
        problems.append(Problem(1, c, f"missing required column {c!r}"))
    if missing:
        return SourceLines("microsoft", file_name, sha, pd.DataFrame(), [], problems=problems, warnings=warnings, **how)
    n = cells.num_rows
    blank = pa.array([""] * n, type=pa.string())

    def col(name: str) -> pa.ChunkedArray | pa.Array:
        i = index.get(name.lower())
        return cells.column(f"c{i}") if i is not None and f"c{i}" in cells.column_names else blank

    def trimmed(name: str) -> pa.Array:
        a = pc.utf8_trim_whitespace(pc.fill_null(col(name), ""))
        return a.combine_chunks() if isinstance(a, pa.ChunkedArray) else a

    def bad(mask: np.ndarray, column: str, reason, values: list[str] | None = None, codes: np.ndarray | None = None) -> None:
        for i in np.flatnonzero(mask):
            v = values[codes[i]] if values is not None else None
            problems.append(Problem(int(rows[i]), column, reason(v) if callable(reason) else reason, v))

    out: dict[str, pa.Array | np.ndarray] = {}
    for f, c in (("vendor_customer_id", "CustomerId"), ("vendor_customer_name", "CustomerName"),
                 ("subscription_id", "SubscriptionId"), ("currency", "Currency")):
        out[f] = trimmed(c)
    for c in ("CustomerId", "CustomerName", "ProductId", "SkuId", "ChargeType", "Currency"):
        t = trimmed(c)
        bad(_np(pc.equal(t, "")), c, "required value is empty")
    out["sku"] = pc.binary_join_element_wise(trimmed("ProductId"), trimmed("SkuId"), ":")
    sku_name, prod_name = trimmed("SkuName"), trimmed("ProductName")
    out["product_name"] = pc.if_else(pc.equal(sku_name, ""), prod_name, sku_name)

    # ---- charge type (per distinct value)
    ct_codes, ct_values = _enc(col("ChargeType"))
    ct_base = np.array([CHARGE_TYPES.get(v.lower(), "") for v in ct_values], dtype=object)
    unknown = np.array([bool(v) and v.lower() not in CHARGE_TYPES for v in ct_values])
    known_list = ", ".join(_SPELLING.get(k, k) for k in CHARGE_TYPES)
    bad(unknown[ct_codes], "ChargeType",
        lambda v: f"unknown Microsoft charge type {v!r} (billbridge knows {known_list})", ct_values, ct_codes)
    base = ct_base[ct_codes]

    # ---- billing frequency and term
    bf_codes, bf_values = _enc(col("BillingFrequency"))
    bf_map = [("" if not v else _FREQUENCIES.get(v.lower())) for v in bf_values]
    bf_bad = np.array([m is None for m in bf_map])
    bad(bf_bad[bf_codes], "BillingFrequency",
        lambda v: f"unknown billing frequency {v!r} (billbridge knows Monthly and Annual)", bf_values, bf_codes)
    freq = np.array([m or "" for m in bf_map], dtype=object)[bf_codes]
    freq_col = _take([m or "" for m in bf_map], bf_codes)
    tm_codes, tm_values = _enc(col("TermAndBillingCycle"))
    tm_map = [_term(v) for v in tm_values]
    tm_bad = np.array([m is None for m in tm_map])
    bad(tm_bad[tm_codes], "TermAndBillingCycle",
        lambda v: f"cannot tell the term from {v!r} (expected a 1-month, 1-year or 3-year commitment)",
        tm_values, tm_codes)
    out["term"] = _take([m or "" for m in tm_map], tm_codes)
    out["billing_frequency"] = freq_col
    meter = _np(pc.not_equal(trimmed("MeterDescription"), ""))

    # ---- numbers, per distinct value
    def number(name: str, required: bool) -> tuple[np.ndarray, list[Decimal | None], list[str]]:
        codes, values = _enc(col(name))
        parsed = [_dec(v) for v in values]
        if required:
            empty_v = np.array([not v for v in values])
            bad(empty_v[codes], name, "required value is empty")
        notnum = np.array([bool(v) and p is None for v, p in zip(values, parsed)])
        bad(notnum[codes], name, "not a number", values, codes)
        return codes, parsed, values

    q_codes, q_vals, _ = number("BillableQuantity", True)
    u_codes, u_vals, _ = number("EffectiveUnitPrice", True)
    s_codes, s_vals, s_text = number("Subtotal", True)
    r_codes, r_vals, r_text = number("PCToBCExchangeRate", False)
    x_codes, x_vals, _ = number("TaxTotal", False)
    t_codes, t_vals, t_text = number("Total", False)
    lp_codes, lp_vals, _ = number("UnitPrice", False)
    pcur = trimmed("PricingCurrency")
    no_rate = np.array([not v for v in r_text])[r_codes]
    rate_needed = no_rate & _np(pc.and_(pc.not_equal(pcur, ""), pc.not_equal(pcur, out["currency"])))
    bad(rate_needed, "PCToBCExchangeRate", "missing exchange rate (the pricing and billing currencies differ)")

    # ---- charge type per line: base table, sign, meters, empty billing frequency
    sub_sign = np.array([0 if v is None else (1 if v > 0 else -1 if v < 0 else 0) for v in s_vals])[s_codes]
    charge = np.where(base == BY_SIGN, np.where(sub_sign < 0, "credit", "recurring"), base).astype(object)
    is_credit = charge == "credit"
    charge = np.where(~is_credit & (charge == "recurring") & meter, "usage", charge)
    charge = np.where((charge == "recurring") & (freq == ""), "one_time", charge)
    charge = np.where(charge == "", "recurring", charge)  # unknown values are already problems
    bad(is_credit & (sub_sign > 0), "Subtotal", "a refund line (credit) with a positive Subtotal")
    bad(~is_credit & (base != "") & (sub_sign < 0), "Subtotal",
        lambda v: "a charge with a negative Subtotal (only credit lines may be negative)")
    usage = charge == "usage"
    kinds = ["recurring", "usage", "one_time", "credit"]
    out["charge_type"] = _take(kinds, np.select([charge == k for k in kinds], range(len(kinds)), 0))

    # ---- amounts: Microsoft's ROUNDDOWN rule; each step once per distinct value or combination
    one = Decimal(1)
    u_places = Decimal(1).scaleb(-_U_PLACES)
    ukey = (u_codes * (len(r_vals) + 1) + r_codes) * 2 + usage.astype(np.int64)
    _, ufirst, uinv = np.unique(ukey, return_index=True, return_inverse=True)
    unit_of: list[Decimal | None] = []
    eup_rate: list[tuple[Decimal | None, Decimal, bool]] = []
    for i in ufirst.tolist():
        u, r = u_vals[u_codes[i]], r_vals[r_codes[i]]
        rate = one if r is None else r
        eup_rate.append((u, rate, bool(usage[i])))
        if u is None:
            unit_of.append(None)
        elif usage[i]:
            unit = u * rate
            unit_of.append(unit.quantize(u_places, rounding=ROUND_HALF_UP) if -unit.as_tuple().exponent > _U_PLACES
                           else unit)
        else:
            unit_of.append((u * rate).quantize(_CENT, rounding=ROUND_DOWN))
    out["unit_cost"] = _take(["" if v is None else _text(v, 2) for v in unit_of], uinv)
    q_round = np.array([v is not None and -v.as_tuple().exponent > _Q_PLACES for v in q_vals], dtype=bool)
    q_txt = np.array(["" if v is None else _text(v.quantize(Decimal(1).scaleb(-_Q_PLACES), rounding=ROUND_HALF_UP)
                                                  if r else v) for v, r in zip(q_vals, q_round)], dtype=object)
    out["quantity"] = _take(q_txt.tolist(), q_codes)
    rounded_q = int(np.bincount(q_codes, minlength=len(q_vals))[q_round].sum()) if len(q_vals) else 0
    if rounded_q:
        warnings.append(f"{rounded_q} BillableQuantity value{'s' if rounded_q != 1 else ''} with more than "
                        f"{_Q_PLACES} decimals rounded to {_Q_PLACES}")
    pair, _ = pd.factorize(uinv.astype(np.int64) * (len(q_vals) + 1) + q_codes)
    trio, tfirst, tinverse = np.unique(pair.astype(np.int64) * (len(s_vals) + 1) + s_codes, return_index=True,
                                       return_inverse=True)
    expect_txt: list[str] = []
    mismatch = np.zeros(len(trio), dtype=bool)
    seat_rule = "seat-based line: ROUNDDOWN(EffectiveUnitPrice × PCToBCExchangeRate, 2) × BillableQuantity"
    usage_rule = "usage-based line: ROUNDDOWN(ROUNDDOWN(EffectiveUnitPrice × BillableQuantity, 2) × PCToBCExchangeRate, 2)"
    for j, i in enumerate(tfirst.tolist()):
        q, sub = q_vals[q_codes[i]], s_vals[s_codes[i]]
        eup, rate, is_usage = eup_rate[uinv[i]]
        if q is None or eup is None or sub is None:
            expect_txt.append("")
            continue
        if is_usage:
            expected = ((eup * q).quantize(_CENT, rounding=ROUND_DOWN) * rate).quantize(_CENT, rounding=ROUND_DOWN)
        else:
            expected = unit_of[uinv[i]] * q
        if sub != expected:
            mismatch[j] = True
            expect_txt.append(f"Subtotal {s_text[s_codes[i]]} does not follow Microsoft's rule for a "
                              f"{usage_rule if is_usage else seat_rule} = {_text(expected, 2)}")
        else:
            expect_txt.append("")
    for i in np.flatnonzero(mismatch[tinverse]):
        problems.append(Problem(int(rows[i]), "Subtotal", expect_txt[tinverse[i]], s_text[s_codes[i]]))
    out["extended_cost"] = _take([("" if v is None else _text(v, 2)) for v in s_vals], s_codes)

    # Total = Subtotal + TaxTotal
    tot_key = (s_codes * (len(x_vals) + 1) + x_codes) * (len(t_vals) + 1) + t_codes
    tu, tf, tinv = np.unique(tot_key, return_index=True, return_inverse=True)
    tbad = np.zeros(len(tu), dtype=bool)
    for j, i in enumerate(tf.tolist()):
        s, x, t = s_vals[s_codes[i]], x_vals[x_codes[i]], t_vals[t_codes[i]]
        if t is not None and s is not None and t != s + (x or 0):
            tbad[j] = True
    bad(tbad[tinv], "Total", lambda v: "Total is not Subtotal + TaxTotal", t_text, t_codes)
    out["tax"] = _take([("" if v is None else _text(v, 2)) for v in x_vals], x_codes)
    out["exchange_rate"] = _take([("" if v is None else _text(v)) for v in r_vals], r_codes)
    out["list_unit_cost"] = _take([("" if v is None else _text(v)) for v in lp_vals], lp_codes)

    # ---- dates (per distinct value; unreadable ones are left as written for the shared check)
    iso_of: dict[str, np.ndarray] = {}
    dates_of: dict[str, list[date | None]] = {}
    codes_of: dict[str, np.ndarray] = {}
    for c in ("ChargeStartDate", "ChargeEndDate"):
        codes, values = _enc(col(c))
        iso = [_iso(v) if v else "" for v in values]
        bad(np.array([bool(v) and i is None for v, i in zip(values, iso)])[codes], c,
            "not a date (expected M/D/YYYY or an ISO date)", values, codes)
        iso_of[c] = _take([i or "" for i in iso], codes)
        dates_of[c] = [date.fromisoformat(i) if i else None for i in iso]
        codes_of[c] = codes
    out["period_start"] = out["effective_date"] = iso_of["ChargeStartDate"]
    out["period_end"] = iso_of["ChargeEndDate"]

    # ---- prorations: a recurring window shorter than the full month / year from its start
    pkey = (codes_of["ChargeStartDate"] * (len(dates_of["ChargeEndDate"]) + 1) + codes_of["ChargeEndDate"]) * 2 + \
        (freq == "annual").astype(np.int64)
    pu, pf, pinv = np.unique(pkey, return_index=True, return_inverse=True)
    part = np.zeros(len(pu), dtype=bool)
    for j, i in enumerate(pf.tolist()):
        s = dates_of["ChargeStartDate"][codes_of["ChargeStartDate"][i]]
        e = dates_of["ChargeEndDate"][codes_of["ChargeEndDate"][i]]
        part[j] = s is not None and e is not None and e >= s and not _full_period(s, e, str(freq[i]) or "monthly")
    out["vendor_prorated"] = _take(["", "true"], (part[pinv] & (charge == "recurring")).astype(np.int64))

    # ---- extras
    out["vendor_customer_domain"] = trimmed("CustomerDomainName")
    out["vendor_invoice_id"] = trimmed("InvoiceNumber")
    out["vendor_line_id"] = trimmed("OrderId")
    out["vendor_charge_type"] = trimmed("ChargeType")
    out["pricing_currency"] = pcur
    out["customer_created"] = blank
    out["unit_price"] = blank

    table = pa.table({k: (v if isinstance(v, (pa.Array, pa.ChunkedArray)) else pa.array(v, type=pa.string()))
                      for k, v in out.items()})
    lines = table.to_pandas(types_mapper=pd.ArrowDtype)  # Arrow-backed: the texts are not copied
    credit_for, unmatched = link_credits(lines, rows)
    lines["credit_for_line"] = credit_for
    if unmatched:
        warnings.append(f"{unmatched} credit line{'s' if unmatched != 1 else ''} refund{'s' if unmatched == 1 else ''} "
                        "a charge that is not in this file (billed in an earlier month)")
    ids = None
    if "orderid" in index:
        ids = pc.binary_join_element_wise(table["vendor_line_id"], pc.utf8_lower(table["vendor_charge_type"]),
                                          "|").to_pylist()
    columns = dict(_FIELD_COLUMN)
    columns["extended_cost"] = "Subtotal"
    return SourceLines("microsoft", file_name, sha, lines, rows, columns=columns, line_ids=ids, problems=problems,
                       warnings=warnings, **how)


def _take(values: list[str], codes: np.ndarray) -> pa.Array:
    """Per-line texts from the distinct ``values`` and each line's code (no Python object per line)."""
    return pa.array(values, type=pa.string()).take(pa.array(np.asarray(codes, dtype=np.int64)))


def _np(a) -> np.ndarray:
    a = pc.fill_null(a, False)
    return np.asarray(a.to_numpy(zero_copy_only=False), dtype=bool)


# --------------------------------------------------------------------------- demo / samples
_NS = uuid.UUID("5b1f2c4e-8a57-4c1e-9d0a-6f3e2b7c9a10")
#: demo SKU -> (ProductId, SkuId, SkuName, TermAndBillingCycle)
DEMO_PRODUCTS = {
    "M365-BP-ANN": ("CFQ7TTC0LCHC", "0002", "Microsoft 365 Business Premium", "One-Year commitment for monthly billing"),
    "M365-BP-MON": ("CFQ7TTC0LCHC", "0002", "Microsoft 365 Business Premium", "One-Month commitment for monthly billing"),
}
_TAX_RATE = {"DC-10016": Decimal("0.06")}  # one customer pays sales tax (shown, never re-billed)


def _uid(*parts: str) -> str:
    return str(uuid.uuid5(_NS, "|".join(parts)))


def _money(d: Decimal) -> str:
    return _text(d, 2)


def demo_rows(billing_month: str, world_index: int = -1) -> list[dict[str, str]]:
    """A Partner Center reconciliation file for ``billing_month`` from the fictional world
    (:mod:`billbridge.demo_world`): the customers that buy Microsoft 365 from the demo vendor, so
    it reconciles against the sandbox. ``world_index`` picks the world's month of quantities
    (-1: "this month"). Values as Microsoft writes them (ISO dates; :func:`to_csv` writes US ones).

    It shows: a cycle charge per subscription (cycles anchored on the subscription's start day),
    an ``addQuantity`` proration, a seat added and removed within the 7-day window (the
    ``removeQuantity`` credit refunds the ``addQuantity`` line of the same subscription), and
    sales tax on one customer.
    """
    from billbridge import demo_world as world

    y, m = parse_billing_month(billing_month)
    out: list[dict[str, str]] = []
    invoice = f"G{y % 100:02d}{m:02d}{4711:04d}"
    for cust in world.CUSTOMERS:
        for sub in cust.subscriptions:
            if sub.sku not in DEMO_PRODUCTS:
                continue
            qty = sub.quantities[world_index]
            if qty <= 0:
                continue
            prod = world.PRODUCTS_BY_SKU[sub.sku]
            product_id, sku_id, sku_name, term = DEMO_PRODUCTS[sub.sku]
            # a subscription bought long ago (no start day in the world) runs on calendar months
            period = period_for_billing_month(sub.start.day if sub.start else 1, billing_month, Timing.ADVANCE)
            base = {
                "PartnerId": "3f6b8f0e-4f4c-4b8e-9a35-2f1d0c6d7e11", "CustomerId": _uid("tenant", cust.vendor_id),
                "CustomerName": cust.vendor_name,
                "CustomerDomainName": re.sub(r"[^a-z0-9]", "", cust.vendor_name.lower())[:24] + ".onmicrosoft.com",
                "CustomerCountry": "US", "InvoiceNumber": invoice, "MpnId": "6034453", "ResellerMpnId": "",
                "ProductId": product_id, "SkuId": sku_id, "AvailabilityId": "CFQ7TTC0LCJ4", "SkuName": sku_name,
                "ProductName": sku_name, "Currency": "USD", "PriceAdjustmentDescription": "",
                "PublisherName": "Microsoft Corporation", "PublisherId": "", "SubscriptionDescription": sku_name,
                "SubscriptionId": _uid("subscription", sub.sub_id), "TermAndBillingCycle": term, "UnitType": "Licenses",
                "AlternateId": sub.sub_id, "BillingFrequency": "Monthly", "PricingCurrency": "USD",
                "PCToBCExchangeRate": "1", "PCToBCExchangeRateDate": f"{y:04d}-{m:02d}-01", "MeterDescription": "",
                "ReservationOrderId": "", "CreditReasonCode": "",
            }

            def line(charge_type: str, q: int, start: date, end: date, unit: Decimal, order: str,
                     reason: str = "") -> None:
                sub_total = unit.quantize(_CENT, rounding=ROUND_DOWN) * q
                tax = (sub_total * _TAX_RATE.get(cust.vendor_id, Decimal(0))).quantize(_CENT, rounding=ROUND_HALF_UP)
                out.append({**base, "OrderId": _uid("order", sub.sub_id, order)[:28].replace("-", ""),
                            "OrderDate": start.isoformat(), "ChargeType": charge_type,
                            "UnitPrice": _money(prod.unit_cost), "Quantity": str(q), "BillableQuantity": str(q),
                            "EffectiveUnitPrice": decimal_text(unit) or "0", "Subtotal": _money(sub_total),
                            "TaxTotal": _money(tax), "Total": _money(sub_total + tax),
                            "ChargeStartDate": start.isoformat(), "ChargeEndDate": end.isoformat(),
                            "CreditReasonCode": reason})

            def prorated(start: date) -> Decimal:
                days = (period.next_start - start).days
                return (prod.unit_cost * days / period.days).quantize(Decimal("0.000001"), rounding=ROUND_HALF_UP)

            if cust.vendor_id == "DC-10004" and qty > 1:  # one seat added on the 16th: cycle + addQuantity
                line("cycleCharge", qty - 1, period.start, period.end, prod.unit_cost, "cycle")
                added = period.start + timedelta(days=15)
                line("addQuantity", 1, added, period.end, prorated(added), "add")
            else:
                line("cycleCharge", qty, period.start, period.end, prod.unit_cost, "cycle")
            if cust.vendor_id == "DC-10007":  # a seat added by mistake, removed the next day (7-day window)
                added = period.start + timedelta(days=19)
                line("addQuantity", 1, added, period.end, prorated(added), "mistake")
                removed = added + timedelta(days=1)
                line("removeQuantity", -1, removed, period.end, prorated(removed), "mistake-refund", "Seats reduced")
    return out


def to_csv(rows: list[dict[str, str]]) -> bytes:
    """Rows as Partner Center's CSV download: every column, US dates (``11/1/2026``), UTF-8 BOM."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(COLUMNS)

    def us(v: str) -> str:
        if _ISO_DATE.match(v or ""):
            d = date.fromisoformat(v[:10])
            return f"{d.month}/{d.day}/{d.year}"
        return v

    for r in rows:
        w.writerow([us(r.get(c, "")) if c in ("OrderDate", "ChargeStartDate", "ChargeEndDate", "PCToBCExchangeRateDate")
                    else r.get(c, "") for c in COLUMNS])
    return b"\xef\xbb\xbf" + buf.getvalue().encode("utf-8")


_NUMERIC = {"UnitPrice", "Quantity", "Subtotal", "TaxTotal", "Total", "EffectiveUnitPrice", "BillableQuantity",
            "PCToBCExchangeRate"}


def to_jsonl_gz(rows: list[dict[str, str]]) -> bytes:
    """Rows as the Graph export's gzip JSON lines: the same columns, ISO timestamps, numbers as
    JSON numbers written with their exact decimals. Deterministic bytes (gzip mtime 0)."""
    lines = []
    for r in rows:
        parts = []
        for c in COLUMNS:
            v = r.get(c, "")
            if c in _NUMERIC and v != "":
                text = v  # an exact decimal written as a JSON number
            elif c in ("OrderDate", "ChargeStartDate", "PCToBCExchangeRateDate") and v:
                text = json.dumps(f"{v[:10]}T00:00:00Z")
            elif c == "ChargeEndDate" and v:
                text = json.dumps(f"{v[:10]}T23:59:59Z")
            else:
                text = json.dumps(v, ensure_ascii=False)
            parts.append(f"{json.dumps(c)}:{text}")
        lines.append("{" + ",".join(parts) + "}")
    body = ("\n".join(lines) + "\n").encode("utf-8")
    buf = io.BytesIO()
    with gzip.GzipFile(fileobj=buf, mode="wb", mtime=0) as gz:
        gz.write(body)
    return buf.getvalue()


def demo_csv(billing_month: str, world_index: int = -1) -> bytes:
    return to_csv(demo_rows(billing_month, world_index))


def demo_jsonl_gz(billing_month: str, world_index: int = -1) -> bytes:
    return to_jsonl_gz(demo_rows(billing_month, world_index))


SOURCE = register(Source(
    name="microsoft", kind="file", label="Microsoft Partner Center (new commerce)",
    charge_types=CHARGE_TYPES, guesses=GUESSES, parse=parse,
    description="Partner Center new-commerce reconciliation file (CSV download) or Graph export (gzip JSON lines).",
))
#: the Graph export under its own format name (same reader; ``microsoft`` reads it as well)
GRAPH_SOURCE = register(Source(
    name="microsoft-graph", kind="file", label="Microsoft Partner Center (Graph export, JSON lines)",
    charge_types=CHARGE_TYPES, guesses=GUESSES, parse=parse,
    description="The Graph billed-reconciliation export (gzip JSON lines); the same columns as the CSV.",
))
