"""Streamlit-side helpers shared by ``app.py`` and the pages (the only package that imports streamlit).

Pages stay thin: they read widgets, call :mod:`billbridge`, and render. This package holds the few
things every page needs: configuration from ``st.secrets`` or the environment, the cached
ConnectWise connection, the database handle, the shared billing month and error display.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import streamlit as st

from billbridge.config import AppConfig, ConfigError, load_config

MONTH_KEY = "billing_month"
SHELL_KEY = "_billbridge_shell"


def _secrets_section() -> dict[str, Any] | None:
    """The ``[connectwise]`` section of secrets.toml, or ``None`` when there is no secrets file."""
    try:
        if "connectwise" in st.secrets:
            return dict(st.secrets["connectwise"])
    except Exception:  # no secrets.toml at all: st.secrets raises (streamlit-notes.md)
        return None
    return None


def config() -> AppConfig:
    """The resolved configuration; a configuration error is shown and stops the page.

    Every page calls this first. On a freshly started server, a page URL opened directly can run
    before any session has run ``app.py`` (Streamlit then falls back to its ``pages/`` folder
    discovery, with no sidebar badge or month picker); such a run is sent through ``app.py``.
    """
    if not st.session_state.get(SHELL_KEY):
        st.switch_page("app.py")
    try:
        return load_config(_secrets_section())
    except ConfigError as exc:
        st.error(f"ConnectWise is not fully configured. {exc}")
        st.stop()
        raise  # unreachable; st.stop raises


@st.cache_resource(show_spinner="Connecting to ConnectWise…")
def _connection(cw_key: tuple | None, data_dir: str):
    from billbridge.runtime import connect

    cfg = config()
    assert str(cfg.data_dir) == data_dir
    return connect(cfg)


def connection():
    """The shared :class:`billbridge.runtime.Connection` (one per configuration per server process)."""
    cfg = config()
    key = None
    if cfg.cw is not None:
        # identify the configuration without keeping the private key in the cache key
        key = (cfg.cw.site, cfg.cw.company_id, cfg.cw.public_key, cfg.cw.codebase, cfg.cw.api_version)
    return _connection(key, str(cfg.data_dir))


def store():
    """A fresh :class:`billbridge.store.Store` for this script run (SQLite handles are per thread)."""
    from billbridge.store import Store

    s = Store.open(config().db_path)
    return s


def billing_month() -> str:
    """The billing month chosen in the sidebar (``YYYY-MM``)."""
    if MONTH_KEY not in st.session_state:
        st.session_state[MONTH_KEY] = date.today().strftime("%Y-%m")
    return st.session_state[MONTH_KEY]


def month_options(around: str, known: list[str] | None = None, back: int = 12, ahead: int = 2) -> list[str]:
    """Months offered in the picker: recent months around ``around`` plus any with data."""
    from billbridge.bdom import add_months

    out = set(known or []) | {add_months(around, delta) for delta in range(-back, ahead + 1)}
    return sorted(out, reverse=True)


def show_cw_error(exc: Exception, *, what: str = "ConnectWise") -> None:
    """Show a ConnectWise failure in plain words with the fix (never any secret)."""
    from billbridge.connectwise import explain

    st.error(f"{what} failed: {explain(exc)}")


def flash(message: str, kind: str = "success") -> None:
    """Remember a confirmation to show after ``st.rerun()`` (anything drawn before a rerun is lost)."""
    st.session_state.setdefault("_flash", []).append((kind, message))


def show_flash() -> None:
    for kind, message in st.session_state.pop("_flash", []):
        getattr(st, kind)(message)


def money(value: Any) -> str:
    """``$1,234.50`` / ``-$12.00`` for Decimals, ints or floats (display only)."""
    from billbridge.money import format_money

    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ""
    return format_money(value)
