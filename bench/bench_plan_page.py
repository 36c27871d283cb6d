"""How the Reconcile page stays responsive on a 50,000-row plan: storing the plan once, then each
rerun reads only one page of rows (500) plus the filter choices, never the whole plan.

Run: .venv/bin/python bench/bench_plan_page.py [ROWS]   (figures are ratios/timings of one run)
"""

from __future__ import annotations

import json
import sys
import time
import tempfile
from pathlib import Path

from billbridge import store as st
from billbridge.store import Store


def synthetic_rows(n: int) -> list[dict]:
    actions = ["in_sync", "update", "create", "cancel", "blocked"]
    causes = [None, None, None, None, "unmapped_customer"]
    rows = []
    for i in range(n):
        a = i % 5
        rows.append({
            "key": f"demo|C-{i // 5:06d}|S-{i:07d}", "action": actions[a], "cause": causes[a],
            "reason": f"Customer {i // 5}: product {i % 40} differs from the vendor: quantity {i % 7} -> {i % 9}.",
            "vendor": "demo", "vendor_customer_name": f"Customer {i // 50:05d}", "product_description": f"Product {i % 40}",
            "agreement_name": "Demo Cloud Services", "vendor_quantity": str(i % 9), "cw_quantity": str(i % 7),
            "new_quantity": str(i % 9), "vendor_unit_price": "25.00", "cw_unit_price": "25.00", "price_impact": "50.00",
            "margin_impact": "14.00", "writes": [{"field": "quantity", "from": i % 7, "to": i % 9}],
            "request": {"method": "PATCH", "path": f"/finance/agreements/{i}/additions/{i}",
                        "body": [{"op": "replace", "path": "quantity", "value": i % 9}]},
            "vendor_lines": [i + 2], "target": "addition", "lookup": None, "depends_on": [],
        })
    return rows


def main(n: int = 50_000) -> None:
    rows = synthetic_rows(n)
    with tempfile.TemporaryDirectory() as d:
        store = Store.open(Path(d) / "b.db")
        t = time.perf_counter()
        pid = st.save_plan(store, "2026-11", None, {"status": "changes"}, rows)
        save = time.perf_counter() - t
        t = time.perf_counter()
        page, total = st.plan_page(store, pid, limit=500)
        first_page = time.perf_counter() - t
        t = time.perf_counter()
        fpage, ftotal = st.plan_page(store, pid, actions=["blocked"], customers=["Customer 00010"], limit=500)
        filtered = time.perf_counter() - t
        t = time.perf_counter()
        facets = st.plan_facets(store, pid)
        facet_t = time.perf_counter() - t
        t = time.perf_counter()
        everything = st.plan_rows(store, pid)
        all_rows = time.perf_counter() - t
        page_bytes = len(json.dumps(page))
        all_bytes = len(json.dumps(everything))
    print(f"plan rows: {n}")
    print(f"save_plan (once per reconcile): {save:.2f} s")
    print(f"first page of 500 (+ count):    {first_page * 1000:.0f} ms  ({total} rows match)")
    print(f"filtered page (action+customer): {filtered * 1000:.0f} ms  ({ftotal} rows match)")
    print(f"filter choices (4 facets):       {facet_t * 1000:.0f} ms  ({len(facets['customers'])} customers)")
    print(f"whole plan read (not done by the page): {all_rows * 1000:.0f} ms")
    print(f"data sent per rerun: ~{page_bytes / 1e6:.2f} MB of rows vs {all_bytes / 1e6:.1f} MB for the whole plan "
          f"({all_bytes / page_bytes:.0f}x less)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 50_000)
