"""``billbridge pull VENDOR MONTH`` through its real entry point (a child process with its own
BILLBRIDGE_DB): with nothing configured it pulls the sandbox's Pax8 emulator, the month maps and
reconciles like a file load; bad input is one line ``Error: ...`` and exit 2, a vendor API that
refuses the credentials or cannot be reached exit 3, never a traceback or a secret.
``billbridge sandbox`` prints every vendor emulator's URL and credentials, and a pull configured
with them (environment variables) reads that emulator."""

from __future__ import annotations

import functools
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from conftest import CW_VARS

BIN = Path(sys.executable).with_name("billbridge")
MONTH = os.environ["BILLBRIDGE_TODAY"][:7]  # the suite's today (conftest); Pax8 invoices this month on the 4th
VENDOR_VARS = ("PAX8_CLIENT_ID", "PAX8_CLIENT_SECRET", "PAX8_API_URL", "PAX8_TOKEN_URL", "SHERWEB_CLIENT_ID",
               "SHERWEB_CLIENT_SECRET", "SHERWEB_SUBSCRIPTION_KEY", "SHERWEB_API_URL", "SHERWEB_TOKEN_URL")


def cli(env: dict, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(BIN), *args], env=env, capture_output=True, text=True, timeout=timeout)


def payload(res: subprocess.CompletedProcess):
    return json.loads(res.stdout[res.stdout.index("{"):])


def clean_env(tmp: Path) -> dict:
    base = {k: v for k, v in os.environ.items() if k not in CW_VARS + VENDOR_VARS}
    return {**base, "BILLBRIDGE_DB": str(tmp / "data" / "billbridge.db"), "BILLBRIDGE_OPERATOR": "ann"}


@pytest.fixture(scope="module")
def pulled(tmp_path_factory):
    """Nothing configured: pull Pax8's month, accept the confident mappings, reconcile."""
    env = clean_env(tmp_path_factory.mktemp("pull"))
    out = {"env": env}
    out["pull"] = cli(env, "pull", "pax8", MONTH)
    out["again"] = payload(cli(env, "pull", "pax8", MONTH, "--json"))
    out["suggest"] = payload(cli(env, "map", "suggest", MONTH, "--accept-above", "90", "--json"))
    out["reconcile"] = payload(cli(env, "reconcile", MONTH, "--json"))
    out["reconcile_text"] = cli(env, "reconcile", MONTH)
    return out


def test_with_nothing_configured_pull_loads_the_pax8_emulators_bill_like_a_file(pulled):
    res = pulled["pull"]
    assert res.returncode == 0, res.stderr
    assert "Loaded 41 lines for 25 customers (version 1, import " in res.stdout
    assert "Fetched 1 of 1 pages of Pax8 invoices" in res.stderr  # progress goes to stderr
    assert "Warning: 1 credit item refunds a charge that is not in this pull" in res.stderr
    again = pulled["again"]
    assert again["status"] == "unchanged" and again["vendor"] == "pax8" and again["format"] == "pax8"


def test_the_pulled_month_maps_once_per_customer_and_reconciles_every_vendor_dollar(pulled):
    accepted = pulled["suggest"]["accepted"]
    # the Pax8 externalId is the ConnectWise account number for the customers that have one; the synced
    # customers' "Pax8 Services" agreements are named after the vendor (the sandbox seeds them)
    assert accepted["company"] >= 22 and accepted["product"] == 8 and accepted["agreement"] == 15
    companies = pulled["suggest"]["suggestions"]["companies"]
    assert {c["vendor_customer_name"] for c in companies} >= {"Redwood Senior Living"}  # a prospect: by hand
    plan = pulled["reconcile"]
    s, rows = plan["summary"], plan["rows"]
    assert s["lines_checked"] == 41 and s["conserved"]
    assert s["lines_reconciled"] + s["lines_blocked"] + s["lines_excluded"] == 41
    assert list(s["by_currency"]) == ["USD"]
    assert s["by_currency"]["USD"]["dollars_checked"] == s["dollars_checked"] == "8801.65"


def test_with_nothing_configured_the_pulled_month_has_every_action_against_the_sandbox(pulled):
    rows = pulled["reconcile"]["rows"]
    actions = {r["action"] for r in rows}
    assert actions == {"in_sync", "update", "create", "cancel", "blocked"}
    by = {(r["vendor_customer_name"], r["sku"], r["action"]) for r in rows}
    assert ("Acme Dental Group", "EXCH-MBX", "in_sync") in by  # 15 seats last month and this
    assert ("Acme Dental Group", "HPBX-SEAT", "update") in by  # 12 -> 14
    assert ("Xenon Labs", "PHONE-SETUP", "create") in by  # a one-time charge of this month
    ended = next(r for r in rows if r["action"] == "cancel")
    assert ended["agreement_name"] == "Pax8 Services" and ended["vendor_customer_name"] == "Lakeside Pediatrics"
    # still blocked: the customers without a Pax8 agreement, the prospect, the SKU without a catalog item
    assert {r["cause"] for r in rows if r["action"] == "blocked"} == {"no_agreement", "unmapped_customer",
                                                                      "unmapped_product"}
    text = pulled["reconcile_text"].stdout
    assert "has no Pax8 agreement mapped" in text and "vendor lines 41 ($8,801.65)" in text
    assert "on Pax8 Services differs from the vendor: quantity 12 -> 14." in text


