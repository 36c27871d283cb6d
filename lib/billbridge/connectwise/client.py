"""The ConnectWise Manage REST client: one ``requests.Session``, retries by a urllib3 ``Retry``.

Retry policy. A ``urllib3.util.Retry`` holds the policy (budget, ``Retry-After`` parsing and
capping, exponential backoff with jitter, which errors are safe to repeat for which method) and
one small loop in :meth:`CWClient._send` drives it. The Retry is not simply mounted on the
``HTTPAdapter`` because three rules cannot be expressed there: a 500 is retried only when its
*body* mentions a timeout (urllib3 decides before reading the body), a 429 is retried even for a
POST (urllib3 ties status retries to idempotent methods), and every retry of a call must come out
of *one* budget and be counted in ``stats``. The adapter itself does no retries.

* 429: always retried (for every method: the server refused the request before doing anything),
  waiting ``Retry-After`` (seconds or HTTP date, capped at ``retry_after_max``).
* 502/503/504: retried for idempotent methods (GET, PUT, DELETE, and PATCH when every op is a
  ``replace``, as billbridge's are: applying one twice is harmless).
* 500 whose body mentions "timeout": retried for idempotent methods.
* Other 4xx/5xx: never retried.
* Connection refused / connect timeout: retried for every method (nothing reached the server).
* Read timeout / dropped connection: retried for idempotent methods only. A POST is **never**
  re-sent: it raises :class:`CWConnectionError` (or :class:`ServerError` on a 5xx) with
  ``outcome_unknown=True`` so the caller can look the record up by its key before trying again.

Backoff is exponential (``backoff_factor * 2**(n-1)``) with jitter, capped at ``backoff_max``.
"""

from __future__ import annotations

import base64
import json
import logging
import random
import re
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import (
    ConnectTimeoutError,
    MaxRetryError,
    NewConnectionError,
    ProtocolError,
    ReadTimeoutError,
)
from urllib3.util.retry import Retry

from billbridge.errors import InputError

from . import conditions as C
from .errors import (
    ConnectWiseError,
    CWConnectionError,
    PaginationError,
    error_from_response,
)
from .redact import install_redaction, redact, register_secret
from .settings import CWSettings, mask_secret

__all__ = ["CWClient", "batch_ids", "to_wire", "IDEMPOTENT_METHODS", "DEFAULT_CODEBASE"]

log = logging.getLogger("billbridge.connectwise")

DEFAULT_CODEBASE = "v4_6_release"
MAX_PAGE_SIZE = 1000
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "PATCH"})
_PATCH_PATH_RE = re.compile(r"/?[A-Za-z_][A-Za-z0-9_]*(/[A-Za-z0-9_]+)*")


# ---------------------------------------------------------------------------------------------
# Wire encoding of bodies

