"""The app and the CLI share one running sandbox per data folder, found through sandbox.json."""

from __future__ import annotations

import json

from billbridge.config import load_config
from billbridge.runtime import connect


def test_a_second_connection_reuses_the_running_sandbox_and_the_marker_holds_no_key(app_env):
    first = connect(load_config(None))
    second = connect(load_config(None))
    assert first.mode == second.mode == "sandbox"
    assert first.sandbox is not None and second.sandbox is None  # reused, not started again
    assert first.settings.site == second.settings.site
    marker = (app_env.parent / "sandbox.json").read_text()
    assert set(json.loads(marker)) == {"base_url", "company_id", "pid"}
    assert "sandbox-p" not in marker  # neither key
    assert second.client.get("/system/info")["version"]
