"""The plan: one billing month's vendor lines, the ConnectWise snapshot and the mappings -> plan rows.

``reconcile(vendor_lines, snapshot, mappings, context) -> Plan`` runs the rules pipeline
(:mod:`billbridge.plan.engine` over :mod:`billbridge.rules`); ``Plan.table`` is its Arrow rows, ``Plan.rows``
the Decimal frame of them; ``plan_to_json`` makes it JSON-ready.
"""

from billbridge.plan.engine import Plan, plan_to_json, reconcile
from billbridge.plan.inputs import Context, Mappings, SnapshotFrames, SnapshotTables, cw_date, snapshot_frames
from billbridge.plan.summary import Summary

__all__ = ["reconcile", "Plan", "Summary", "plan_to_json", "Context", "Mappings", "SnapshotFrames", "SnapshotTables",
           "snapshot_frames", "cw_date"]
