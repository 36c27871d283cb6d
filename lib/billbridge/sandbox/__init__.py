"""billbridge's local ConnectWise Manage emulator (agreement-billing subset of the REST API).

>>> from billbridge.sandbox import SandboxConfig, start_sandbox
>>> sb = start_sandbox(SandboxConfig(port=0))   # doctest: +SKIP
>>> sb.base_url, sb.company_id, sb.public_key, sb.private_key, sb.codebase   # doctest: +SKIP

Modules: :mod:`.server` (HTTP, routing, auth, faults), :mod:`.conditions` (query language),
:mod:`.query` (paging, orderBy, fields), :mod:`.resources` (validation, references, CRUD),
:mod:`.store` (memory + SQLite), :mod:`.seed` (demo data from :mod:`billbridge.demo_world`),
:mod:`.schema` (field model generated from the OpenAPI subset); the vendor API emulators :mod:`.pax8`
(``/pax8/v1``) and :mod:`.sherweb` (``/sherweb``) over :mod:`.vendor_world`.
"""

from .pax8 import PAX8_CREDENTIALS
from .resources import ApiError, Member
from .seed import VENDOR_AGREEMENT_NAME, build_seed, demo_line_key, seed_stamp
from .server import API_VERSION, AREAS, CREDENTIALS, Sandbox, SandboxConfig, default_members, start_sandbox
from .sherweb import SHERWEB_CREDENTIALS

#: the vendor API emulators' credentials, by vendor (``path`` is below the sandbox's base URL)
VENDOR_CREDENTIALS = {"pax8": PAX8_CREDENTIALS, "sherweb": SHERWEB_CREDENTIALS}

__all__ = [
    "API_VERSION", "AREAS", "ApiError", "CREDENTIALS", "Member", "PAX8_CREDENTIALS", "SHERWEB_CREDENTIALS",
    "Sandbox", "SandboxConfig", "VENDOR_CREDENTIALS", "seed_stamp",
    "VENDOR_AGREEMENT_NAME", "build_seed", "default_members", "demo_line_key", "start_sandbox",
]
