"""Vendor API settings come from a [pax8]/[sherweb] secrets section or the environment, exactly like
ConnectWise's; secrets never show; with no credentials, pulling uses the sandbox's emulator."""

from __future__ import annotations

from datetime import date

import json

import pytest

from billbridge import clock
from billbridge import store as st
from billbridge.errors import ConfigError
from billbridge.sandbox import VENDOR_CREDENTIALS
from billbridge.sources import pull, settings as vs
from billbridge.store import Store

#: the day these tests run on (the demo window 2026-08..2026-11; invoices dated the 4th)
SEED_TODAY = date(2026, 11, 22)

ENV = {"PAX8_CLIENT_ID": "cid-123", "PAX8_CLIENT_SECRET": "very-secret-value"}


def test_no_credentials_means_the_emulator():
    assert vs.load_vendor_settings("pax8", None, {}) is None
    assert vs.load_vendor_settings("sherweb", {}, {"SHERWEB_API_URL": "https://example.test"}) is None


def test_environment_settings_with_the_published_defaults():
    s = vs.load_vendor_settings("pax8", None, ENV)
    assert (s.api_url, s.client_id, s.source, s.audience) == ("https://api.pax8.com/v1", "cid-123", "environment",
                                                             "https://api.pax8.com")
    assert s.token_endpoint == "https://api.pax8.com/v1/token"
    sw = vs.load_vendor_settings("sherweb", None, {"SHERWEB_CLIENT_ID": "a", "SHERWEB_CLIENT_SECRET": "b" * 12,
                                                   "SHERWEB_SUBSCRIPTION_KEY": "k" * 16})
    assert sw.token_endpoint == "https://api.sherweb.com/auth/oidc/connect/token" and sw.scope == "distributor"


def test_the_secrets_section_wins_over_the_environment():
    s = vs.load_vendor_settings("pax8", {"client_id": "from-file", "client_secret": "file-secret-xyz",
                                         "api_url": "https://pax8.example/v1/"}, ENV)
    assert (s.client_id, s.api_url, s.source) == ("from-file", "https://pax8.example/v1", "secrets.toml")


def test_missing_values_are_named_with_where_to_set_them_never_a_value():
    with pytest.raises(ConfigError) as err:
        vs.load_vendor_settings("sherweb", None, {"SHERWEB_CLIENT_ID": "cid-visible", "SHERWEB_CLIENT_SECRET": "hush-hush-1"})
    text = str(err.value)
    assert "subscription_key (env SHERWEB_SUBSCRIPTION_KEY)" in text and "[sherweb]" in text
    assert "hush-hush-1" not in text


def test_the_settings_mask_their_secrets_everywhere():
    s = vs.load_vendor_settings("pax8", None, ENV)
    for text in (repr(s), str(s), json.dumps(vs.describe(s))):
        assert "very-secret-value" not in text
    assert vs.describe(s)["client_secret"] == "****alue"


def test_the_sandbox_credentials_are_published_constants():
    assert VENDOR_CREDENTIALS["pax8"]["client_id"] == "sandbox-pax8-client"
    assert VENDOR_CREDENTIALS["pax8"]["client_secret"] == "sandbox-pax8-secret"
    assert set(VENDOR_CREDENTIALS["sherweb"]) >= {"client_id", "client_secret", "subscription_key"}


def test_pulling_without_credentials_uses_the_shared_sandbox_emulator(app_env, monkeypatch):
    for var in ("PAX8_CLIENT_ID", "PAX8_CLIENT_SECRET", "PAX8_API_URL"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv(clock.ENV, SEED_TODAY.isoformat())
    cfg = vs.resolve("pax8")
    assert cfg.sandbox and cfg.api_url.endswith("/pax8/v1")
    marker = json.loads((app_env.parent / "sandbox.json").read_text())
    assert cfg.api_url.startswith(marker["base_url"])
    store = Store.open(app_env)
    # the emulator follows billbridge.clock.today() (pinned here): its newest invoice is this month's
    month = clock.current_month()
    result = pull(store, "pax8", month)
    assert result.status == "loaded"
    assert st.latest_import(store, "pax8", month)["line_count"] == result.parse.line_count
