"""The README tour through the library, as a notebook would walk it: load the demo month, accept the
suggested mappings, reconcile against the sandbox over HTTP, push, read the status.

Shared by tests/test_tour_any_day.py and tests/test_undo_month.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from billbridge import clock
from billbridge import demo_world as dw
from billbridge import mappings as mp
from billbridge import month as mo
from billbridge import push as pu
from billbridge import sources
from billbridge.sandbox import CREDENTIALS, Sandbox, SandboxConfig, start_sandbox
from billbridge.store import Store
from push_support import client_for

WRITES = ("update", "create", "cancel")


@dataclass
class Tour:
    sb: Sandbox
    client: Any
    store: Store
    month: str

    def reconcile(self):
        """Read ConnectWise again and build the month's plan: ``(plan, plan_id)``."""
        mo.refresh_snapshot(self.store, self.client, self.month)
        return mo.build_plan(self.store, self.month)

    def push_ready(self, plan, plan_id):
        rows = plan.rows[plan.rows["action"].isin(WRITES)]
        return pu.push(self.store, self.client, rows, operator="ann", month=self.month, plan_id=plan_id)

    def close(self) -> None:
        self.client.close()
        self.sb.stop()


def start_tour(tmp_path: Path) -> Tour:
    """A sandbox (seeded for today's demo window, data in ``tmp_path``), a store, the demo month
    loaded and the confident mapping suggestions accepted."""
    sb = start_sandbox(SandboxConfig(data_path=tmp_path / "sandbox.db"))
    client = client_for(sb)
    store = Store.open(tmp_path / "billbridge.db")
    month = clock.current_month()
    assert month == dw.months()[-1]  # the demo covers the current month
    sources.load_demo(store, month)
    mo.refresh_snapshot(store, client, month)
    mp.accept(store, month, mo.snapshot_for(store, month))
    return Tour(sb, client, store, month)


def picture(plan) -> dict[str, Any]:
    """What the month looks like: rows per action and the customer price change, to the cent."""
    rows = plan.rows
    counts = rows["action"].value_counts().to_dict()
    impact = sum((Decimal(str(v)) for v in rows["price_impact"].dropna()), Decimal(0))
    return {"counts": {a: int(counts.get(a, 0)) for a in ("in_sync", "update", "create", "cancel", "blocked")},
            "price_impact": impact}


__all__ = ["Tour", "start_tour", "picture", "WRITES", "CREDENTIALS"]
