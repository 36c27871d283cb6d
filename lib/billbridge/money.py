"""Exact money helpers: currency minor units, one-time rounding, parsing money text.

House rule: money is :class:`~decimal.Decimal` (or integer minor units), never a float, and it
is rounded **once per line** to the currency's minor unit with ``ROUND_HALF_UP`` (halves away from
zero, what invoices print). Intermediate values (daily rates, proration fractions) stay exact: use
:class:`fractions.Fraction` and :func:`round_fraction` at the very end.

>>> quantize(Decimal("12.064516"))
Decimal('12.06')
>>> round_fraction(Fraction(22 * 17, 31))
Decimal('12.06')
>>> parse_money("$1,234.50")
Decimal('1234.50')
>>> parse_money("1.234,50", decimal_comma=True)
Decimal('1234.50')
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from fractions import Fraction

from billbridge.errors import InputError

__all__ = [
    "MINOR_UNITS",
    "minor_unit",
    "quantum",
    "extended",
    "quantize",
    "round_fraction",
    "to_fraction",
    "parse_money",
    "format_money",
    "sum_by_currency",
    "format_amounts",
    "CURRENCY_SYMBOLS",
    "is_currency_code",
    "MONEY_RE",
    "MONEY_RE_COMMA",
]

#: ISO 4217 minor units that differ from 2 (plus the common 2-digit ones, for documentation).
MINOR_UNITS: dict[str, int] = {
    "USD": 2, "EUR": 2, "GBP": 2, "CAD": 2, "AUD": 2, "NZD": 2, "CHF": 2, "SEK": 2, "NOK": 2,
    "DKK": 2, "ZAR": 2, "INR": 2, "MXN": 2, "BRL": 2, "SGD": 2, "HKD": 2, "PLN": 2, "CZK": 2,
    "JPY": 0, "KRW": 0, "ISK": 0, "CLP": 0, "VND": 0, "XOF": 0, "XAF": 0, "UGX": 0,
    "BHD": 3, "KWD": 3, "OMR": 3, "JOD": 3, "TND": 3, "LYD": 3, "IQD": 3,
}

_CODE_RE = re.compile(r"^[A-Z]{3}$")


def is_currency_code(code: str) -> bool:
    """True for a syntactically valid ISO 4217 code (three upper-case letters)."""
    return bool(_CODE_RE.match(code or ""))


def minor_unit(currency: str = "USD") -> int:
    """Number of decimal places of ``currency`` (ISO 4217); 2 for codes not in :data:`MINOR_UNITS`."""
    return MINOR_UNITS.get((currency or "USD").upper(), 2)


def quantum(currency: str = "USD") -> Decimal:
    """The smallest amount of ``currency`` as a Decimal exponent, e.g. ``Decimal('0.01')``."""
    return Decimal(1).scaleb(-minor_unit(currency))


def quantize(amount: Decimal | int | str, currency: str = "USD") -> Decimal:
    """Round ``amount`` to the currency's minor unit, ``ROUND_HALF_UP`` (use once per line)."""
    return Decimal(amount).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def extended(quantity: Decimal | int | str | None, unit: Decimal | int | str | None, currency: str = "USD", *,
             credit: bool = False) -> Decimal | None:
    """The extended amount of one line, quantity x unit, rounded once to the currency's minor unit
    (half away from zero). This is the one place an extended amount is computed: the loader, the
    reconciliation, the review and the Mappings page's "$ at stake" all call it.

    A credit (``credit=True``, Rule 6.5) always reduces a total, whatever signs the vendor file used:
    ``-|quantity| x |unit|``. ``None`` when the quantity or the unit is missing.
    """
    if quantity is None or unit is None:
        return None
    q, u = Decimal(quantity), Decimal(unit)
    if credit:
        q, u = -abs(q), abs(u)
    return (q * u).quantize(quantum(currency), rounding=ROUND_HALF_UP)


def to_fraction(value: Decimal | int | str | Fraction) -> Fraction:
    """An exact :class:`Fraction` for a Decimal / int / decimal string (never via float)."""
    if isinstance(value, Fraction):
        return value
    if isinstance(value, str):
        value = Decimal(value)
    return Fraction(value)


