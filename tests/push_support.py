"""Shared by the push tests and the push bench: a sandbox, a client, and the demo month's plan.

The plan is built exactly as an operator would get it: the demo vendor's current month, the
mappings the Mappings page ends up with (auto-accepted suggestions, the agreements mapped while
they were active, catalog items by identifier, one do-not-sync rule), and a snapshot read from the
sandbox over HTTP.
"""

from __future__ import annotations

from datetime import date

import pandas as pd

from billbridge import demo_world as dw
from billbridge.connectwise import CWClient, CWSettings
from billbridge.matching import best_suggestions, suggest_agreements, suggest_companies, suggest_products
from billbridge.plan import Context, Mappings, reconcile
from billbridge import clock
from billbridge.sandbox import CREDENTIALS, SandboxConfig, start_sandbox
from billbridge.snapshot import take_snapshot
from billbridge.sources import demo_lines
from billbridge.sources.parse import typed_lines

MONTH = dw.MONTHS[-1]


def new_sandbox(**kw):
    kw.setdefault("today", clock.today())
    return start_sandbox(SandboxConfig(**kw))


def client_for(sb, member: str = "full", *, fast: bool = True, **kw) -> CWClient:
    cred = CREDENTIALS[member]
    settings = CWSettings(site=sb.base_url, company_id=sb.company_id, public_key=cred["public_key"],
                          private_key=cred["private_key"], client_id="billbridge-tests", codebase=None,
                          api_version="2026.4")
    if fast:  # tests: short backoff so fault-injection runs stay quick
        kw.setdefault("backoff_factor", 0.01)
        kw.setdefault("backoff_max", 0.05)
        kw.setdefault("retry_after_max", 0.2)
        kw.setdefault("max_retries", 8)
    return CWClient(settings, **kw)


def demo_mappings(snapshot: dict, lines: pd.DataFrame) -> Mappings:
    customers = lines[["vendor_customer_id", "vendor_customer_name"]].drop_duplicates()
    best = best_suggestions(suggest_companies(customers, snapshot["companies"]), customers)
    comp = best[best["auto_ok"]][["vendor_customer_id", "company_id"]]
    agr = suggest_agreements(comp, snapshot["agreements"], dw.VENDOR_NAME, today=clock.today().isoformat())
    agr = agr[agr["score"] >= 95].groupby("vendor_customer_id").head(1)
    agreements = agr.assign(subscription_id=None, sync_mode="standing", period_rule="advance")
    products = lines[["sku", "term", "billing_frequency", "product_name"]].drop_duplicates()
    prod = suggest_products(products, snapshot["catalog"])
    prod = prod[prod["method"] == "catalog identifier"].groupby("sku").head(1)
    products_map = prod[["sku", "term", "billing_frequency", "catalog_item_id"]].assign(
        own_cost=True, own_price=True, quantity_basis="purchased seats, end of period")
    rules = pd.DataFrame([{"vendor_customer_id": "DC-10023", "sku": None, "rule": "do_not_sync", "value": None}])
    return Mappings(companies=comp, agreements=agreements, products=products_map, rules=rules)


def demo_lines_frame(month: str = MONTH) -> pd.DataFrame:
    lines = typed_lines(demo_lines(month).replace("", None))
    lines["line_no"] = range(1, len(lines) + 1)
    return lines


def demo_plan(client, month: str = MONTH, maps: Mappings | None = None):
    """(plan, snapshot dict, mappings) for the demo month against what the sandbox holds now."""
    lines = demo_lines_frame(month)
    snap0 = take_snapshot(client, billing_month=month)
    base = snap0.as_dict()
    if maps is None:
        maps = demo_mappings(base, lines)
    ids = sorted({int(a) for a in maps.agreements["agreement_id"].dropna()})
    snap = take_snapshot(client, billing_month=month, agreement_ids=ids).as_dict()
    plan = reconcile(lines, snap, maps, Context(month=month, vendor=dw.VENDOR, api_member=dw.API_MEMBER,
                                                today=clock.today()))
    return plan, snap, maps


def additions_state(sb) -> dict[int, dict]:
    """What the sandbox holds: addition id -> comparable fields."""
    out = {}
    for a in sb.records("additions"):
        key = next((cf.get("value") for cf in a.get("customFields") or [] if cf.get("id") == dw.LINE_KEY_FIELD_ID), None)
        out[a["id"]] = {"agreement": a.get("agreementId"), "product": (a.get("product") or {}).get("id"),
                        "quantity": a.get("quantity"), "unitPrice": a.get("unitPrice"), "unitCost": a.get("unitCost"),
                        "effectiveDate": (a.get("effectiveDate") or "")[:10] or None,
                        "cancelledDate": (a.get("cancelledDate") or "")[:10] or None, "key": key}
    return out


def keyed_counts(sb) -> dict[tuple, int]:
    """(agreement, line key, effective date) -> how many additions carry it (duplicates show as > 1)."""
    counts: dict[tuple, int] = {}
    for a in additions_state(sb).values():
        if a["key"]:
            k = (a["agreement"], a["key"], a["effectiveDate"])
            counts[k] = counts.get(k, 0) + 1
    return counts


def writable(plan) -> pd.DataFrame:
    rows = plan.rows
    return rows[rows["action"].isin(["update", "create", "cancel"])]


__all__ = ["MONTH", "new_sandbox", "client_for", "demo_mappings", "demo_plan", "demo_lines_frame",
           "additions_state", "keyed_counts", "writable", "date"]
