"""ConnectWise errors: a small tree named by cause, one status -> class mapping, plain-words help.

Modelled on stripe-python's error tree: callers catch by *cause* (auth, permission, not found,
invalid request, rate limited, server, connection) and every error carries the request context
(method, path without query string, status, CW ``code``, ``message``, per-field ``errors[]``,
how many retries were spent, and whether the outcome of a write is unknown).
No error ever holds a header, a key or a query string.
"""

from __future__ import annotations

import re
from typing import Any

from billbridge.errors import EXIT_CW, BillbridgeError

from .redact import redact

__all__ = [
    "ConnectWiseError",
    "AuthenticationError",
    "PermissionDeniedError",
    "NotFoundError",
    "InvalidRequestError",
    "ObjectExistsError",
    "RateLimitedError",
    "ServerError",
    "CWConnectionError",
    "PaginationError",
    "error_from_response",
    "explain",
    "required_permission",
]


class ConnectWiseError(BillbridgeError):
    """Base of every ConnectWise failure.

    Attributes: ``status`` (HTTP status or None), ``code`` (ConnectWise ``code`` such as
    ``InvalidObject``), ``message``, ``errors`` (list of ``{code, message, resource, field}``),
    ``method``, ``path`` (API path, never the query string), ``retries`` (retries spent before
    giving up) and ``outcome_unknown`` (a write may or may not have happened).
    """

    retriable = False  # whether trying again later can help (singer-style "what next")
    exit_code = EXIT_CW

    def __init__(
        self,
        message: str = "",
        *,
        status: int | None = None,
        code: str | None = None,
        errors: list[dict[str, Any]] | None = None,
        method: str | None = None,
        path: str | None = None,
        retries: int = 0,
        outcome_unknown: bool = False,
    ) -> None:
        self.message = redact(message or "")
        self.status = status
        self.code = code
        self.errors = [_clean_field_error(e) for e in (errors or []) if isinstance(e, dict)]
        self.method = method
        self.path = path
        self.retries = retries
        self.outcome_unknown = outcome_unknown
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f"{self.method} {self.path}" if self.method and self.path else (self.path or "")
        head = " ".join(str(p) for p in (self.status, self.code) if p)
        parts = [p for p in (head, where) if p]
        text = (" on ".join(parts) + ": " if parts else "") + (self.message or type(self).__name__)
        details = "; ".join(_field_error_text(e) for e in self.errors if _field_error_text(e))
        if details and details not in text:
            text += f" ({details})"
        if self.retries:
            text += f" [after {self.retries} retr{'y' if self.retries == 1 else 'ies'}]"
        if self.outcome_unknown:
            text += " [outcome unknown: the write may have been applied]"
        return redact(text)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status={self.status!r}, code={self.code!r}, "
            f"method={self.method!r}, path={self.path!r}, message={self.message!r}, "
            f"retries={self.retries!r}, outcome_unknown={self.outcome_unknown!r})"
        )

    @property
    def field_errors(self) -> list[str]:
        return [_field_error_text(e) for e in self.errors]


class AuthenticationError(ConnectWiseError):
    """401: keys wrong, revoked, or clientId missing."""


class PermissionDeniedError(ConnectWiseError):
    """403: valid keys, but the API member's security role lacks a permission."""

    @property
    def permission(self) -> str | None:
        """The ConnectWise permission that is missing, e.g. ``"Agreements: Add"``."""
        found = _permission_from_message(" ".join([self.message] + self.field_errors))
        if found:
            return found
        if self.method and self.path:
            req = required_permission(self.method, self.path)
            if req:
                return req[1]
        return None


class NotFoundError(ConnectWiseError):
    """404: the record (or the API path / codebase) does not exist."""


class InvalidRequestError(ConnectWiseError):
    """400 and other 4xx: the server rejected the request as written; retrying will not help."""


class ObjectExistsError(InvalidRequestError):
    """400 ``InvalidObject`` with an ``errors[].code == "ObjectExists"`` item (duplicate create)."""


