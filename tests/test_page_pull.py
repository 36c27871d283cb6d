"""Load month › Pull from vendor (AppTest): pull the month from a vendor API with a progress bar,
shown like a file load (message, the draft -> final diff, history); credentials from the vendor's
secrets section or the environment, never shown; failures in plain words with the fix."""

from __future__ import annotations

import pytest

from apptest_util import open_page
from billbridge import store as st
from billbridge.sandbox import PAX8_CREDENTIALS, SandboxConfig, start_sandbox
from billbridge.sources.http import forget_tokens
from billbridge.store import Store

MONTH = "2026-11"  # the suite's today is 2026-11-20: Pax8's invoice of the 4th exists, draft items too
VENDOR_VARS = ("PAX8_CLIENT_ID", "PAX8_CLIENT_SECRET", "PAX8_API_URL", "PAX8_TOKEN_URL", "SHERWEB_CLIENT_ID",
               "SHERWEB_CLIENT_SECRET", "SHERWEB_SUBSCRIPTION_KEY", "SHERWEB_API_URL")


@pytest.fixture(autouse=True)
def no_vendor_env(monkeypatch):
    for var in VENDOR_VARS:
        monkeypatch.delenv(var, raising=False)
    forget_tokens()


def plain(text) -> str:
    """What a person reads: Markdown escapes removed."""
    return str(text).replace("\\", "")


def said(at, kind: str) -> list[str]:
    return [plain(e.value) for e in getattr(at, kind)]


def texts(at) -> str:
    return "\n".join(t for kind in ("success", "info", "warning", "error", "caption", "markdown") for t in said(at, kind))


def pull(at, vendor: str = "pax8", draft: bool = False):
    at.selectbox(key="pull_vendor").select(vendor).run()
    if draft != at.toggle(key="pull_draft").value:
        at.toggle(key="pull_draft").set_value(draft).run()
    at.button(key="pull_go").click().run()
    assert not at.exception, at.exception
    return at


def test_pulling_with_nothing_configured_stores_the_emulators_bill_and_says_so(app_env):
    at = open_page("load_month.py", state={"billing_month": MONTH})
    assert at.selectbox(key="pull_vendor").options == ["Pax8", "Sherweb"]  # the registry's vendor APIs
    assert at.button(key="pull_go").label == f"Pull {MONTH}"
    pull(at)
    assert any("Loaded 41 lines for 25 customers (version 1, import " in s for s in said(at, "success"))
    assert any("refunds a charge that is not in this pull" in w for w in said(at, "warning"))
    imports = st.list_imports(Store.open(app_env), billing_month=MONTH)
    assert [(i["vendor"], i["format"]) for i in imports] == [("pax8", "pax8")]
    pull(at)  # the same bill again: nothing changes
    assert any("identical to version 1" in i for i in said(at, "info"))


def test_the_pulled_month_reconciles_on_the_page_with_every_action(app_env):
    """Pulled from the page, the suggestions accepted (what Mappings' bulk accept does): Reconcile shows rows
    in sync, to update, to create, to end and blocked against the ConnectWise sandbox."""
    from billbridge import month as mo
    from billbridge.config import load_config
    from billbridge.mappings import accept
    from billbridge.model import ACTION_LABELS
    from billbridge.runtime import connect

    pull(open_page("load_month.py", state={"billing_month": MONTH}))
    with Store.open(app_env) as store:
        client = connect(load_config(None)).client
        mo.refresh_snapshot(store, client, MONTH)
        assert accept(store, MONTH, mo.snapshot_for(store, MONTH))["agreement"] == 15
        mo.refresh_snapshot(store, client, MONTH)
        mo.build_plan(store, MONTH)
    at = open_page("reconcile.py", timeout=60, state={"billing_month": MONTH})
    assert not at.exception, at.exception
    counts = {act: int(next(m.value for m in at.metric if m.label.endswith(ACTION_LABELS[act])))
              for act in ("in_sync", "update", "create", "cancel", "blocked")}
    assert all(counts.values()), counts
    assert sum(counts.values()) == 42  # 41 vendor rows and the line Pax8 stopped billing


