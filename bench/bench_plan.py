"""Benchmark the plan lifecycle's store and I/O (issue 9). Not a test: prints figures.

    .venv/bin/python bench/bench_plan.py            # readable lines
    .venv/bin/python bench/bench_plan.py --json     # one JSON line with every figure
    .venv/bin/python bench/bench_plan.py --skip-refresh --repeat 3

Every figure is a ratio (or a size) measured in the same run:

``e2e_ratio``      the path ``billbridge reconcile`` takes on the bench world of bench_reconcile.py
                   (50,000 vendor lines, 10,000 agreements, ~100,000 additions, already stored):
                   :func:`billbridge.plan.build.ensure_plan` reading the import and the snapshot from
                   SQLite, reconciling, writing the plan back (target <= 10) / a bare pandas outer
                   merge of the lines and additions frames, both timed in a fresh process that holds
                   only the database (as the command runs). Measured at a month's steady state (five
                   plans kept: each new one also prunes the oldest). Split into ``kernel_s`` (the
                   reconciliation alone, on the same frames) and ``store_s`` (everything else: reading
                   lines and snapshot frames, the plan's lifecycle columns and summary, saving, pruning).
``plan_mb``        megabytes the first stored 50,000-row plan adds to the SQLite file (WAL checkpointed;
                   no free pages to reuse) (target <= 15).
``load_ratio``     ``sources.load_month`` of a 100,000-line generic file (parse + validate + store) /
                   (``pandas.read_csv`` of it + ``executemany`` of the frame's rows
                   (``itertuples``) into a plain SQLite table) (target <= 1.5).
                   ``load_ratio_columns``: the same against an executemany fed from column lists, the
                   fastest way to insert a frame.
``refresh_ratio``  :func:`billbridge.month.refresh_snapshot` for 2,000 mapped agreements (~20,000
                   additions) from the sandbox at 50 ms latency / (requests x latency / default
                   concurrency) (target <= 1.3).
``peak_mib``       peak resident memory the e2e path adds (``VmHWM`` of the child process after its
                   first run, minus its RSS before), next to the input sizes
                   (``input_frames_mib``: the lines and additions frames in memory; ``db_mib``: the file).
``kernel_ratio``   bench_reconcile.py's: the rules pipeline alone on in-memory frames at 50,000 lines / the
                   same bare outer merge (target <= 4); ``growth``: at 50,000 lines / at 5,000 (target <= 11);
                   medians of ``--repeat`` (``--skip-kernel`` leaves them out).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "lib"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tests"))

MONTH = "2026-11"
API = "BillbridgeAPI"


def _status_mb(field: str) -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def no_client():
    raise AssertionError("the stored snapshot is current: ensure_plan must not read ConnectWise")


def build_world_store(path: Path, scale: float = 1.0):
    """The bench world of bench_reconcile.py stored as billbridge stores a month: one import, the
    mappings, one snapshot (with the mapped agreements recorded as read)."""
    from bench_reconcile import build_world
    from billbridge import store as st
    from billbridge.snapshot import Snapshot

    vl, snap, maps = build_world(scale)
    store = st.Store.open(path)
    st.record_import(store, vendor="demo", billing_month=MONTH, file_name="bench.csv", sha256="0" * 64,
                     format="generic", lines=vl, total_cost="0", total_price="0")
    for kind, frame in (("company", maps.companies), ("agreement", maps.agreements), ("product", maps.products)):
        st.set_mappings(store, kind, "demo", frame.astype(object).where(frame.notna(), None).to_dict("records"),
                        by="bench", source="bench")
    agreement_ids = sorted(int(a) for a in maps.agreements["agreement_id"])
    s = Snapshot(taken_at="2026-11-02T08:00:00Z", requests={"GET": 0}, **{k: v for k, v in snap.items()})
    st.save_snapshot(store, MONTH, s, agreement_ids)
    return store, vl, snap


def _size(store) -> int:
    store.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return store.path.stat().st_size


def best_of(fn, repeat: int) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - t)
    return best, out


def measure_e2e(workdir: Path, repeat: int, scale: float) -> dict:
    """Store the world, measure what its first plan adds to the file, then time the path in a fresh
    process (as ``billbridge reconcile`` runs: only the database in memory, not the world's records)."""
    from billbridge.plan import build

    db = workdir / "e2e.db"
    t = time.perf_counter()
    store, vl, snap = build_world_store(db, scale)
    setup = time.perf_counter() - t
    sizes = {"lines": len(vl), "additions": len(snap["additions"]), "agreements": len(snap["agreements"])}
    del vl, snap
    # plan_mb: the first plan stored (the file has no free pages to reuse yet)
    free = store.conn.execute("PRAGMA freelist_count").fetchone()[0]
    before = _size(store)
    first = build.ensure_plan(store, no_client, MONTH, api_member=API)
    plan_bytes = _size(store) - before
    rows = len(first.plan.rows)
    store.close()
    del first
    out = {**sizes, "plan_rows": rows, "setup_s": round(setup, 2), "plan_mb": round(plan_bytes / 1e6, 2),
           "free_pages_before": free}
    res = subprocess.run([sys.executable, __file__, "--child-e2e", str(db), "--repeat", str(repeat)],
                         capture_output=True, text=True, check=True, env={**os.environ, "PYTHONPATH": str(ROOT / "lib")})
    out.update(json.loads(res.stdout.strip().splitlines()[-1]))
    return out


def child_e2e(db: str, repeat: int) -> dict:
    """In a fresh process: the e2e path once (its peak memory), then at the month's steady state
    (five plans kept, each new one prunes the oldest) best of ``repeat``, its parts, the baseline."""
    from billbridge import clock, demo_world
    from billbridge import store as st
    from billbridge.plan import build
    from billbridge.plan import Context, Mappings, reconcile

    store = st.Store.open(db)
    rss = _status_mb("VmRSS")
    build.ensure_plan(store, no_client, MONTH, rebuild=True, api_member=API)
    peak = _status_mb("VmHWM") - rss
    for _ in range(st.KEEP_UNPUSHED - 2):
        build.ensure_plan(store, no_client, MONTH, rebuild=True, api_member=API)
    t_e2e, res = best_of(lambda: build.ensure_plan(store, no_client, MONTH, rebuild=True, api_member=API), repeat)
    # the kernel alone, on the inputs as the lifecycle reads them (Arrow tables of the stored values)
    sid = st.latest_snapshot(store, MONTH)["id"]
    imp = st.month_imports(store, MONTH)[0]
    lines = st.import_line_table(store, imp["id"])
    frames = st.load_snapshot_tables(store, sid)
    maps = Mappings(**st.mapping_frames(store, "demo"))
    ctx = Context(month=MONTH, vendor="demo", api_member=API, today=clock.today(), journal=st.written_lines(store),
                  vendor_name="Demo", line_key_field=demo_world.LINE_KEY_FIELD,
                  line_key_field_id=demo_world.LINE_KEY_FIELD_ID)
    t_kernel, _ = best_of(lambda: reconcile(lines, frames, maps, ctx), repeat)
    # the store's parts, timed alone
    t_lines, _ = best_of(lambda: st.import_line_table(store, imp["id"]), repeat)
    t_frames, _ = best_of(lambda: st.load_snapshot_tables(store, sid), repeat)
    plan = res.plan
    t_save, _ = best_of(lambda: st.save_plan(store, MONTH, sid, {"status": "changes"}, plan.table,
                                             documents=plan.documents), repeat)
    t = time.perf_counter()
    st.prune_plans(store, MONTH, keep=st.KEEP_UNPUSHED - 1)  # one 50,000-row plan deleted
    t_prune = time.perf_counter() - t
    # the bare baseline: an outer merge of the lines and the additions frames
    typed = st.import_lines(store, imp["id"])
    keyed = typed.assign(key="demo|" + typed["vendor_customer_id"] + "|" + typed["subscription_id"])
    adds = st.load_snapshot_frames(store, sid).additions  # the frames, as the baseline always merged them
    t_outer, _ = best_of(lambda: keyed.merge(adds, on="key", how="outer"), max(repeat, 10))  # cheap: best of 10
    inputs_mb = (typed.memory_usage(deep=True).sum() + adds.memory_usage(deep=True).sum()) / 2**20
    db_mb = _size(store) / 2**20
    store.close()
    return {
        "e2e_s": round(t_e2e, 3), "kernel_s": round(t_kernel, 3), "store_s": round(t_e2e - t_kernel, 3),
        "read_lines_s": round(t_lines, 3), "read_frames_s": round(t_frames, 3), "save_plan_s": round(t_save, 3),
        "prune_one_plan_s": round(t_prune, 3), "outer_merge_s": round(t_outer, 4),
        "e2e_ratio": round(t_e2e / t_outer, 1), "kernel_only_ratio": round(t_kernel / t_outer, 1),
        "store_only_ratio": round((t_e2e - t_kernel) / t_outer, 1),
        "peak_mib": round(peak, 1), "rss_before_mib": round(rss, 1),
        "input_frames_mib": round(inputs_mb, 1), "db_mib": round(db_mb, 1),
    }


def measure_load(workdir: Path, repeat: int, n: int = 100_000) -> dict:
    import pandas as pd

    from bench_load import make_file
    from billbridge.sources import load_month
    from billbridge.store import Store

    path = workdir / f"generic_{n}.csv"
    if not path.exists():
        make_file(path, n)
    data = path.read_bytes()
    stores = iter([Store.open(workdir / f"load{i}.db") for i in range(repeat)])  # opened (migrated) untimed

    def load():
        store = next(stores)
        res = load_month(store, MONTH, data, path.name, "generic", vendor="bench")
        assert res.status == "loaded", res.problems[:5]
        store.close()

    def bare(rows_of):
        def run():
            df = pd.read_csv(path)
            con = sqlite3.connect(workdir / f"bare{time.perf_counter_ns()}.db")
            con.execute("PRAGMA journal_mode=WAL")
            con.execute("PRAGMA synchronous=NORMAL")
            con.execute(f"CREATE TABLE lines ({', '.join(df.columns)})")
            with con:
                con.executemany(f"INSERT INTO lines VALUES ({', '.join('?' * len(df.columns))})", rows_of(df))
            con.close()
        return run

    t_load, _ = best_of(load, repeat)
    t_bare, _ = best_of(bare(lambda df: df.itertuples(index=False, name=None)), repeat)
    t_cols, _ = best_of(bare(lambda df: zip(*[df[c].tolist() for c in df.columns])), repeat)
    t_read, _ = best_of(lambda: pd.read_csv(path), repeat)
    return {"load_lines": n, "load_s": round(t_load, 3), "read_csv_s": round(t_read, 3),
            "bare_insert_s": round(t_bare, 3), "bare_insert_columns_s": round(t_cols, 3),
            "load_ratio": round(t_load / t_bare, 2), "load_ratio_columns": round(t_load / t_cols, 2)}


def measure_refresh(workdir: Path, agreements: int = 2000, additions: int = 20_000, latency_ms: int = 50) -> dict:
    from billbridge import month as mo
    from billbridge import store as st
    from billbridge.sandbox import SandboxConfig, start_sandbox
    from billbridge.snapshot import DEFAULT_CONCURRENCY
    from push_support import client_for

    sb = start_sandbox(SandboxConfig(extra_agreements=agreements, extra_additions=additions))
    try:
        bulk = sorted(a["id"] for a in sb.records("agreements") if str(a.get("name", "")).startswith("Bulk Services"))
        store = st.Store.open(workdir / "refresh.db")
        st.set_mappings(store, "agreement", "bench", [{"vendor_customer_id": f"B{i}", "agreement_id": a}
                                                      for i, a in enumerate(bulk)], by="bench", source="bench")
        client = client_for(sb, fast=False, pool_size=max(8, DEFAULT_CONCURRENCY * 2))
        client.codebase  # resolve the codebase once, before counting
        sb.set_faults(latency_ms=latency_ms)
        t = time.perf_counter()
        res = mo.refresh_snapshot(store, client, MONTH)
        wall = time.perf_counter() - t
        n_add = len(res.snapshot.additions)
        client.close()
        store.close()
    finally:
        sb.stop()
    ideal = res.request_count * latency_ms / 1000 / DEFAULT_CONCURRENCY
    return {"refresh_agreements": len(bulk), "refresh_additions": n_add, "refresh_requests": res.request_count,
            "refresh_s": round(wall, 2), "refresh_ideal_s": round(ideal, 2), "refresh_ratio": round(wall / ideal, 2),
            "concurrency": DEFAULT_CONCURRENCY, "latency_ms": latency_ms}


def measure_kernel(repeat: int, scale: float) -> dict:
    """bench_reconcile.py's figures (the same worlds, timings and denominator), in this run."""
    from bench_reconcile import measure
    from billbridge.plan import reconcile

    engines = {"rules": reconcile}
    small = measure(scale / 10, max(repeat, 5), False, engines)
    big = measure(scale, max(repeat, 5), False, engines)
    return {"kernel_frames_s": round(big["t_rules"], 3), "kernel_outer_merge_s": round(big["t_outer"], 4),
            "kernel_small_s": round(small["t_rules"], 3), "kernel_ratio": round(big["t_rules"] / big["t_outer"], 2),
            "growth": round(big["t_rules"] / small["t_rules"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print one JSON line")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--skip-refresh", action="store_true")
    ap.add_argument("--skip-load", action="store_true")
    ap.add_argument("--skip-kernel", action="store_true")
    ap.add_argument("--child-e2e")
    args = ap.parse_args()
    if args.child_e2e:
        print(json.dumps(child_e2e(args.child_e2e, args.repeat)))
        return
    with tempfile.TemporaryDirectory(prefix="bench_plan_") as tmp:
        workdir = Path(tmp)
        out: dict = {}
        out.update(measure_e2e(workdir, args.repeat, args.scale))
        if not args.skip_load:
            out.update(measure_load(workdir, args.repeat))
        if not args.skip_refresh:
            out.update(measure_refresh(workdir))
        out.update(measure_kernel(args.repeat, args.scale) if not args.skip_kernel else
                   {"kernel_ratio": None, "growth": None})
    if args.json:
        print(json.dumps(out))
        return
    print(f"e2e (stored import + snapshot -> stored plan), {out['lines']:,} lines / {out['additions']:,} additions / "
          f"{out['agreements']:,} agreements -> {out['plan_rows']:,} rows: {out['e2e_s']}s = {out['e2e_ratio']}x a "
          f"pandas outer merge ({out['outer_merge_s']}s) (target <= 10); kernel {out['kernel_s']}s "
          f"({out['kernel_only_ratio']}x), store {out['store_s']}s ({out['store_only_ratio']}x): read lines "
          f"{out['read_lines_s']}s, read snapshot tables {out['read_frames_s']}s, save plan {out['save_plan_s']}s")
    if out.get("kernel_ratio") is not None:
        print(f"kernel (the rules on in-memory frames, bench_reconcile.py): {out['kernel_frames_s']}s = {out['kernel_ratio']}x "
              f"the outer merge ({out['kernel_outer_merge_s']}s) (target <= 4); growth 5k -> 50k lines "
              f"{out['growth']}x (target <= 11)")
    print(f"plan_mb: {out['plan_mb']} MB per stored {out['plan_rows']:,}-row plan (target <= 15); "
          f"peak memory of the e2e path +{out['peak_mib']} MiB (input frames {out['input_frames_mib']} MiB, "
          f"database file {out['db_mib']} MiB)")
    if "load_ratio" in out:
        print(f"load {out['load_lines']:,} lines: {out['load_s']}s = {out['load_ratio']}x read_csv + executemany "
              f"(itertuples) (target <= 1.5); {out['load_ratio_columns']}x read_csv + executemany of column lists")
    if "refresh_ratio" in out:
        print(f"refresh {out['refresh_agreements']:,} agreements ({out['refresh_additions']:,} additions, "
              f"{out['refresh_requests']} requests) at {out['latency_ms']} ms: {out['refresh_s']}s = "
              f"{out['refresh_ratio']}x requests x latency / {out['concurrency']} (target <= 1.3)")


if __name__ == "__main__":
    main()