class RateLimitedError(ConnectWiseError):
    """429 after every retry was spent."""

    retriable = True

    def __init__(self, *args: Any, retry_after: float | None = None, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.retry_after = retry_after


class ServerError(ConnectWiseError):
    """5xx. ``timeout`` is True for gateway errors and 500s whose body mentions a timeout."""

    def __init__(self, *args: Any, timeout: bool = False, **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.timeout = timeout

    @property
    def retriable(self) -> bool:  # type: ignore[override]
        return self.timeout


class CWConnectionError(ConnectWiseError):
    """No HTTP response: connection refused, DNS failure, TLS failure, timeout, dropped connection.

    ``reason`` is one of ``"refused"``, ``"connect-timeout"``, ``"read-timeout"``, ``"dropped"``,
    ``"ssl"`` or ``"other"``.
    """

    retriable = True

    def __init__(self, *args: Any, reason: str = "other", **kw: Any) -> None:
        super().__init__(*args, **kw)
        self.reason = reason


class PaginationError(ConnectWiseError):
    """A paged read went wrong: the next page repeats the previous one, or a Link leaves the site."""


# ---------------------------------------------------------------------------------------------

def _clean_field_error(e: dict[str, Any]) -> dict[str, Any]:
    return {k: (redact(v) if isinstance(v, str) else v) for k, v in e.items()}


def _field_error_text(e: dict[str, Any]) -> str:
    field = e.get("field") or ""
    msg = e.get("message") or e.get("code") or ""
    if field and field not in msg:
        return f"{field}: {msg}"
    return str(msg)


def _body_json(response: Any) -> Any:
    try:
        return response.json()
    except Exception:
        return None


def _is_timeout_text(text: str) -> bool:
    return "timeout" in text.lower() or "timed out" in text.lower()


def error_from_response(response: Any, method: str, path: str, *, retries: int = 0) -> ConnectWiseError:
    """The error for a non-2xx ``requests.Response`` (status -> class; body -> code/message/errors).

    ``path`` must be the API path without its query string. A POST answered with a 5xx is marked
    ``outcome_unknown``: the server may have stored the record before failing.
    """
    status = int(response.status_code)
    body = _body_json(response)
    code = message = None
    errors: list[dict[str, Any]] = []
    if isinstance(body, dict):
        code = body.get("code")
        message = body.get("message")
        raw_errors = body.get("errors")
        if isinstance(raw_errors, list):
            errors = [e for e in raw_errors if isinstance(e, dict)]
    if not message:
        text = (getattr(response, "text", "") or "").strip()
        # HTML error pages (Cloudflare) are long; keep the reason phrase instead.
        message = text[:300] if text and not text.lstrip().startswith("<") else (response.reason or "")
    method = method.upper()
    kw: dict[str, Any] = dict(
        status=status, code=code, errors=errors, method=method, path=path, retries=retries
    )
    if status == 401:
        return AuthenticationError(message, **kw)
    if status == 403:
        return PermissionDeniedError(message, **kw)
    if status == 404:
        return NotFoundError(message, **kw)
    if status == 429:
        retry_after = None
        ra = response.headers.get("Retry-After")
        if ra and ra.strip().isdigit():
            retry_after = float(ra.strip())
        return RateLimitedError(message, retry_after=retry_after, **kw)
    if status >= 500:
        timeout = status in (502, 503, 504) or _is_timeout_text(
            f"{message} {getattr(response, 'text', '')} {response.reason or ''}"
        )
        return ServerError(message, timeout=timeout, outcome_unknown=(method == "POST"), **kw)
    if 400 <= status < 500:
        if any((e.get("code") or "") == "ObjectExists" for e in errors) or code == "ObjectExists":
            return ObjectExistsError(message, **kw)
        return InvalidRequestError(message, **kw)
    return ConnectWiseError(message or f"unexpected HTTP status {status}", **kw)


# ---------------------------------------------------------------------------------------------
# ConnectWise security-role permissions for the paths billbridge uses.

LEVELS = {"GET": "Inquire", "POST": "Add", "PATCH": "Edit", "PUT": "Edit", "DELETE": "Delete"}

# (path regex, security module, function) - first match wins.
_PERMISSION_TABLE: list[tuple[re.Pattern[str], str, str]] = [
    (re.compile(r"^/company/companies(/|$)"), "Companies", "Company Maintenance"),
    (re.compile(r"^/finance/agreements/types(/|$)"), "System", "Table Setup"),
    (re.compile(r"^/finance/agreements(/|$)"), "Finance", "Agreements"),
    (re.compile(r"^/finance/billingCycles(/|$)"), "System", "Table Setup"),
    (re.compile(r"^/finance/invoices(/|$)"), "Finance", "Invoicing"),
    (re.compile(r"^/procurement/catalog(/|$)"), "Procurement", "Product Catalog"),
    (re.compile(r"^/procurement/types(/|$)"), "System", "Table Setup"),
]


def required_permission(method: str, path: str) -> tuple[str, str] | None:
    """``("Finance", "Agreements: Add")`` for ``POST /finance/agreements`` (module, permission)."""
    level = LEVELS.get(method.upper())
    p = "/" + path.split("?", 1)[0].lstrip("/")
    for rx, module, function in _PERMISSION_TABLE:
        if rx.search(p) and level:
            return module, f"{function}: {level}"
    return None


_LEVEL_WORDS = "Inquire|Add|Edit|Delete"
_PERM_PATTERNS = [
    # "Agreements: Add", "Company Maintenance - Inquire", "Product Catalog (Inquire)"
    re.compile(rf"\b([A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+){{0,3}})\s*(?::|-|\()\s*({_LEVEL_WORDS})\b"),
    # "Add permission on Agreements", "Inquire level access to Company Maintenance"
    re.compile(
        rf"\b({_LEVEL_WORDS})\b(?: level)?(?: access| permission| rights?)?(?: is required)?"
        rf"(?: to| on| for| in) (?:the )?([A-Z][A-Za-z]+(?: [A-Z][A-Za-z]+){{0,3}})"
    ),
]


def _permission_from_message(text: str) -> str | None:
    for i, rx in enumerate(_PERM_PATTERNS):
        m = rx.search(text or "")
        if m:
            function, level = (m.group(1), m.group(2)) if i == 0 else (m.group(2), m.group(1))
            return f"{function.strip()}: {level.capitalize()}"
    return None


# ---------------------------------------------------------------------------------------------

def explain(err: BaseException) -> str:
    """Plain words for an operator: what went wrong and how to fix it. Never contains a secret."""
    return redact(_explain(err))


def _explain(err: BaseException) -> str:
    if not isinstance(err, ConnectWiseError):
        return f"Unexpected error: {err}"
    where = f" ({err.method} {err.path})" if err.method and err.path else ""
    retried = (
        f" billbridge retried {err.retries} time{'s' if err.retries != 1 else ''} first." if err.retries else ""
    )
    if isinstance(err, AuthenticationError):
        return (
            "ConnectWise rejected the API keys (401)." + where + " The company ID, public key or private key is "
            "wrong, or the keys were revoked. Check the API member's keys in ConnectWise (System > Members > "
            "API Members > API Keys) and CW_COMPANY_ID / CW_PUBLIC_KEY / CW_PRIVATE_KEY; also check that "
            "CW_CLIENT_ID is set."
        )
    if isinstance(err, PermissionDeniedError):
        perm = err.permission
        module = ""
        if err.method and err.path:
            req = required_permission(err.method, err.path)
            if req:
                module = f" in the {req[0]} module"
        what = f"the '{perm}' permission{module}" if perm else "a security permission"
        return (
            f"The ConnectWise API member lacks {what} (403){where}. Ask a ConnectWise administrator to grant "
            f"it in the API member's security role (System > Security Roles), then try again."
            + (f" ConnectWise said: {err.message}" if err.message else "")
        )
    if isinstance(err, ObjectExistsError):
        fields = "; ".join(err.field_errors) or err.message
        return (
            f"ConnectWise says this record already exists (400 ObjectExists){where}: {fields}. "
            "Look up the existing record instead of creating a new one."
        )
    if isinstance(err, InvalidRequestError):
        if err.errors:
            lines = "; ".join(err.field_errors)
            return (
                f"ConnectWise rejected the data ({err.status} {err.code or 'InvalidObject'}){where}. "
                f"Fix these fields: {lines}. Note that ConnectWise re-validates the whole record, so a field "
                "you did not change can be named."
            )
        if err.code == "ApiFindCondition":
            return (
                f"ConnectWise could not read a query condition (400 ApiFindCondition){where}: {err.message}. "
                "A field name is misspelled or a value has the wrong type."
            )
        return f"ConnectWise rejected the request ({err.status} {err.code or ''}){where}: {err.message}".replace(
            " )", ")"
        )
    if isinstance(err, NotFoundError):
        return (
            f"ConnectWise has no such record (404){where}: {err.message or 'not found'}. It was probably deleted "
            "in ConnectWise (or merged); refresh the data from ConnectWise and map it again if needed."
        )
    if isinstance(err, RateLimitedError):
        return (
            f"ConnectWise is throttling requests (429){where}.{retried or ' '} Wait a minute and try again, "
            "or run fewer operations at once."
        ).replace(".  ", ". ")
    if isinstance(err, ServerError):
        unknown = (
            " The record may or may not have been created: look it up in ConnectWise before trying again."
            if err.outcome_unknown
            else ""
        )
        if err.timeout:
            return (
                f"ConnectWise timed out or its gateway failed ({err.status}){where}.{retried} Narrow the request "
                f"(fewer records, a lastUpdated window) or try again later.{unknown}"
            )
        return (
            f"ConnectWise failed with a server error ({err.status}){where}: {err.message}.{retried} This is a "
            f"problem on the ConnectWise side; try again later or contact ConnectWise support.{unknown}"
        )
    if isinstance(err, CWConnectionError):
        unknown = (
            " The write may or may not have been applied: look the record up in ConnectWise before trying again."
            if err.outcome_unknown
            else ""
        )
        if err.reason == "refused":
            return (
                f"Could not reach the ConnectWise site{where}: the connection was refused. The site is unreachable; "
                f"check CW_SITE (scheme, host and port) and that the server is running.{retried}"
            )
        if err.reason in ("connect-timeout", "read-timeout"):
            return (
                f"ConnectWise did not answer in time{where}.{retried} Check the network and CW_SITE, or try "
                f"again later.{unknown}"
            )
        if err.reason == "ssl":
            return f"The TLS connection to ConnectWise failed{where}: {err.message}. Check CW_SITE's scheme and host."
        return (
            f"The connection to ConnectWise failed{where}: {err.message}.{retried} Check the network and "
            f"CW_SITE.{unknown}"
        )
    if isinstance(err, PaginationError):
        return f"Reading a list from ConnectWise went wrong{where}: {err.message}"
    return f"ConnectWise error{where}: {err}"
