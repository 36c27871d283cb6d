"""The demo month as an operator builds it, on a sandbox over HTTP and a database file (shared by the
store, lifecycle and withdrawal tests)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from billbridge import demo_world as dw
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import sources
from billbridge.store import Store
from sandbox_fixtures import new_sandbox
from test_month_demo import client_for

MONTH = dw.MONTHS[-1]
TODAY = date(2026, 11, 20)


def demo_month_world(folder: Path) -> dict:
    """Sandbox, client and a store at ``folder/billbridge.db`` holding the demo month: loaded, the
    confident suggestions accepted, ConnectWise read for them, a plan built. Stop ``sb`` when done."""
    sb = new_sandbox()
    client = client_for(sb)
    store = Store.open(folder / "billbridge.db")
    sources.load_demo(store, MONTH)
    mo.refresh_snapshot(store, client, MONTH)
    mp.accept(store, MONTH, mo.snapshot_for(store, MONTH), by="ann")
    mo.refresh_snapshot(store, client, MONTH)
    plan, plan_id = mo.build_plan(store, MONTH, today=TODAY)
    return {"sb": sb, "client": client, "store": store, "plan": plan, "plan_id": plan_id, "path": folder / "billbridge.db"}


def close(world: dict) -> None:
    world["store"].close()
    world["client"].close()
    world["sb"].stop()
