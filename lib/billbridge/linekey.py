"""Stable line keys: the id billbridge writes on every ConnectWise addition it creates (pure).

A line key names *what the vendor bills* (vendor, vendor customer, subscription or SKU, and for
lines that live in one month only, the month), never a ConnectWise id, so re-mapping a customer
or deleting an addition by hand never makes billbridge create the same line twice.

Format (readable first, ≤ 50 characters so it fits an addition custom field or ``serialNumber``)::

    <vendor>|<vendor customer id>|<subscription id or SKU>[|YYYY-MM][|<kind>]

e.g. ``demo|DC-10001|S-1001`` (standing line) or ``demo|DC-10001|S-1001|2026-11`` (monthly line).
When that would be longer than 50 characters, the key becomes a readable prefix plus ``~`` and a
12-hex-digit SHA-256 of the full key: ``demo|VERY-LONG-CUSTOMER-ID-…~3f2a9c0b1d4e``. The vendor
prefix ``<vendor>|`` is always kept, so :func:`is_vendor_key` recognises billbridge's own lines.

>>> line_key("demo", "DC-10001", "S-1001")
'demo|DC-10001|S-1001'
>>> line_key("demo", "DC-10001", sku="HPBX-SEAT", month="2026-11")
'demo|DC-10001|HPBX-SEAT|2026-11'
>>> len(line_key("demo", "C" * 60, "S-1"))
50
"""

from __future__ import annotations

import hashlib
import re

from billbridge.errors import InputError

__all__ = ["MAX_KEY_LEN", "line_key", "line_key_sql", "vendor_prefix", "is_vendor_key", "parse_line_key",
           "KIND_CREDIT", "KIND_OUT_OF_PERIOD", "KIND_CORRECTION"]

#: longest key a ConnectWise addition custom field / serialNumber can hold
MAX_KEY_LEN = 50
#: kind suffix of a credit's own addition (Rule 6.5)
KIND_CREDIT = "credit"
#: kind suffix of plan rows for vendor lines outside the billing month (never written to ConnectWise)
KIND_OUT_OF_PERIOD = "out"
#: kind suffix of a dated one-month correction line of a past month (billing-rules section 9, Rule 6.6)
KIND_CORRECTION = "correction"

_HASH_LEN = 12
_MONTH_RE = re.compile(r"^\d{4}-\d{2}$")


def _clean(part: object) -> str:
    text = "" if part is None else str(part).strip()
    # "|" separates the parts and "~" marks a hashed key; keep them out of the parts
    return text.replace("|", "/").replace("~", "-")


def line_key(
    vendor: str,
    vendor_customer_id: str,
    subscription_id: str | None = None,
    sku: str | None = None,
    month: str | None = None,
    kind: str | None = None,
) -> str:
    """The stable key of one vendor line group (deterministic, at most 50 characters).

    ``subscription_id`` wins over ``sku`` (a customer may hold two subscriptions of one SKU);
    ``month`` (``YYYY-MM``) is appended for lines that belong to one billing month only (monthly
    sync mode, one-time charges, credits); ``kind`` (e.g. ``"credit"``) is appended last.
    """
    if month is not None and not _MONTH_RE.match(str(month)):
        raise InputError(f"month must be YYYY-MM, got {month!r}")
    line = subscription_id if subscription_id not in (None, "") and subscription_id == subscription_id else sku
    if line in (None, ""):
        raise InputError("a line key needs a subscription id or a SKU")
    parts = [_clean(vendor), _clean(vendor_customer_id), _clean(line)]
    if month:
        parts.append(str(month))
    if kind:
        parts.append(_clean(kind))
    full = "|".join(parts)
    if len(full) <= MAX_KEY_LEN:
        return full
    digest = hashlib.sha256(full.encode("utf-8")).hexdigest()[:_HASH_LEN]
    keep = MAX_KEY_LEN - _HASH_LEN - 1
    prefix = full[:keep]
    head = vendor_prefix(vendor)
    if not prefix.startswith(head):  # absurdly long vendor name: keep it recognisable anyway
        prefix = head[: keep]
    return f"{prefix}~{digest}"


#: a part :func:`_clean` leaves as it is, in SQL (RE2): printable ASCII but "|" and "~", no space at either end
_PLAIN_SQL = "'[!-{}]([ -{}]*[!-{}])?'"


def line_key_sql(vendor: str, customer: str, subscription_id: str, sku: str, month: str, kind: str) -> str:
    """SQL twin of :func:`line_key` (DuckDB), for the rules to key every line in one pass: each argument is
    the SQL of a part (``month`` and ``kind`` NULL when the key has none). It gives the key where every part
    is plain (:data:`_PLAIN_SQL`, which :func:`_clean` leaves alone) and the key is not hashed, else NULL:
    there :func:`line_key` itself decides (a part to clean, a key to hash, a line without subscription or
    SKU, a month that is not ``YYYY-MM``). ``tests/test_linekey.py`` proves the two agree."""
    line = f"coalesce(nullif({subscription_id}, ''), nullif({sku}, ''))"
    full = f"{vendor} || '|' || {customer} || '|' || {line} || coalesce('|' || {month}, '') || coalesce('|' || {kind}, '')"
    plain = " AND ".join(f"regexp_full_match({part}, {_PLAIN_SQL})" for part in (vendor, customer, line))
    return (f"CASE WHEN {plain} AND coalesce(regexp_full_match({month}, '\\d{{4}}-\\d{{2}}'), TRUE) "
            f"AND coalesce(regexp_full_match({kind}, {_PLAIN_SQL}), TRUE) AND length({full}) <= {MAX_KEY_LEN} "
            f"THEN {full} END")


def vendor_prefix(vendor: str) -> str:
    """What every line key of ``vendor`` starts with (hashed keys keep it too): ``"demo|"``."""
    return _clean(vendor) + "|"


def is_vendor_key(key: object, vendor: str) -> bool:
    """True when ``key`` is a billbridge line key of ``vendor``."""
    return isinstance(key, str) and key.startswith(vendor_prefix(vendor))


def parse_line_key(key: str) -> dict[str, str | None] | None:
    """Split a readable (non-hashed) key into its parts; ``None`` for a hashed or foreign key."""
    if not isinstance(key, str) or "~" in key:
        return None
    parts = key.split("|")
    if len(parts) < 3:
        return None
    out: dict[str, str | None] = {"vendor": parts[0], "vendor_customer_id": parts[1], "line": parts[2],
                                  "month": None, "kind": None}
    for extra in parts[3:]:
        if _MONTH_RE.match(extra):
            out["month"] = extra
        else:
            out["kind"] = extra
    return out
