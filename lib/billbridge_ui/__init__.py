"""Streamlit-side helpers shared by ``app.py`` and the pages (the only package that imports streamlit).

Pages stay thin: they read widgets, call :mod:`billbridge`, and render. This package holds the few
things every page needs: configuration from ``st.secrets`` or the environment (ConnectWise's and
the vendor APIs', :func:`secrets_section`), the cached ConnectWise connection, the database handle,
the shared billing month and vendor, money in its currency, and error display.

**The vendor filter** lives in the sidebar next to the billing month (:func:`vendor_picker`), not on
each page: the month review, Reconcile, Mappings, Timeline and Sync status then all show the same
vendor (or all of them) without the operator setting it five times, it survives page switches and a
refresh (``?vendor=`` in the URL, like ``?month=``), and a month without that vendor simply shows
all of its vendors (the choice comes back in a month that has it).
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
#: the vendor every page narrows to (None: all the month's vendors) and its URL parameter (``?vendor=pax8``)
VENDOR_KEY = "vendor_filter"
VENDOR_PARAM = "vendor"
ALL_VENDORS = "All vendors"
SHELL_KEY = "_billbridge_shell"
#: the page a link opened before the shell ran (``?open=month_review``): the shell opens it (see :func:`config`)
OPEN_PARAM = "open"


def secrets_section(name: str) -> dict[str, Any] | None:
    """A section of secrets.toml (``connectwise``, ``pax8``, ``sherweb``) as a plain dict, or
    ``None`` when there is no secrets file or no such section; the library falls back to the
    environment. Never shown on a page."""
    try:
        if name in st.secrets:
            return dict(st.secrets[name])
    except Exception:  # no secrets.toml at all: st.secrets raises (streamlit-notes.md)
        return None
    return None


def _secrets_section() -> dict[str, Any] | None:
    """The ``[connectwise]`` section of secrets.toml, or ``None`` when there is no secrets file."""
    return secrets_section("connectwise")


def config() -> AppConfig:
    """The resolved configuration; a configuration error is shown and stops the page.

    Every page calls this first. On a freshly started server, a page URL opened directly can run
    before any session has run ``app.py`` (Streamlit then falls back to its ``pages/`` folder
    discovery, with no sidebar badge or month picker); such a run is sent through ``app.py``.
    """
    if not st.session_state.get(SHELL_KEY):
        params = st.query_params.to_dict()
        page = _url_page()
        if page:
            params[OPEN_PARAM] = page  # the shell sends the link on to its page (a bookmark, a shared link)
        st.switch_page("app.py", query_params=params)
    try:
        return load_config(_secrets_section())
    except ConfigError as exc:
        st.error(f"ConnectWise is not fully configured. {exc}")
        st.stop()
        raise  # unreachable; st.stop raises


def _url_page() -> str | None:
    """The page name of the address this run was opened with (``/month_review?month=...`` -> ``month_review``)."""
    from urllib.parse import urlparse

    try:
        path = urlparse(st.context.url or "").path
    except Exception:  # noqa: BLE001 - no browser behind this run (AppTest, bare mode)
        return None
    name = path.rstrip("/").rsplit("/", 1)[-1]
    return name or None


def linked_page(pages: dict[str, list]) -> Any | None:
    """The page of ``pages`` (st.navigation's sections) a link asked for before the shell ran (``?open=``),
    taken out of the address; None when there is none (or it names no page)."""
    name = st.query_params.get(OPEN_PARAM)
    if not name:
        return None
    del st.query_params[OPEN_PARAM]
    return next((p for section in pages.values() for p in section if p.url_path == name), None)


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
    """Write the billing month (and the vendor filter, when one is chosen) into the URL (``?month=``,
    ``?vendor=``) unless it is there already: a page switch drops query parameters, so the shell
    calls this on every run. Says so once when the link's month could not be read."""
    month = billing_month()
    if st.query_params.get(MONTH_PARAM) != month:
        st.query_params[MONTH_PARAM] = month
    chosen = st.session_state.get(VENDOR_KEY)
    if chosen and st.query_params.get(VENDOR_PARAM) != chosen:
        st.query_params[VENDOR_PARAM] = chosen
    elif not chosen and VENDOR_PARAM in st.query_params:
        del st.query_params[VENDOR_PARAM]
    bad = st.session_state.pop("_bad_month_param", None)
    if bad is not None:
        st.toast(f"The link's month {bad!r} is not a billing month (YYYY-MM); showing {month}.",
                 icon=":material/warning:")


def month_options(around: str, known: list[str] | None = None, back: int = 12, ahead: int = 2) -> list[str]:
    """Months offered in the picker: recent months around ``around`` plus any with data."""
    from billbridge.bdom import add_months

    out = set(known or []) | {add_months(around, delta) for delta in range(-back, ahead + 1)}
    return sorted(out, reverse=True)


def month_vendors(month: str) -> list[str]:
    """The vendors whose imports make up ``month`` (in effect, not withdrawn), by name."""
    from billbridge import store as bst

    with store() as s:
        return [imp["vendor"] for imp in bst.month_imports(s, month)]


def vendor_filter(month: str | None = None) -> str | None:
    """The vendor the pages narrow to (None: every vendor of the month). A new session starts from
    the URL's ``?vendor=``; with ``month``, a vendor that has nothing in that month reads as None."""
    if VENDOR_KEY not in st.session_state:
        st.session_state[VENDOR_KEY] = st.query_params.get(VENDOR_PARAM) or None
    chosen = st.session_state[VENDOR_KEY]
    if chosen and month is not None and chosen not in month_vendors(month):
        return None
    return chosen


def set_vendor_filter(vendor: str | None) -> None:
    st.session_state[VENDOR_KEY] = vendor or None
    keep_month_in_url()


def vendor_label(vendor: str | None) -> str:
    """A vendor as a person reads it (``Demo Cloud``, ``Pax8``); ``All vendors`` for None or ''."""
    from billbridge.vendors import vendor_name

    return vendor_name(vendor) if vendor and vendor != ALL_VENDORS else ALL_VENDORS


def vendor_picker(month: str) -> str | None:
    """The sidebar's vendor control: *All vendors* or one vendor of ``month``; returns the choice."""
    vendors = month_vendors(month)
    current = vendor_filter(month)
    options = ["", *vendors]  # "": all vendors (a None option would read as "nothing chosen")
    key = f"vendor_picker_{month}"  # one widget per month: another month offers other vendors
    st.selectbox(
        "Vendor", options, index=options.index(current or ""), key=key, format_func=vendor_label,
        on_change=lambda: set_vendor_filter(st.session_state[key]), disabled=len(vendors) < 2,
        help="Every page shows this vendor's lines only, or all vendors of the month. Amounts are always "
             "per currency: two currencies are never added.",
    )
    return current


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


def money(value: Any, currency: Any = "USD") -> str:
    """``$1,234.50`` / ``-$12.00`` / ``€5,440.55`` for Decimals, ints or floats in ``currency``
    (display only; a missing currency is USD)."""
    from billbridge.money import format_money

    if value is None or value == "" or (isinstance(value, float) and value != value):
        return ""
    return format_money(value, currency if isinstance(currency, str) and currency else "USD")


def amounts(by_currency: dict, empty: str = "$0.00") -> str:
    """Amounts of several currencies side by side (``$8,804.32 · €5,440.55``), never added."""
    from billbridge.money import format_amounts

    return format_amounts(by_currency, empty=empty)
