"""What the configured API member may do, probed without changing anything.

:func:`check_permissions` asks ConnectWise one harmless question per permission billbridge needs:

* **Inquire** permissions: a one-row ``GET`` (``pageSize=1``, ``fields=id``). 200 -> granted,
  403 -> missing.
* **Add** permissions: ``POST {}``, an empty body that can never be valid. ConnectWise checks the
  security role first and validates the body second, so **400** (validation ran) means *granted*
  and **403** means *missing*. If a server ever accepted the empty body (2xx), the probe deletes
  what it created and says so.
* **Edit** permissions: ``PATCH []`` (no operations) on id 0, which does not exist. **404** (or
  400) means the server got past the security check -> *granted*; **403** -> *missing*.
* **Delete** (agreement additions, needed only to undo a push): ``DELETE`` of id 0, which does not
  exist: **404** -> *granted*, **403** -> *missing*.

Only a **403** makes a permission *missing*. A probe that merely failed (a 5xx, a timeout, a
dropped connection, throttling after every retry, an unexpected 404) proves nothing either way: the
permission is *could not check*, with the reason, and the next check may settle it.

ConnectWise checking security before validation/lookup is how the sandbox behaves and how the
real server is reported to behave (403 for "valid keys, insufficient role", django-connectwise);
the probes rely on it. A 401 stops everything: :class:`AuthenticationError` is raised.

Each :class:`PermissionCheck` has a ``state``: :data:`GRANTED`, :data:`MISSING` or :data:`UNKNOWN`.

:func:`check_connection` wraps it all for the Connection page and ``billbridge check``.
"""

from __future__ import annotations

import ipaddress
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from billbridge.errors import InputError


from .errors import (
    AuthenticationError,
    ConnectWiseError,
    CWConnectionError,
    NotFoundError,
    PermissionDeniedError,
    explain,
)
from .settings import mask_secret

if TYPE_CHECKING:
    from .client import CWClient

__all__ = ["PermissionCheck", "ConnectionReport", "check_permissions", "check_connection", "REQUIRED",
           "GRANTED", "MISSING", "UNKNOWN", "STATE_LABELS"]

GRANTED, MISSING, UNKNOWN = "granted", "missing", "unknown"
#: how the Connection page and ``billbridge check`` name each state
STATE_LABELS = {GRANTED: "granted", MISSING: "missing", UNKNOWN: "could not check"}


@dataclass(frozen=True)
class PermissionCheck:
    """One probed permission: ``area`` (what billbridge needs it for: "Agreements",
    "Agreement additions", ...), ``permission`` (the ConnectWise security-role permission, e.g.
    "Agreements: Add"; additions are covered by the same "Agreements" permission),
    ``module`` (ConnectWise security-role module, "Finance"), ``state`` (granted, missing or
    unknown: the probe failed, so it could not be checked), ``detail`` in plain words (for unknown:
    why), and ``probe`` (the request that was made). ``ok`` is True only when granted."""

    area: str
    permission: str
    ok: bool
    detail: str
    module: str = ""
    probe: str = ""
    state: str = ""

    def __post_init__(self) -> None:
        if not self.state:
            object.__setattr__(self, "state", GRANTED if self.ok else MISSING)

    @property
    def label(self) -> str:
        """``granted`` / ``missing`` / ``could not check``."""
        return STATE_LABELS[self.state]


# (area, module, permission, method, path template)
REQUIRED: list[tuple[str, str, str, str, str]] = [
    ("Companies", "Companies", "Company Maintenance: Inquire", "GET", "/company/companies"),
    ("Agreements", "Finance", "Agreements: Inquire", "GET", "/finance/agreements"),
    ("Agreements", "Finance", "Agreements: Add", "POST", "/finance/agreements"),
    ("Agreements", "Finance", "Agreements: Edit", "PATCH", "/finance/agreements/0"),
    ("Agreement additions", "Finance", "Agreements: Inquire", "GET", "/finance/agreements/{aid}/additions"),
    ("Agreement additions", "Finance", "Agreements: Add", "POST", "/finance/agreements/{aid}/additions"),
    ("Agreement additions", "Finance", "Agreements: Edit", "PATCH", "/finance/agreements/{aid}/additions/0"),
    # only to undo a push: an addition billbridge created and no invoice billed yet is deleted (Rule 6.7)
    ("Agreement additions", "Finance", "Agreements: Delete", "DELETE", "/finance/agreements/{aid}/additions/0"),
    ("Catalog", "Procurement", "Product Catalog: Inquire", "GET", "/procurement/catalog"),
    ("Product types", "System", "Table Setup: Inquire", "GET", "/procurement/types"),
]