BAD = [
    (["pull", "intermedia", MONTH], 2, "'intermedia' is not a vendor API; use one of pax8, sherweb"),
    (["pull", "pax8", "2026-13"], 2, "YYYY-MM"),
    (["pull", "pax8"], 2, "Missing argument 'MONTH'"),
    (["pull", "pax8", MONTH, "--draft"], 2, "the final Pax8 bill for " + MONTH + " is already loaded"),
    (["pull", "sherweb", MONTH], 2, "Sherweb has not billed " + MONTH + " yet"),
    (["pull", "pax8", MONTH, "--bogus"], 2, "No such option"),
]


@pytest.mark.parametrize("args, code, words", BAD, ids=[" ".join(a) for a, _, _ in BAD])
def test_bad_input_is_one_error_line_and_exit_2(pulled, args, code, words):
    res = cli(pulled["env"], *args)
    assert res.returncode == code, (res.stdout, res.stderr)
    assert "Traceback" not in res.stdout + res.stderr
    errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and words in errors[0], res.stderr


def test_half_configured_credentials_name_what_is_missing_and_never_a_value(tmp_path):
    env = {**clean_env(tmp_path), "PAX8_CLIENT_ID": "my-client"}
    res = cli(env, "pull", "pax8", MONTH)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert "client_secret (env PAX8_CLIENT_SECRET)" in res.stderr and "my-client" not in res.stderr


def sandbox_lines(env: dict, tmp: Path):
    proc = subprocess.Popen([str(BIN), "sandbox", "--port", "0", "--data", str(tmp / "sb.db")], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    while not lines or not lines[-1].startswith("Press Ctrl+C"):
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        lines.append(line.rstrip("\n"))
    return proc, lines


def _vars(line: str) -> dict[str, str]:
    return dict(part.split("=", 1) for part in line.split(": ", 1)[1].split(" "))


def test_sandbox_prints_each_vendor_emulator_and_a_pull_configured_with_it_reads_it(tmp_path):
    env = clean_env(tmp_path)
    proc, lines = sandbox_lines(env, tmp_path)
    try:
        url = lines[0].split(" on ", 1)[1].split(" ", 1)[0]
        pax8 = next(line for line in lines if line.startswith("  Pax8 emulator: "))
        sherweb = next(line for line in lines if line.startswith("  Sherweb emulator: "))
        assert _vars(pax8) == {"PAX8_API_URL": f"{url}/pax8/v1", "PAX8_CLIENT_ID": "sandbox-pax8-client",
                               "PAX8_CLIENT_SECRET": "sandbox-pax8-secret"}
        assert _vars(sherweb)["SHERWEB_SUBSCRIPTION_KEY"] == "sandbox-sherweb-subscription-key"
        assert _vars(sherweb)["SHERWEB_API_URL"] == f"{url}/sherweb"
        configured = {**env, **_vars(pax8)}
        res = cli(configured, "pull", "pax8", MONTH, "--json")
        assert res.returncode == 0, res.stderr
        assert payload(res)["status"] == "loaded" and payload(res)["line_count"] == 41
        # the same emulator refusing a wrong secret: exit 3, one line, the secret never shown
        wrong = {**configured, "PAX8_CLIENT_SECRET": "not-the-secret-4711"}
        res = cli(wrong, "pull", "pax8", "2026-10")
        assert res.returncode == 3 and "Traceback" not in res.stderr
        errors = [line for line in res.stderr.splitlines() if line.startswith("Error:")]
        assert len(errors) == 1 and "answered 401" in errors[0] and "credentials were refused" in errors[0]
        assert "not-the-secret-4711" not in res.stdout + res.stderr
    finally:
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)


def test_an_unreachable_vendor_api_is_exit_3_after_the_retries(tmp_path, monkeypatch):
    """In process (the retries' back-off shortened, as the Pax8 tests do), the same command."""
    from billbridge import sources
    from billbridge.cli import main

    for var in CW_VARS + VENDOR_VARS:
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("BILLBRIDGE_DB", str(tmp_path / "b.db"))
    monkeypatch.setattr(sources, "pull", functools.partial(sources.pull, backoff_factor=0.01, backoff_max=0.02))
    env = {"PAX8_CLIENT_ID": "c", "PAX8_CLIENT_SECRET": "s3cret-value", "PAX8_API_URL": "http://127.0.0.1:9/v1"}
    res = CliRunner().invoke(main, ["pull", "pax8", MONTH], env=env)
    assert res.exit_code == 3, res.output
    assert "could not connect to 127.0.0.1:9" in res.output and "s3cret-value" not in res.output
    assert res.output.count("Error:") == 1
