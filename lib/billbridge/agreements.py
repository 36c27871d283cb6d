"""Agreement import, one way: ConnectWise -> billbridge contracts (issue 6).

Two steps, like a contract tool's "Sync from PSA":

1. :func:`fetch_changes` reads the agreements and additions that are new or changed in ConnectWise
   since the last fetch (``lastUpdated >= [bookmark]``) and stores them in the local feed together
   with the new bookmark in ONE transaction. The bookmark is ``MAX(lastUpdated)`` of the records
   actually stored, so it can never run ahead of the data (the singer/dlt habit); ``>=`` re-reads
   the records of the bookmark's own second, which is harmless (upsert). ``full=True`` reads
   everything and marks agreements / additions whose ids ConnectWise no longer returns as
   deleted (never dropped).
2. :func:`pending` lists what the operator may import (new, or newer in ConnectWise than the
   imported copy); :func:`import_selected` turns the chosen agreements and/or individual additions
   into contracts. Fields ConnectWise owns (:data:`READ_ONLY_FIELDS`) are read-only in billbridge:
   they change only by importing again.

ConnectWise has no cross-agreement additions endpoint, so an incremental fetch asks each known
agreement for its additions changed since the bookmark (one small request per agreement).

>>> from billbridge import agreements                                       # doctest: +SKIP
>>> agreements.fetch_changes(client, store)        # incremental             # doctest: +SKIP
>>> agreements.import_all(store)                   # import everything pending  # doctest: +SKIP
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

import pandas as pd

from billbridge import clock
from billbridge import store as st_
from billbridge.bdom import addition_dates, month_key
from billbridge.connectwise import conditions as C
from billbridge.money import extended

__all__ = [
    "READ_ONLY_FIELDS", "FetchResult", "ImportResult", "fetch_changes", "pending", "selection",
    "import_selected", "import_all", "contract_row", "addition_row", "parse_since", "monthly_amounts",
    "contracts_with_amounts",
]

#: contract fields ConnectWise owns: shown, never edited in billbridge (import again to change them)
READ_ONLY_FIELDS: tuple[str, ...] = (
    "status", "bill_amount", "billing_cycle", "start_date", "end_date", "cancelled_date",
    "quantity", "unit_price", "unit_cost", "effective_date",
)
AGREEMENTS_PATH = "/finance/agreements"


@dataclass
class FetchResult:
    """What one fetch read and stored."""

    since: dict[str, str | None]  # the lastUpdated bound used per stream (None = everything)
    full: bool
    agreements: int  # agreement records read
    additions: int  # addition records read
    deleted_agreements: list[int] = field(default_factory=list)
    deleted_additions: list[int] = field(default_factory=list)
    bookmarks: dict[str, str | None] = field(default_factory=dict)
    requests: int = 0
    fetched_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportResult:
    """What one import turned into contracts."""

    agreement_ids: list[int]
    addition_ids: list[int]
    run_id: int | None = None
    imported_at: str | None = None

    @property
    def count(self) -> int:
        return len(self.agreement_ids) + len(self.addition_ids)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "count": self.count}


# ------------------------------------------------------------------------------------ pure parts
def parse_since(text: str | None) -> datetime | None:
    """``--since`` value -> aware UTC datetime: ``2026-11-01`` or ``2026-11-01T08:00:00Z`` (a value
    without a zone is taken as UTC, the zone ConnectWise's lastUpdated uses)."""
    if text is None or str(text).strip() == "":
        return None
    s = str(text).strip().replace("Z", "+00:00")
    dt = datetime.fromisoformat(s)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


def _date(v: Any) -> str | None:
    return str(v)[:10] if v else None


def _dec(v: Any) -> Decimal | None:
    return None if v is None else Decimal(str(v))


def _ref(rec: dict, name: str, attr: str = "id") -> Any:
    ref = rec.get(name)
    return ref.get(attr) if isinstance(ref, dict) else None


def contract_row(agreement: dict[str, Any]) -> dict[str, Any]:
    """A ConnectWise agreement record -> the contract columns billbridge stores (read-only copy)."""
    info = agreement.get("_info") or {}
    status = agreement.get("agreementStatus") or ("Cancelled" if agreement.get("cancelledFlag") else "Active")
    return {
        "agreement_id": int(agreement["id"]),
        "name": agreement.get("name"),
        "company_id": _ref(agreement, "company"),
        "company_name": _ref(agreement, "company", "name"),
        "type_name": _ref(agreement, "type", "name"),
        "status": status,
        "billing_cycle": _ref(agreement, "billingCycle", "name"),
        "bill_amount": _dec(agreement.get("billAmount")),
        "start_date": _date(agreement.get("startDate")),
        "end_date": _date(agreement.get("endDate")),
        "cancelled_date": _date(agreement.get("dateCancelled")),
        "parent_id": _ref(agreement, "parentAgreement"),
        "cw_last_updated": info.get("lastUpdated"),
        "cw_updated_by": info.get("updatedBy"),
    }


def _line_key(addition: dict[str, Any]) -> str | None:
    for cf in addition.get("customFields") or []:
        if cf.get("caption") == "BillbridgeKey" and cf.get("value"):
            return str(cf["value"])
    return None


def addition_row(addition: dict[str, Any]) -> dict[str, Any]:
    """A ConnectWise addition record -> the contract-addition columns billbridge stores."""
    info = addition.get("_info") or {}
    return {
        "addition_id": int(addition["id"]),
        "agreement_id": addition.get("agreementId") or _ref(addition, "agreement"),
        "product_id": _ref(addition, "product"),
        "product_identifier": _ref(addition, "product", "identifier"),
        "description": addition.get("description") or addition.get("invoiceDescription"),
        "quantity": _dec(addition.get("quantity")),
        "unit_price": _dec(addition.get("unitPrice")),
        "unit_cost": _dec(addition.get("unitCost")),
        "effective_date": _date(addition.get("effectiveDate")),
        "cancelled_date": _date(addition.get("cancelledDate")),
        "bill_customer": addition.get("billCustomer"),
        "line_key": _line_key(addition),
        "cw_last_updated": info.get("lastUpdated"),
        "cw_updated_by": info.get("updatedBy"),
    }


#: additions ConnectWise does not put on the customer's invoice
_NOT_BILLED = frozenset({"DoNotBill", "NoCharge"})


def monthly_amounts(additions: pd.DataFrame | Iterable[dict[str, Any]], month: str | None = None) -> dict[int, Decimal]:
    """What each agreement's additions bill in ``month`` (default: this month): per agreement id,
    the sum of ``quantity x unit price`` (:func:`billbridge.money.extended`) of every addition that
    is in effect during the month (effective on or before its last day, not cancelled before its
    first day), not deleted in ConnectWise and billed to the customer. ConnectWise's own agreement
    ``billAmount`` is a separate fixed fee (0 on agreements that bill through additions)."""
    first, last = addition_dates(month or month_key(clock.today()))
    rows = additions.to_dict("records") if isinstance(additions, pd.DataFrame) else list(additions)
    out: dict[int, Decimal] = {}
    for r in rows:
        aid = _plain(r.get("agreement_id"))
        if aid is None or _plain(r.get("deleted_at")) or _plain(r.get("bill_customer")) in _NOT_BILLED:
            continue
        eff, end = _date(_plain(r.get("effective_date"))), _date(_plain(r.get("cancelled_date")))
        if (eff and eff > last.isoformat()) or (end and end < first.isoformat()):
            continue
        amount = extended(_dec(_plain(r.get("quantity"))), _dec(_plain(r.get("unit_price"))))
        out[int(aid)] = out.get(int(aid), Decimal("0.00")) + (amount if amount is not None else Decimal("0.00"))
    return out


def _plain(v: Any) -> Any:
    """``v``, or None when missing (pandas gives NaN for a missing text)."""
    return None if v is None or v is pd.NA or (isinstance(v, float) and v != v) else v


def _with_amount(frame: pd.DataFrame, amounts: dict[int, Decimal]) -> pd.DataFrame:
    """``bill_amount`` = the agreement's own fixed fee (ConnectWise ``billAmount``) + its additions' amount."""
    if not len(frame):
        return frame
    fee = frame["bill_amount"].map(lambda v: Decimal(str(v)) if _plain(v) is not None else Decimal("0.00"))
    adds = frame["agreement_id"].map(lambda a: amounts.get(int(a), Decimal("0.00")))
    return frame.assign(bill_amount=[f + a for f, a in zip(fee, adds)])


def contracts_with_amounts(store, month: str | None = None) -> pd.DataFrame:
    """Imported contracts (:func:`billbridge.store.list_contracts`) with ``bill_amount`` = what the
    agreement bills in ``month`` (:func:`monthly_amounts` of its imported additions + its own fee)."""
    return _with_amount(st_.list_contracts(store), monthly_amounts(st_.list_contract_additions(store), month))


def selection(
    pending_agreements: pd.DataFrame,
    pending_additions: pd.DataFrame,
    agreement_ids: Iterable[int] = (),
    addition_ids: Iterable[int] = (),
) -> tuple[list[int], list[int]]:
    """What importing the chosen items writes: ``(agreement ids, addition ids)``.

    A chosen agreement brings all its pending additions; a chosen addition brings its agreement
    header too when that agreement is pending and not imported yet (a contract line needs its
    contract). An agreement listed only for its additions (``change`` = ``additions``) is not
    rewritten. Ids not pending are ignored. The button count is the sum of both lengths.
    """
    chosen_a = {int(a) for a in agreement_ids}
    chosen_d = {int(d) for d in addition_ids}
    pa = set(pending_agreements["agreement_id"].astype(int)) if len(pending_agreements) else set()
    new_a = set(pending_agreements.loc[pending_agreements["change"] == "new", "agreement_id"].astype(int)) \
        if len(pending_agreements) else set()
    adds = pending_additions[["addition_id", "agreement_id"]].astype(int) if len(pending_additions) else \
        pd.DataFrame({"addition_id": [], "agreement_id": []})
    own = set(pending_agreements.loc[pending_agreements["change"] != "additions", "agreement_id"].astype(int)) \
        if len(pending_agreements) else set()
    out_d = {int(r.addition_id) for r in adds.itertuples() if r.agreement_id in chosen_a & pa or r.addition_id in chosen_d}
    out_a = chosen_a & own  # an agreement listed only for its additions is not itself re-imported
    out_a |= {int(r.agreement_id) for r in adds.itertuples() if r.addition_id in chosen_d and r.agreement_id in new_a}
    return sorted(out_a), sorted(out_d)


# ----------------------------------------------------------------------------------------- I/O
def _bound(bookmark: str | None, since: datetime | None, full: bool) -> datetime | None:
    if full:
        return None
    if since is not None:
        return since
    return parse_since(bookmark)


def fetch_changes(client, store, *, since: str | datetime | None = None, full: bool = False) -> FetchResult:
    """Read what changed in ConnectWise since the stored bookmarks (or ``since``) and store it.

    ``full=True`` reads every agreement and addition and marks the ones ConnectWise no longer
    has as deleted. Nothing is stored unless every read succeeded (one transaction at the end).
    """
    if isinstance(since, str):
        since = parse_since(since)
    state = st_.contract_sync_state(store)
    full = full or state["agreements"]["bookmark"] is None and since is None and not _known_ids(store)
    before = sum(client.stats.values())
    a_since = _bound(state["agreements"]["bookmark"], since, full)
    d_since = _bound(state["additions"]["bookmark"], since, full)
    agreements = client.list(AGREEMENTS_PATH, conditions=C.ge("lastUpdated", a_since) if a_since else None,
                             page_size=1000, order_by="id asc")
    if full:
        scope = sorted({int(a["id"]) for a in agreements})
    else:  # every agreement seen before (not deleted) plus the new ones
        scope = sorted(set(_known_ids(store)) | {int(a["id"]) for a in agreements})
    additions: list[dict] = []
    cond = C.ge("lastUpdated", d_since) if d_since else None
    for agreement_id in scope:
        for row in client.iter(f"{AGREEMENTS_PATH}/{agreement_id}/additions", conditions=cond, page_size=1000,
                               order_by="id asc"):
            row.setdefault("agreementId", agreement_id)
            additions.append(row)
    out = st_.record_contract_feed(store, agreements, additions, full=full)
    return FetchResult(
        since={"agreements": C.cw_datetime(a_since) if a_since else None,
               "additions": C.cw_datetime(d_since) if d_since else None},
        full=full, agreements=len(agreements), additions=len(additions),
        deleted_agreements=out["deleted_agreements"], deleted_additions=out["deleted_additions"],
        bookmarks=out["bookmarks"], requests=sum(client.stats.values()) - before, fetched_at=out["fetched_at"],
    )


def _known_ids(store) -> list[int]:
    return [int(r[0]) for r in store.conn.execute(
        "SELECT cw_id FROM contract_feed WHERE kind = 'agreement' AND deleted_at IS NULL")]


PENDING_AGREEMENT_COLUMNS = ("agreement_id", "change", "name", "company_name", "type_name", "status",
                             "billing_cycle", "bill_amount", "pending_additions", "cw_last_updated")
PENDING_ADDITION_COLUMNS = ("addition_id", "agreement_id", "agreement_name", "change", "product_identifier",
                            "description", "quantity", "unit_price", "effective_date", "cancelled_date",
                            "cw_last_updated")


def pending(store, month: str | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(agreements, additions)`` new or changed in ConnectWise since they were last imported.

    ``change`` is ``new`` or ``changed``. Agreements whose only news is in their additions are
    listed too (``change`` = ``additions``) so every pending addition has its agreement row.
    ``bill_amount`` is what the agreement bills in ``month`` (default this month) as ConnectWise
    holds it now: :func:`monthly_amounts` of every addition in the feed, plus its own fee.
    """
    ids = st_.pending_contract_changes(store)
    adds = [dict(addition_row(r["record"]), change=ids["additions"][r["cw_id"]])
            for r in st_.contract_feed_records(store, "addition", list(ids["additions"]))]
    adds_df = pd.DataFrame(adds, columns=[*st_.CONTRACT_ADDITION_COLUMNS, "change"])
    agreement_ids = set(ids["agreements"]) | {int(a) for a in adds_df["agreement_id"].dropna()}
    feed = {r["cw_id"]: r["record"] for r in st_.contract_feed_records(store, "agreement", sorted(agreement_ids))}
    counts = adds_df.groupby("agreement_id").size().to_dict() if len(adds_df) else {}
    agr = []
    for a_id in sorted(agreement_ids):
        if a_id not in feed:
            continue
        agr.append(dict(contract_row(feed[a_id]), change=ids["agreements"].get(a_id, "additions"),
                        pending_additions=int(counts.get(a_id, 0))))
    agr_df = pd.DataFrame(agr, columns=[*st_.CONTRACT_COLUMNS, "change", "pending_additions"])
    if len(agr_df):
        feed_adds = [dict(addition_row(r["record"]), deleted_at=r.get("deleted_at"))
                     for r in st_.contract_feed_records(store, "addition")
                     if r.get("agreement_id") in set(agr_df["agreement_id"]) or
                     (r["record"].get("agreementId") or _ref(r["record"], "agreement")) in set(agr_df["agreement_id"])]
        agr_df = _with_amount(agr_df, monthly_amounts(feed_adds, month))
    names = dict(zip(agr_df["agreement_id"], agr_df["name"]))
    adds_df["agreement_name"] = adds_df["agreement_id"].map(names)
    return (agr_df[list(PENDING_AGREEMENT_COLUMNS)].reset_index(drop=True),
            adds_df[list(PENDING_ADDITION_COLUMNS)].reset_index(drop=True))


def import_selected(store, agreement_ids: Iterable[int] = (), addition_ids: Iterable[int] = (), *,
                    source: str = "page", imported_by: str | None = None) -> ImportResult:
    """Import the chosen agreements (with their pending additions) and/or individual additions
    (see :func:`selection`) as contracts, in one transaction. Returns what was imported."""
    pa, pd_ = pending(store)
    a_ids, d_ids = selection(pa, pd_, agreement_ids, addition_ids)
    if not a_ids and not d_ids:
        return ImportResult([], [])
    agreements = [contract_row(r["record"]) for r in st_.contract_feed_records(store, "agreement", a_ids)]
    additions = [addition_row(r["record"]) for r in st_.contract_feed_records(store, "addition", d_ids)]
    run = st_.import_contracts(store, agreements, additions, source=source, imported_by=imported_by)
    return ImportResult(a_ids, d_ids, run["id"], run["imported_at"])


def import_all(store, *, source: str = "cli", imported_by: str | None = None) -> ImportResult:
    """Import everything pending (the daily automatic import)."""
    pa, pd_ = pending(store)
    return import_selected(store, pa["agreement_id"].tolist(), pd_["addition_id"].tolist(), source=source,
                           imported_by=imported_by)
