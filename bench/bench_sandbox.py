"""Sandbox request throughput on this machine (a plain script, not a test).

Starts an in-memory sandbox with bulk filler, then for each scenario runs client threads with one
keep-alive ``requests.Session`` each for a fixed wall-clock budget and prints requests/second.

    .venv/bin/python bench/bench_sandbox.py [--seconds 2.0] [--agreements 2000] [--additions 20000] [--data F]
"""

from __future__ import annotations

import argparse
import threading
import time

import requests

from billbridge.sandbox import CREDENTIALS, SandboxConfig, start_sandbox


def session() -> requests.Session:
    s = requests.Session()
    s.auth = (f"{CREDENTIALS['company_id']}+{CREDENTIALS['full']['public_key']}", CREDENTIALS["full"]["private_key"])
    s.headers["clientId"] = "bench"
    return s


def run(threads: int, seconds: float, make_call) -> tuple[int, float]:
    counts = [0] * threads
    stop = time.perf_counter() + seconds
    errors: list[str] = []

    def worker(i: int) -> None:
        s = session()
        call = make_call(i)
        n = 0
        while time.perf_counter() < stop:
            r = call(s, n)
            if r.status_code >= 400:
                errors.append(f"{r.status_code} {r.text[:120]}")
                return
            n += 1
        counts[i] = n
        s.close()

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    t0 = time.perf_counter()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors:
        raise SystemExit(f"request failed: {errors[0]}")
    return sum(counts), elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=2.0, help="wall-clock budget per scenario")
    ap.add_argument("--agreements", type=int, default=2000, help="bulk filler agreements")
    ap.add_argument("--additions", type=int, default=20000, help="bulk filler additions")
    ap.add_argument("--data", default=None, help="SQLite file (write-through persistence); default in memory")
    args = ap.parse_args()

    t0 = time.perf_counter()
    sb = start_sandbox(SandboxConfig(extra_agreements=args.agreements, extra_additions=args.additions,
                                          data_path=args.data, reset=True))
    startup = time.perf_counter() - t0
    root = sb.api_root
    agreements = sb.records("agreements")
    bulk = [a for a in agreements if a["name"].startswith("Bulk")] or agreements
    adds = sb.records("additions")
    by_agr = {}
    for a in adds:
        by_agr.setdefault(a["agreementId"], []).append(a["id"])
    bulk_ids = {a["id"] for a in bulk if not a.get("cancelledFlag")}
    targets = [(agr, ids[0]) for agr, ids in by_agr.items() if agr in bulk_ids]
    print(f"sandbox: {len(agreements)} agreements, {len(adds)} additions, started in {startup:.2f}s"
          f" ({'SQLite ' + args.data if args.data else 'in memory'})")

    scenarios = {
        "GET list pageSize=25": lambda i: lambda s, n: s.get(f"{root}/finance/agreements", params={"pageSize": 25, "page": 1 + n % 40}),
        "GET by id": lambda i: lambda s, n: s.get(f"{root}/finance/agreements/{bulk[(n * 7 + i) % len(bulk)]['id']}"),
        "GET list pageSize=1000": lambda i: lambda s, n: s.get(f"{root}/finance/agreements", params={"pageSize": 1000, "page": 1 + n % 2}),
        "GET list filtered (conditions)": lambda i: lambda s, n: s.get(f"{root}/finance/agreements", params={
            "conditions": f"company/id = {1 + n % 60} and name like 'Bulk%'", "pageSize": 100}),
        "PATCH addition quantity": lambda i: lambda s, n: s.patch(
            f"{root}/finance/agreements/{targets[(n + i * 997) % len(targets)][0]}/additions/{targets[(n + i * 997) % len(targets)][1]}",
            json=[{"op": "replace", "path": "quantity", "value": 1 + n % 50}]),
    }
    print(f"\n{'scenario':34} {'threads':>7} {'requests':>9} {'seconds':>8} {'req/s':>9}")
    for name, make in scenarios.items():
        for threads in (1, 4):
            n, el = run(threads, args.seconds, make)
            print(f"{name:34} {threads:>7} {n:>9} {el:>8.2f} {n / el:>9.1f}")
    sb.stop()


if __name__ == "__main__":
    main()
