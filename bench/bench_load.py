"""Benchmark: loading a generic vendor CSV (parse + validate + store) vs a plain pandas.read_csv.

    .venv/bin/python bench/bench_load.py            # 100,000 and 1,000,000 lines
    .venv/bin/python bench/bench_load.py --lines 100000 --repeat 5

Targets (issue 3): load time <= 4x ``pandas.read_csv`` of the same file, measured in the same run;
peak memory < 10x the file size.

How it measures
---------------
* Time: each figure is the best of ``--repeat`` runs inside one child process (same warm page
  cache for both); the load writes a fresh SQLite file each time (WAL, synchronous=NORMAL).
  The load is also split into its two phases, ``parse_file`` and ``record_import``.
* Memory: **peak resident set size** (``VmHWM`` in ``/proc/self/status``) of a fresh child
  process that does one job, minus its RSS just before the job (after imports). RSS, not
  tracemalloc, because pandas' string columns live in pyarrow buffers that tracemalloc does not
  see. Ratio = that increase / file size. (Not ``getrusage().ru_maxrss``: Linux carries it over
  fork and exec, so a child of this script inherited the peak of the parent that had just
  generated the test file with pandas, about 1 GB for the 1,000,000-line file.)
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))

MONTH = "2026-11"


def make_file(path: Path, n: int) -> None:
    """A deterministic generic CSV with ``n`` valid lines of the month (5,000 customers)."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(42)
    cust = rng.integers(0, 5000, n)
    anchor = (cust % 28) + 1
    skus = np.array(["HPBX-SEAT", "EXCH-MBX", "SEC-AWARE", "M365-BP-ANN", "VOICE-MIN", "ARCHIVE"])
    cost = np.array(["18.00", "4.50", "2.00", "22.00", "0.0120", "3.00"])
    price = np.array(["25.00", "7.00", "4.00", "26.40", "0.0200", "5.00"])
    k = rng.integers(0, len(skus), n)
    usage = skus[k] == "VOICE-MIN"
    start = pd.to_datetime("2026-11-01") + pd.to_timedelta(anchor - 1, unit="D")
    ustart = start - pd.DateOffset(months=1)
    ps = np.where(usage, ustart.strftime("%Y-%m-%d"), start.strftime("%Y-%m-%d"))
    pe_dt = np.where(usage, start - pd.Timedelta(days=1), start + pd.DateOffset(months=1) - pd.Timedelta(days=1))
    pe = pd.DatetimeIndex(pe_dt).strftime("%Y-%m-%d")
    df = pd.DataFrame({
        "vendor_customer_id": [f"C-{c:05d}" for c in cust],
        "vendor_customer_name": [f"Customer {c}, Inc." for c in cust],
        "customer_created": [f"2024-03-{a:02d}" for a in anchor],
        "subscription_id": [f"S-{i:08d}" for i in range(n)],
        "sku": skus[k], "product_name": skus[k],
        "charge_type": np.where(usage, "usage", "recurring"),
        "billing_frequency": "monthly",
        "term": np.where(usage, "none", np.where(skus[k] == "M365-BP-ANN", "annual", "monthly")),
        "quantity": np.where(usage, rng.integers(100, 20000, n), rng.integers(1, 80, n)),
        "unit_cost": cost[k], "unit_price": price[k],
        "period_start": ps, "period_end": pe, "effective_date": ps, "currency": "USD",
    })
    df.to_csv(path, index=False)


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def _rss_mb() -> float:
    return _status_mb("VmRSS")


