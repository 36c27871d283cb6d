"""Reading what ConnectWise holds now (the snapshot that reconciliation compares against).

One snapshot = companies, recurring agreements, the additions of the agreements that matter
(mapped ones, or those named), the catalog, agreement types, product types and this month's
agreement invoices, read with as few requests as the API allows: ``pageSize=1000`` everywhere,
``id in (...)`` batches kept under URL limits by the client, and one additions request per
agreement (ConnectWise has no cross-agreement additions endpoint). Those per-agreement reads run
concurrently, at most :data:`DEFAULT_CONCURRENCY` in flight (the push's default); a 429 is waited out
by the client as it says (``Retry-After``), exactly as for the push's writes.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from billbridge.connectwise import conditions as C

#: additions requests in flight at once (the push's default concurrency, ``push.push(concurrency=4)``)
DEFAULT_CONCURRENCY = 4

RESOURCES = ("companies", "agreements", "additions", "catalog", "agreement_types", "product_types", "invoices")


@dataclass
class Snapshot:
    """ConnectWise records as the REST API returned them, plus when and at what cost they were read."""

    taken_at: str  # UTC ISO timestamp
    companies: list[dict] = field(default_factory=list)
    agreements: list[dict] = field(default_factory=list)
    additions: list[dict] = field(default_factory=list)
    catalog: list[dict] = field(default_factory=list)
    agreement_types: list[dict] = field(default_factory=list)
    product_types: list[dict] = field(default_factory=list)
    invoices: list[dict] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)  # HTTP requests by method for this read
    site: str = ""

    @property
    def request_count(self) -> int:
        return sum(self.requests.values())

    def as_dict(self) -> dict[str, list[dict]]:
        return {name: getattr(self, name) for name in RESOURCES}


def _month_bounds(billing_month: str) -> tuple[date, date]:
    y, m = map(int, billing_month.split("-"))
    first = date(y, m, 1)
    nxt = date(y + (m == 12), m % 12 + 1, 1)
    return first, nxt


def read_additions(client, agreement_ids: Iterable[int], *, concurrency: int = DEFAULT_CONCURRENCY) -> list[dict]:
    """Every addition (cancelled ones included) of the given agreements, in agreement order: one
    request per agreement and 1,000 additions, up to ``concurrency`` agreements at a time (the
    client is thread-safe and retries a 429 after its ``Retry-After``). The first error stops the
    read (requests not yet sent are dropped) and is raised."""
    ids = sorted(set(int(a) for a in agreement_ids))

    def one(agreement_id: int) -> list[dict]:
        rows = list(client.iter(f"/finance/agreements/{agreement_id}/additions", page_size=1000, order_by="id asc"))
        for row in rows:
            row.setdefault("agreementId", agreement_id)
        return rows

    if concurrency <= 1 or len(ids) <= 1:
        return [row for agreement_id in ids for row in one(agreement_id)]
    pool = ThreadPoolExecutor(max_workers=min(int(concurrency), len(ids)), thread_name_prefix="billbridge-read")
    try:
        parts = list(pool.map(one, ids))
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
    return [row for rows in parts for row in rows]


def take_snapshot(
    client,
    *,
    billing_month: str,
    agreement_ids: Iterable[int] | None = None,
    include_all_additions: bool = False,
    concurrency: int = DEFAULT_CONCURRENCY,
) -> Snapshot:
    """Read the ConnectWise state reconciliation needs.

    ``agreement_ids``: the agreements whose additions to read (the mapped ones). With
    ``include_all_additions`` every recurring agreement's additions are read instead (costly on
    big sites: one request per agreement). ``concurrency``: additions requests in flight at once.
    """
    before = dict(client.stats)
    snap = Snapshot(taken_at=datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"), site=getattr(client, "base_url", ""))
    snap.companies = client.list("/company/companies", page_size=1000, order_by="id asc")
    snap.agreement_types = client.list("/finance/agreements/types", page_size=1000)
    # Only recurring agreements are targets (billing-rules §8); cancelled/expired ones are kept so
    # the plan can say why a line is blocked.
    snap.agreements = client.list("/finance/agreements", page_size=1000, order_by="id asc")
    snap.catalog = client.list("/procurement/catalog", page_size=1000, order_by="id asc")
    snap.product_types = client.list("/procurement/types", page_size=1000)
    first, nxt = _month_bounds(billing_month)
    snap.invoices = client.list(
        "/finance/invoices",
        conditions=C.all_of(C.eq("applyToType", "Agreement"), C.ge("date", first), C.lt("date", nxt)),
        page_size=1000,
    )
    if include_all_additions:
        ids: Iterable[int] = [a["id"] for a in snap.agreements]
    else:
        ids = agreement_ids or []
    snap.additions = read_additions(client, ids, concurrency=concurrency)
    after = client.stats
    snap.requests = {m: after.get(m, 0) - before.get(m, 0) for m in after if after.get(m, 0) - before.get(m, 0)}
    return snap


def invoiced_agreements(snap: Snapshot | dict[str, Any]) -> set[int]:
    """Agreement ids that ConnectWise has already invoiced in the snapshot's month."""
    invoices = snap.invoices if isinstance(snap, Snapshot) else snap.get("invoices", [])
    out = set()
    for inv in invoices:
        ref = inv.get("agreement") or {}
        if ref.get("id"):
            out.add(int(ref["id"]))
        elif inv.get("applyToType") == "Agreement" and inv.get("applyToId"):
            out.add(int(inv["applyToId"]))
    return out
