"""`billbridge import-agreements` against the sandbox: the second run imports only what changed."""

from __future__ import annotations

import json

from click.testing import CliRunner

from billbridge.cli import main
from billbridge.config import load_config
from billbridge.runtime import connect


def run(*args):
    result = CliRunner().invoke(main, ["import-agreements", *args])
    return result


def test_import_agreements_twice_imports_only_what_changed_in_between(app_env):
    first = run("--all", "--json")
    assert first.exit_code == 0, first.output
    out1 = json.loads(first.output)
    assert out1["fetched"]["full"] is True
    assert out1["imported"]["count"] > 100  # every agreement and addition of the seed

    again = run("--all", "--json")
    out2 = json.loads(again.output)
    assert again.exit_code == 0 and out2["imported"]["count"] == 0

    conn = connect(load_config(None))  # the same sandbox the CLI uses (data dir from BILLBRIDGE_DB)
    addition = conn.client.list("/finance/agreements/2/additions")[0]
    conn.client.patch_fields(f"/finance/agreements/2/additions/{addition['id']}", {"quantity": 77})

    third = run("--all", "--json")
    out3 = json.loads(third.output)
    assert third.exit_code == 0, third.output
    assert out3["imported"]["addition_ids"] == [addition["id"]]
    assert out3["imported"]["agreement_ids"] == []
    assert out3["fetched"]["additions"] <= 2  # only the changed addition (and the bookmark's own second)


def test_import_agreements_without_selection_lists_pending_and_imports_nothing(app_env):
    result = run()
    assert result.exit_code == 0, result.output
    assert "Nothing imported" in result.output
    assert json.loads(run("--agreement", "2", "--json").output)["imported"]["agreement_ids"] == [2]


def test_import_agreements_refuses_all_with_agreement_and_bad_since(app_env):
    assert run("--all", "--agreement", "3").exit_code == 2
    assert run("--since", "yesterday").exit_code == 2