def _peak_mb() -> float:
    """Peak RSS of this process image (reset by exec, unlike ``ru_maxrss``)."""
    return _status_mb("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def child(job: str, path: str, repeat: int) -> dict:
    import pandas as pd

    from billbridge.sources import load_month, parse_file
    from billbridge.store import Store, record_import

    data_path = Path(path)
    tmp = Path(tempfile.mkdtemp())

    def read_csv():
        return pd.read_csv(data_path)

    stores = iter([Store.open(tmp / f"b{i}.db") for i in range(repeat + 1)])  # opened (migrated) untimed

    def load():
        store = next(stores)
        res = load_month(store, MONTH, data_path.read_bytes(), data_path.name, "generic", vendor="bench")
        assert res.status == "loaded", res.problems[:5]
        store.close()
        return res

    if job.startswith("mem-"):
        before = _rss_mb()
        {"mem-read": read_csv, "mem-load": load}[job]()
        peak = _peak_mb()
        return {"rss_before_mb": before, "peak_rss_mb": peak, "increase_mb": peak - before}

    out: dict[str, float] = {}
    for name, fn in (("read_csv", read_csv), ("load", load)):
        best = float("inf")
        for _ in range(repeat):
            t = time.perf_counter()
            fn()
            best = min(best, time.perf_counter() - t)
        out[name] = best
    # phases of the load
    data = data_path.read_bytes()
    best_p = best_s = float("inf")
    for r in range(repeat):
        t = time.perf_counter()
        parsed = parse_file(data, data_path.name, "generic", MONTH)
        best_p = min(best_p, time.perf_counter() - t)
        store = Store.open(tmp / f"p{r}.db")
        t = time.perf_counter()
        record_import(store, vendor="bench", billing_month=MONTH, file_name=data_path.name, sha256=parsed.sha256,
                      format="generic", lines=parsed.table, total_cost=parsed.total_cost, total_price=parsed.total_price,
                      customer_count=parsed.customer_count)  # what load_month hands over
        best_s = min(best_s, time.perf_counter() - t)
        store.close()
    out["parse_validate"] = best_p
    out["store"] = best_s
    return out


def run_child(job: str, path: Path, repeat: int) -> dict:
    cmd = [sys.executable, __file__, "--child", job, "--file", str(path), "--repeat", str(repeat)]
    res = subprocess.run(cmd, capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    return json.loads(res.stdout.strip().splitlines()[-1])


def bench(n: int, repeat: int, workdir: Path) -> dict:
    path = workdir / f"generic_{n}.csv"
    if not path.exists():
        make_file(path, n)
    size_mb = path.stat().st_size / 1024 / 1024
    times = run_child("time", path, repeat)
    mem_read = run_child("mem-read", path, 1)
    mem_load = run_child("mem-load", path, 1)
    return {
        "lines": n, "file_mb": round(size_mb, 1),
        "read_csv_s": round(times["read_csv"], 3), "load_s": round(times["load"], 3),
        "parse_validate_s": round(times["parse_validate"], 3), "store_s": round(times["store"], 3),
        "time_ratio": round(times["load"] / times["read_csv"], 2),
        "parse_ratio": round(times["parse_validate"] / times["read_csv"], 2),
        "read_csv_peak_increase_mb": round(mem_read["increase_mb"], 1),
        "load_peak_increase_mb": round(mem_load["increase_mb"], 1),
        "memory_ratio": round(mem_load["increase_mb"] / size_mb, 2),
        "read_csv_memory_ratio": round(mem_read["increase_mb"] / size_mb, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, nargs="*", default=[100_000, 1_000_000])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--child")
    ap.add_argument("--file")
    ap.add_argument("--workdir", default=None)
    a = ap.parse_args()
    if a.child:
        print(json.dumps(child(a.child, a.file, a.repeat)))
        return
    workdir = Path(a.workdir or tempfile.mkdtemp(prefix="bench_load_"))
    workdir.mkdir(parents=True, exist_ok=True)
    for n in a.lines:
        r = bench(n, a.repeat if n <= 200_000 else 1, workdir)
        print(json.dumps(r))
        print(f"{n:>9,} lines, {r['file_mb']} MB: read_csv {r['read_csv_s']}s, load {r['load_s']}s "
              f"(parse+validate {r['parse_validate_s']}s, store {r['store_s']}s) -> time ratio {r['time_ratio']}x "
              f"(target <= 4x); peak memory +{r['load_peak_increase_mb']} MB = {r['memory_ratio']}x file "
              f"(target < 10x; read_csv alone {r['read_csv_memory_ratio']}x)", flush=True)


if __name__ == "__main__":
    main()
