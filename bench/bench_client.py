"""What the ConnectWise client costs in requests and time (a plain script, not a test).

Against an in-memory sandbox with bulk filler, in one run, reports:
* reading every agreement with pageSize=1000 (what the client sends) vs the server default 25,
* fetching N records by id with ``get_many`` (URL-length batches) vs one GET per id,
* navigable vs forward-only paging,
* the client's per-request overhead vs a bare ``requests.Session`` on the same endpoint.

    .venv/bin/python bench/bench_client.py [--agreements 3000] [--ids 600]
"""

from __future__ import annotations

import argparse
import time

import requests

from billbridge.connectwise import CWClient, CWSettings
from billbridge.sandbox import SandboxConfig, start_sandbox


def timed(fn):
    t = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agreements", type=int, default=3000)
    ap.add_argument("--ids", type=int, default=600)
    ap.add_argument("--calls", type=int, default=300)
    args = ap.parse_args()

    sb = start_sandbox(SandboxConfig(port=0, extra_agreements=args.agreements))
    c = CWClient(CWSettings(site=sb.base_url, company_id=sb.company_id, public_key=sb.public_key,
                            private_key=sb.private_key, client_id="bench"))
    c.codebase
    c.reset_stats()
    try:
        rows_big, t_big = timed(lambda: c.list("/finance/agreements", fields="id"))
        n_big = c.stats["GET"]
        c.reset_stats()
        rows_small, t_small = timed(lambda: c.list("/finance/agreements", fields="id", page_size=25))
        n_small = c.stats["GET"]
        c.reset_stats()
        rows_fwd, t_fwd = timed(lambda: c.list("/finance/agreements", fields="id", forward_only=True))
        n_fwd = c.stats["GET"]
        assert len(rows_big) == len(rows_small) == len(rows_fwd)
        print(f"list {len(rows_big)} agreements: pageSize=1000 {n_big} requests {t_big:.2f}s | "
              f"pageSize=25 {n_small} requests {t_small:.2f}s | ratio {n_small / n_big:.0f}x requests, "
              f"{t_small / t_big:.1f}x time | forward-only {n_fwd} requests {t_fwd:.2f}s")

        ids = [r["id"] for r in rows_big][: args.ids]
        c.reset_stats()
        many, t_many = timed(lambda: c.get_many("/finance/agreements", ids, fields="id,name"))
        n_many = c.stats["GET"]
        c.reset_stats()
        one_by_one, t_one = timed(lambda: [c.get(f"/finance/agreements/{i}", params={"fields": "id,name"}) for i in ids])
        assert len(many) == len(one_by_one) == len(ids)
        print(f"fetch {len(ids)} agreements by id: get_many {n_many} requests {t_many:.2f}s | one GET per id "
              f"{len(ids)} requests {t_one:.2f}s | ratio {len(ids) / n_many:.0f}x requests, {t_one / t_many:.1f}x time")

        raw = requests.Session()
        raw.auth = (f"{sb.company_id}+{sb.public_key}", sb.private_key)
        raw.headers["clientId"] = "bench"
        url = c.base_url + "/system/info"
        _, t_raw = timed(lambda: [raw.get(url).json() for _ in range(args.calls)])
        _, t_cli = timed(lambda: [c.system_info() for _ in range(args.calls)])
        print(f"{args.calls} x GET /system/info: bare requests {args.calls / t_raw:.0f} req/s | CWClient "
              f"{args.calls / t_cli:.0f} req/s | client overhead {t_cli / t_raw:.2f}x")
    finally:
        c.close()
        sb.stop()


if __name__ == "__main__":
    main()
