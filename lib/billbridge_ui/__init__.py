"""Streamlit-side helpers shared by ``app.py`` and the pages (the only package that imports streamlit).

Pages stay thin: they read widgets, call :mod:`billbridge`, and render. This package holds the few
things every page needs: configuration from ``st.secrets`` or the environment, the cached
ConnectWise connection, the database handle, the shared billing month and error display.
"""

from __future__ import annotations

from typing import Any

import streamlit as st

from billbridge import clock
from billbridge.config import AppConfig, ConfigError, load_config
from billbridge.errors import InputError

MONTH_KEY = "billing_month"
#: the URL query parameter holding the billing month (``?month=2026-11``): shareable, survives a refresh
MONTH_PARAM = "month"
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
        st.switch_page("app.py", query_params=st.query_params.to_dict())
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
    """The billing month every page works on (``YYYY-MM``): chosen in the sidebar; a new session
    (a shared link, a browser refresh) starts on the URL's ``?month=`` when it is a billing month,
    else on the current month (:func:`billbridge.clock.current_month`)."""
    if MONTH_KEY not in st.session_state:
        st.session_state[MONTH_KEY] = _month_from_url() or clock.current_month()
    return st.session_state[MONTH_KEY]


def _month_from_url() -> str | None:
    from billbridge.bdom import parse_billing_month

    value = st.query_params.get(MONTH_PARAM)
    if not value:
        return None
    try:
        year, month = parse_billing_month(value)
    except InputError:
        st.session_state["_bad_month_param"] = value
        return None
    return f"{year:04d}-{month:02d}"


def set_billing_month(month: str) -> None:
    """Make ``month`` the billing month of this session and of the URL (the sidebar's on_change)."""
    st.session_state[MONTH_KEY] = month
    keep_month_in_url()


def keep_month_in_url() -> None:
    """Write the billing month into the URL (``?month=``) unless it is there already: a page switch
    drops query parameters, so the shell calls this on every run. Says so once when the link's
    month could not be read."""
    month = billing_month()
    if st.query_params.get(MONTH_PARAM) != month:
        st.query_params[MONTH_PARAM] = month
    bad = st.session_state.pop("_bad_month_param", None)
    if bad is not None:
        st.toast(f"The link's month {bad!r} is not a billing month (YYYY-MM); showing {month}.",
                 icon=":material/warning:")


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
