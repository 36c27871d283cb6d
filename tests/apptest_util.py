"""Helpers for Streamlit AppTest tests: always start from app.py, then switch page (streamlit-notes.md)."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

ROOT = Path(__file__).resolve().parents[1]
APP = str(ROOT / "app.py")


def open_page(page: str, *, timeout: float = 30, secrets: dict | None = None, state: dict | None = None) -> AppTest:
    """Run app.py, then switch to ``pages/<page>`` and run it; returns the AppTest."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    for key, value in (secrets or {}).items():
        at.secrets[key] = value
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    assert not at.exception, at.exception
    at.switch_page(f"pages/{page}")
    at.run()
    return at


def page_files() -> list[str]:
    return sorted(p.name for p in (ROOT / "pages").glob("*.py"))
