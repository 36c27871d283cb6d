"""Fixtures shared across the suite: an isolated data folder and environment for app and CLI tests."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

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
