"""Today, in one place.

Everything that depends on the date (the demo world, the default billing month, plan contexts)
asks :func:`today`. ``BILLBRIDGE_TODAY=YYYY-MM-DD`` pins it, so a test, a demo or a bug report can
run the app as if it were another day; unset, it is the machine's local date.
"""

from __future__ import annotations

import os
from datetime import date, datetime, timezone

from billbridge.errors import ConfigError

__all__ = ["today", "current_month", "utcnow", "ENV"]

ENV = "BILLBRIDGE_TODAY"


def today() -> date:
    """``$BILLBRIDGE_TODAY`` when set (``YYYY-MM-DD``), else the local date."""
    pinned = os.environ.get(ENV, "").strip()
    if not pinned:
        return date.today()
    try:
        return date.fromisoformat(pinned)
    except ValueError:
        raise ConfigError(f"{ENV} must be a date written YYYY-MM-DD, not {pinned!r}") from None


def current_month() -> str:
    """The billing month ``YYYY-MM`` containing :func:`today`."""
    d = today()
    return f"{d.year:04d}-{d.month:02d}"


def utcnow() -> str:
    """Now, UTC, to the second: ``YYYY-MM-DDTHH:MM:SSZ`` (every timestamp billbridge stores has this
    form). The wall clock, not ``BILLBRIDGE_TODAY``: it records when something really happened."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
