"""The reconciliation's inputs: mappings, run context and the ConnectWise snapshot as frames.

These are the contracts between the store (which builds them from SQLite), the plan lifecycle and the
rules pipeline. The column contracts are listed on each class.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any

import numpy as np
import pandas as pd

from billbridge.model import DEFAULT_MARGIN_THRESHOLD

__all__ = ["Mappings", "Context", "SnapshotFrames", "SnapshotTables", "snapshot_frames", "cw_date"]


def _empty(cols: Iterable[str]) -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype=object) for c in cols})


@dataclass
class Mappings:
    """The operator's remembered links, one vendor's (missing optional columns take the defaults of
    :data:`billbridge.model.MAPPING_DEFAULTS`)::

        companies   vendor_customer_id, company_id
        agreements  vendor_customer_id, subscription_id (None = every subscription of the customer),
                    agreement_id, sync_mode (standing|monthly), period_rule (advance|arrears, Rule 1.6)
        products    sku, term (None = any), billing_frequency (None = any), catalog_item_id,
                    own_cost (bool), own_price (bool), quantity_basis (text), price_rule
                    (:data:`billbridge.model.PRICE_RULES`), price_value (Decimal: the fixed price or the
                    markup percent), margin_threshold (Decimal percent; None = the global default)
        rules       vendor_customer_id, sku (None = every product of the customer),
                    rule (do_not_sync | fixed_quantity | cap), value (Decimal; None for do_not_sync)
    """

    companies: pd.DataFrame = field(default_factory=lambda: _empty(["vendor_customer_id", "company_id"]))
    agreements: pd.DataFrame = field(default_factory=lambda: _empty(
        ["vendor_customer_id", "subscription_id", "agreement_id", "sync_mode", "period_rule"]))
    products: pd.DataFrame = field(default_factory=lambda: _empty(
        ["sku", "term", "billing_frequency", "catalog_item_id", "own_cost", "own_price", "quantity_basis", "price_rule",
         "price_value", "margin_threshold"]))
    rules: pd.DataFrame = field(default_factory=lambda: _empty(["vendor_customer_id", "sku", "rule", "value"]))


@dataclass
class Context:
    """Everything about the run that is not data: month, who we are, what we wrote, overrides."""

    month: str
    vendor: str = "demo"
    api_member: str = "BillbridgeAPI"
    today: date | None = None
    #: billbridge's write journal: columns key, addition_id (optional), written_at; may be empty/None
    journal: pd.DataFrame | None = None
    #: plan row keys the operator allowed to overwrite a manual edit
    overrides: frozenset[str] = frozenset()
    line_key_field: str = "BillbridgeKey"
    line_key_field_id: int = 7
    bill_customer: str = "Billable"
    #: the vendor's display name for reasons (e.g. "Demo Cloud"); defaults to ``vendor``
    vendor_name: str | None = None
    #: the newest billing month billbridge pushed (:func:`billbridge.store.newest_pushed_month`): a standing line
    #: holds its values, so a plan for an earlier month never writes to it (rules/invoiced.py)
    newest_pushed_month: str | None = None
    #: the operator's reasons for overriding plan rows (plan key -> reason; billbridge.store.month_overrides);
    #: keys here are overridden too. An ``already_invoiced`` row is written only with a reason.
    override_reasons: Mapping[str, str] = field(default_factory=dict)
    #: the margin threshold (percent of the price) of a product mapping without one (rules/margin.py)
    margin_threshold: Decimal = DEFAULT_MARGIN_THRESHOLD


@dataclass
class SnapshotFrames:
    """A ConnectWise snapshot as DataFrames (build once with :func:`snapshot_frames`).

    companies: company_id, identifier, name, account_number, deleted, status, types
    agreements: agreement_id, name, company_id, company_name, type_name, status, cancelled, end_date,
        no_end, prorate, parent_id, parent_name, currency
    additions: addition_id, agreement_id, product_id, product_identifier, quantity, unit_price,
        unit_cost, effective_date, cancelled_date (ISO 'YYYY-MM-DD' or None), key, updated_by,
        last_updated, entered_by, date_entered (ISO 'YYYY-MM-DDTHH:MM:SSZ')
    catalog: catalog_item_id, identifier, description, inactive, price, cost, vendor_sku
    invoices: invoice_id, agreement_id, date, type
    agreement_types: type_id, name
    """

    companies: pd.DataFrame
    agreements: pd.DataFrame
    additions: pd.DataFrame
    catalog: pd.DataFrame
    invoices: pd.DataFrame
    agreement_types: pd.DataFrame
    taken_at: str | None = None


@dataclass
class SnapshotTables:
    """A stored ConnectWise snapshot as Arrow tables of its typed columns, as
    :func:`billbridge.store.load_snapshot_tables` reads them (the plan lifecycle's input: no Python
    object per value): ``tables`` maps ``companies``, ``agreements``, ``additions``, ``catalog``,
    ``invoices`` to the columns of :class:`SnapshotFrames` the rules read, with the stored values
    (ids and 0/1 flags int64; text, ISO dates, decimal text of numbers and the catalog's JSON numbers
    string). The rules read them exactly as the frames :func:`billbridge.store.load_snapshot_frames`
    builds from the same rows."""

    tables: dict[str, Any]
    taken_at: str | None = None


def _ref(rec: Mapping, name: str, attr: str = "id") -> Any:
    ref = rec.get(name)
    if isinstance(ref, Mapping):
        return ref.get(attr)
    return None


def _d10(value: Any) -> str | None:
    """CW wire date 'YYYY-MM-DDT00:00:00Z' (or a date) -> 'YYYY-MM-DD' (no time-zone shift)."""
    if value is None or value == "":
        return None
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    return str(value)[:10]


def _ts(value: Any) -> str | None:
    """A timestamp as 'YYYY-MM-DDTHH:MM:SSZ' (comparable as text)."""
    if value is None or (isinstance(value, float) and np.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(tz=timezone.utc).replace(tzinfo=None)
        return value.strftime("%Y-%m-%dT%H:%M:%SZ")
    if isinstance(value, date):
        return value.isoformat() + "T00:00:00Z"
    text = str(value).strip().replace(" ", "T")
    if text.endswith("+00:00"):
        text = text[:-6] + "Z"
    if "." in text:  # drop fractions of a second
        head, _, tail = text.partition(".")
        text = head + ("Z" if tail.endswith("Z") else "")
    if len(text) == 19:
        text += "Z"
    return text



def _objectify(df: pd.DataFrame) -> pd.DataFrame:
    """Text columns as plain ``object`` arrays with ``None`` for missing (pandas 3 infers Arrow
    strings, whose per-element access is slow on the row-wise paths here)."""
    for col in df.columns:
        dt = df[col].dtype
        if dt != object and pd.api.types.is_string_dtype(dt):
            df[col] = pd.Series(df[col].to_numpy(dtype=object, na_value=None), index=df.index, dtype=object)
    return df



def _key_of(custom_fields: Any, field_id: int, caption: str) -> str | None:
    if not custom_fields:
        return None
    for cf in custom_fields:
        if cf.get("id") == field_id or cf.get("caption") == caption:
            value = cf.get("value")
            return str(value) if value not in (None, "") else None
    return None


def snapshot_frames(snapshot: Mapping[str, Any] | SnapshotFrames, *, line_key_field: str = "BillbridgeKey",
                    line_key_field_id: int = 7) -> SnapshotFrames:
    """Turn a snapshot of CW JSON lists into :class:`SnapshotFrames` (one pass over each list)."""
    if isinstance(snapshot, SnapshotFrames):
        return snapshot
    g = snapshot.get
    companies = [
        {
            "company_id": c.get("id"), "identifier": c.get("identifier"), "name": c.get("name"),
            "account_number": c.get("accountNumber"), "deleted": bool(c.get("deletedFlag")),
            "status": _ref(c, "status", "name"),
            "types": tuple(t.get("name") for t in (c.get("types") or []) if isinstance(t, Mapping)),
        }
        for c in g("companies") or []
    ]
    agreements = [
        {
            "agreement_id": a.get("id"), "name": a.get("name"), "company_id": _ref(a, "company"),
            "company_name": _ref(a, "company", "name"), "type_name": _ref(a, "type", "name"),
            "status": a.get("agreementStatus"), "cancelled": bool(a.get("cancelledFlag")),
            "end_date": _d10(a.get("endDate")), "no_end": bool(a.get("noEndingDateFlag")),
            "prorate": bool(a.get("prorateFlag")), "parent_id": _ref(a, "parentAgreement"),
            "parent_name": _ref(a, "parentAgreement", "name"),
            "currency": _ref(a, "currency", "currencyCode") or _ref(a, "currency", "currencyIdentifier"),
        }
        for a in g("agreements") or []
    ]
    add_rows = []
    for x in g("additions") or []:
        info = x.get("_info") or {}
        product = x.get("product") or {}
        add_rows.append((
            x.get("id"), x.get("agreementId"), product.get("id"), product.get("identifier"),
            x.get("quantity"), x.get("unitPrice"), x.get("unitCost"),
            _d10(x.get("effectiveDate")), _d10(x.get("cancelledDate")),
            _key_of(x.get("customFields"), line_key_field_id, line_key_field),
            info.get("updatedBy"), info.get("lastUpdated"), info.get("enteredBy"), info.get("dateEntered"),
        ))
    additions = pd.DataFrame.from_records(add_rows, columns=[
        "addition_id", "agreement_id", "product_id", "product_identifier", "quantity", "unit_price", "unit_cost",
        "effective_date", "cancelled_date", "key", "updated_by", "last_updated", "entered_by", "date_entered"])
    for col in ("quantity", "unit_price", "unit_cost"):
        additions[col] = pd.to_numeric(additions[col], errors="coerce").astype("float64")
    catalog = [
        {
            "catalog_item_id": p.get("id"), "identifier": p.get("identifier"), "description": p.get("description"),
            "inactive": bool(p.get("inactiveFlag")), "price": p.get("price"), "cost": p.get("cost"),
            "vendor_sku": p.get("vendorSku"),
        }
        for p in g("catalog") or g("catalog_items") or []
    ]
    invoices = []
    for inv in g("invoices") or []:
        agr = _ref(inv, "agreement")
        if agr is None and inv.get("applyToType") == "Agreement":
            agr = inv.get("applyToId")
        invoices.append({"invoice_id": inv.get("id"), "agreement_id": agr, "date": _d10(inv.get("date")),
                         "type": inv.get("type")})
    types = [{"type_id": t.get("id"), "name": t.get("name")} for t in g("agreement_types") or []]

    def frame(rows: list[dict], cols: list[str]) -> pd.DataFrame:  # text columns as object
        return _objectify(pd.DataFrame(rows, columns=cols)) if rows else _empty(cols)

    additions = _objectify(additions)
    return SnapshotFrames(
        companies=frame(companies, ["company_id", "identifier", "name", "account_number", "deleted", "status", "types"]),
        agreements=frame(agreements, ["agreement_id", "name", "company_id", "company_name", "type_name", "status",
                                      "cancelled", "end_date", "no_end", "prorate", "parent_id", "parent_name",
                                      "currency"]),
        additions=additions,
        catalog=frame(catalog, ["catalog_item_id", "identifier", "description", "inactive", "price", "cost",
                                "vendor_sku"]),
        invoices=frame(invoices, ["invoice_id", "agreement_id", "date", "type"]),
        agreement_types=frame(types, ["type_id", "name"]),
        taken_at=_ts(g("taken_at")),
    )



def cw_date(d: date | str | None) -> str | None:
    """A billing date in ConnectWise wire format ``YYYY-MM-DDT00:00:00Z``."""
    if d is None:
        return None
    return f"{_d10(d)}T00:00:00Z"
