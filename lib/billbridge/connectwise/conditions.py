"""Build ConnectWise ``conditions`` strings safely.

Values are always rendered through :func:`literal`, and field names must match
``name(/name)*``, so an operator-supplied company name or field can never break or inject a query::

    >>> from billbridge.connectwise import conditions as C
    >>> C.all_of(C.eq("company/id", 250), C.gt("lastUpdated", date(2026, 1, 1)))
    '(company/id = 250 and lastUpdated > [2026-01-01T00:00:00Z])'

Literal rules (ConnectWise's own error text): strings in double or single quotes, dates in square
brackets, numbers as plain digits with an optional sign and decimal point, ``true``/``false``,
``null``. Strings use the quote character they do not contain; when they contain both (or a
backslash) the quote and the backslash are backslash-escaped.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from datetime import date, datetime, timezone
from decimal import Decimal

from billbridge.errors import InputError

__all__ = [
    "literal",
    "field_name",
    "eq",
    "ne",
    "lt",
    "le",
    "gt",
    "ge",
    "contains",
    "like",
    "in_",
    "not_in",
    "all_of",
    "any_of",
    "not_",
    "cw_datetime",
]

FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z_][A-Za-z0-9_]*)*")  # used with fullmatch


def field_name(name: str) -> str:
    """``name`` unchanged if it is a valid (possibly nested) field name, else ValueError."""
    if not isinstance(name, str) or not FIELD_RE.fullmatch(name):
        raise InputError(f"not a ConnectWise field name: {name!r}")
    return name


def cw_datetime(value: date | datetime) -> str:
    """Wire form ``YYYY-MM-DDTHH:MM:SSZ``: a date is midnight UTC (never shifted), an aware
    datetime is converted to UTC. Naive datetimes are refused: their zone is unknown."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.tzinfo.utcoffset(value) is None:
            raise InputError(
                f"naive datetime {value!r}: pass an aware datetime (UTC) or a date, never a local time"
            )
        return value.astimezone(timezone.utc).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return f"{value.isoformat()}T00:00:00Z"
    raise TypeError(f"not a date: {value!r}")


def _quote(s: str) -> str:
    if "\\" not in s:
        if '"' not in s:
            return f'"{s}"'
        if "'" not in s:
            return f"'{s}'"
    escaped = s.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


def _number(value: int | float | Decimal) -> str:
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError(f"not a finite number: {value!r}")
        text = format(value, "f")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InputError(f"not a finite number: {value!r}")
        text = format(Decimal(repr(value)), "f")
    else:
        text = str(int(value))
    return text


def literal(value: object) -> str:
    """One condition value in ConnectWise syntax (see module docstring)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal)):
        return _number(value)
    if isinstance(value, (datetime, date)):
        return f"[{cw_datetime(value)}]"
    if isinstance(value, str):
        return _quote(value)
    raise TypeError(f"cannot use {type(value).__name__} as a ConnectWise condition value: {value!r}")


def _cmp(op: str):
    def build(field: str, value: object) -> str:
        return f"{field_name(field)} {op} {literal(value)}"

    build.__name__ = {"=": "eq", "!=": "ne", "<": "lt", "<=": "le", ">": "gt", ">=": "ge"}[op]
    build.__doc__ = f"``field {op} value``"
    return build


eq = _cmp("=")
ne = _cmp("!=")
lt = _cmp("<")
le = _cmp("<=")
gt = _cmp(">")
ge = _cmp(">=")


def contains(field: str, text: str) -> str:
    """``field contains "text"`` (substring match)."""
    if not isinstance(text, str):
        raise TypeError("contains() takes a string")
    return f"{field_name(field)} contains {literal(text)}"


def like(field: str, pattern: str) -> str:
    """``field like "pattern"``; ``%`` in ``pattern`` is the wildcard."""
    if not isinstance(pattern, str):
        raise TypeError("like() takes a string pattern")
    return f"{field_name(field)} like {literal(pattern)}"


def _list(values: Iterable[object]) -> str:
    items = list(values)
    if isinstance(values, (str, bytes)):
        raise TypeError("in_() takes a collection of values, not a string")
    if not items:
        raise InputError("an empty 'in (...)' list matches nothing; skip the query instead")
    return "(" + ",".join(literal(v) for v in items) + ")"


def in_(field: str, values: Iterable[object]) -> str:
    """``field in (v1,v2,...)``."""
    return f"{field_name(field)} in {_list(values)}"


def not_in(field: str, values: Iterable[object]) -> str:
    """``field not in (v1,v2,...)``."""
    return f"{field_name(field)} not in {_list(values)}"


def _join(word: str, parts: tuple[str | None, ...]) -> str:
    kept = [p for p in parts if p]
    if not kept:
        raise InputError(f"{word}: no conditions given")
    if len(kept) == 1:
        return kept[0]
    return "(" + f" {word} ".join(f"({p})" if _needs_parens(p) else p for p in kept) + ")"


def _needs_parens(cond: str) -> bool:
    """True when ``cond`` has a top-level ``and``/``or`` (outside quotes, brackets and parens)."""
    depth = 0
    quote = None
    i = 0
    n = len(cond)
    while i < n:
        ch = cond[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch == " ":
            rest = cond[i + 1 : i + 5].lower()
            if rest.startswith("and ") or rest.startswith("or "):
                return True
        i += 1
    return False


def all_of(*conds: str | None) -> str:
    """All conditions hold: ``(a and b and c)``. None/empty entries are skipped."""
    return _join("and", conds)


def any_of(*conds: str | None) -> str:
    """Any condition holds: ``(a or b)``. None/empty entries are skipped."""
    return _join("or", conds)


def not_(cond: str) -> str:
    """``not (cond)``."""
    if not cond:
        raise InputError("not_: no condition given")
    return f"not ({cond})"
