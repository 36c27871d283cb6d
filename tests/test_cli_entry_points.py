"""Every ``billbridge`` command through its real entry point (the installed console script, a child
process with its own BILLBRIDGE_DB and the embedded sandbox): the README tour on a day other than
the suite's, then bad input on every command, read as an operator would: one line ``Error: ...``
and exit 2 (3 for ConnectWise), never a traceback. ``billbridge sandbox`` is started on a free port,
answered over HTTP and stopped."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from conftest import CW_VARS

BIN = Path(sys.executable).with_name("billbridge")
DAY = "2027-03-01"  # a month start; the demo covers 2026-12 .. 2027-03
MONTH = DAY[:7]


def cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=timeout)


def ok(env: dict, *args: str) -> subprocess.CompletedProcess:
    res = cli(env, *args)
    assert res.returncode == 0, (args, res.stdout[-2000:], res.stderr[-2000:])
    assert "Traceback" not in res.stderr, res.stderr
    return res


def payload(res: subprocess.CompletedProcess):
    return json.loads(res.stdout[res.stdout.index("{"):])


@pytest.fixture(scope="module")
def env(tmp_path_factory) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in CW_VARS}
    data = tmp_path_factory.mktemp("cli") / "data"
    return {**base, "BILLBRIDGE_DB": str(data / "billbridge.db"), "BILLBRIDGE_TODAY": DAY,
            "BILLBRIDGE_OPERATOR": "ann"}


@pytest.fixture(scope="module")
def toured(env, tmp_path_factory):
    """The README tour, one command per process: load, map, reconcile, push, status, undo, export."""
    out: dict = {}
    files = tmp_path_factory.mktemp("files")
    assert "Loaded 41 lines" in ok(env, "load", MONTH, "--demo").stdout
    accepted = payload(ok(env, "map", "suggest", MONTH, "--accept-above", "95", "--json"))
    assert accepted["accepted"] == {"company": 22, "agreement": 18, "product": 8}
    ok(env, "map", "export", str(files / "maps.csv"))
    assert "Imported" in ok(env, "map", "import", str(files / "maps.csv")).stdout
    out["plan"] = payload(ok(env, "reconcile", MONTH, "--json"))
    assert payload(ok(env, "push", MONTH, "--all-ready", "--dry-run", "--json"))["writes"] == 0
    out["push"] = payload(ok(env, "push", MONTH, "--all-ready", "--json"))
    out["status"] = payload(ok(env, "status", MONTH, "--json"))
    out["undo_preview"] = payload(ok(env, "undo", str(out["push"]["run_id"]), "--dry-run", "--json"))
    out["undo"] = payload(ok(env, "undo", str(out["push"]["run_id"]), "--json"))
    out["undone_status"] = ok(env, "status", MONTH).stdout
    out["after_undo"] = payload(ok(env, "reconcile", MONTH, "--json"))
    out["export"] = ok(env, "export", MONTH, "--xlsx", str(files / "review.xlsx"), "--csv", str(files / "plan.csv"))
    out["files"] = files
    out["import"] = payload(ok(env, "import-agreements", "--all", "--json"))
    out["check"] = payload(ok(env, "check", "--json"))
    return out


def test_the_tour_runs_command_by_command_on_another_day(toured):
    plan, push = toured["plan"], toured["push"]
    assert plan["summary"]["status"] == "changes"
    assert push["status"] == "ok" and push["writes"] == len(
        [r for r in plan["rows"] if r["action"] in ("update", "create", "cancel")])
    assert {c["status"] for c in toured["status"]["companies"]} == {"green"}
    assert (toured["files"] / "review.xlsx").stat().st_size > 0 and "Wrote" in toured["export"].stdout
    assert toured["check"]["ok"] is True and toured["import"]["imported"]


def test_undo_through_the_cli_restores_the_month_and_the_status_says_undone(toured):
    rows = toured["undo_preview"]["rows"]
    assert {r["request"]["method"] for r in rows if r["request"]} == {"PATCH", "DELETE"}
    assert toured["undo"]["status"] == "ok"
    before, after = toured["plan"]["summary"], toured["after_undo"]["summary"]
    assert after["by_action"] == before["by_action"] and after["price_impact"] == before["price_impact"]
    text = toured["undone_status"]
    assert f"undone by run {toured['undo']['run_id']}" in text and "UNDONE" in text
    assert "OK " not in text.split("\n", 2)[2]  # no company of the month says it is synced


def test_imports_lists_the_ids_withdraw_takes_and_a_withdrawn_import_can_be_restored(toured, env):
    month = "2027-02"  # another month of the demo: the tour's month stays as it was
    assert "Loaded 37 lines" in ok(env, "load", month, "--demo").stdout
    listed = json.loads(ok(env, "imports", month, "--json").stdout)
    (imp,) = listed
    assert imp["in_effect"] and imp["vendor"] == "demo" and imp["line_count"] == 37
    text = ok(env, "withdraw", str(imp["id"]), "--reason", "loaded by mistake").stdout
    assert f"Withdrew import {imp['id']}" in text and f"{month} has no demo import in effect" in text
    assert "withdrawn" in ok(env, "imports", month).stdout and "loaded by mistake" in ok(env, "imports", month).stdout
    again = cli(env, "withdraw", str(imp["id"]), "--reason", "twice")
    assert again.returncode == 2 and "Traceback" not in again.stderr
    assert f"Restored import {imp['id']}" in ok(env, "withdraw", str(imp["id"]), "--reason", "it was right",
                                              "--restore").stdout
    assert "in effect" in ok(env, "imports", month).stdout


BAD = [
    # (args, exit code, words the one-line message must have)
    (["load", "2026-13", "--demo"], 2, "YYYY-MM"),
    (["load", "2025-01", "--demo"], 2, "no bill for 2025-01"),
    (["load", MONTH], 2, "--file"),
    (["load", MONTH, "--file", "/no/such/file.csv"], 2, "does not exist"),
    (["load", MONTH, "--file", "{file}", "--format", "nosuch"], 2, "unknown format 'nosuch'"),
    (["load", MONTH, "--demo", "--bogus"], 2, "No such option"),
    (["load", MONTH, "--file", "{xlsx}"], 2, "cannot be read as an Excel workbook"),
    (["map", "suggest", "2020-01"], 2, "No vendor month is loaded for 2020-01"),
    (["map", "suggest", "March"], 2, "YYYY-MM"),
    (["map", "import", "/no/such/maps.csv"], 2, "does not exist"),
    (["map", "import", "{file}"], 2, "required column is missing"),
    (["map", "import", "{xlsx}"], 2, "not a UTF-8 CSV"),
    (["reconcile", "2027-00"], 2, "YYYY-MM"),
    (["reconcile", "2020-01"], 2, "No vendor month is loaded for 2020-01"),
    (["push", "2020-01", "--all-ready"], 2, "No plan for 2020-01"),
    (["push", MONTH], 2, "--rows KEY"),
    (["push", MONTH, "--rows", "no|such|row"], 2, "Not in plan"),
    (["undo", "999"], 2, "no push run 999"),
    (["undo", "last"], 2, "not a valid integer"),
    (["status", "2027-3"], 2, "YYYY-MM"),
    (["export", "2020-01", "--xlsx", "{dir}/x.xlsx"], 2, "no plan for 2020-01"),
    (["export", MONTH], 2, "--xlsx"),
    (["import-agreements", "--since", "yesterday"], 2, "not an ISO date"),
    (["import-agreements", "--all", "--agreement", "3"], 2, "not both"),
    (["check", "--verbose"], 2, "No such option"),
    (["sandbox", "--port", "70000"], 2, "70000"),
    (["sandbox", "--fail", "(oops"], 2, "not a regular expression"),
    (["withdraw", "999", "--reason", "wrong file"], 2, "billbridge imports"),
    (["withdraw", "abc", "--reason", "wrong file"], 2, "not a valid integer"),
    (["withdraw", "1"], 2, "--reason"),
    (["imports", "2027-3"], 2, "YYYY-MM"),
    (["nosuchcommand"], 2, "No such command"),
]


@pytest.mark.parametrize("args, code, words", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_error_line_and_an_exit_code_never_a_traceback(toured, env, tmp_path, args, code, words):
    junk = tmp_path / "junk.csv"
    junk.write_text("this is not,a vendor file\n1,2\n")
    broken = tmp_path / "broken.xlsx"
    broken.write_bytes(bytes(range(256)) * 8)  # not a workbook, not UTF-8
    args = [a.format(file=junk, dir=tmp_path, xlsx=broken) for a in args]
    res = cli(env, *args)
    assert res.returncode == code, (args, res.stdout, res.stderr)
    assert "Traceback" not in res.stderr + res.stdout
    assert words in res.stderr, res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    if args[:2] in (["map", "import"], ["load", MONTH]) and "--file" in args and not res.stderr.startswith("Usage:"):
        return  # a file's problems: each on its own line (row, column, reason), nothing stored
    assert errors and words in " ".join(errors), res.stderr
    if not res.stderr.startswith("Usage:"):  # click's own usage errors print the usage line first
        assert len(errors) == 1 or args[:2] == ["map", "import"], res.stderr


def test_connectwise_refusing_the_keys_is_exit_3_with_one_line_and_no_secret(toured, env, tmp_path):
    from billbridge.sandbox import SandboxConfig, start_sandbox

    sb = start_sandbox(SandboxConfig(data_path=tmp_path / "sb.db"))
    try:
        site = {**env, "CW_SITE": sb.base_url, "CW_COMPANY_ID": "sandbox", "CW_PUBLIC_KEY": "sandbox-public",
                "CW_PRIVATE_KEY": "very-secret-key", "CW_CLIENT_ID": "t"}
        for args in (["check"], ["reconcile", MONTH, "--refresh"], ["import-agreements"]):
            res = cli(site, *args)
            assert res.returncode == 3, (args, res.stdout, res.stderr)
            assert "Traceback" not in res.stderr and "very-secret-key" not in res.stdout + res.stderr
            assert [line for line in res.stderr.splitlines() if line.startswith("Error:") and "(401)" in line]
    finally:
        sb.stop()


def test_billbridge_sandbox_starts_on_a_free_port_answers_over_http_and_stops(env, tmp_path):
    proc = subprocess.Popen([str(BIN), "sandbox", "--port", "0", "--data", str(tmp_path / "sb.db")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        first = proc.stdout.readline()
        assert first.startswith("ConnectWise sandbox listening on http://127.0.0.1:"), first + proc.stderr.read()
        url = first.split(" on ", 1)[1].split(" ", 1)[0]
        lines = [proc.stdout.readline() for _ in range(7)]
        assert any("demo vendor months: 2026-12 to 2027-03" in line for line in lines)
        assert any("readonly member ReadOnlyAPI: public key readonly-public" in line for line in lines)
        info = requests.get(f"{url}/login/companyinfo/sandbox", timeout=10)
        assert info.ok and info.json()["Codebase"] and info.headers["x-billbridge-demo-window"] == MONTH
        r = requests.get(f"{url}/v4_6_release/apis/3.0/system/info", auth=("sandbox+sandbox-public", "sandbox-private"),
                         headers={"clientId": "t"}, timeout=10)
        assert r.ok and r.json()["version"]
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0 and "Traceback" not in err, err
