"""Small helpers for the browser tests."""

from __future__ import annotations

from pathlib import Path

SHOTS = Path(__file__).resolve().parent / "screenshots"

_CONTENT_HEIGHT = """() => Math.max(...["[data-testid='stMain']", "[data-testid='stMainBlockContainer']",
    "[data-testid='stAppViewContainer']"].map(s => document.querySelector(s)).filter(Boolean).map(e => e.scrollHeight))"""


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit has finished running the script for the last interaction."""
    page.wait_for_selector("[data-testid='stApp'][data-test-script-state='notRunning']", timeout=timeout)


def screenshot(page, name: str, *, whole: bool = True) -> Path:
    """Save ``screenshots/<name>.png``. Streamlit scrolls inside its main area, so a "full page"
    screenshot is only the window: with ``whole`` the window is made as tall as the page's content
    for the shot (same width, so the layout is the one the operator sees), then put back."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    path = SHOTS / f"{name}.png"
    size = page.viewport_size
    tall = int(page.evaluate(_CONTENT_HEIGHT) or 0) if whole and size else 0
    if size and tall > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(tall + 40, 12_000)})
        page.wait_for_timeout(400)  # let the charts settle at the new height
        page.screenshot(path=str(path), full_page=True)
        page.set_viewport_size(size)
    else:
        page.screenshot(path=str(path), full_page=True)
    return path
