"""`billbridge reconcile MONTH` against the sandbox with the demo month loaded."""

from __future__ import annotations

import json

from click.testing import CliRunner

from billbridge.cli import main


def run(*args):
    return CliRunner().invoke(main, list(args))


def test_reconcile_json_has_summary_and_rows_with_key_action_reason_and_writes(app_env):
    assert run("load", "2026-11", "--demo").exit_code == 0
    assert run("map", "suggest", "2026-11", "--accept-above", "90").exit_code == 0
    result = run("reconcile", "2026-11", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{"):])
    assert out["summary"]["status"] == "changes" and out["summary"]["lines_checked"] == 41
    assert {r["action"] for r in out["rows"]} == {"in_sync", "update", "create", "cancel", "blocked"}
    for r in out["rows"]:
        assert r["key"] and r["reason"] and "writes" in r and "price_impact" in r and "target" in r
    upd = next(r for r in out["rows"] if r["key"] == "demo|DC-10001|S-1001")
    assert upd["action"] == "update" and upd["writes"][0]["field"] == "quantity"
    assert upd["request"]["method"] == "PATCH"


def test_reconcile_text_lists_changes_in_words_and_refresh_reads_connectwise_again(app_env):
    assert run("load", "2026-11", "--demo").exit_code == 0
    result = run("reconcile", "2026-11", "--refresh")
    assert result.exit_code == 0, result.output
    assert "Plan 1 for 2026-11" in result.output and "unmapped customer" not in result.output
    assert "[Blocked: Customer not mapped]" in result.output and "Customer not mapped 41" in result.output
    assert "unmapped_customer" not in result.output and "blocked/" not in result.output  # words, not codes
    assert "Read ConnectWise for 2026-11" in result.output


def test_reconcile_without_a_loaded_month_exits_2_with_what_to_do(app_env):
    result = run("reconcile", "2026-05")
    assert result.exit_code == 2 and "billbridge load 2026-05" in result.output


def test_reconcile_json_rows_explain_every_changed_dollar_by_cause(app_env):
    """Issue 12: each changed row's impact_by_cause (quantity, price, proration, credit) sums to its price_impact
    to the cent; rows that change nothing have none; the summary totals the parts per currency."""
    from decimal import Decimal

    from billbridge.model import IMPACT_CAUSES

    assert run("load", "2026-11", "--demo").exit_code == 0
    assert run("map", "suggest", "2026-11", "--accept-above", "90").exit_code == 0
    result = run("reconcile", "2026-11", "--json")
    assert result.exit_code == 0, result.output
    out = json.loads(result.output[result.output.index("{"):])
    changed = [r for r in out["rows"] if r["action"] in ("create", "update", "cancel")]
    assert changed
    totals = dict.fromkeys(IMPACT_CAUSES, Decimal(0))
    for r in out["rows"]:
        parts = r["impact_by_cause"]
        if r["action"] not in ("create", "update", "cancel"):
            assert parts is None
            continue
        assert list(parts) == list(IMPACT_CAUSES)
        assert sum(map(Decimal, parts.values())) == Decimal(r["price_impact"]), r["key"]
        for c in IMPACT_CAUSES:
            totals[c] += Decimal(parts[c])
    assert {c: Decimal(v) for c, v in out["summary"]["impact_by_cause"]["USD"].items()} == totals
    assert totals["quantity"] != 0