def check_permissions(client: CWClient) -> list[PermissionCheck]:
    """Probe every permission billbridge needs (see the module docstring); changes nothing.

    Raises :class:`AuthenticationError` (401). A probe that fails is ``unknown`` (could not check);
    once ConnectWise refuses connections the remaining probes are not tried.
    """
    results: list[PermissionCheck] = []
    agreement_id: int | None = None
    stopped: str | None = None
    for area, module, permission, method, template in REQUIRED:
        if "{aid}" in template:
            aid = agreement_id if agreement_id is not None else 0
            path = template.format(aid=aid)
        else:
            path = template
        probe = f"{method} {path}"
        # Without an agreement to look under, a 404 on the additions list still proves the
        # security check passed (the sandbox and ConnectWise check the role first).
        not_found_ok = method != "GET" or ("{aid}" in template and agreement_id is None)
        if stopped is not None:
            state, detail, created = UNKNOWN, f"Could not check: not tried, {stopped}", None
        else:
            try:
                state, detail, created = _probe(client, method, path, permission, module, area, not_found_ok)
            except CWConnectionError as err:  # refused: every later probe would wait for its retries too
                stopped = f"ConnectWise stopped answering: {explain(err)}"
                state, detail, created = UNKNOWN, f"Could not check: {stopped}", None
        ok = state == GRANTED
        if ok and method == "GET" and path == "/finance/agreements" and created is not None:
            agreement_id = created
        if "{aid}" in template and agreement_id is None and ok:
            detail += " (no agreement exists to probe against, so this is a weaker check)"
        results.append(PermissionCheck(area, permission, ok, detail, module, probe, state))
    return results


def _probe(
    client: CWClient, method: str, path: str, permission: str, module: str, area: str, not_found_ok: bool
) -> tuple[bool, str, int | None]:
    """(state, detail, first id seen or created)."""
    missing = (
        f"Missing: the API member's security role does not grant '{permission}' ({module} module). "
        f"Ask a ConnectWise administrator to grant it."
    )
    try:
        if method == "GET":
            rows = client.get(path, params={"pageSize": 1, "fields": "id"})
            first = rows[0].get("id") if isinstance(rows, list) and rows and isinstance(rows[0], dict) else None
            return GRANTED, f"Granted: billbridge can read {area.lower()}.", first
        if method == "POST":
            created = client.post(path, {})
            # An empty body should never be accepted; undo it if it was.
            new_id = created.get("id") if isinstance(created, dict) else None
            note = ""
            if new_id is not None:
                try:
                    client.delete(f"{path}/{new_id}")
                    note = f" (the server accepted an empty record, id {new_id}; it was deleted again)"
                except ConnectWiseError:
                    note = f" (WARNING: the server accepted an empty record, id {new_id}; delete it by hand)"
            return GRANTED, f"Granted: billbridge can add {area.lower()}.{note}", None
        if method == "PATCH":
            client.patch(path, [])
            return GRANTED, f"Granted: billbridge can edit {area.lower()}.", None
        if method == "DELETE":  # id 0 never exists: a 404 proves the security check passed
            client.delete(path)
            return GRANTED, f"Granted: billbridge can delete {area.lower()} (to undo a push).", None
        raise InputError(f"no permission probe for HTTP method {method}")
    except AuthenticationError:
        raise
    except CWConnectionError as err:
        if err.reason == "refused":
            raise
        return UNKNOWN, f"Could not check (the probe failed, which says nothing about the permission): {explain(err)}", None
    except PermissionDeniedError:
        return MISSING, missing, None
    except NotFoundError:
        if not not_found_ok:
            return UNKNOWN, (f"Could not check: {method} {path} was not found on this server (404), so the "
                             "probe proves nothing. Check again; if it stays, the server is older than billbridge "
                             "expects."), None
        verb = {"GET": "read", "POST": "add", "PATCH": "edit", "DELETE": "delete"}[method]
        return GRANTED, f"Granted: billbridge can {verb} {area.lower()}.", None
    except ConnectWiseError as err:  # 5xx, timeouts, dropped connections, throttling: the probe failed
        if err.status == 400 and method in ("POST", "PATCH"):
            # The request was refused by validation, i.e. after the security check passed.
            return GRANTED, f"Granted: billbridge can {'add' if method == 'POST' else 'edit'} {area.lower()}.", None
        return UNKNOWN, f"Could not check (the probe failed, which says nothing about the permission): {explain(err)}", None


