"""Benchmark billbridge.plan.reconcile (the rules pipeline). Not a test: prints figures.

World (deterministic, scaled by ``--scale``; 1.0 = the issue's size):
  10,000 customers, one mapped "Demo Cloud Services" agreement each, 50,000 vendor lines
  (5 subscriptions per customer) and ~100,000 additions (10 per agreement): 5 billbridge-keyed
  lines mirroring the subscriptions (6 % with another quantity -> update, 2 % another price ->
  update, 2 % missing -> create) plus 5 other products' lines (keyed by another integration),
  of which 1 agreement in 100 holds a keyed line the vendor no longer bills (-> cancel);
  1 % of customers have no company mapping (-> blocked unmapped_customer).

Measured in one run, medians of ``--repeat`` repetitions, on in-memory inputs (the snapshot as
SnapshotFrames, built once; the JSON records dropped before timing):
  - ``kernel_ratio`` = reconcile at 50,000 lines / a bare pandas outer merge of the lines (with their
    key) and the additions frame (target <= 4);
  - ``growth`` = reconcile at 50,000 lines / reconcile at 5,000 lines (target <= 11);
  - the one-off ``snapshot_frames`` conversion and the peak traced memory of one reconcile (tracemalloc).

Run: ``.venv/bin/python bench/bench_reconcile.py [--repeat 5]``.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import time
import tracemalloc
from decimal import Decimal

import pandas as pd

from billbridge.plan import Context, Mappings, reconcile, snapshot_frames

MONTH = "2026-11"
API = "BillbridgeAPI"
PRODUCTS = [(f"SKU-{i:02d}", 500 + i, Decimal(f"{10 + i}.50"), Decimal(f"{15 + i}.00")) for i in range(20)]


def build_world(scale: float, seed: int = 4):
    rnd = random.Random(seed)
    n_cust = int(10_000 * scale)
    lines, additions = [], []
    aid = 1
    for c in range(n_cust):
        cust = f"VC{c:06d}"
        agr = 10_000 + c
        for s in range(5):
            sku, pid, cost, price = PRODUCTS[(c + s) % len(PRODUCTS)]
            sub = f"SUB{c:06d}{s}"
            q = rnd.randint(1, 80)
            r = rnd.random()
            cw_q, cw_p = q, float(price)
            make_addition = True
            if r < 0.06:
                cw_q = q + rnd.choice([-2, -1, 1, 3])
            elif r < 0.08:
                cw_p = float(price) - 1
            elif r < 0.10:
                make_addition = False  # new subscription -> create
            if make_addition:
                additions.append({
                    "id": aid, "agreementId": agr, "product": {"id": pid, "identifier": sku}, "quantity": float(cw_q),
                    "unitPrice": cw_p, "unitCost": float(cost), "billCustomer": "Billable",
                    "effectiveDate": "2025-01-01T00:00:00Z", "cancelledDate": None,
                    "customFields": [{"id": 7, "caption": "BillbridgeKey", "value": f"demo|{cust}|{sub}"}],
                    "_info": {"dateEntered": "2026-10-02T14:05:00Z", "enteredBy": API,
                              "lastUpdated": "2026-10-02T14:05:00Z", "updatedBy": API},
                })
                aid += 1
            lines.append({
                "vendor_customer_id": cust, "vendor_customer_name": f"Customer {c}", "customer_created": None,
                "subscription_id": sub, "sku": sku, "product_name": sku, "charge_type": "recurring",
                "billing_frequency": "monthly", "term": "monthly", "quantity": Decimal(q), "unit_cost": cost,
                "unit_price": price, "period_start": None, "period_end": None, "effective_date": None,
                "currency": "USD",
            })
        # the other 5 additions of the agreement: other products, one no longer billed by the vendor
        for s in range(5):
            sku, pid, cost, price = PRODUCTS[(c + 5 + s) % len(PRODUCTS)]
            key = f"demo|{cust}|GONE{c:06d}{s}" if (s == 0 and c % 100 == 0) else f"other|{cust}|{s}"
            additions.append({
                "id": aid, "agreementId": agr, "product": {"id": pid, "identifier": sku}, "quantity": 3.0,
                "unitPrice": float(price), "unitCost": float(cost), "billCustomer": "Billable",
                "effectiveDate": "2025-01-01T00:00:00Z", "cancelledDate": None,
                "customFields": [{"id": 7, "caption": "BillbridgeKey", "value": key}],
                "_info": {"dateEntered": "2026-10-02T14:05:00Z", "enteredBy": API,
                          "lastUpdated": "2026-10-02T14:05:00Z", "updatedBy": API},
            })
            aid += 1
    vl = pd.DataFrame(lines)
    vl["line_no"] = range(1, len(vl) + 1)
    agreements = [{"id": 10_000 + c, "name": "Demo Cloud Services", "company": {"id": 1 + c, "name": f"Company {c}"},
                   "agreementStatus": "Active", "noEndingDateFlag": True} for c in range(n_cust)]
    companies = [{"id": 1 + c, "name": f"Company {c}", "identifier": f"CO{c}"} for c in range(n_cust)]
    catalog = [{"id": pid, "identifier": sku, "description": f"Product {sku}", "price": float(p), "cost": float(cst)}
               for sku, pid, cst, p in PRODUCTS]
    snap = {"companies": companies, "agreements": agreements, "additions": additions, "catalog": catalog,
            "invoices": [], "agreement_types": []}
    mapped = [c for c in range(n_cust) if c % 100 != 7]  # 1 % unmapped customers
    maps = Mappings(
        companies=pd.DataFrame({"vendor_customer_id": [f"VC{c:06d}" for c in mapped], "company_id": [1 + c for c in mapped]}),
        agreements=pd.DataFrame({"vendor_customer_id": [f"VC{c:06d}" for c in range(n_cust)], "subscription_id": None,
                                 "agreement_id": [10_000 + c for c in range(n_cust)], "sync_mode": "standing",
                                 "period_rule": "advance"}),
        products=pd.DataFrame([{"sku": sku, "term": None, "billing_frequency": None, "catalog_item_id": pid,
                                "own_cost": True, "own_price": True, "quantity_basis": "seats"} for sku, pid, _, _ in PRODUCTS]),
    )
    return vl, snap, maps


def median_of(fn, repeat: int) -> tuple[float, object]:
    times, out = [], None
    for _ in range(repeat):
        gc.collect()
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times), out


def measure(scale: float, repeat: int, memory: bool, engines: dict) -> dict:
    vl, snap, maps = build_world(scale)
    ctx = Context(month=MONTH, vendor="demo", api_member=API)
    t = time.perf_counter()
    frames = snapshot_frames(snap)
    t_frames = time.perf_counter() - t
    n_agreements = len(snap["agreements"])
    del snap  # the kernel runs on in-memory frames, as the store hands them over
    keyed = vl.assign(key="demo|" + vl["vendor_customer_id"] + "|" + vl["subscription_id"])
    adds = frames.additions
    out = {"scale": scale, "lines": len(vl), "additions": len(adds), "agreements": n_agreements, "t_frames": t_frames}
    out["t_outer"], _ = median_of(lambda: keyed.merge(adds, on="key", how="outer"), repeat)
    for name, engine in engines.items():
        engine(vl, frames, maps, ctx)  # warm up (imports, the rules' SQL vocabulary)
        out[f"t_{name}"], plan = median_of(lambda: engine(vl, frames, maps, ctx), repeat)
        out[f"actions_{name}"] = plan.rows["action"].value_counts().to_dict()
    if memory:
        tracemalloc.start()
        reconcile(vl, frames, maps, ctx)
        out["peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    out["inputs"] = int(vl.memory_usage(deep=True).sum() + adds.memory_usage(deep=True).sum())
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    engines = {"rules": reconcile}
    small = measure(args.scale / 10, args.repeat, False, engines)
    big = measure(args.scale, args.repeat, True, engines)
    for r in (small, big):
        print(f"{r['lines']:>6} lines / {r['additions']:>6} additions / {r['agreements']:>5} agreements: outer merge "
              f"{r['t_outer']:.3f}s | snapshot_frames {r['t_frames']:.3f}s | "
              + " | ".join(f"{name} {r[f't_{name}']:.3f}s" for name in engines))
        print(f"        actions {r['actions_rules']}")
    for name in engines:
        label = "rules pipeline"
        print(f"{label}: kernel_ratio {big[f't_{name}'] / big['t_outer']:.2f} (target <= 4), "
              f"growth {big[f't_{name}'] / small[f't_{name}']:.2f} (target <= 11)   "
              f"[medians of {args.repeat}, {big['lines']} / {small['lines']} lines]")
    print(f"peak traced memory of reconcile at {big['lines']} lines: {big['peak'] / 2**20:.0f} MiB "
          f"(input frames {big['inputs'] / 2**20:.0f} MiB, ratio {big['peak'] / big['inputs']:.1f}x)")


if __name__ == "__main__":
    main()