def test_a_draft_then_the_final_bill_shows_what_changed_from_the_draft(app_env):
    at = open_page("load_month.py", state={"billing_month": MONTH})
    pull(at, draft=True)
    assert any("(version 1, import " in s for s in said(at, "success"))
    pull(at, draft=False)
    assert any("(version 2, import " in s for s in said(at, "success"))
    assert "What changed from the draft (version 1) to the bill (version 2)" in texts(at)
    added = next(m for m in at.metric if m.label == "Lines added")
    assert int(added.value) >= 2  # usage is billed in arrears: on the invoice, never on a draft
    pull(at, draft=True)  # a draft after the final bill would replace it: refused, in words
    assert any("the final Pax8 bill for 2026-11 is already loaded" in e and "Nothing was stored" in e
               for e in said(at, "error"))


def test_an_open_sherweb_period_says_to_pull_a_draft(app_env):
    at = open_page("load_month.py", state={"billing_month": MONTH})
    pull(at, vendor="sherweb")
    assert any("Sherweb has not billed 2026-11 yet" in e for e in said(at, "error"))
    assert st.list_imports(Store.open(app_env), billing_month=MONTH) == []


@pytest.fixture(scope="module")
def sb():
    box = start_sandbox(SandboxConfig())
    yield box
    box.stop()


def test_credentials_from_the_secrets_section_are_used_and_never_shown(app_env, sb):
    pax8 = {"api_url": f"{sb.base_url}/pax8/v1", "client_id": PAX8_CREDENTIALS["client_id"],
            "client_secret": PAX8_CREDENTIALS["client_secret"]}
    at = open_page("load_month.py", state={"billing_month": MONTH}, secrets={"pax8": pax8})
    pull(at)
    assert any("Loaded 41 lines" in s for s in said(at, "success"))
    at2 = open_page("load_month.py", state={"billing_month": MONTH},
                    secrets={"pax8": {**pax8, "client_secret": "wrong-s3cret"}})
    forget_tokens()
    pull(at2)  # unchanged bill, but the vendor refuses the secret first
    errors = said(at2, "error")
    assert any("Pax8 refused the credentials" in e and "PAX8_CLIENT_ID and PAX8_CLIENT_SECRET" in e
               and "[pax8] section of .streamlit/secrets.toml" in e for e in errors), errors
    assert "wrong-s3cret" not in texts(at2) and PAX8_CREDENTIALS["client_secret"] not in texts(at)
    assert any(f"as client {PAX8_CREDENTIALS['client_id']}" in c for c in said(at2, "caption"))


def test_half_set_credentials_name_what_is_missing(app_env):
    at = open_page("load_month.py", state={"billing_month": MONTH}, secrets={"pax8": {"client_id": "only-the-id"}})
    pull(at)
    assert any("Pax8 is not fully configured" in e and "PAX8_CLIENT_SECRET" in e for e in said(at, "error"))
    assert st.list_imports(Store.open(app_env), billing_month=MONTH) == []


def test_an_unreachable_api_is_explained_with_the_setting_to_check():
    from billbridge.sources.http import VendorConnectionError
    from billbridge.sources.settings import VendorSettings
    from billbridge_ui import loading

    exc = VendorConnectionError("could not connect to api.example:443 (connection refused or host unknown)",
                                vendor="Pax8", method="POST", path="/v1/token", retries=5)
    settings = VendorSettings(vendor="pax8", api_url="https://api.example/v1", client_id="c", client_secret="s3cret")
    text = loading.pull_error_text(exc, "pax8", settings)
    assert text.startswith("billbridge could not reach Pax8") and "Nothing was stored" in text
    assert "Fix: check PAX8_API_URL (https://api.example/v1) and the network" in text
    assert "s3cret" not in text
