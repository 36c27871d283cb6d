"""ConnectWise Manage: the client, the conditions builder, errors, and the permission check.

>>> from billbridge.connectwise import CWSettings, CWClient, conditions as C
>>> client = CWClient(CWSettings(site=..., company_id=..., public_key=..., private_key=..., client_id=...))
>>> client.list("/finance/agreements", conditions=C.eq("company/id", 250))
"""

from . import conditions
from .client import CWClient, batch_ids, to_wire
from .errors import (
    AuthenticationError,
    ConnectWiseError,
    CWConnectionError,
    InvalidRequestError,
    NotFoundError,
    ObjectExistsError,
    PaginationError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    error_from_response,
    explain,
    required_permission,
)
from .permissions import ConnectionReport, PermissionCheck, check_connection, check_permissions
from .redact import RedactingFilter, install_redaction, redact
from .settings import CWSettings, mask_secret

__all__ = [
    "CWSettings",
    "CWClient",
    "conditions",
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
    "check_permissions",
    "check_connection",
    "PermissionCheck",
    "ConnectionReport",
    "RedactingFilter",
    "install_redaction",
    "redact",
    "mask_secret",
    "batch_ids",
    "to_wire",
]
