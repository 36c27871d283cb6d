"""Resources served by the sandbox: definitions, references, validation, computed fields, CRUD.

Stored records hold references as ``{id, name|identifier, ...}`` without ``_info``; absolute
``*_href`` links depend on the address the client used and are added by :func:`render`.
Derived fields (agreement ``agreementStatus``/``nextInvoiceDate``, addition ``agreementStatus``)
are computed by :func:`view` on every read, so filters and responses always agree.
"""

from __future__ import annotations

import copy
import os
import re
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from billbridge import clock
from billbridge import demo_world as dw

from .schema import SCHEMAS
from .store import Store

__all__ = [
    "RESOURCES", "Resource", "ApiError", "Member", "WriteContext", "view", "render", "create",
    "patch", "replace", "delete", "now_utc", "fmt_dt", "line_key_field",
]

#: fields computed on read (lower case, as they may appear in a query)
DERIVED_FIELDS = {"agreements": ("agreementstatus", "nextinvoicedate"), "additions": ("agreementstatus",)}

DATE_ONLY_FIELDS = {"startDate", "endDate", "billStartDate", "effectiveDate", "cancelledDate", "dateCancelled"}


def now_utc() -> datetime:
    """The time the sandbox stamps on writes: now (UTC), on :func:`billbridge.clock.today`'s date when
    ``BILLBRIDGE_TODAY`` pins it, so writes sort after the seed's dates of the same demo window."""
    now = datetime.now(timezone.utc).replace(microsecond=0)
    if not os.environ.get(clock.ENV, "").strip():
        return now
    return datetime.combine(clock.today(), now.time(), timezone.utc)


def fmt_dt(dt: datetime) -> str:
    """ConnectWise wire format: ``YYYY-MM-DDTHH:MM:SSZ`` (UTC, no fraction)."""
    return dt.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def fmt_date(d: date) -> str:
    return f"{d.isoformat()}T00:00:00Z"


def month_span(month: str) -> tuple[date, date]:
    """First and last day of ``YYYY-MM``."""
    import calendar

    y, m = int(month[:4]), int(month[5:7])
    return date(y, m, 1), date(y, m, calendar.monthrange(y, m)[1])


def parse_date_part(v: Any) -> date | None:
    """The calendar date of a wire value (the date as written; never shifted through a zone)."""
    if not isinstance(v, str):
        return None
    m = re.match(r"^(\d{4})-(\d{2})-(\d{2})", v.strip())
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def line_key_field(value: str | None = None) -> dict:
    """The ``BillbridgeKey`` custom field as ConnectWise returns it (value omitted when unset)."""
    cf = {"id": dw.LINE_KEY_FIELD_ID, "caption": dw.LINE_KEY_FIELD, "type": "Text",
          "entryMethod": "EntryField", "numberOfDecimals": 0}
    if value is not None:
        cf["value"] = value
    return cf