@dataclass
class ConnectionReport:
    """Everything the Connection page and ``billbridge check`` show."""

    mode: str  # "sandbox" or "live"
    site: str
    company_id: str
    public_key: str  # masked
    private_key: str  # masked
    client_id: str
    codebase: str | None = None
    base_url: str | None = None
    server_version: str | None = None
    is_cloud: bool | None = None
    server_time_zone: str | None = None
    permissions: list[PermissionCheck] = field(default_factory=list)
    error: str | None = None  # plain words (explain()) when the connection or auth failed
    error_kind: str | None = None  # "auth", "connection", "other"
    version_error: str | None = None  # the server version could not be read (the probes still ran)

    @property
    def ok(self) -> bool:
        return self.error is None and all(p.ok for p in self.permissions)

    @property
    def missing(self) -> list[PermissionCheck]:
        """Permissions the API member lacks (a 403 said so)."""
        return [p for p in self.permissions if p.state == MISSING]

    @property
    def unchecked(self) -> list[PermissionCheck]:
        """Permissions that could not be checked (the probe failed)."""
        return [p for p in self.permissions if p.state == UNKNOWN]

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["ok"] = self.ok
        d["missing"] = [p.permission for p in self.missing]
        d["could_not_check"] = [p.permission for p in self.unchecked]
        return d


def _is_local(site: str) -> bool:
    host = urlsplit(site).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_connection(client: CWClient, *, mode: str | None = None, permissions: bool = True) -> ConnectionReport:
    """Mode, site, company, masked keys, codebase, server version and the permission check.

    Never raises for ConnectWise problems: ``report.error`` says what went wrong in plain words
    (``error_kind == "auth"`` on a 401, ``"connection"`` when ConnectWise cannot be reached; ``billbridge
    check`` turns both into exit code 3). A server version that cannot be read (a 5xx) is
    ``version_error``; the permission probes still run and say which they could not check.
    """
    s = client.settings
    if mode is None:
        mode = "sandbox" if (s.company_id == "sandbox" and _is_local(s.site)) else "live"
    report = ConnectionReport(
        mode=mode,
        site=s.site,
        company_id=s.company_id,
        public_key=mask_secret(s.public_key),
        private_key=mask_secret(s.private_key),
        client_id=s.client_id,
    )
    try:
        report.codebase = client.codebase
        report.base_url = client.base_url
        try:
            info = client.system_info() or {}
        except (AuthenticationError, CWConnectionError):
            raise
        except ConnectWiseError as err:
            info, report.version_error = {}, f"Could not read the server version: {explain(err)}"
        report.server_version = info.get("version")
        report.is_cloud = info.get("isCloud")
        report.server_time_zone = info.get("serverTimeZone")
        if permissions:
            report.permissions = check_permissions(client)
    except AuthenticationError as err:
        report.error, report.error_kind = explain(err), "auth"
    except CWConnectionError as err:
        report.error, report.error_kind = explain(err), "connection"
    except ConnectWiseError as err:
        report.error, report.error_kind = explain(err), "other"
    return report
