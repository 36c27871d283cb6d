"""Small helpers for the browser tests."""

from __future__ import annotations

from pathlib import Path

SHOTS = Path(__file__).resolve().parent / "screenshots"


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script for the last interaction."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def screenshot(page, name: str) -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
