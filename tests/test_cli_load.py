"""`billbridge load`: every preset sample and the demo vendor load; bad files exit 2 and store nothing."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from billbridge import store as st
from billbridge import sources
from billbridge.cli import main
from billbridge.store import Store

MONTH = "2026-11"


@pytest.mark.parametrize("fmt", sorted(sources.sample_files()))
def test_cli_loads_each_preset_sample_file(app_env, tmp_path, fmt):
    path = tmp_path / sources.sample_files()[fmt]
    path.write_bytes(sources.sample_bytes(fmt))
    result = CliRunner().invoke(main, ["load", MONTH, "--file", str(path), "--format", fmt, "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.output)
    assert out["status"] == "loaded" and out["line_count"] > 0 and out["problem_count"] == 0
    assert st.latest_import(Store.open(app_env), fmt, MONTH) is not None


def test_cli_demo_load_is_a_no_op_the_second_time(app_env):
    first = CliRunner().invoke(main, ["load", MONTH, "--demo"])
    second = CliRunner().invoke(main, ["load", MONTH, "--demo"])
    assert first.exit_code == 0 and "Loaded" in first.output
    assert second.exit_code == 0 and "identical" in second.output
    assert len(st.list_imports(Store.open(app_env), billing_month=MONTH)) == 1


def test_cli_invalid_file_exits_2_lists_every_problem_and_stores_nothing(app_env, tmp_path):
    lines = ["vendor_customer_id,vendor_customer_name,sku,quantity,unit_cost"]
    lines += [f"C{i},Name {i},SKU,-{i + 1},1.00" for i in range(60)]  # negative quantities, not credits
    bad = tmp_path / "bad.csv"
    bad.write_text("\n".join(lines))
    problems = tmp_path / "problems.csv"
    result = CliRunner().invoke(main, ["load", MONTH, "--file", str(bad), "--problems-csv", str(problems)])
    assert result.exit_code == 2
    assert "nothing was stored" in result.output
    assert "and 10 more" in result.output
    assert problems.read_text().count("\n") == 61  # header + 60 problems
    assert st.list_imports(Store.open(app_env)) == []


def test_cli_load_needs_exactly_one_source(app_env):
    result = CliRunner().invoke(main, ["load", MONTH])
    assert result.exit_code == 2
    assert "--file" in result.output and "--demo" in result.output


def test_cli_load_rejects_a_malformed_month(app_env):
    result = CliRunner().invoke(main, ["load", "2026-13", "--demo"])
    assert result.exit_code == 2


def test_cli_binary_file_exits_2_with_one_plain_line_and_no_traceback(app_env, tmp_path):
    import os

    path = tmp_path / "bill.csv"
    path.write_bytes(os.urandom(5000))  # once ended in a _csv.Error traceback
    result = CliRunner().invoke(main, ["load", MONTH, "--file", str(path)])
    assert result.exit_code == 2 and isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output and "not a text (CSV) or Excel" in result.output
    assert result.output.splitlines()[0] == "1 problem found; nothing was stored." and len(result.output.splitlines()) == 2


def test_cli_refuses_the_same_file_under_a_second_vendor_name(app_env, tmp_path):
    path = tmp_path / "generic.csv"
    path.write_bytes(sources.sample_bytes("generic"))
    first = CliRunner().invoke(main, ["load", MONTH, "--file", str(path), "--vendor", "acme"])
    second = CliRunner().invoke(main, ["load", MONTH, "--file", str(path), "--vendor", "acme-cloud"])
    assert first.exit_code == 0 and second.exit_code == 2
    assert "already loaded for 2026-11 as vendor acme (version 1, generic.csv" in second.output
    assert [i["vendor"] for i in st.list_imports(Store.open(app_env), billing_month=MONTH)] == ["acme"]
