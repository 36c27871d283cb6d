"""The push, undo and status commands end to end on the embedded sandbox (CliRunner, real HTTP)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from billbridge.cli import main

MONTH = "2026-11"


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


@pytest.fixture
def planned(app_env):
    assert run("load", MONTH, "--demo").exit_code == 0
    assert run("map", "suggest", MONTH, "--accept-above", "95").exit_code == 0
    res = run("reconcile", MONTH, "--json")
    assert res.exit_code == 0, res.output
    return json.loads(res.output[res.output.index("{"):])


def test_push_needs_rows_or_all_ready_and_exits_2_otherwise(planned):
    assert run("push", MONTH).exit_code == 2
    assert run("push", MONTH, "--rows", "no-such-key").exit_code == 2


def test_push_all_ready_writes_then_a_second_push_writes_nothing_and_status_and_undo_report_it(planned):
    ready = [r["key"] for r in planned["rows"] if r["action"] in ("update", "create", "cancel")]
    assert ready
    dry = run("push", MONTH, "--all-ready", "--dry-run", "--json")
    assert dry.exit_code in (0, 1)
    assert json.loads(dry.output)["writes"] == 0

    first = run("push", MONTH, "--all-ready", "--json")
    out = json.loads(first.output)
    failed = [r for r in out["rows"] if r["result"] != "ok"]
    assert first.exit_code == (1 if failed else 0)
    assert out["writes"] > 0

    second = json.loads(run("push", MONTH, "--all-ready", "--json").output)
    assert second["writes"] == len([r for r in failed if r["http_status"]])  # only the failed rows are tried again

    status = json.loads(run("status", MONTH, "--json").output)
    assert [r["id"] for r in status["runs"]] == [second["run_id"], out["run_id"], json.loads(dry.output)["run_id"]]
    assert {c["status"] for c in status["companies"]} <= {"green", "red"} and status["companies"]

    preview = run("undo", str(out["run_id"]), "--dry-run", "--json")
    rows = json.loads(preview.output)["rows"]
    assert rows and {r["request"]["method"] for r in rows if r["request"]} == {"PATCH", "DELETE"}  # creates are deleted
    undone = run("undo", str(out["run_id"]), "--json")
    assert undone.exit_code == 0 and json.loads(undone.output)["kind"] == "undo"


def test_reconcile_after_a_push_reads_connectwise_again_and_finds_nothing_left_to_write(planned):
    assert run("push", MONTH, "--all-ready").exit_code == 0
    again = run("reconcile", MONTH, "--json")
    assert again.exit_code == 0
    assert "billbridge wrote to it since the last read" in again.output
    plan = json.loads(again.output[again.output.index("{"):])
    assert not [r for r in plan["rows"] if r["action"] in ("update", "create", "cancel")]
