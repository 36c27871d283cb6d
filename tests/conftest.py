"""Fixtures shared across the suite: an isolated data folder and environment for app and CLI tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

#: The suite runs as if today were this day (``BILLBRIDGE_TODAY``; subprocesses inherit it), so the
#: demo window is 2026-08..2026-11 whatever the machine's date and tests that name a demo month stay
#: true next month. Tests of other days set the variable themselves (tests/test_tour_any_day.py).
SUITE_TODAY = "2026-11-20"
os.environ["BILLBRIDGE_TODAY"] = SUITE_TODAY

ROOT = Path(__file__).resolve().parents[1]
CW_VARS = ("CW_SITE", "CW_COMPANY_ID", "CW_PUBLIC_KEY", "CW_PRIVATE_KEY", "CW_CLIENT_ID", "CW_CODEBASE", "CW_API_VERSION")


@pytest.fixture
def app_env(tmp_path, monkeypatch):
    """Sandbox mode with a fresh database and sandbox data in a temporary folder."""
    for var in CW_VARS:
        monkeypatch.delenv(var, raising=False)
    db = tmp_path / "data" / "billbridge.db"
    monkeypatch.setenv("BILLBRIDGE_DB", str(db))
    return db
