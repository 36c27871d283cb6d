"""Connection settings for one ConnectWise Manage site (keys masked in every repr)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from billbridge.errors import ConfigError

__all__ = ["CWSettings", "mask_secret", "normalise_site", "DEFAULT_API_VERSION"]

DEFAULT_API_VERSION = "2025.1"

# Cloud hosts users type (the browser UI) and the API host they must call (gotcha 5).
_CLOUD_UI_HOSTS = {
    "na.myconnectwise.net",
    "eu.myconnectwise.net",
    "au.myconnectwise.net",
    "aus.myconnectwise.net",
    "za.myconnectwise.net",
    "staging.connectwisedev.com",
}


def mask_secret(value: str | None, keep: int = 4) -> str:
    """``"****abcd"``: the last ``keep`` characters of a long secret, nothing of a short one."""
    if not value:
        return "(not set)"
    if len(value) < 3 * keep:
        return "****"
    return "****" + value[-keep:]


def normalise_site(site: str) -> str:
    """``na.myconnectwise.net`` -> ``https://api-na.myconnectwise.net`` (scheme defaults to https,
    trailing slash dropped, cloud UI hosts rewritten to their ``api-`` host)."""
    site = site.strip().rstrip("/")
    if not site:
        raise ConfigError("the ConnectWise site (CW_SITE) is empty")
    if "://" not in site:
        site = "https://" + site
    parts = urlsplit(site)
    host = (parts.hostname or "").lower()
    if not host:
        raise ConfigError(f"the ConnectWise site {site!r} has no host name")
    if host in _CLOUD_UI_HOSTS:
        netloc = "api-" + parts.netloc.lower()
        site = f"{parts.scheme}://{netloc}{parts.path}"
    return site


@dataclass(frozen=True)
class CWSettings:
    """Where and as whom to call ConnectWise.

    ``site`` is the base URL with scheme (``https://api-na.myconnectwise.net`` or
    ``http://127.0.0.1:8765``). ``codebase`` None means "look it up via
    ``/login/companyinfo/{company_id}``". ``repr``/``str`` mask both keys.
    """

    site: str
    company_id: str
    public_key: str = field(repr=False)
    private_key: str = field(repr=False)
    client_id: str = ""
    codebase: str | None = None
    api_version: str = DEFAULT_API_VERSION

    def __post_init__(self) -> None:
        object.__setattr__(self, "site", normalise_site(self.site))
        if self.codebase is not None:
            cb = self.codebase.strip().strip("/")
            object.__setattr__(self, "codebase", cb or None)
        for name in ("company_id", "public_key", "private_key"):
            if not getattr(self, name):
                raise ConfigError(f"ConnectWise setting {name} is empty")

    def __repr__(self) -> str:
        return (
            f"CWSettings(site={self.site!r}, company_id={self.company_id!r}, "
            f"public_key={mask_secret(self.public_key)!r}, private_key={mask_secret(self.private_key)!r}, "
            f"client_id={self.client_id!r}, codebase={self.codebase!r}, api_version={self.api_version!r})"
        )

    __str__ = __repr__

    @property
    def masked_public_key(self) -> str:
        return mask_secret(self.public_key)

    @property
    def masked_private_key(self) -> str:
        return mask_secret(self.private_key)

    @classmethod
    def from_mapping(cls, values: Mapping[str, object]) -> CWSettings:
        """Build from a ``[connectwise]`` secrets section or an env-like mapping.

        Accepts either ``site/company_id/public_key/...`` or ``CW_SITE/CW_COMPANY_ID/...`` keys.
        """

        def pick(name: str) -> str | None:
            for key in (name, name.upper(), "CW_" + name.upper()):
                if key in values and values[key] not in (None, ""):
                    return str(values[key])
            return None

        site = pick("site")
        if not site:
            raise ConfigError("CW_SITE is not set")
        return cls(
            site=site,
            company_id=pick("company_id") or "",
            public_key=pick("public_key") or "",
            private_key=pick("private_key") or "",
            client_id=pick("client_id") or "",
            codebase=pick("codebase"),
            api_version=pick("api_version") or DEFAULT_API_VERSION,
        )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> CWSettings | None:
        """Settings from ``CW_*`` environment variables, or None when ``CW_SITE`` is unset."""
        env = os.environ if environ is None else environ
        if not env.get("CW_SITE"):
            return None
        return cls.from_mapping({k: v for k, v in env.items() if k.startswith("CW_")})
