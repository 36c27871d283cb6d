"""Push benchmark: 1,000 changed rows against the sandbox with 50 ms injected latency.

Counts requests by method (target: exactly one write per changed row plus the re-reads, and
re-reads <= one request per agreement touched or per 1,000 additions) and reports wall time as a
ratio to ``requests x latency / concurrency`` (target <= 1.3).

    .venv/bin/python bench/bench_push.py [--rows 1000] [--agreements 100] [--latency-ms 50] [--concurrency 4]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from billbridge import push as P  # noqa: E402
from billbridge import store as S  # noqa: E402
from billbridge.sandbox import SandboxConfig, start_sandbox  # noqa: E402
from push_support import client_for  # noqa: E402


def changed_rows(sb, n_rows: int, creates: int) -> tuple[list[dict], int]:
    """``n_rows`` plan rows: quantity updates on bulk additions, plus ``creates`` new keyed lines."""
    adds = [a for a in sb.records("additions") if str(a.get("description", "")) and a["agreementId"] in BULK]
    rows = []
    for a in adds[: n_rows - creates]:
        path = f"/finance/agreements/{a['agreementId']}/additions/{a['id']}"
        rows.append({"key": f"bench|{a['id']}", "action": "update", "agreement_id": a["agreementId"],
                     "cw_addition_id": a["id"], "cw_quantity": a["quantity"], "cw_unit_price": a["unitPrice"],
                     "cw_unit_cost": a["unitCost"], "cw_effective_date": a["effectiveDate"][:10],
                     "cw_cancelled_date": None, "company_name": "bench", "price_impact": "1.00",
                     "request": {"method": "PATCH", "path": path,
                                 "body": [{"op": "replace", "path": "quantity", "value": a["quantity"] + 1}]}})
    agreements = sorted(BULK)
    for i in range(creates):
        agr = agreements[i % len(agreements)]
        product = adds[i % len(adds)]["product"]["id"]
        key = f"bench|new|{i}"
        rows.append({"key": key, "action": "create", "agreement_id": agr, "company_name": "bench",
                     "price_impact": "5.00",
                     "request": {"method": "POST", "path": f"/finance/agreements/{agr}/additions",
                                 "body": {"product": {"id": product}, "billCustomer": "Billable", "quantity": 2,
                                          "effectiveDate": "2026-11-01T00:00:00Z",
                                          "customFields": [{"id": 7, "caption": "BillbridgeKey", "value": key}]}}})
    return rows, len({r["agreement_id"] for r in rows})


BULK: set[int] = set()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1000)
    ap.add_argument("--creates", type=int, default=200)
    ap.add_argument("--agreements", type=int, default=100)
    ap.add_argument("--latency-ms", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    sb = start_sandbox(SandboxConfig(extra_agreements=args.agreements, extra_additions=args.rows))
    try:
        BULK.update(a["id"] for a in sb.records("agreements") if str(a.get("name", "")).startswith("Bulk Services"))
        rows, n_agr = changed_rows(sb, args.rows, args.creates)
        client = client_for(sb, fast=False, pool_size=max(8, args.concurrency * 2))
        client.codebase  # resolve the codebase once, before counting
        sb.set_faults(latency_ms=args.latency_ms)
        with tempfile.TemporaryDirectory() as tmp:
            store = S.Store.open(Path(tmp) / "bench.db")
            client.reset_stats()
            t0 = time.perf_counter()
            run = P.push(store, client, rows, operator="bench", month="2026-11", concurrency=args.concurrency)
            wall = time.perf_counter() - t0
            stats = dict(client.stats)
            client.reset_stats()
            t1 = time.perf_counter()
            again = P.push(store, client, rows, operator="bench", month="2026-11", concurrency=args.concurrency)
            wall2 = time.perf_counter() - t1
            stats2 = dict(client.stats)
        requests = sum(stats.values())
        writes = stats.get("PATCH", 0) + stats.get("POST", 0)
        ideal = requests * args.latency_ms / 1000 / args.concurrency
        print(f"rows {len(rows)} ({len(rows) - args.creates} updates, {args.creates} creates) on {n_agr} agreements; "
              f"latency {args.latency_ms} ms; concurrency {args.concurrency}")
        print(f"first push:  {run.status} {run.counts}; requests by method {stats}")
        print(f"  writes {writes} (one per changed row: {writes == len(rows)}); re-reads {stats.get('GET', 0)} "
              f"(agreements touched {n_agr}: {stats.get('GET', 0) <= n_agr})")
        print(f"  wall {wall:.2f} s; requests x latency / concurrency = {ideal:.2f} s; ratio {wall / ideal:.3f} "
              f"(target <= 1.3)")
        ideal2 = sum(stats2.values()) * args.latency_ms / 1000 / args.concurrency
        print(f"second push: {again.status} writes {again.writes}; requests {stats2}; wall {wall2:.2f} s "
              f"(ratio {wall2 / ideal2:.3f})")
    finally:
        sb.stop()


if __name__ == "__main__":
    main()
