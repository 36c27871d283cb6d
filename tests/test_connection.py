"""The Connection page and `billbridge check`: mode, masked keys, version and the permission check."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from apptest_util import open_page
from billbridge.cli import main
from billbridge.sandbox import CREDENTIALS, SandboxConfig, start_sandbox


@pytest.fixture(scope="module")
def external_sandbox(tmp_path_factory):
    sb = start_sandbox(SandboxConfig(port=0, data_path=tmp_path_factory.mktemp("cw") / "sandbox.db"))
    yield sb
    sb.stop()


def _all_text(at) -> str:
    parts = []
    for kind in ("markdown", "info", "success", "warning", "error", "metric", "caption", "title", "subheader"):
        for el in getattr(at, kind):
            parts.append(str(getattr(el, "value", "")) + str(getattr(el, "label", "")))
    for df in at.dataframe:
        parts.append(df.value.to_csv())
    return "\n".join(parts)


def test_connection_page_on_sandbox_grants_every_permission_and_masks_keys(app_env):
    at = open_page("connection.py")
    assert not at.exception
    assert any("every permission" in s.value for s in at.success)
    text = _all_text(at)
    assert "sandbox-private" not in text
    assert "sandbox-public" not in text
    creds = at.dataframe[0].value.set_index("setting")["value"]
    assert creds["Company"] == "sandbox"
    assert creds["Private key"] == "set, hidden"


def test_connection_page_names_each_permission_a_read_only_member_lacks(app_env, external_sandbox):
    ro = CREDENTIALS["readonly"]
    secrets = {"connectwise": {
        "site": external_sandbox.base_url,
        "company_id": external_sandbox.company_id,
        "public_key": ro["public_key"],
        "private_key": ro["private_key"],
        "client_id": "test-client",
    }}
    at = open_page("connection.py", secrets=secrets)
    assert not at.exception
    warning = " ".join(w.value for w in at.warning)
    assert "Agreements: Add" in warning and "Agreements: Edit" in warning
    assert "readonly-private" not in _all_text(at)


def test_cli_check_json_on_sandbox_reports_all_permissions_granted(app_env):
    result = CliRunner().invoke(main, ["check", "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["permissions"] and all(p["ok"] for p in report["permissions"])
    assert "sandbox-private" not in result.output


def test_cli_check_exits_3_on_wrong_keys_without_printing_them(app_env, external_sandbox, monkeypatch):
    monkeypatch.setenv("CW_SITE", external_sandbox.base_url)
    monkeypatch.setenv("CW_COMPANY_ID", "sandbox")
    monkeypatch.setenv("CW_PUBLIC_KEY", "sandbox-public")
    monkeypatch.setenv("CW_PRIVATE_KEY", "definitely-wrong-secret")
    monkeypatch.setenv("CW_CLIENT_ID", "test-client")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 3, result.output
    assert "definitely-wrong-secret" not in result.output
    assert "key" in result.output.lower()


def test_cli_check_is_a_usage_error_when_site_set_but_keys_missing(app_env, monkeypatch):
    monkeypatch.setenv("CW_SITE", "http://127.0.0.1:9")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 2
    assert "CW_PRIVATE_KEY" in result.output


# ---- issue 10: "could not check" is not "missing"; check's exit codes -------------------------------
def _env_for(monkeypatch, sb, member: str) -> None:
    cred = CREDENTIALS[member]
    for var, value in (("CW_SITE", sb.base_url), ("CW_COMPANY_ID", sb.company_id), ("CW_PUBLIC_KEY", cred["public_key"]),
                       ("CW_PRIVATE_KEY", cred["private_key"]), ("CW_CLIENT_ID", "test-client")):
        monkeypatch.setenv(var, value)


@pytest.fixture
def failing_catalog(external_sandbox):
    """The sandbox answers every catalog read with a plain 500 (fault injection)."""
    external_sandbox.set_faults(fail_requests=r"^GET .*/procurement/catalog")
    yield external_sandbox
    external_sandbox.set_faults(fail_requests="")


def test_a_probe_that_failed_is_could_not_check_with_why_not_missing(failing_catalog):
    from billbridge.connectwise import CWClient, CWSettings, check_connection

    full = CREDENTIALS["full"]
    client = CWClient(CWSettings(site=failing_catalog.base_url, company_id="sandbox", public_key=full["public_key"],
                                 private_key=full["private_key"], client_id="t", codebase=None, api_version="2025.1"))
    report = check_connection(client)
    catalog = next(p for p in report.permissions if p.area == "Catalog")
    assert catalog.state == "unknown" and not catalog.ok and catalog.label == "could not check"
    assert "server error (500)" in catalog.detail and "says nothing about the permission" in catalog.detail
    assert report.missing == [] and report.unchecked == [catalog]
    assert all(p.state == "granted" for p in report.permissions if p is not catalog)
    assert report.to_dict()["could_not_check"] == ["Product Catalog: Inquire"]


def test_connection_page_says_could_not_check_apart_from_missing(app_env, failing_catalog):
    full = CREDENTIALS["full"]
    secrets = {"connectwise": {"site": failing_catalog.base_url, "company_id": "sandbox", "public_key": full["public_key"],
                               "private_key": full["private_key"], "client_id": "test-client"}}
    at = open_page("connection.py", secrets=secrets)
    assert not at.exception
    warnings = [w.value for w in at.warning]
    assert len(warnings) == 1 and warnings[0].startswith("Could not check **Catalog: Product Catalog: Inquire**")
    assert "lacks" not in warnings[0] and not at.success
    states = at.dataframe[1].value.set_index("area")["state"]
    assert states["Catalog"] == "could not check" and states["Companies"] == "granted"


def test_cli_check_exits_1_naming_each_missing_permission_for_the_read_only_member(app_env, external_sandbox, monkeypatch):
    _env_for(monkeypatch, external_sandbox, "readonly")
    result = CliRunner().invoke(main, ["check"])
    assert result.exit_code == 1, result.output
    missing = [line.split("MISSING", 1)[1].split(" - ")[0].strip() for line in result.output.splitlines()
               if "MISSING" in line]
    assert set(missing) == {
        "Agreements: Agreements: Add", "Agreements: Agreements: Edit",
        "Agreement additions: Agreements: Add", "Agreement additions: Agreements: Edit",
        "Agreement additions: Agreements: Delete"}
    assert "readonly-private" not in result.output


def test_cli_check_exits_3_when_a_permission_could_not_be_checked(app_env, failing_catalog, monkeypatch):
    _env_for(monkeypatch, failing_catalog, "full")
    result = CliRunner().invoke(main, ["check", "--json"])
    assert result.exit_code == 3, result.output
    report = json.loads(result.output)
    assert report["missing"] == [] and report["could_not_check"] == ["Product Catalog: Inquire"]


def test_connectwise_unreachable_is_a_connection_error_in_the_report_not_a_missing_permission():
    import socket

    from billbridge.connectwise import CWClient, CWSettings, check_connection

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    client = CWClient(CWSettings(site=f"http://127.0.0.1:{port}", company_id="x", public_key="p", private_key="k",
                                 client_id="t", codebase=None, api_version="2025.1"), max_retries=0)
    report = check_connection(client)
    assert report.error_kind == "connection" and "refused" in report.error
    assert report.permissions == [] and report.missing == []
