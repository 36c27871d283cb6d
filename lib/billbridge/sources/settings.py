"""Where a vendor API's settings come from: its ``[pax8]`` / ``[sherweb]`` secrets section or the
environment, exactly like ConnectWise's (:mod:`billbridge.config`). With no credentials configured,
pulling uses that vendor's emulator in the sandbox (started or reused like ConnectWise's,
:func:`billbridge.runtime.ensure_sandbox`).

The library never reads ``st.secrets``: the UI passes the section in as a plain mapping (or
``None``); environment variables fill whatever the mapping lacks.

========================== ================= ==========================================================
env variable               secrets key       meaning
========================== ================= ==========================================================
PAX8_API_URL               api_url           default ``https://api.pax8.com/v1``
PAX8_CLIENT_ID             client_id         from the Pax8 app: Settings › Integrations › Credentials
PAX8_CLIENT_SECRET         client_secret     never stored, logged or shown
PAX8_TOKEN_URL             token_url         optional; default ``{api_url}/token``
SHERWEB_API_URL            api_url           default ``https://api.sherweb.com``
SHERWEB_CLIENT_ID          client_id         from cumulus.sherweb.com: Security › APIs
SHERWEB_CLIENT_SECRET      client_secret     never stored, logged or shown
SHERWEB_SUBSCRIPTION_KEY   subscription_key  the ``Ocp-Apim-Subscription-Key``; never stored, logged or shown
SHERWEB_TOKEN_URL          token_url         optional; default ``{api_url}/auth/oidc/connect/token``
========================== ================= ==========================================================

A vendor counts as configured as soon as its client id is set; the other required values must
then be there too (a :class:`~billbridge.errors.ConfigError` names each missing one and where to
set it, never a value).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from billbridge.connectwise.redact import register_secret
from billbridge.connectwise.settings import mask_secret
from billbridge.errors import ConfigError, InputError

__all__ = ["VendorSettings", "VENDOR_APIS", "load_vendor_settings", "sandbox_settings", "resolve", "describe"]


@dataclass(frozen=True)
class _Spec:
    label: str
    env: dict[str, str]  # settings field -> environment variable
    required: tuple[str, ...]
    default_url: str
    token_path: str
    audience: str | None = None
    scope: str | None = None


VENDOR_APIS: dict[str, _Spec] = {
    "pax8": _Spec(
        "Pax8",
        {"api_url": "PAX8_API_URL", "client_id": "PAX8_CLIENT_ID", "client_secret": "PAX8_CLIENT_SECRET",
         "token_url": "PAX8_TOKEN_URL"},
        ("client_id", "client_secret"), "https://api.pax8.com/v1", "/token", audience="https://api.pax8.com",
    ),
    "sherweb": _Spec(
        "Sherweb",
        {"api_url": "SHERWEB_API_URL", "client_id": "SHERWEB_CLIENT_ID", "client_secret": "SHERWEB_CLIENT_SECRET",
         "subscription_key": "SHERWEB_SUBSCRIPTION_KEY", "token_url": "SHERWEB_TOKEN_URL"},
        ("client_id", "client_secret", "subscription_key"), "https://api.sherweb.com", "/auth/oidc/connect/token",
        scope="distributor",
    ),
}


@dataclass(frozen=True)
class VendorSettings:
    """How to call one vendor API. ``repr``/``str`` mask the secret and the subscription key;
    ``source`` is ``"secrets.toml"``, ``"environment"`` or ``"sandbox"``."""

    vendor: str
    api_url: str
    client_id: str
    client_secret: str = field(repr=False)
    subscription_key: str | None = field(default=None, repr=False)
    token_url: str | None = None
    audience: str | None = None
    scope: str | None = None
    source: str = "environment"

    def __post_init__(self) -> None:
        object.__setattr__(self, "api_url", self.api_url.strip().rstrip("/"))
        if "://" not in self.api_url:
            raise ConfigError(f"the {self.vendor} API URL {self.api_url!r} needs a scheme (https://…)")
        for s in (self.client_secret, self.subscription_key):
            register_secret(s)

    @property
    def sandbox(self) -> bool:
        return self.source == "sandbox"

    @property
    def token_endpoint(self) -> str:
        return self.token_url or self.api_url + VENDOR_APIS[self.vendor].token_path

    def __repr__(self) -> str:
        key = f", subscription_key={mask_secret(self.subscription_key)!r}" if self.subscription_key else ""
        return (f"VendorSettings(vendor={self.vendor!r}, api_url={self.api_url!r}, client_id={self.client_id!r}, "
                f"client_secret={mask_secret(self.client_secret)!r}{key}, source={self.source!r})")

    __str__ = __repr__


def _spec(vendor: str) -> _Spec:
    try:
        return VENDOR_APIS[vendor]
    except KeyError:
        raise InputError(f"no API settings for {vendor!r}; vendor APIs: {', '.join(VENDOR_APIS)}") from None


def load_vendor_settings(vendor: str, secrets: Mapping[str, Any] | None = None,
                         env: Mapping[str, str] | None = None) -> VendorSettings | None:
    """The configured settings for ``vendor``, or None when no credentials are configured (then
    pulling uses the sandbox's emulator). A ``ConfigError`` names every missing value."""
    spec = _spec(vendor)
    env = os.environ if env is None else env
    secrets = dict(secrets or {})
    from_secrets = bool(secrets.get("client_id"))
    values: dict[str, str] = {}
    for key, var in spec.env.items():
        value = secrets.get(key) if from_secrets else None
        if value in (None, ""):
            value = env.get(var)
        if value not in (None, ""):
            values[key] = str(value).strip()
    if not values.get("client_id"):
        return None
    missing = [k for k in spec.required if not values.get(k)]
    if missing:
        where = ", ".join(f"{k} (env {spec.env[k]})" for k in missing)
        raise ConfigError(
            f"{spec.label} credentials are configured but these values are missing: {where}. Add them to the "
            f"[{vendor}] section of .streamlit/secrets.toml or to the environment, or unset {spec.env['client_id']} "
            f"to pull from the sandbox's {spec.label} emulator."
        )
    return VendorSettings(
        vendor=vendor, api_url=values.get("api_url") or spec.default_url, client_id=values["client_id"],
        client_secret=values["client_secret"], subscription_key=values.get("subscription_key"),
        token_url=values.get("token_url"), audience=spec.audience, scope=spec.scope,
        source="secrets.toml" if from_secrets else "environment",
    )


def sandbox_settings(vendor: str, base_url: str) -> VendorSettings:
    """Settings for the sandbox's emulator of ``vendor`` at ``base_url`` (``http://127.0.0.1:PORT``)."""
    from billbridge.sandbox import VENDOR_CREDENTIALS

    spec = _spec(vendor)
    cred = VENDOR_CREDENTIALS[vendor]
    return VendorSettings(
        vendor=vendor, api_url=base_url.rstrip("/") + cred["path"], client_id=cred["client_id"],
        client_secret=cred["client_secret"], subscription_key=cred.get("subscription_key"),
        audience=cred.get("audience", spec.audience), scope=spec.scope, source="sandbox",
    )


def resolve(vendor: str, secrets: Mapping[str, Any] | None = None, env: Mapping[str, str] | None = None,
            data_dir: Path | None = None) -> VendorSettings:
    """The configured settings, or the sandbox emulator's (reusing or starting the sandbox for
    the data folder, like ConnectWise's fallback)."""
    configured = load_vendor_settings(vendor, secrets, env)
    if configured is not None:
        return configured
    from billbridge.config import db_path_from_env
    from billbridge.runtime import ensure_sandbox

    folder = data_dir if data_dir is not None else db_path_from_env(env).parent
    info, _sb = ensure_sandbox(Path(folder))
    return sandbox_settings(vendor, info["base_url"])


def describe(settings: VendorSettings) -> dict[str, str]:
    """What the UI/CLI may show about the settings (secrets masked)."""
    out = {"vendor": settings.vendor, "api_url": settings.api_url, "client_id": settings.client_id,
           "client_secret": mask_secret(settings.client_secret), "source": settings.source}
    if settings.subscription_key:
        out["subscription_key"] = mask_secret(settings.subscription_key)
    return out