def to_wire(value: Any) -> Any:
    """A JSON-ready copy of ``value``: dates -> ``YYYY-MM-DDT00:00:00Z``, aware datetimes -> UTC ``Z``,
    Decimal -> an exact JSON number (int when integral), containers recursively."""
    if isinstance(value, (datetime, date)):
        return C.cw_datetime(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise InputError(f"not a finite number: {value!r}")
        if value == value.to_integral_value():
            return int(value)
        f = float(value)
        if Decimal(repr(f)) != value:
            raise InputError(f"{value!r} cannot be sent to ConnectWise exactly (too many digits)")
        return f
    if isinstance(value, Mapping):
        return {str(k): to_wire(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_wire(v) for v in value]
    return value


def batch_ids(
    ids: Iterable[Any], make_url: Callable[[list[Any]], str], max_url: int = 2000, max_batch: int = 200
) -> Iterator[list[Any]]:
    """Split ``ids`` (deduplicated, order kept) into batches whose ``make_url(batch)`` stays within
    ``max_url`` characters and ``max_batch`` ids (gotcha 10). One id that alone is too long is a
    ValueError."""
    batch: list[Any] = []
    for ident in dict.fromkeys(ids):
        candidate = batch + [ident]
        if len(candidate) <= max_batch and len(make_url(candidate)) <= max_url:
            batch = candidate
            continue
        if not batch:
            raise InputError(f"a single id {ident!r} makes the URL longer than {max_url} characters")
        yield batch
        batch = [ident]
        if len(make_url(batch)) > max_url:
            raise InputError(f"a single id {ident!r} makes the URL longer than {max_url} characters")
    if batch:
        yield batch


# ---------------------------------------------------------------------------------------------
# Retry policy

class _CWRetry(Retry):
    """urllib3's Retry with one change: the first retry already waits ``backoff_factor`` (plus
    jitter) instead of retrying at once, so a struggling server gets a breath."""

    def get_backoff_time(self) -> float:
        n = 0
        for h in reversed(self.history):
            if h.redirect_location is not None:
                break
            n += 1
        if n == 0:
            return 0.0
        value = self.backoff_factor * (2 ** (n - 1))
        if self.backoff_jitter:
            value += random.random() * self.backoff_jitter
        return float(max(0.0, min(self.backoff_max, value)))


def _urllib3_error(exc: BaseException) -> BaseException | None:
    """The urllib3 exception inside a requests exception (what ``Retry.increment`` classifies)."""
    inner = exc.args[0] if exc.args else None
    if isinstance(inner, MaxRetryError):
        inner = inner.reason
    return inner if isinstance(inner, BaseException) else None


def _retry_reason(response: Any, error: BaseException | None) -> str:
    if response is not None and getattr(response, "status", None):
        return str(response.status)
    if isinstance(error, NewConnectionError):
        return "connect-refused"
    if isinstance(error, ConnectTimeoutError):
        return "connect-timeout"
    if isinstance(error, ReadTimeoutError):
        return "read-timeout"
    if isinstance(error, ProtocolError):
        return "dropped"
    return type(error).__name__ if error else "unknown"


# ---------------------------------------------------------------------------------------------

class CWClient:
    """A ConnectWise Manage client. Thread-safe for concurrent calls (one shared session).

    ``stats`` counts HTTP requests actually sent, by method, retries included; ``stats_retries``
    counts retries by reason (``"429"``, ``"503"``, ``"500-timeout"``, ``"dropped"``, ...).
    """

    def __init__(
        self,
        settings: CWSettings,
        *,
        timeout: float | tuple[float, float] = (5, 30),
        max_retries: int = 5,
        backoff_factor: float = 0.5,
        backoff_max: float = 30,
        retry_after_max: float = 120,
        pool_size: int = 8,
        session: requests.Session | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = tuple(timeout) if isinstance(timeout, (tuple, list)) else (timeout, timeout)
        self.max_retries = max_retries
        self.backoff_factor = backoff_factor
        self.backoff_max = backoff_max
        self.stats: Counter[str] = Counter()
        self.stats_retries: Counter[str] = Counter()
        self._stats_lock = threading.Lock()
        self._local = threading.local()
        self._codebase: str | None = settings.codebase
        self._last_recheck = 0.0
        self._codebase_lock = threading.Lock()

        token = base64.b64encode(
            f"{settings.company_id}+{settings.public_key}:{settings.private_key}".encode()
        ).decode("ascii")
        for secret in (settings.private_key, settings.public_key, token, f"{settings.company_id}+{settings.public_key}"):
            register_secret(secret)
        install_redaction()
        self._auth_header = {"Authorization": "Basic " + token}

        # The policy object: budgets, Retry-After parsing and capping, backoff with jitter.
        # It is driven by the loop in _send (see the module docstring for why).
        self._retry = _CWRetry(
            total=max_retries,
            connect=max_retries,
            read=max_retries,
            status=max_retries,
            other=0,
            redirect=0,
            allowed_methods=IDEMPOTENT_METHODS,
            backoff_factor=backoff_factor,
            backoff_max=backoff_max,
            backoff_jitter=backoff_factor,
            retry_after_max=retry_after_max,
            respect_retry_after_header=True,
            raise_on_status=False,
        )
        self.session = session or requests.Session()
        # No retries inside the adapter (Retry(0, read=False)): every attempt passes through _send.
        adapter = HTTPAdapter(
            max_retries=Retry(0, read=False, redirect=0), pool_connections=pool_size, pool_maxsize=pool_size
        )
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update(
            {
                "Accept": f"application/vnd.connectwise.com+json; version={settings.api_version}",
                "clientId": settings.client_id or "",
                "User-Agent": "billbridge/0.1 (python-requests)",
            }
        )
        if not settings.client_id:
            del self.session.headers["clientId"]

    # -- housekeeping ------------------------------------------------------------------------

    def __repr__(self) -> str:
        s = self.settings
        return (
            f"CWClient(site={s.site!r}, company_id={s.company_id!r}, "
            f"public_key={mask_secret(s.public_key)!r}, codebase={self._codebase!r})"
        )

    __str__ = __repr__

    def __enter__(self) -> CWClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def reset_stats(self) -> None:
        with self._stats_lock:
            self.stats.clear()
            self.stats_retries.clear()

    def _count(self, method: str, reason: str | None = None) -> None:
        with self._stats_lock:
            self.stats[method.upper()] += 1
            if reason:
                self.stats_retries[reason] += 1

    # -- URLs ------------------------------------------------------------------------------

    @property
    def codebase(self) -> str:
        """The codebase (``v4_6_release``, ``v2025_1``), looked up once when not configured."""
        if self._codebase is None:
            with self._codebase_lock:
                if self._codebase is None:
                    self._codebase = self._lookup_codebase() or DEFAULT_CODEBASE
        return self._codebase

    @property
    def base_url(self) -> str:
        return f"{self.settings.site}/{self.codebase}/apis/3.0"

    def _lookup_codebase(self) -> str | None:
        info = self.company_info()
        if not info:
            log.warning(
                "company %r is unknown at %s (companyinfo returned nothing); using %s",
                self.settings.company_id,
                self.settings.site,
                DEFAULT_CODEBASE,
            )
            return None
        cb = str(info.get("Codebase") or "").strip().strip("/")
        return cb or None

    def _recheck_codebase(self) -> bool:
        """After a 404: re-read the codebase (gotcha 5), at most once a minute (a run of deleted
        records must not double every request). True when it changed."""
        if self.settings.codebase is not None:
            return False
        with self._codebase_lock:
            if self._last_recheck and time.monotonic() - self._last_recheck < 60:
                return False
            self._last_recheck = time.monotonic()
            try:
                fresh = self._lookup_codebase()
            except ConnectWiseError:
                return False
            if fresh and fresh != self._codebase:
                log.info("ConnectWise codebase changed from %s to %s", self._codebase, fresh)
                self._codebase = fresh
                return True
        return False

    def _api_path(self, path: str) -> str:
        """Normalise a path given by a caller to ``/company/companies`` form (no query string)."""
        if path.startswith(("http://", "https://")):
            parts = urlsplit(path)
            marker = "/apis/3.0"
            p = parts.path
            path = p.split(marker, 1)[1] if marker in p else p
        path = path.split("?", 1)[0]
        return "/" + path.lstrip("/")

    def _url(self, path: str) -> str:
        if path.startswith(("http://", "https://")):
            return self._same_origin(path)
        return self.base_url + "/" + path.lstrip("/")

    def _same_origin(self, url: str) -> str:
        """``url`` moved onto our site's origin when it points elsewhere: credentials are only
        ever sent to the configured site."""
        ours = urlsplit(self.settings.site)
        theirs = urlsplit(url)
        if (theirs.scheme, theirs.netloc.lower()) == (ours.scheme, ours.netloc.lower()):
            return url
        log.debug("rebasing a link from %s onto %s", theirs.netloc, ours.netloc)
        return urlunsplit((ours.scheme, ours.netloc, theirs.path, theirs.query, ""))

    # -- the one request path --------------------------------------------------------------

    def _send(
        self,
        method: str,
        url: str,
        *,
        path: str,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        auth: bool = True,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send with retries; return the final response (any status). Raises CWConnectionError.

        ``idempotent`` overrides the method's default (a PATCH with an ``add``/``remove`` op is
        not treated as safe to repeat)."""
        method = method.upper()
        if idempotent is None:
            idempotent = method in IDEMPOTENT_METHODS
        h: dict[str, str] = dict(self._auth_header) if auth else {}
        data = None
        if body is not None:
            h["Content-Type"] = "application/json"
            data = json.dumps(to_wire(body), separators=(",", ":")).encode("utf-8")
        if headers:
            h.update(headers)
        self._local.retries = 0
        retry = self._retry.new(
            allowed_methods=(IDEMPOTENT_METHODS | {method}) if idempotent else (IDEMPOTENT_METHODS - {method})
        )
        while True:
            started = time.perf_counter()
            self._count(method)
            try:
                resp = self.session.request(
                    method, url, params=params, data=data, headers=h, timeout=self.timeout, allow_redirects=False
                )
            except requests.exceptions.RequestException as exc:
                elapsed = (time.perf_counter() - started) * 1e3
                uerr = _urllib3_error(exc)
                reason = _retry_reason(None, uerr)
                try:
                    if uerr is None:
                        raise exc
                    # Raises for a read error on a non-idempotent method (never re-POST) and
                    # when the budget is spent.
                    retry = retry.increment(method, url, error=uerr)
                except Exception:
                    err = self._connection_error(exc, method, path, url)
                    log.debug("%s %s -> no response (%s) in %.1f ms", method, path, err.reason, elapsed)
                    raise err from None
                self._note_retry(method, path, reason, elapsed)
                retry.sleep()
                continue
            elapsed = (time.perf_counter() - started) * 1e3
            log.debug(
                "%s %s -> %s in %.1f ms (retries=%d)", method, path, resp.status_code, elapsed, self.retries_last_call
            )
            reason = self._retry_status_reason(idempotent, resp)
            if reason is None:
                return resp
            try:
                retry = retry.increment(method, url, response=resp.raw)
            except MaxRetryError:
                return resp  # budget spent: the caller raises the typed error for this response
            self._note_retry(method, path, reason, elapsed)
            resp.close()
            retry.sleep(resp.raw)

    @staticmethod
    def _retry_status_reason(idempotent: bool, resp: requests.Response) -> str | None:
        """Why this response should be retried, or None. 429: always (refused unprocessed);
        502/503/504: idempotent methods; 500: idempotent methods when the body mentions a timeout."""
        status = resp.status_code
        if status == 429:
            return "429"
        if not idempotent:
            return None
        if status in (502, 503, 504):
            return str(status)
        if status == 500 and "timeout" in ((resp.text or "") + " " + (resp.reason or "")).lower():
            return "500-timeout"
        return None

    def _note_retry(self, method: str, path: str, reason: str, elapsed_ms: float) -> None:
        self._local.retries = getattr(self._local, "retries", 0) + 1
        with self._stats_lock:
            self.stats_retries[reason] += 1
        log.debug("%s %s: retry %d after %s (%.1f ms)", method, path, self._local.retries, reason, elapsed_ms)

    @property
    def retries_last_call(self) -> int:
        """Retries spent by the most recent call made from this thread."""
        return getattr(self._local, "retries", 0)

    def _connection_error(
        self, exc: requests.exceptions.RequestException, method: str, path: str, url: str
    ) -> CWConnectionError:
        netloc = urlsplit(url).netloc
        connect_t, read_t = self.timeout
        if isinstance(exc, requests.exceptions.ConnectTimeout):
            reason, msg, sent = "connect-timeout", f"connecting to {netloc} timed out after {connect_t} s", False
        elif isinstance(exc, requests.exceptions.ReadTimeout):
            reason, msg, sent = "read-timeout", f"{netloc} did not answer within {read_t} s", True
        elif isinstance(exc, requests.exceptions.SSLError):
            reason, msg, sent = "ssl", f"TLS handshake with {netloc} failed", False
        elif isinstance(exc, requests.exceptions.ConnectionError):
            root = exc.args[0] if exc.args else None
            inner = getattr(root, "reason", root)
            if isinstance(inner, NewConnectionError):
                reason, msg, sent = "refused", f"could not connect to {netloc} (connection refused or host unknown)", False
            elif isinstance(inner, ConnectTimeoutError):
                reason, msg, sent = "connect-timeout", f"connecting to {netloc} timed out after {connect_t} s", False
            elif isinstance(inner, ReadTimeoutError):
                reason, msg, sent = "read-timeout", f"{netloc} did not answer within {read_t} s", True
            else:
                reason, msg, sent = "dropped", f"{netloc} closed the connection without an answer", True
        else:
            reason, msg, sent = "other", f"request to {netloc} failed: {type(exc).__name__}", True
        return CWConnectionError(
            redact(msg),
            method=method,
            path=path,
            retries=self.retries_last_call,
            reason=reason,
            outcome_unknown=sent and method != "GET",
        )

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool | None = None,
    ) -> requests.Response:
        """Send to the API; raise the typed error on a non-2xx; re-resolve the codebase on a 404."""
        api_path = self._api_path(path)
        kw = dict(path=api_path, params=params, body=body, headers=headers, idempotent=idempotent)
        resp = self._send(method, self._url(path), **kw)
        if resp.status_code == 404 and not path.startswith(("http://", "https://")) and self._recheck_codebase():
            resp = self._send(method, self._url(path), **kw)
        if resp.status_code >= 400 or resp.status_code < 200:
            raise error_from_response(resp, method, api_path, retries=self.retries_last_call)
        return resp

    @staticmethod
    def _json(resp: requests.Response) -> Any:
        if resp.status_code == 204 or not resp.content:
            return None
        try:
            return resp.json()
        except ValueError as exc:
            raise ConnectWiseError(
                f"ConnectWise answered {resp.status_code} with a body that is not JSON",
                status=resp.status_code,
                method=resp.request.method,
                path=urlsplit(resp.url).path,
            ) from exc

    # -- reads -----------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, Any] | None = None) -> Any:
        """GET one resource (or a raw list page) and return the decoded JSON."""
        return self._json(self._call("GET", path, params=params))

    @staticmethod
    def _query(
        conditions: str | None,
        child_conditions: str | None,
        custom_field_conditions: str | None,
        order_by: str | None,
        fields: str | Sequence[str] | None,
    ) -> dict[str, Any]:
        q: dict[str, Any] = {}
        if conditions:
            q["conditions"] = conditions
        if child_conditions:
            q["childConditions"] = child_conditions
        if custom_field_conditions:
            q["customFieldConditions"] = custom_field_conditions
        if order_by:
            q["orderBy"] = order_by
        if fields:
            q["fields"] = fields if isinstance(fields, str) else ",".join(C.field_name(f) for f in fields)
        return q

    def iter(
        self,
        path: str,
        *,
        conditions: str | None = None,
        child_conditions: str | None = None,
        custom_field_conditions: str | None = None,
        order_by: str | None = None,
        fields: str | Sequence[str] | None = None,
        page_size: int = MAX_PAGE_SIZE,
        forward_only: bool = False,
    ) -> Iterator[dict[str, Any]]:
        """Every record of a collection, page after page (gotchas 1 and 2).

        Always sends ``pageSize`` (at most 1000) and follows the server's ``Link: rel="next"``
        URL verbatim, so later pages keep every filter. ``forward_only`` asks for
        ``pagination-type: forward-only`` (ordered by id, ``pageId`` cursor: safe while records
        change). Stops on an empty next link; raises :class:`PaginationError` when a page repeats
        the previous one.
        """
        if not 1 <= int(page_size) <= MAX_PAGE_SIZE:
            raise InputError(f"page_size must be between 1 and {MAX_PAGE_SIZE}")
        page_size = int(page_size)
        base_params = self._query(conditions, child_conditions, custom_field_conditions, order_by, fields)
        headers = {"pagination-type": "forward-only"} if forward_only else None
        params: dict[str, Any] | None = dict(base_params, pageSize=page_size)
        if not forward_only:
            params["page"] = 1
        url = self._url(path)
        api_path = self._api_path(path)
        page_no = 1
        prev_rows: list[Any] | None = None
        while True:
            resp = self._send("GET", url, path=api_path, params=params, headers=headers)
            if resp.status_code == 404 and page_no == 1 and self._recheck_codebase():
                url = self._url(path)
                resp = self._send("GET", url, path=api_path, params=params, headers=headers)
            if not 200 <= resp.status_code < 300:
                raise error_from_response(resp, "GET", api_path, retries=self.retries_last_call)
            rows = self._json(resp)
            if rows is None:
                rows = []
            if not isinstance(rows, list):
                raise PaginationError(
                    f"expected a list from a collection, got {type(rows).__name__}", method="GET", path=api_path
                )
            if rows and prev_rows is not None and rows == prev_rows:
                raise PaginationError(
                    f"page {page_no} repeats page {page_no - 1}; stopping instead of looping",
                    method="GET",
                    path=api_path,
                )
            yield from rows
            if not rows:
                return
            next_url = resp.links.get("next", {}).get("url")
            if next_url:
                next_url = self._same_origin(next_url)
                if next_url == resp.url:
                    raise PaginationError(
                        f"the next link of page {page_no} points at the same page", method="GET", path=api_path
                    )
                url, params = next_url, None
            elif "Link" in resp.headers or len(rows) < page_size:
                return  # the server said there is no next page (or this page is short)
            else:
                # No Link header at all but a full page: ask for the next one ourselves.
                params = dict(base_params, pageSize=page_size)
                if forward_only:
                    last_id = rows[-1].get("id") if isinstance(rows[-1], dict) else None
                    if last_id is None:
                        raise PaginationError(
                            "forward-only paging needs 'id' in fields", method="GET", path=api_path
                        )
                    params["pageId"] = last_id
                else:
                    params["page"] = page_no + 1
                url = self._url(path)
            prev_rows = rows
            page_no += 1

    def list(self, path: str, **kw: Any) -> list[dict[str, Any]]:
        """All records as a list (same arguments as :meth:`iter`)."""
        return list(self.iter(path, **kw))

    def count(self, path: str, conditions: str | None = None, child_conditions: str | None = None) -> int:
        """``GET {path}/count`` -> the number of matching records."""
        params = self._query(conditions, child_conditions, None, None, None)
        body = self.get(path.rstrip("/") + "/count", params=params or None)
        return int(body["count"])

    def get_many(
        self,
        path: str,
        ids: Iterable[Any],
        *,
        field: str = "id",
        fields: str | Sequence[str] | None = None,
        extra_conditions: str | None = None,
        max_url: int = 2000,
        max_batch: int = 200,
    ) -> list[dict[str, Any]]:
        """Records whose ``field`` is in ``ids``, in as few ``field in (...)`` queries as the URL
        length (``max_url``, gotcha 10) and ``max_batch`` allow."""
        C.field_name(field)
        ids = list(ids)
        if not ids:
            return []
        url = self._url(path)
        base = self._query(None, None, None, None, fields)
        margin = 24  # the Link URLs of later pages add "&page=NN"

        def make_url(batch: list[Any]) -> str:
            params = dict(base, conditions=C.all_of(C.in_(field, batch), extra_conditions), pageSize=MAX_PAGE_SIZE, page=1)
            req = requests.PreparedRequest()
            req.prepare_url(url, params)
            return req.url + "x" * margin

        out: list[dict[str, Any]] = []
        for batch in batch_ids(ids, make_url, max_url=max_url, max_batch=max_batch):
            out.extend(
                self.iter(path, conditions=C.all_of(C.in_(field, batch), extra_conditions), fields=fields)
            )
        return out

    def system_info(self) -> dict[str, Any]:
        """``GET /system/info`` (server version, cloud flag, time zone)."""
        return self.get("/system/info")

    def company_info(self) -> dict[str, Any] | None:
        """``GET {site}/login/companyinfo/{companyId}`` without credentials; None if unknown."""
        url = f"{self.settings.site}/login/companyinfo/{quote(self.settings.company_id, safe='')}"
        path = "/login/companyinfo"
        resp = self._send("GET", url, path=path, auth=False)
        if resp.status_code == 404:
            return None
        if not 200 <= resp.status_code < 300:
            raise error_from_response(resp, "GET", path, retries=self.retries_last_call)
        body = self._json(resp)
        return body if isinstance(body, dict) and body else None

    # -- writes ----------------------------------------------------------------------------

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Create a record (201 + entity). Never re-sent after a timeout, drop or 5xx: those raise
        with ``outcome_unknown=True``."""
        return self._json(self._call("POST", path, body=body))

    def patch(self, path: str, ops: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        """Apply a JSON Patch list (``[{"op": "replace", "path": "quantity", "value": 5}]``)."""
        if not isinstance(ops, Sequence) or isinstance(ops, (str, bytes)):
            raise TypeError("patch() takes a list of JSON Patch operations")
        for op in ops:
            if op.get("op") not in ("add", "replace", "remove") or not _PATCH_PATH_RE.fullmatch(str(op.get("path", ""))):
                raise InputError(f"not a ConnectWise JSON Patch operation: {op!r}")
        replace_only = all(op.get("op") == "replace" for op in ops)
        return self._json(self._call("PATCH", path, body=list(ops), idempotent=replace_only))

    def patch_fields(self, path: str, values: Mapping[str, Any]) -> dict[str, Any]:
        """PATCH with one ``replace`` op per field; dates/Decimals encoded for the wire."""
        if not values:
            raise InputError("patch_fields() needs at least one field")
        ops = [{"op": "replace", "path": str(k), "value": to_wire(v)} for k, v in values.items()]
        return self.patch(path, ops)

    def put(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """Replace a whole record (every "Required On Updates" field must be present)."""
        return self._json(self._call("PUT", path, body=body))

    def delete(self, path: str) -> None:
        """Delete a record (204)."""
        self._call("DELETE", path)
