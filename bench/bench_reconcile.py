"""Benchmark billbridge.reconcile (issue 4, section 5). Not a test: prints figures.

World (deterministic, scaled by ``--scale``; 1.0 = the issue's size):
  10,000 customers, one mapped "Demo Cloud Services" agreement each, 50,000 vendor lines
  (5 subscriptions per customer) and ~100,000 additions (10 per agreement): 5 billbridge-keyed
  lines mirroring the subscriptions (6 % with another quantity -> update, 2 % another price ->
  update, 2 % missing -> create) plus 5 other products' lines (keyed by another integration),
  of which 1 agreement in 100 holds a keyed line the vendor no longer bills (-> cancel);
  1 % of customers have no company mapping (-> blocked unmapped_customer).

Measured in one run:
  - ``reconcile`` on prepared snapshot frames vs a plain pandas outer merge of the same two frames
    (vendor lines with their key column, additions frame) -> ratio (target <= 5x);
  - the one-off ``snapshot_frames`` conversion of the 100,000 JSON additions (reported apart);
  - growth 5,000 -> 50,000 lines (scale 0.1 -> 1.0; target <= 12x time);
  - peak traced memory of ``reconcile`` (tracemalloc), next to the input sizes.

Run: ``.venv/bin/python bench/bench_reconcile.py`` (``--repeat N`` best-of-N timings).
"""

from __future__ import annotations

import argparse
import random
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
    costs = {sku: (cost, price) for sku, _, cost, price in PRODUCTS}
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


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def measure(scale: float, repeat: int, memory: bool) -> dict:
    vl, snap, maps = build_world(scale)
    ctx = Context(month=MONTH, vendor="demo", api_member=API)
    t_frames, frames = best_of(lambda: snapshot_frames(snap), 1)
    keyed = vl.assign(key="demo|" + vl["vendor_customer_id"] + "|" + vl["subscription_id"])
    adds = frames.additions
    t_outer, _ = best_of(lambda: keyed.merge(adds, on="key", how="outer"), repeat)
    t_left, _ = best_of(lambda: keyed.merge(adds, on="key", how="left"), repeat)
    t_rec, plan = best_of(lambda: reconcile(vl, frames, maps, ctx), repeat)
    peak = None
    if memory:
        tracemalloc.start()
        reconcile(vl, frames, maps, ctx)
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    inputs = int(vl.memory_usage(deep=True).sum() + adds.memory_usage(deep=True).sum())
    return {"scale": scale, "lines": len(vl), "additions": len(adds), "agreements": len(snap["agreements"]),
            "t_frames": t_frames, "t_outer": t_outer, "t_left": t_left, "t_reconcile": t_rec,
            "peak": peak, "inputs": inputs, "actions": plan.rows["action"].value_counts().to_dict(),
            "status": plan.summary.status}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    args = ap.parse_args()
    small = measure(args.scale / 10, args.repeat, memory=False)
    big = measure(args.scale, args.repeat, memory=True)
    for r in (small, big):
        print(f"{r['lines']:>6} lines / {r['additions']:>6} additions / {r['agreements']:>5} agreements: "
              f"reconcile {r['t_reconcile']:.3f}s | outer merge {r['t_outer']:.3f}s "
              f"(ratio {r['t_reconcile'] / r['t_outer']:.1f}x) | left merge {r['t_left']:.3f}s "
              f"(ratio {r['t_reconcile'] / r['t_left']:.1f}x) | snapshot_frames {r['t_frames']:.3f}s")
        print(f"        actions {r['actions']} status={r['status']}")
    print(f"growth {small['lines']} -> {big['lines']} lines: {big['t_reconcile'] / small['t_reconcile']:.1f}x time "
          f"(target <= 12x)")
    print(f"peak traced memory of reconcile at {big['lines']} lines: {big['peak'] / 2**20:.0f} MiB "
          f"(input frames {big['inputs'] / 2**20:.0f} MiB, ratio {big['peak'] / big['inputs']:.1f}x)")


if __name__ == "__main__":
    main()
