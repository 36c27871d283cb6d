"""Worlds the plan tests reconcile: the demo vendor's months against the sandbox seed, and the bench world.

``demo_inputs(month)``: the demo vendor's lines for ``month`` (one of ``demo_world.MONTHS``), the seed's
ConnectWise records, and the mappings an operator ends up with after the Mappings page (every
auto-accepted suggestion, the vendor agreements mapped before they were cancelled/expired, catalog items
by identifier, one "do not sync" rule for Willow Creek Vineyards).

``bench_world(scale)``: ``bench/bench_reconcile.py``'s world (1.0 = 50,000 lines, 10,000 agreements,
~100,000 additions).
"""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path

import pandas as pd

from billbridge import clock
from billbridge import demo_world as dw
from billbridge.matching import best_suggestions, suggest_agreements, suggest_companies, suggest_products
from billbridge.plan import Context, Mappings
from billbridge.sandbox import seed
from billbridge.sources import demo, parse

ROOT = Path(__file__).resolve().parents[1]


def demo_snapshot(today: date | None = None) -> dict[str, list]:
    data, _ = seed.build_seed(today=today)
    return {k: list(data[k].values()) for k in ("companies", "agreements", "additions", "catalog", "invoices",
                                                 "agreement_types")}


def demo_inputs(month: str | None = None, snap: dict | None = None, today: date | None = None
                ) -> tuple[pd.DataFrame, dict, Mappings]:
    """See the module docstring; ``today`` is the day the demo world is built for (default the
    suite's day, ``clock.today()``) and ``month`` one of its months (default its current month)."""
    today = today or clock.today()
    month = month or dw.world(today).current_month
    snap = snap or demo_snapshot(today)
    text = demo.demo_lines(month, today).replace("", None)
    lines = parse.typed_lines(text)
    lines["line_no"] = range(1, len(lines) + 1)
    customers = lines[["vendor_customer_id", "vendor_customer_name"]].drop_duplicates()
    best = best_suggestions(suggest_companies(customers, snap["companies"]), customers)
    comp = best[best["auto_ok"]][["vendor_customer_id", "company_id"]]
    agr = suggest_agreements(comp, snap["agreements"], dw.VENDOR_NAME, today=today.isoformat())
    agr = agr[agr["score"] >= 95].groupby("vendor_customer_id").head(1)  # mapped while they were still active
    agreements = agr.assign(subscription_id=None, sync_mode="standing", period_rule="advance")
    products = lines[["sku", "term", "billing_frequency", "product_name"]].drop_duplicates()
    prod = suggest_products(products, snap["catalog"])
    prod = prod[prod["method"] == "catalog identifier"].groupby("sku").head(1)
    products_map = prod[["sku", "term", "billing_frequency", "catalog_item_id"]].assign(
        own_cost=True, own_price=True, quantity_basis="purchased seats, end of period")
    rules = pd.DataFrame([{"vendor_customer_id": "DC-10023", "sku": None, "rule": "do_not_sync", "value": None}])
    return lines, snap, Mappings(companies=comp, agreements=agreements, products=products_map, rules=rules)


def demo_context(month: str | None = None, today: date | None = None) -> Context:
    today = today or clock.today()
    return Context(month=month or dw.world(today).current_month, vendor=dw.VENDOR, api_member=dw.API_MEMBER,
                   today=today)


def _bench_module():
    spec = importlib.util.spec_from_file_location("bench_reconcile", ROOT / "bench" / "bench_reconcile.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bench_world(scale: float) -> tuple[pd.DataFrame, dict, Mappings, Context]:
    bench = _bench_module()
    lines, snap, maps = bench.build_world(scale)
    return lines, snap, maps, Context(month=bench.MONTH, vendor="demo", api_member=bench.API)
