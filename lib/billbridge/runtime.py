"""Turning configuration into a live ConnectWise connection (real site or embedded sandbox).

In sandbox mode the first process that needs ConnectWise (the app or a CLI command) starts the
sandbox on a free local port with its data in ``<data dir>/sandbox.db`` and writes its address to
``<data dir>/sandbox.json``. Later processes reuse that running sandbox when it answers, so the app
and the CLI always see the same ConnectWise; otherwise they start their own.

The sandbox's records follow the demo window (the four months ending with today's): a
``sandbox.db`` seeded in an older month is reseeded when opened, and a running sandbox reseeds
itself when the month changes. A running sandbox that serves another window than this process's
today (``BILLBRIDGE_TODAY`` pinned differently) is not reused: this process then runs its own
sandbox in memory and says so in :attr:`Connection.notes`, so it never reseeds the other one's file.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import requests

from billbridge.config import AppConfig

SANDBOX_CLIENT_ID = "billbridge-sandbox"


@dataclass
class Connection:
    """A configured ConnectWise client plus what the UI needs to describe it."""

    mode: str  # "sandbox" or "site"
    settings: Any  # CWSettings
    client: Any  # CWClient
    sandbox: Any = None  # the Sandbox this process started, if any
    notes: list[str] = field(default_factory=list)

    @property
    def label(self) -> str:
        if self.mode == "sandbox":
            return "SANDBOX"
        return f"{self.settings.site} · {self.settings.company_id}"

    def close(self) -> None:
        self.client.close()


def _sandbox_window(url: str, company_id: str) -> str | None:
    """The demo window a running sandbox serves (``""`` when it does not say), None when it is not running."""
    from billbridge.sandbox.server import WINDOW_HEADER

    try:
        r = requests.get(f"{url}/login/companyinfo/{company_id}", timeout=1.5)
        if r.ok and isinstance(r.json(), dict):
            return r.headers.get(WINDOW_HEADER, "")
    except (requests.RequestException, ValueError):
        pass
    return None


def ensure_sandbox(data_dir: Path, *, reuse: bool = True, notes: list[str] | None = None) -> tuple[dict, Any]:
    """Address and credentials of a running sandbox for ``data_dir``: reuse one or start one.

    Returns ``(info, sandbox)`` where ``sandbox`` is the object this process started (else ``None``).
    What the caller should know (a reseed, a private sandbox) is appended to ``notes``.
    """
    from billbridge.sandbox import SandboxConfig, seed_stamp, start_sandbox

    notes = [] if notes is None else notes
    data_dir.mkdir(parents=True, exist_ok=True)
    marker = data_dir / "sandbox.json"
    window = seed_stamp()
    if reuse and marker.exists():
        try:
            info = json.loads(marker.read_text())
            running = _sandbox_window(info["base_url"], info["company_id"])
        except (ValueError, KeyError, OSError):
            running = None
        if running == window:
            return info, None
        if running is not None:
            sb = start_sandbox(SandboxConfig(host="127.0.0.1", port=0, data_path=None))
            notes.append(f"The sandbox running at {info['base_url']} holds the demo months ending "
                         f"{running or 'in another month'}, but today is in {window}: this process uses its own "
                         "sandbox in memory (nothing it writes is kept).")
            return {"base_url": sb.base_url, "company_id": sb.company_id, "pid": os.getpid()}, sb
    sb = start_sandbox(SandboxConfig(host="127.0.0.1", port=0, data_path=data_dir / "sandbox.db"))
    if sb.reseeded:
        notes.append(f"Sandbox: {sb.reseeded}.")
    # Only the address: the sandbox's keys are published constants (README), never written here.
    info = {"base_url": sb.base_url, "company_id": sb.company_id, "pid": os.getpid()}
    tmp = marker.with_suffix(".tmp")
    tmp.write_text(json.dumps(info))
    tmp.replace(marker)
    return info, sb


def connect(config: AppConfig, **client_options: Any) -> Connection:
    """A :class:`Connection` for ``config``: the configured site, or the embedded sandbox."""
    from billbridge.connectwise import CWClient, CWSettings
    from billbridge.sandbox import CREDENTIALS

    if config.cw is not None:
        return Connection("site", config.cw, CWClient(config.cw, **client_options))
    notes: list[str] = []
    info, sb = ensure_sandbox(config.data_dir, notes=notes)
    full = CREDENTIALS["full"]
    settings = CWSettings(
        site=info["base_url"],
        company_id=info["company_id"],
        public_key=full["public_key"],
        private_key=full["private_key"],
        client_id=SANDBOX_CLIENT_ID,
        codebase=None,
        api_version=config_api_version(),
    )
    return Connection("sandbox", settings, CWClient(settings, **client_options), sandbox=sb, notes=notes)


def config_api_version() -> str:
    from billbridge.config import DEFAULT_API_VERSION

    return os.environ.get("CW_API_VERSION") or DEFAULT_API_VERSION
