"""Where billbridge's configuration comes from: a ``[connectwise]`` mapping or environment variables.

The library never reads ``st.secrets``: the UI layer passes the ``[connectwise]`` section of
``.streamlit/secrets.toml`` in as a plain mapping (or ``None``), the CLI passes nothing. Environment
variables fill whatever the mapping lacks. Without a site, billbridge runs on its embedded sandbox.

============== =================== =====================================================
env variable   secrets key         meaning
============== =================== =====================================================
CW_SITE        site                base URL with scheme, e.g. ``https://api-na.myconnectwise.net``
CW_COMPANY_ID  company_id          the ConnectWise company id used at login
CW_PUBLIC_KEY  public_key          API member public key
CW_PRIVATE_KEY private_key         API member private key (never stored, logged or shown)
CW_CLIENT_ID   client_id           clientId from developer.connectwise.com
CW_CODEBASE    codebase            optional, e.g. ``v2025_1/`` (looked up when missing)
CW_API_VERSION api_version         optional, pins the response schema (default 2025.1)
BILLBRIDGE_DB  –                   SQLite file (default ``data/billbridge.db``)
============== =================== =====================================================
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from billbridge.errors import ConfigError  # the one error tree; re-exported here

DEFAULT_DB = Path("data") / "billbridge.db"
DEFAULT_API_VERSION = "2025.1"

_FIELDS = {
    "site": "CW_SITE",
    "company_id": "CW_COMPANY_ID",
    "public_key": "CW_PUBLIC_KEY",
    "private_key": "CW_PRIVATE_KEY",
    "client_id": "CW_CLIENT_ID",
    "codebase": "CW_CODEBASE",
    "api_version": "CW_API_VERSION",
}
_REQUIRED = ("company_id", "public_key", "private_key", "client_id")


@dataclass(frozen=True)
class AppConfig:
    """Resolved configuration. ``cw`` is ``None`` in sandbox mode."""

    cw: Any  # billbridge.connectwise.CWSettings | None
    db_path: Path
    source: str  # "sandbox", "secrets.toml" or "environment"

    @property
    def sandbox(self) -> bool:
        return self.cw is None

    @property
    def data_dir(self) -> Path:
        """The folder holding the database; the embedded sandbox keeps ``sandbox.db`` next to it."""
        return self.db_path.parent

    @property
    def sandbox_db(self) -> Path:
        return self.data_dir / "sandbox.db"


def db_path_from_env(env: Mapping[str, str] | None = None) -> Path:
    """The database path: ``BILLBRIDGE_DB`` or ``data/billbridge.db``."""
    env = os.environ if env is None else env
    return Path(env.get("BILLBRIDGE_DB") or DEFAULT_DB)


def load_config(secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None) -> AppConfig:
    """Resolve the configuration from a ``[connectwise]`` mapping (may be ``None``) and the environment.

    Raises :class:`ConfigError` when a site is set but a required value is missing; the message
    names each missing value and both places it can be set, never any value itself.
    """
    from billbridge.connectwise import CWSettings

    env = os.environ if env is None else env
    secrets = dict(secrets or {})
    db_path = db_path_from_env(env)
    values: dict[str, str] = {}
    source = "environment"
    if secrets.get("site"):
        source = "secrets.toml"
    for key, var in _FIELDS.items():
        value = secrets.get(key) if secrets.get("site") else None
        if value in (None, ""):
            value = env.get(var)
        if value not in (None, ""):
            values[key] = str(value).strip()
    if not values.get("site"):
        return AppConfig(cw=None, db_path=db_path, source="sandbox")
    missing = [k for k in _REQUIRED if not values.get(k)]
    if missing:
        where = ", ".join(f"{k} (env {_FIELDS[k]})" for k in missing)
        raise ConfigError(
            f"ConnectWise site {values['site']} is configured but these values are missing: {where}. "
            "Add them to the [connectwise] section of .streamlit/secrets.toml or to the environment, "
            "or unset CW_SITE to work on the sandbox."
        )
    settings = CWSettings(
        site=values["site"].rstrip("/"),
        company_id=values["company_id"],
        public_key=values["public_key"],
        private_key=values["private_key"],
        client_id=values["client_id"],
        codebase=values.get("codebase"),
        api_version=values.get("api_version") or DEFAULT_API_VERSION,
    )
    return AppConfig(cw=settings, db_path=db_path, source=source)


def operator_name(env: Mapping[str, str] | None = None) -> str:
    """Who is operating billbridge, recorded with mappings, imports and pushes.

    ``BILLBRIDGE_OPERATOR`` when set, else the operating-system user.
    """
    import getpass

    env = os.environ if env is None else env
    if env.get("BILLBRIDGE_OPERATOR"):
        return env["BILLBRIDGE_OPERATOR"].strip()
    try:
        return getpass.getuser()
    except Exception:  # no user database entry (some containers)
        return "operator"
