"""The canonical vendor line, column mappings and the vendor presets.

Canonical columns (the ``generic`` format; CSV or XLSX; ``*`` = required):

==================== ========================================================================
column               meaning
==================== ========================================================================
vendor_customer_id*  the vendor's id for the end customer
vendor_customer_name* the customer as the vendor spells it
customer_created     date the vendor account was created (its day = the BDOM anchor)
subscription_id      the vendor's contract / subscription id
sku*                 the vendor's product code
product_name         product description
charge_type          ``recurring`` (advance) | ``usage`` (arrears) | ``one_time`` | ``credit``;
                     default ``recurring``
billing_frequency    ``monthly`` | ``annual``; default ``monthly``
term                 ``monthly`` | ``annual`` | ``triennial`` | ``none``; default ``monthly`` for
                     recurring and credit lines, ``none`` for usage and one-time lines
quantity*            number of units (negative only on credit lines)
unit_cost*           what the vendor charges the MSP per unit (money)
unit_price           the MSP's sell price per unit (money, optional)
period_start         first day the line covers
period_end           last day the line covers (inclusive; stored periods are half-open)
effective_date       date the change took effect (mid-period additions are prorated from it)
currency             ISO 4217 code; default ``USD``
==================== ========================================================================

Dates: ISO ``YYYY-MM-DD`` always, plus the format's local date format. Money: ``1234.50``,
``$1,234.50``, ``(3.00)``, or with ``decimal_comma`` ``1.234,50``.

Presets
-------

``intermedia`` (Intermedia partner portal "charges" export; comma-separated, US dates ``MM/DD/YYYY``):

=================== =================== =========================================================
file column         canonical field     notes
=================== =================== =========================================================
Account ID          vendor_customer_id
Account Name        vendor_customer_name
Account Created     customer_created    its day is the BDOM
Service ID          subscription_id
Item Code           sku
Item Description    product_name
Charge Type         charge_type         Monthly Service / Prorated Service -> recurring, Usage /
                                        Permission -> usage, One-Time / Setup -> one_time,
                                        Credit / Adjustment -> credit
Quantity            quantity
Unit Price          unit_cost           Intermedia's price to the MSP = the MSP's cost
Period Start        period_start
Period End          period_end
Effective Date      effective_date
Currency            currency
Amount              (ignored)           extended charge, recomputed from quantity x unit cost
=================== =================== =========================================================

``interworks`` (interworks.cloud BSS billing export via ApplicationLink; ``;``-separated, decimal
comma, European dates ``DD/MM/YYYY``):

=================== =================== =========================================================
file column         canonical field     notes
=================== =================== =========================================================
End Customer        vendor_customer_name also the customer id (the BSS export has no code)
Subscription ID     subscription_id     ApplicationLink "Contract ID"
Product             product_name        also the SKU
Billing Plan        billing_frequency   ApplicationLink "Billing Period": Monthly / Annually
Billing Cycle       term                ApplicationLink "Commitment Period": Monthly / Annual /
                                        3 Years
Charge Type         charge_type         Recurring / Usage / One-time / Refund
Quantity            quantity            ApplicationLink "Units"
Unit Cost           unit_cost           ApplicationLink "Cost"
Period From         period_start
Period To           period_end
Effective Date      effective_date      date the new charge or change was realised
Currency            currency
=================== =================== =========================================================

``phin`` (Phin "billable users" export; comma-separated, US dates):

=================== =================== =========================================================
file column         canonical field     notes
=================== =================== =========================================================
Phin Company ID     vendor_customer_id
Company             vendor_customer_name
Billable Users      quantity
Price Per User      unit_cost
Billing Period      period_start +      ``MM/DD/YYYY - MM/DD/YYYY``
                    period_end
(constant)          sku = ``PHIN-SAT``, product_name = Phin Security Awareness Training,
                    charge_type = recurring, term = monthly, billing_frequency = monthly
=================== =================== =========================================================
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

from billbridge.errors import InputError

__all__ = [
    "CANONICAL_COLUMNS",
    "REQUIRED_COLUMNS",
    "CHARGE_TYPES",
    "BILLING_FREQUENCIES",
    "TERMS",
    "PERIOD_RANGE",
    "ColumnMapping",
    "PRESETS",
    "GENERIC",
    "preset",
    "format_names",
]

CANONICAL_COLUMNS: tuple[str, ...] = (
    "vendor_customer_id", "vendor_customer_name", "customer_created", "subscription_id", "sku",
    "product_name", "charge_type", "billing_frequency", "term", "quantity", "unit_cost",
    "unit_price", "period_start", "period_end", "effective_date", "currency",
)
REQUIRED_COLUMNS: tuple[str, ...] = ("vendor_customer_id", "vendor_customer_name", "sku", "quantity", "unit_cost")
CHARGE_TYPES = ("recurring", "usage", "one_time", "credit")
BILLING_FREQUENCIES = ("monthly", "annual")
TERMS = ("monthly", "annual", "triennial", "none")
#: pseudo field: one cell holding ``start - end`` (split into period_start / period_end)
PERIOD_RANGE = "billing_period"

#: accepted spellings (lower-case) of the enumerated fields, for every format
SYNONYMS: dict[str, dict[str, str]] = {
    "charge_type": {
        "recurring": "recurring", "monthly": "recurring", "subscription": "recurring",
        "usage": "usage", "consumption": "usage", "arrears": "usage",
        "one_time": "one_time", "one-time": "one_time", "onetime": "one_time", "one time": "one_time",
        "credit": "credit", "refund": "credit",
    },
    "billing_frequency": {
        "monthly": "monthly", "month": "monthly", "annual": "annual", "annually": "annual",
        "yearly": "annual", "year": "annual",
    },
    "term": {
        "monthly": "monthly", "month": "monthly", "1 month": "monthly", "p1m": "monthly",
        "annual": "annual", "annually": "annual", "yearly": "annual", "1 year": "annual", "p1y": "annual",
        "triennial": "triennial", "3 years": "triennial", "three years": "triennial", "p3y": "triennial",
        "none": "none", "n/a": "none", "-": "none",
    },
}


@dataclass
class ColumnMapping:
    """How one file layout maps onto the canonical vendor line (a *format*).

    * ``columns``: file header (matched case-insensitively, spaces trimmed) -> canonical field, or
      :data:`PERIOD_RANGE` for a ``start - end`` cell.
    * ``delimiter``: ``","``, ``";"`` or ``"\\t"``; ``None`` sniffs it from the header line.
    * ``decimal_comma``: money and quantities written ``1.234,50``.
    * ``date_format``: the local date format (``strptime``), accepted next to ISO dates.
    * ``constants``: canonical field -> value for every line (e.g. Phin's one SKU).
    * ``derive``: canonical field -> another canonical field copied into it when it is missing.
    * ``value_maps``: canonical field -> {file value (any case): canonical value}.
    * ``ignore``: file columns that are known and deliberately not loaded (no warning).

    Saved per vendor in the store (:func:`billbridge.store.save_format`) via :meth:`to_dict`.
    """

    name: str
    columns: dict[str, str] = field(default_factory=dict)
    delimiter: str | None = None
    decimal_comma: bool = False
    date_format: str | None = None
    constants: dict[str, str] = field(default_factory=dict)
    derive: dict[str, str] = field(default_factory=dict)
    value_maps: dict[str, dict[str, str]] = field(default_factory=dict)
    ignore: tuple[str, ...] = ()
    description: str = ""
    generic: bool = False  # canonical names map to themselves

    def __post_init__(self) -> None:
        if self.delimiter not in (None, ",", ";", "\t", "|"):
            raise InputError(f"delimiter must be , ; tab or |, got {self.delimiter!r}")
        valid = set(CANONICAL_COLUMNS) | {PERIOD_RANGE, ""}
        bad = [f for f in self.columns.values() if f not in valid]
        bad += [f for f in [*self.constants, *self.derive, *self.derive.values()] if f not in CANONICAL_COLUMNS]
        if bad:
            raise InputError(f"unknown canonical field(s): {', '.join(sorted(set(bad)))}")
        self.ignore = tuple(self.ignore)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ignore"] = list(self.ignore)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "ColumnMapping":
        d = dict(d)
        d["ignore"] = tuple(d.get("ignore") or ())
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in d.items() if k in known})

    def field_for(self, header: str) -> str | None:
        """The canonical field a file header maps to (None: unknown column)."""
        key = _norm(header)
        if self.generic and key in CANONICAL_COLUMNS:
            return key
        for col, f in self.columns.items():
            if _norm(col) == key:
                return f
        return None

    def column_for(self, canonical: str) -> str:
        """The file column expected for a canonical field (for messages)."""
        for col, f in self.columns.items():
            if f == canonical:
                return col
        return canonical


def _norm(header: str) -> str:
    return " ".join(str(header).replace("\ufeff", "").strip().split()).lower()


GENERIC = ColumnMapping(
    name="generic", generic=True,
    description="billbridge's own format: the canonical column names, ISO dates, decimal point.",
)

INTERMEDIA = ColumnMapping(
    name="intermedia",
    columns={
        "Account ID": "vendor_customer_id", "Account Name": "vendor_customer_name",
        "Account Created": "customer_created", "Service ID": "subscription_id", "Item Code": "sku",
        "Item Description": "product_name", "Charge Type": "charge_type", "Quantity": "quantity",
        "Unit Price": "unit_cost", "Period Start": "period_start", "Period End": "period_end",
        "Effective Date": "effective_date", "Currency": "currency",
    },
    delimiter=",", date_format="%m/%d/%Y", ignore=("Amount",),
    value_maps={"charge_type": {
        "monthly service": "recurring", "prorated service": "recurring", "usage": "usage",
        "permission": "usage", "one-time": "one_time", "setup": "one_time", "credit": "credit",
        "adjustment": "credit",
    }},
    description="Intermedia partner portal charges export (BDOM = account creation day; usage and "
                "permissions in arrears, monthly services in advance, mid-period items prorated).",
)

INTERWORKS = ColumnMapping(
    name="interworks",
    columns={
        "End Customer": "vendor_customer_name", "Subscription ID": "subscription_id",
        "Product": "product_name", "Billing Plan": "billing_frequency", "Billing Cycle": "term",
        "Charge Type": "charge_type", "Quantity": "quantity", "Unit Cost": "unit_cost",
        "Period From": "period_start", "Period To": "period_end", "Effective Date": "effective_date",
        "Currency": "currency",
    },
    delimiter=";", decimal_comma=True, date_format="%d/%m/%Y",
    derive={"vendor_customer_id": "vendor_customer_name", "sku": "product_name"},
    value_maps={"charge_type": {"recurring": "recurring", "usage": "usage", "one-time": "one_time", "refund": "credit"}},
    description="interworks.cloud BSS billing export (ApplicationLink connector field names).",
)

PHIN = ColumnMapping(
    name="phin",
    columns={
        "Phin Company ID": "vendor_customer_id", "Company": "vendor_customer_name",
        "Billable Users": "quantity", "Price Per User": "unit_cost", "Billing Period": PERIOD_RANGE,
    },
    delimiter=",", date_format="%m/%d/%Y",
    constants={"sku": "PHIN-SAT", "product_name": "Phin Security Awareness Training",
               "charge_type": "recurring", "term": "monthly", "billing_frequency": "monthly"},
    description="Phin billable users per company for a billing period.",
)

PRESETS: dict[str, ColumnMapping] = {m.name: m for m in (GENERIC, INTERMEDIA, INTERWORKS, PHIN)}


def preset(name: str) -> ColumnMapping:
    """A built-in format by name (``generic``, ``intermedia``, ``interworks``, ``phin``)."""
    try:
        return PRESETS[name]
    except KeyError:
        raise InputError(f"unknown format {name!r}; built-in formats: {', '.join(PRESETS)}") from None


def format_names() -> list[str]:
    """Names of the built-in formats."""
    return list(PRESETS)