def round_fraction(value: Fraction, currency: str = "USD") -> Decimal:
    """Round an exact fraction to the currency's minor unit, half away from zero, exactly.

    No floating point and no intermediate rounding: this is the single rounding step a prorated
    line gets (Rule 7.4 of billing-rules.md).
    """
    places = minor_unit(currency)
    scaled = value * (10**places)
    sign = -1 if scaled < 0 else 1
    num, den = abs(scaled.numerator), scaled.denominator
    q, r = divmod(num, den)
    if 2 * r >= den:
        q += 1
    return Decimal(sign * q).scaleb(-places)


#: a money cell, decimal point: optional currency symbol, thousands commas, optional sign/parens
MONEY_RE = re.compile(r"^\(?[-+]?\(?[$€£]?\s?[-+]?(\d{1,3}(,\d{3})+|\d+)?(\.\d+)?\)?$")
#: a money cell, decimal comma: thousands dots or spaces, comma decimals
MONEY_RE_COMMA = re.compile(r"^\(?[-+]?\(?[$€£]?\s?[-+]?(\d{1,3}([. ]\d{3})+|\d+)?(,\d+)?\)?$")

_SYMBOLS = str.maketrans("", "", "$€£ \u00a0")


def parse_money(text: str | int | Decimal, decimal_comma: bool = False) -> Decimal:
    """Parse a money cell as an exact Decimal.

    Accepts ``$1,234.50``, ``1234.5``, ``-3.00``, ``(3.00)`` (accounting negative), and with
    ``decimal_comma=True`` the European ``1.234,50`` / ``1 234,50``. Raises :class:`ValueError`
    with a plain reason for anything else (words, two decimal separators, empty).
    """
    if isinstance(text, Decimal):
        return text
    if isinstance(text, int):
        return Decimal(text)
    s = str(text).strip().replace("\u00a0", " ")
    if not s:
        raise InputError("empty amount")
    rx = MONEY_RE_COMMA if decimal_comma else MONEY_RE
    if not rx.match(s) or not any(ch.isdigit() for ch in s):
        raise InputError(f"not an amount: {text!r}")
    negative = s.startswith("(") and s.endswith(")")
    if s.count("(") != s.count(")"):
        raise InputError(f"not an amount: {text!r}")
    s = s.strip("()").translate(_SYMBOLS)
    if decimal_comma:
        s = s.replace(".", "").replace(",", ".")
    else:
        s = s.replace(",", "")
    try:
        value = Decimal(s)
    except InvalidOperation as exc:  # pragma: no cover - guarded by the regex
        raise InputError(f"not an amount: {text!r}") from exc
    return -value if negative else value


#: currencies written with their symbol in front (``€5,440.55``); every other code follows the
#: amount (``1,234.50 CHF``), so ``$`` never stands for a Canadian or Australian dollar
CURRENCY_SYMBOLS: dict[str, str] = {"USD": "$", "EUR": "€", "GBP": "£"}


def format_money(amount: Decimal | int | str, currency: str | None = "USD") -> str:
    """``$1,234.50`` / ``-$12.00`` for USD, ``€5,440.55`` for EUR, ``£3.20`` for GBP, ``1,234.50
    CHF`` for other currencies, to the currency's minor unit (display only; a missing currency is
    billbridge's default, USD)."""
    currency = currency if isinstance(currency, str) and currency.strip() else "USD"
    currency = currency.strip().upper()
    d = Decimal(str(amount))
    sign = "-" if d < 0 else ""
    places = minor_unit(currency) if is_currency_code(currency) else 2
    body = f"{abs(d):,.{places}f}"
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{sign}{symbol}{body}" if symbol else f"{sign}{body} {currency}"


def sum_by_currency(amounts, currencies) -> dict[str, Decimal]:
    """Exact sums of ``amounts`` per currency (Rule 7.1: two currencies are never added), in currency
    order; missing amounts are skipped, a missing currency is USD."""
    out: dict[str, Decimal] = {}
    for amount, cur in zip(amounts, currencies):
        if amount is None or (isinstance(amount, float) and amount != amount) or amount == "":
            continue
        code = cur.strip().upper() if isinstance(cur, str) and cur.strip() else "USD"
        out[code] = out.get(code, Decimal(0)) + Decimal(str(amount))
    return dict(sorted(out.items()))


def format_amounts(by_currency: dict[str, Decimal], *, empty: str = "$0.00") -> str:
    """Amounts of several currencies side by side, never added: ``$8,804.32 · €5,440.55``."""
    if not by_currency:
        return empty
    return " · ".join(format_money(v, c) for c, v in by_currency.items())