class ApiError(Exception):
    """An error response: HTTP status plus the ConnectWise body ``{code, message, errors}``."""

    def __init__(self, status: int, code: str, message: str, errors: list[dict] | None = None,
                 headers: dict[str, str] | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.errors = errors
        self.headers = headers or {}

    def body(self) -> dict:
        return {"code": self.code, "message": self.message, "errors": self.errors}


@dataclass
class Member:
    """An API member: keys plus permissions (``area -> {"inquire","add","edit","delete"}``).

    ``permissions=None`` grants everything. Areas are named as in ConnectWise security roles, e.g.
    ``"Finance > Agreements"``.
    """

    identifier: str
    public_key: str
    private_key: str
    permissions: dict[str, set[str]] | None = None
    name: str = ""

    def can(self, area: str | None, level: str) -> bool:
        if area is None or self.permissions is None:
            return True
        return level in {lv.lower() for lv in self.permissions.get(area, set())}


@dataclass(frozen=True)
class RefSpec:
    """How a reference field is resolved and displayed."""

    target: str | None  # store collection, or None for references the sandbox does not model
    href: str | None  # path template relative to the API root, with {id}
    show: tuple[str, ...] = ("name",)  # keys copied from the target


@dataclass(frozen=True)
class Resource:
    key: str  # store collection
    schema: str
    label: str  # "Agreement" (404 messages)
    rname: str  # errors[].resource, e.g. "agreement"
    area: str | None  # permission area
    verbs: frozenset
    refs: dict[str, RefSpec] = field(default_factory=dict)
    readonly: frozenset = frozenset()
    unique: tuple[tuple[str, str], ...] = ()  # (field, message)
    info_links: dict[str, str] = field(default_factory=dict)  # _info key -> path template ({id})


_ALL = frozenset({"GET", "POST", "PATCH", "PUT", "DELETE"})
_RO = frozenset({"GET"})

_COMPANY = RefSpec("companies", "/company/companies/{id}", ("identifier", "name"))
_CONTACT = RefSpec("contacts", "/company/contacts/{id}", ("name",))
_BCYCLE = RefSpec("billing_cycles", "/finance/billingCycles/{id}", ("name",))
_AGR = RefSpec("agreements", "/finance/agreements/{id}", ("name", "type", "chargeFirmFlag"))
_SITE = RefSpec(None, "/company/companies/sites/{id}")
_LOC = RefSpec(None, "/system/locations/{id}")
_DEPT = RefSpec(None, "/system/departments/{id}", ("identifier", "name"))
_TERMS = RefSpec(None, "/finance/billingTerms/{id}")
_CURRENCY = RefSpec(None, "/finance/currencies/{id}", ("currencyCode", "symbol", "name"))
#: the sandbox site's home currency (a CurrencyReference as ConnectWise writes it on an agreement); an
#: agreement created without one gets it, as on a real site (Rule 7.1 compares the vendor's with it)
SITE_CURRENCY: dict = {"id": 1, "symbol": "$", "currencyCode": "USD", "decimalSeparator": ".",
                       "numberOfDecimals": 2, "thousandsSeparator": ",", "negativeParenthesesFlag": False,
                       "displaySymbolFlag": True, "currencyIdentifier": "USD", "displayIdFlag": False,
                       "rightAlign": False, "name": "US Dollar"}

RESOURCES: dict[str, Resource] = {
    "companies": Resource(
        "companies", "Company", "Company", "company", "Companies > Company Maintenance", _ALL,
        refs={"status": RefSpec("company_statuses", "/company/companies/statuses/{id}"),
              "types": RefSpec("company_types", "/company/companies/types/{id}"),
              "defaultContact": _CONTACT, "billingContact": _CONTACT, "parentCompany": _COMPANY,
              "billToCompany": _COMPANY, "site": _SITE, "billingSite": _SITE, "territory": _LOC,
              "billingTerms": _TERMS, "currency": _CURRENCY,
              "country": RefSpec(None, "/company/countries/{id}", ("identifier", "name"))},
        readonly=frozenset({"id", "_info", "dateDeleted", "deletedBy", "mobileGuid"}),
        unique=(("identifier", "Company ID already in use."),),
        info_links={"contacts_href": "/company/contacts?conditions=company/id={id}",
                    "agreements_href": "/finance/agreements?conditions=company/id={id}",
                    "sites_href": "/company/companies/{id}/sites",
                    "notes_href": "/company/companies/{id}/notes",
                    "documents_href": "/system/documents?recordType=Company&recordId={id}"},
    ),
    "agreements": Resource(
        "agreements", "Agreement", "Agreement", "agreement", "Finance > Agreements", _ALL,
        refs={"type": RefSpec("agreement_types", "/finance/agreements/types/{id}"),
              "company": _COMPANY, "contact": _CONTACT, "billToCompany": _COMPANY, "billToContact": _CONTACT,
              "shipToCompany": _COMPANY, "shipToContact": _CONTACT, "subContractCompany": _COMPANY,
              "subContractContact": _CONTACT, "parentAgreement": _AGR, "billingCycle": _BCYCLE,
              "site": _SITE, "billToSite": _SITE, "shipToSite": _SITE, "location": _LOC, "companyLocation": _LOC,
              "department": _DEPT, "billingTerms": _TERMS, "currency": _CURRENCY,
              "sla": RefSpec(None, "/service/SLAs/{id}"), "taxCode": RefSpec(None, "/finance/taxCodes/{id}"),
              "workRole": RefSpec(None, "/time/workRoles/{id}"), "workType": RefSpec(None, "/time/workTypes/{id}"),
              "opportunity": RefSpec(None, "/sales/opportunities/{id}"),
              "invoiceTemplate": RefSpec(None, "/finance/invoiceTemplates/{id}"),
              "projectType": RefSpec(None, "/project/projectTypes/{id}")},
        readonly=frozenset({"id", "_info", "agreementStatus", "nextInvoiceDate"}),
        info_links={"additions_href": "/finance/agreements/{id}/additions",
                    "adjustments_href": "/finance/agreements/{id}/adjustments",
                    "sites_href": "/finance/agreements/{id}/sites",
                    "boardDefaults_href": "/finance/agreements/{id}/boardDefaults",
                    "configurations_href": "/finance/agreements/{id}/configurations",
                    "workRoles_href": "/finance/agreements/{id}/workroles",
                    "workTypes_href": "/finance/agreements/{id}/worktypes"},
    ),
    "additions": Resource(
        "additions", "Addition", "Addition", "addition", "Finance > Agreements", _ALL,
        refs={"product": RefSpec("catalog", "/procurement/catalog/{id}", ("identifier", "serializedFlag")),
              "opportunity": RefSpec(None, "/sales/opportunities/{id}"),
              "invoiceGrouping": RefSpec(None, "/finance/invoiceGrouping/{id}")},
        readonly=frozenset({"id", "_info", "agreementId", "agreementStatus", "extPrice", "extCost", "margin",
                            "billedQuantity", "prorateCost", "proratePrice", "extendedProrateCost",
                            "extendedProratePrice"}),
        info_links={"agreement_href": "/finance/agreements/{agreementId}"},
    ),
    "agreement_types": Resource(
        "agreement_types", "AgreementType", "AgreementType", "agreementType", "System > Table Setup", _ALL,
        refs={"billingCycle": _BCYCLE, "location": _LOC, "department": _DEPT, "billingTerms": _TERMS,
              "sla": RefSpec(None, "/service/SLAs/{id}"), "workRole": RefSpec(None, "/time/workRoles/{id}"),
              "workType": RefSpec(None, "/time/workTypes/{id}"),
              "projectType": RefSpec(None, "/project/projectTypes/{id}"),
              "invoiceTemplate": RefSpec(None, "/finance/invoiceTemplates/{id}"),
              "emailTemplate": RefSpec(None, "/marketing/emailTemplates/{id}")},
        readonly=frozenset({"id", "_info"}),
        unique=(("name", "Agreement type name already in use."),),
    ),
    "catalog": Resource(
        "catalog", "CatalogItem", "CatalogItem", "catalogItem", "Procurement > Product Catalog", _ALL,
        refs={"type": RefSpec("product_types", "/procurement/types/{id}"),
              "subcategory": RefSpec(None, "/procurement/subcategories/{id}"),
              "category": RefSpec(None, "/procurement/categories/{id}"),
              "unitOfMeasure": RefSpec(None, "/procurement/unitOfMeasures/{id}"),
              "manufacturer": RefSpec(None, "/procurement/manufacturers/{id}"),
              "vendor": _COMPANY, "recurringBillCycle": _BCYCLE,
              "agreementType": RefSpec("agreement_types", "/finance/agreements/types/{id}"),
              "sla": RefSpec(None, "/service/SLAs/{id}"), "entityType": RefSpec(None, "/company/entityTypes/{id}")},
        readonly=frozenset({"id", "_info", "calculatedPrice", "calculatedCost"}),
        unique=(("identifier", "Product ID already in use."),),
        info_links={"components_href": "/procurement/catalog/{id}/components",
                    "minimumStockByWarehouse_href": "/procurement/catalog/{id}/minimumStockByWarehouse"},
    ),
    "product_types": Resource(
        "product_types", "ProductType", "ProductType", "productType", "System > Table Setup", _ALL,
        readonly=frozenset({"id", "_info"}),
        unique=(("name", "Product type name already in use."),),
    ),
    "billing_cycles": Resource(
        "billing_cycles", "BillingCycle", "BillingCycle", "billingCycle", "System > Table Setup", _RO,
        readonly=frozenset({"id", "_info"}),
    ),
    "invoices": Resource(
        "invoices", "Invoice", "Invoice", "invoice", "Finance > Invoicing", _RO,
        refs={"company": _COMPANY, "billToCompany": _COMPANY, "shipToCompany": _COMPANY, "agreement": _AGR,
              "status": RefSpec(None, "/finance/billingStatuses/{id}", ("name", "isClosed")),
              "billingTerms": _TERMS, "currency": _CURRENCY, "location": _LOC},
        readonly=frozenset({"id", "_info"}),
        info_links={"payments_href": "/finance/invoices/{id}/payments", "pdf_href": "/finance/invoices/{id}/pdf"},
    ),
}


# --------------------------------------------------------------------------- views

def agreement_status(rec: dict, today: date) -> str:
    """Cancelled if cancelledFlag; Expired if endDate < today and not noEndingDateFlag; else Active."""
    if rec.get("cancelledFlag"):
        return "Cancelled"
    end = parse_date_part(rec.get("endDate"))
    if end is not None and end < today and not rec.get("noEndingDateFlag"):
        return "Expired"
    return "Active"


def next_invoice_date(rec: dict, today: date) -> str | None:
    """The first day of the next month on or after max(today, billStartDate) (monthly model)."""
    if agreement_status(rec, today) != "Active":
        return None
    start = parse_date_part(rec.get("billStartDate")) or parse_date_part(rec.get("startDate")) or today
    ref = max(today, start)
    nxt = date(ref.year + (ref.month == 12), ref.month % 12 + 1, 1)
    return fmt_date(nxt)


def view(res: Resource, rec: dict, store: Store, today: date) -> dict:
    """The record as the API shows it (derived fields filled in); a shallow copy."""
    if res.key == "agreements":
        out = dict(rec)
        out["agreementStatus"] = agreement_status(rec, today)
        out["nextInvoiceDate"] = next_invoice_date(rec, today)
        return out
    if res.key == "additions":
        parent = store.get("agreements", rec.get("agreementId"))
        out = dict(rec)
        out["agreementStatus"] = agreement_status(parent, today) if parent else None
        return out
    return rec


def _ref_out(spec: RefSpec, fname: str, ref: Any, root: str) -> Any:
    if not isinstance(ref, dict):
        return ref
    out = {k: v for k, v in ref.items() if v is not None}
    rid = ref.get("id")
    if spec.href and rid is not None:
        out["_info"] = {f"{fname}_href": root + spec.href.format(id=rid)}
    return out


def render(res: Resource, rec: dict, root: str) -> dict:
    """Wire form of a (viewed) record: nulls dropped, absolute ``*_href`` links added.

    ``root`` is the absolute API root, e.g. ``http://127.0.0.1:8765/v4_6_release/apis/3.0``.
    """
    out: dict[str, Any] = {}
    refs = res.refs
    for k, v in rec.items():
        if v is None:
            continue
        if k in refs:
            spec = refs[k]
            if isinstance(v, list):
                out[k] = [_ref_out(spec, k, r, root) for r in v]
            else:
                out[k] = _ref_out(spec, k, v, root)
        elif k == "_info":
            info = {ik: iv for ik, iv in v.items() if iv is not None}
            for lk, tpl in res.info_links.items():
                info[lk] = root + tpl.format(id=rec.get("id"), agreementId=rec.get("agreementId"))
            out[k] = info
        elif k == "customFields":
            out[k] = [{ck: cv for ck, cv in cf.items() if cv is not None} for cf in v]
        else:
            out[k] = v
    return out


# --------------------------------------------------------------------------- write helpers

@dataclass
class WriteContext:
    store: Store
    member: Member
    today: date
    parent: dict | None = None  # the agreement, for additions


def _err(res: Resource, fname: str, code: str, message: str) -> dict:
    return {"code": code, "message": message, "resource": res.rname, "field": fname}


def _invalid(res: Resource, errors: list[dict]) -> ApiError:
    return ApiError(400, "InvalidObject", f"{res.rname} object is invalid", errors)


def _find_target(store: Store, target: str, ref: dict) -> dict | None:
    if ref.get("id") is not None:
        try:
            return store.get(target, int(ref["id"]))
        except (TypeError, ValueError):
            return None
    for key in ("identifier", "name"):
        want = ref.get(key)
        if isinstance(want, str):
            w = want.casefold()
            for rec in store.all(target):
                v = rec.get(key)
                if isinstance(v, str) and v.casefold() == w:
                    return rec
            return None
    return None


def _target_ref(target: str, rec: dict, spec: RefSpec) -> dict:
    out: dict[str, Any] = {"id": rec["id"]}
    for k in spec.show:
        if target == "agreements" and k == "type":
            t = rec.get("type") or {}
            out["type"] = t.get("name")
        elif target == "agreements" and k == "chargeFirmFlag":
            out["chargeFirmFlag"] = bool(rec.get("chargeToFirm"))
        elif target == "catalog" and k == "serializedFlag":
            out["serializedFlag"] = bool(rec.get("serializedFlag"))
        elif rec.get(k) is not None:
            out[k] = rec[k]
    return out


_LABELS = {"companies": "Company", "contacts": "Contact", "agreement_types": "Agreement type",
           "catalog": "Product", "product_types": "Product type", "billing_cycles": "Billing cycle",
           "agreements": "Agreement", "company_statuses": "Company status", "company_types": "Company type"}


def _resolve_ref(res: Resource, fname: str, spec: RefSpec, value: Any, store: Store, errors: list) -> Any:
    if value is None:
        return None
    if not isinstance(value, dict):
        errors.append(_err(res, fname, "InvalidField", f"The {fname} field must be a reference object."))
        return None
    if spec.target is None:
        ref_schema = SCHEMAS[res.schema]["properties"].get(fname, {}).get("ref")
        allowed = SCHEMAS.get(ref_schema, {}).get("properties", {}) if ref_schema else {}
        return {k: v for k, v in value.items() if k != "_info" and (not allowed or k in allowed)}
    target = _find_target(store, spec.target, value)
    if target is None:
        what = next((f"{k} {value[k]!r}" if k != "id" else f"id {value[k]}" for k in ("id", "identifier", "name")
                     if value.get(k) is not None), None)
        if what is None:
            errors.append(_err(res, fname, "InvalidField", f"The {fname} reference needs an id, identifier or name."))
        else:
            errors.append(_err(res, fname, "InvalidField", f"{_LABELS.get(spec.target, spec.target)} with {what} was not found."))
        return None
    return _target_ref(spec.target, target, spec)


def _coerce(res: Resource, fname: str, value: Any, errors: list) -> Any:
    """Type-check one plain field and normalise dates."""
    spec = SCHEMAS[res.schema]["properties"][fname]
    kind = spec["kind"]
    if value is None:
        return None
    if kind == "string":
        if not isinstance(value, str):
            errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be a string."))
            return None
        if "enum" in spec and value not in spec["enum"]:
            match = next((e for e in spec["enum"] if e.lower() == value.lower()), None)
            if match is None:
                errors.append(_err(res, fname, "InvalidField",
                                   f"{value!r} is not a valid value for {fname}; expected one of {', '.join(spec['enum'])}."))
                return None
            value = match
        ml = spec.get("maxLength")
        if ml is not None and len(value) > ml:
            errors.append(_err(res, fname, "InvalidField",
                               f"The field {fname} must be a string with a maximum length of {ml}."))
        return value
    if kind == "datetime":
        if not isinstance(value, str):
            errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be a date-time string."))
            return None
        if fname in DATE_ONLY_FIELDS:
            d = parse_date_part(value)
            if d is None:
                errors.append(_err(res, fname, "InvalidField", f"{value!r} is not a valid date for {fname}."))
                return None
            return fmt_date(d)
        from .conditions import parse_datetime
        dt = parse_datetime(value)
        if dt is None:
            errors.append(_err(res, fname, "InvalidField", f"{value!r} is not a valid date for {fname}."))
            return None
        return fmt_dt(dt)
    if kind in ("number", "integer"):
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be a number."))
            return None
        if isinstance(value, str):  # django-connectwise sends decimals as strings
            try:
                value = float(value)
            except ValueError:
                errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be a number."))
                return None
        if kind == "integer":
            if float(value) != int(value):
                errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be an integer."))
                return None
            return int(value)
        return float(value)
    if kind == "boolean":
        if not isinstance(value, bool):
            errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be true or false."))
            return None
        return value
    if kind == "array":
        if not isinstance(value, list):
            errors.append(_err(res, fname, "InvalidField", f"The field {fname} must be an array."))
            return None
        return value
    return value


def _sanitize(res: Resource, body: dict, ctx: WriteContext, errors: list) -> dict:
    """Input body -> stored form: unknown/read-only fields dropped, refs resolved, values coerced."""
    props = SCHEMAS[res.schema]["properties"]
    out: dict[str, Any] = {}
    for k, v in body.items():
        if k not in props or k in res.readonly:
            continue
        if k in res.refs:
            spec = res.refs[k]
            if isinstance(v, list):
                out[k] = [r for r in (_resolve_ref(res, k, spec, x, ctx.store, errors) for x in v) if r is not None]
            else:
                out[k] = _resolve_ref(res, k, spec, v, ctx.store, errors)
        elif k == "customFields":
            out[k] = _custom_fields(v)
        else:
            out[k] = _coerce(res, k, v, errors)
    return out


def _custom_fields(value: Any) -> list[dict]:
    items = []
    for cf in value if isinstance(value, list) else []:
        if not isinstance(cf, dict):
            continue
        if cf.get("id") == dw.LINE_KEY_FIELD_ID or cf.get("caption") == dw.LINE_KEY_FIELD:
            v = cf.get("value")
            items.append(line_key_field(None if v in (None, "") else str(v)))
        else:
            items.append({k: v for k, v in cf.items() if v is not None})
    return items


def _validate(res: Resource, rec: dict, ctx: WriteContext, errors: list, *, is_put: bool, self_id: int | None) -> None:
    sch = SCHEMAS[res.schema]
    for req in sch["required"]:
        v = rec.get(req)
        if v is None or (isinstance(v, str) and not v.strip()):
            errors.append(_err(res, req, "NullValue", f"The {req} field is required."))
    if is_put:
        for fname, spec in sch["properties"].items():
            if spec.get("requiredOnUpdates") and rec.get(fname) is None:
                errors.append(_err(res, fname, "NullValue", f"The {fname} field is required on updates."))
    for fname, msg in res.unique:
        v = rec.get(fname)
        if isinstance(v, str):
            w = v.casefold()
            for other in ctx.store.all(res.key):
                ov = other.get(fname)
                if other["id"] != self_id and isinstance(ov, str) and ov.casefold() == w:
                    errors.append(_err(res, fname, "ObjectExists", msg))
                    break
    for yf in ("yearEstablished", "revenueYear"):
        if res.key == "companies" and rec.get(yf) is not None and not 1900 <= rec[yf] <= 9999:
            errors.append(_err(res, yf, "OutOfRange", f"The field {yf} must be between 1900 and 9999."))
    if res.key == "agreements":
        s, e = parse_date_part(rec.get("startDate")), parse_date_part(rec.get("endDate"))
        if s and e and e < s:
            errors.append(_err(res, "endDate", "InvalidField", "The end date must be on or after the start date."))
        pa = rec.get("parentAgreement")
        if pa and self_id is not None and pa.get("id") == self_id:
            errors.append(_err(res, "parentAgreement", "InvalidField", "An agreement cannot be its own parent."))
    if res.key == "additions":
        parent = ctx.parent or {}
        if parent.get("cancelledFlag"):
            errors.append(_err(res, "agreement", "InvalidField",
                               f"Agreement '{parent.get('name')}' (id {parent.get('id')}) is cancelled; "
                               "its additions cannot be added or changed."))
        prod = rec.get("product")
        if prod and prod.get("id") is not None:
            item = ctx.store.get("catalog", prod["id"])
            if item is not None and item.get("inactiveFlag"):
                errors.append(_err(res, "product", "InvalidField", "Product is inactive."))
        eff, can = parse_date_part(rec.get("effectiveDate")), parse_date_part(rec.get("cancelledDate"))
        if eff and can and can < eff:
            errors.append(_err(res, "cancelledDate", "InvalidField",
                               "The cancelled date must be on or after the effective date."))


def _r2(x: float) -> float:
    return float(f"{x:.2f}") if x is not None else None


def _compute(res: Resource, rec: dict, ctx: WriteContext) -> None:
    if res.key == "additions":
        parent = ctx.parent or {}
        rec["agreementId"] = parent.get("id")
        qty = rec.get("quantity") or 0.0
        less = rec.get("lessIncluded") or 0.0
        price = rec.get("unitPrice") or 0.0
        cost = rec.get("unitCost") or 0.0
        billed = qty - less
        rec["billedQuantity"] = billed
        rec["extPrice"] = _r2(billed * price)
        rec["extCost"] = _r2(billed * cost)
        rec["margin"] = _r2(rec["extPrice"] - rec["extCost"])
        factor = 1.0
        eff = parse_date_part(rec.get("effectiveDate"))
        if parent.get("prorateFlag") and eff is not None and eff.day != 1:
            nxt = date(eff.year + (eff.month == 12), eff.month % 12 + 1, 1)
            dim = (nxt - date(eff.year, eff.month, 1)).days
            factor = (dim - eff.day + 1) / dim
        rec["prorateCurrentPeriodFlag"] = bool(parent.get("prorateFlag")) if rec.get("prorateCurrentPeriodFlag") is None else rec["prorateCurrentPeriodFlag"]
        rec["proratePrice"] = _r2(price * factor)
        rec["prorateCost"] = _r2(cost * factor)
        rec["extendedProratePrice"] = _r2(price * factor * billed)
        rec["extendedProrateCost"] = _r2(cost * factor * billed)
    elif res.key == "agreements":
        if rec.get("cancelledFlag") and not rec.get("dateCancelled"):
            rec["dateCancelled"] = fmt_date(ctx.today)
        if rec.get("endDate") is None and rec.get("noEndingDateFlag") is None:
            rec["noEndingDateFlag"] = True


def _defaults(res: Resource, rec: dict, ctx: WriteContext) -> None:
    """Fill what ConnectWise fills on create (agreement-type defaults, catalog prices, ...)."""
    s = ctx.store
    if res.key == "companies":
        rec.setdefault("status", {"id": 1, "name": "Active"})
        if rec.get("types") is None:
            rec["types"] = [{"id": 1, "name": "Client"}]
        rec.setdefault("deletedFlag", False)
        rec.setdefault("leadFlag", False)
        rec.setdefault("unsubscribeFlag", False)
        rec.setdefault("isVendorFlag", False)
        rec.setdefault("dateAcquired", fmt_dt(now_utc()))
    elif res.key == "agreements":
        t = s.get("agreement_types", (rec.get("type") or {}).get("id")) or {}
        for f in ("employeeCompRate", "employeeCompNotExceed", "invoicingCycle", "billTime", "billExpenses",
                  "billProducts", "applicationUnits", "applicationCycle", "applicationUnlimitedFlag",
                  "billOneTimeFlag", "prorateFlag", "invoiceProratedAdditionsFlag", "autoInvoiceFlag",
                  "billZeroAmountFlag", "oneTimeFlag"):
            if rec.get(f) is None and t.get(f) is not None:
                rec[f] = t[f]
        if rec.get("billingCycle") is None:
            bc = t.get("billingCycle") or next(({"id": b["id"], "name": b["name"]} for b in s.all("billing_cycles")
                                                if b.get("defaultFlag")), None)
            rec["billingCycle"] = bc
        if rec.get("taxable") is None:
            rec["taxable"] = bool(t.get("taxableFlag"))
        rec.setdefault("startDate", fmt_date(ctx.today))
        rec.setdefault("billStartDate", rec["startDate"])
        for f in ("cancelledFlag", "restrictLocationFlag", "restrictDepartmentFlag", "chargeToFirm",
                  "coverAgreementTime", "coverAgreementProduct", "coverAgreementExpense", "coverSalesTax",
                  "carryOverUnused", "allowOverruns", "expireWhenZero", "restrictDownPayment", "topComment",
                  "bottomComment", "billableTimeInvoice", "billableExpenseInvoice", "billableProductInvoice"):
            rec.setdefault(f, False)
        for f, v in (("prorateFlag", False), ("invoiceProratedAdditionsFlag", False), ("billAmount", 0.0),
                     ("prorateFirstBill", 0.0), ("periodType", "Current"), ("applicationUnits", "Amount"),
                     ("employeeCompRate", "Actual"), ("employeeCompNotExceed", "Billing"),
                     ("invoicingCycle", "ContractYear"), ("billTime", "Billable"), ("billExpenses", "Billable"),
                     ("billProducts", "Billable"), ("autoInvoiceFlag", False), ("billZeroAmountFlag", False),
                     ("oneTimeFlag", False), ("billOneTimeFlag", False)):
            if rec.get(f) is None:
                rec[f] = v
        if rec.get("currency") is None:
            rec["currency"] = dict(SITE_CURRENCY)
        if rec.get("billToCompany") is None and rec.get("company"):
            rec["billToCompany"] = dict(rec["company"])
        if rec.get("billToContact") is None and rec.get("contact"):
            rec["billToContact"] = dict(rec["contact"])
    elif res.key == "additions":
        item = s.get("catalog", (rec.get("product") or {}).get("id")) or {}
        if rec.get("quantity") is None:
            rec["quantity"] = 1.0
        if rec.get("unitPrice") is None:
            rec["unitPrice"] = item.get("price", 0.0)
        if rec.get("unitCost") is None:
            rec["unitCost"] = item.get("cost", 0.0)
        if rec.get("description") is None and item.get("description"):
            rec["description"] = item["description"]
        if rec.get("invoiceDescription") is None and item.get("customerDescription"):
            rec["invoiceDescription"] = item["customerDescription"]
        if rec.get("uom") is None:
            rec["uom"] = (item.get("unitOfMeasure") or {}).get("name", "Each")
        if rec.get("taxableFlag") is None:
            rec["taxableFlag"] = bool(item.get("taxableFlag"))
        if rec.get("effectiveDate") is None:
            rec["effectiveDate"] = fmt_date(ctx.today)
        rec.setdefault("lessIncluded", 0.0)
        rec.setdefault("purchaseItemFlag", False)
        rec.setdefault("specialOrderFlag", False)
        if rec.get("sequenceNumber") is None:
            rec["sequenceNumber"] = float(len(s.additions_of((ctx.parent or {}).get("id"))) + 1)
        if not any(cf.get("id") == dw.LINE_KEY_FIELD_ID for cf in rec.get("customFields") or []):
            rec["customFields"] = list(rec.get("customFields") or []) + [line_key_field()]
    elif res.key == "catalog":
        for f, v in (("inactiveFlag", False), ("productClass", "NonInventory"), ("serializedFlag", False),
                     ("serializedCostFlag", False), ("phaseProductFlag", False), ("price", 0.0), ("cost", 0.0),
                     ("taxableFlag", False), ("dropShipFlag", False), ("specialOrderFlag", False),
                     ("recurringFlag", False), ("calculatedPriceFlag", False), ("calculatedCostFlag", False),
                     ("billableOption", "Billable"), ("priceAttribute", "FixedFee")):
            if rec.get(f) is None:
                rec[f] = v
        rec.setdefault("unitOfMeasure", {"id": 1, "name": "Each"})
    elif res.key == "product_types":
        rec.setdefault("inactiveFlag", False)
        rec.setdefault("defaultFlag", False)
    elif res.key == "agreement_types":
        rec.setdefault("defaultFlag", False)
        rec.setdefault("inactiveFlag", False)
        rec.setdefault("prorateFlag", False)


def _stamp(rec: dict, member: Member, created: bool, prev_info: dict | None = None) -> None:
    now = fmt_dt(now_utc())
    info = dict(prev_info or {})
    if created or "dateEntered" not in info:
        info["dateEntered"] = now
        info["enteredBy"] = member.identifier
    info["lastUpdated"] = now
    info["updatedBy"] = member.identifier
    rec["_info"] = info


def _finish(res: Resource, rec: dict, ctx: WriteContext, errors: list, *, is_put: bool, self_id: int | None) -> None:
    _compute(res, rec, ctx)
    _validate(res, rec, ctx, errors, is_put=is_put, self_id=self_id)
    if errors:
        raise _invalid(res, errors)


# --------------------------------------------------------------------------- CRUD

def _require_object(res: Resource, body: Any) -> dict:
    if not isinstance(body, dict):
        raise ApiError(400, "InvalidObject", f"{res.rname} object is invalid",
                       [_err(res, "", "InvalidObject", "The request body must be a JSON object.")])
    return body


def _save(res: Resource, rec: dict, ctx: WriteContext) -> None:
    with ctx.store.transaction():
        ctx.store.put(res.key, rec)
        if res.key == "agreements":
            # references to this agreement elsewhere show its current name
            for other in ctx.store.all("agreements"):
                pa = other.get("parentAgreement")
                if pa and pa.get("id") == rec["id"] and pa.get("name") != rec.get("name"):
                    ctx.store.put("agreements", dict(other, parentAgreement=_target_ref("agreements", rec, _AGR)))


def create(res: Resource, body: Any, ctx: WriteContext) -> dict:
    """POST: validate, fill defaults and computed fields, store; returns the stored record."""
    body = _require_object(res, body)
    errors: list[dict] = []
    rec = _sanitize(res, body, ctx, errors)
    _defaults(res, rec, ctx)
    _finish(res, rec, ctx, errors, is_put=False, self_id=None)
    with ctx.store.transaction():
        rec["id"] = ctx.store.new_id(res.key)
        _stamp(rec, ctx.member, True)
        _save(res, rec, ctx)
    return rec


def replace(res: Resource, current: dict, body: Any, ctx: WriteContext) -> dict:
    """PUT: the body replaces the record; "Required On Updates" fields must be present."""
    body = _require_object(res, body)
    errors: list[dict] = []
    rec = _sanitize(res, body, ctx, errors)
    if res.key == "additions" and rec.get("customFields") is None:
        rec["customFields"] = [line_key_field()]
    _finish(res, rec, ctx, errors, is_put=True, self_id=current["id"])
    rec["id"] = current["id"]
    _stamp(rec, ctx.member, False, current.get("_info"))
    _save(res, rec, ctx)
    return rec


def _patch_error(res: Resource, path: str, msg: str) -> ApiError:
    return ApiError(400, "InvalidObject", f"{res.rname} object is invalid", [_err(res, path, "InvalidField", msg)])


def _apply_op(res: Resource, doc: dict, op: Any) -> None:
    if not isinstance(op, dict):
        raise _patch_error(res, "", "Each patch operation must be an object with op, path and value.")
    kind = str(op.get("op", "")).lower()
    path = op.get("path")
    if kind not in ("add", "replace", "remove") or not isinstance(path, str) or not path.strip("/"):
        raise _patch_error(res, str(path or ""), f"Unsupported patch operation {op.get('op')!r} on path {path!r}.")
    p = path[1:] if path.startswith("/") else path
    parts = [x for x in p.split("/")]
    props = SCHEMAS[res.schema]["properties"]
    if parts[0] not in props:
        raise _patch_error(res, parts[0], f"{parts[0]} is not a valid field for {res.rname}.")
    if parts[0] in res.readonly:
        return  # read-only fields are ignored, as ConnectWise does
    value = copy.deepcopy(op.get("value"))
    cur: Any = doc
    for i, part in enumerate(parts[:-1]):
        nxt_is_index = parts[i + 1].isdigit() or parts[i + 1] == "-"
        if isinstance(cur, list):
            try:
                cur = cur[int(part)]
            except (ValueError, IndexError):
                raise _patch_error(res, p, f"Path {path!r} does not exist.")
            continue
        child = cur.get(part)
        if child is None:
            child = [] if nxt_is_index else {}
            cur[part] = child
        elif not isinstance(child, (dict, list)):
            raise _patch_error(res, p, f"Path {path!r} does not exist.")
        elif isinstance(child, dict) and i == 0 and parts[0] in res.refs:
            # changing one key of a reference re-points it: drop the other display keys
            child = {}
            cur[part] = child
        cur = child
    last = parts[-1]
    if isinstance(cur, list):
        if last == "-":
            if kind == "remove":
                raise _patch_error(res, p, f"Path {path!r} does not exist.")
            cur.append(value)
            return
        try:
            idx = int(last)
        except ValueError:
            raise _patch_error(res, p, f"Path {path!r} does not exist.")
        if kind == "remove":
            if idx < len(cur):
                cur.pop(idx)
        elif kind == "add" and idx <= len(cur):
            cur.insert(idx, value)
        elif idx < len(cur):
            cur[idx] = value
        else:
            raise _patch_error(res, p, f"Path {path!r} does not exist.")
        return
    if kind == "remove":
        cur[last] = None
    else:
        cur[last] = value


def patch(res: Resource, current: dict, ops: Any, ctx: WriteContext) -> dict:
    """PATCH: apply JSON-Patch ops to the stored record, then validate the MERGED record."""
    if isinstance(ops, dict):
        ops = [ops]
    if not isinstance(ops, list) or not ops:
        raise ApiError(400, "InvalidObject", f"{res.rname} object is invalid",
                       [_err(res, "", "InvalidField", "The request body must be a JSON array of patch operations.")])
    doc = copy.deepcopy({k: v for k, v in current.items() if k not in ("_info",)})
    for op in ops:
        _apply_op(res, doc, op)
    errors: list[dict] = []
    rec = _sanitize(res, doc, ctx, errors)
    if res.key == "additions" and rec.get("customFields") is None:
        rec["customFields"] = [line_key_field()]
    _finish(res, rec, ctx, errors, is_put=False, self_id=current["id"])
    rec["id"] = current["id"]
    _stamp(rec, ctx.member, False, current.get("_info"))
    _save(res, rec, ctx)
    return rec


def delete(res: Resource, current: dict, ctx: WriteContext) -> None:
    """DELETE: companies go to the recycle bin (deletedFlag); other records are removed."""
    with ctx.store.transaction():
        if res.key == "companies":
            rec = dict(current, deletedFlag=True, dateDeleted=fmt_dt(now_utc()), deletedBy=ctx.member.identifier)
            _stamp(rec, ctx.member, False, current.get("_info"))
            ctx.store.put("companies", rec)
            return
        if res.key == "agreements":
            for add in list(ctx.store.additions_of(current["id"])):
                ctx.store.delete("additions", add["id"])
        ctx.store.delete(res.key, current["id"])

