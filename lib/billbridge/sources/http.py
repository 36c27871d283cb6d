"""HTTP for vendor APIs (Pax8, Sherweb): one ``requests.Session`` with urllib3 retries, an OAuth2
bearer token fetched once and renewed on 401, and errors under :class:`~billbridge.errors.BillbridgeError`.

Retry policy (the ConnectWise client's, simplified because every vendor call billbridge makes is
a read): a ``urllib3.util.Retry`` mounted on the adapter retries

* 429 (waiting ``Retry-After``, seconds or HTTP date, capped at ``retry_after_max``), 500, 502,
  503, 504, for GET and for the token POST (asking for a token twice creates nothing);
* refused connections, connect and read timeouts and dropped connections;

with exponential backoff and jitter (``backoff_factor * 2**(n-1)``, capped at ``backoff_max``).
Every attempt is counted in :attr:`VendorClient.stats` (``requests``; ``tokens`` = token requests)
and every retry by reason in :attr:`VendorClient.retries`.

Secrets (client secret, subscription key, tokens) are registered with
:mod:`billbridge.connectwise.redact`, so no log line, exception message or repr carries them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

from billbridge.connectwise.redact import install_redaction, redact, register_secret
from billbridge.errors import EXIT_CW, BillbridgeError

__all__ = ["VendorAPIError", "VendorAuthError", "VendorConnectionError", "VendorClient", "RETRY_STATUSES",
           "forget_tokens", "token_cache_key"]

log = logging.getLogger("billbridge.sources.http")
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class VendorAPIError(BillbridgeError):
    """A vendor API refused or failed a request (CLI exit 3). Carries ``vendor``, ``status``,
    ``method``, ``path`` (never the query string or a header) and ``retries`` spent."""

    exit_code = EXIT_CW

    def __init__(self, message: str, *, vendor: str, status: int | None = None, method: str | None = None,
                 path: str | None = None, retries: int = 0):
        self.message = redact(message)
        self.vendor, self.status, self.method, self.path, self.retries = vendor, status, method, path, retries
        super().__init__(self.message)

    def __str__(self) -> str:
        where = f" on {self.method} {self.path}" if self.method and self.path else ""
        head = f"{self.vendor} answered {self.status}{where}: " if self.status else f"{self.vendor}{where}: "
        tail = f" [after {self.retries} retr{'y' if self.retries == 1 else 'ies'}]" if self.retries else ""
        return redact(head + self.message + tail)


class VendorAuthError(VendorAPIError):
    """401/403: the credentials are wrong, revoked, or lack a permission."""


class VendorConnectionError(VendorAPIError):
    """No answer: connection refused, timed out or dropped (after the retries)."""


class _CountingRetry(Retry):
    """urllib3's Retry that reports every retry to ``on_retry(reason)``."""

    on_retry: Callable[[str], None] | None = None

    def new(self, **kw: Any) -> "_CountingRetry":
        r = super().new(**kw)
        r.on_retry = self.on_retry
        return r

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # noqa: D401
        new = super().increment(method, url, response, error, _pool, _stacktrace)
        if self.on_retry is not None:
            self.on_retry(str(response.status) if response is not None and response.status else type(error).__name__)
        return new


TokenFetcher = Callable[["VendorClient"], "str | tuple[str, float | None]"]

#: bearer tokens kept in memory between pulls of one process, per (token URL, client id, secret
#: fingerprint): (token, monotonic expiry). Never written anywhere; see :func:`forget_tokens`.
_TOKENS: dict[tuple[str, str, str], tuple[str, float]] = {}
_TOKENS_LOCK = threading.Lock()
_TOKEN_MARGIN_S = 300  # renew this long before the vendor's stated expiry


def forget_tokens() -> None:
    """Drop every cached bearer token (the next call asks the vendor for a new one)."""
    with _TOKENS_LOCK:
        _TOKENS.clear()


def token_cache_key(token_url: str, client_id: str, secret: str | None) -> tuple[str, str, str]:
    import hashlib

    return (token_url, client_id, hashlib.sha256((secret or "").encode("utf-8")).hexdigest())


class VendorClient:
    """A vendor API client: ``get(path, params)`` -> JSON (numbers as their exact text).

    ``fetch_token(client)`` returns a bearer token, or ``(token, expires_in seconds)`` (it may
    use :meth:`post` without auth); it is called once, and again when a call answers 401 (once per
    call). With a ``token_key`` (:func:`token_cache_key`) the token is kept in memory for the
    process and reused by the next client with the same credentials until shortly before it
    expires (vendors limit token requests; Pax8's live 24 h). ``headers`` go on every request
    (e.g. Sherweb's ``Ocp-Apim-Subscription-Key``). Thread-safe: one shared session.
    """

    def __init__(self, vendor: str, base_url: str, *, fetch_token: TokenFetcher,
                 token_key: tuple[str, str, str] | None = None,
                 headers: Mapping[str, str] | None = None, timeout: float | tuple[float, float] = (5, 60),
                 max_retries: int = 5, backoff_factor: float = 0.5, backoff_max: float = 30,
                 retry_after_max: int = 120, pool_size: int = 8, secrets: tuple[str | None, ...] = ()):
        self.vendor = vendor
        self.base_url = base_url.rstrip("/")
        self.timeout = tuple(timeout) if isinstance(timeout, (tuple, list)) else (timeout, timeout)
        self.stats: Counter[str] = Counter()
        self.retries: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._token_lock = threading.Lock()
        self._token: str | None = None
        self._fetch_token = fetch_token
        self._token_key = token_key
        for s in secrets:
            register_secret(s)
        install_redaction()
        install_redaction("billbridge.sources", "billbridge.sources.http")
        retry = _CountingRetry(
            total=max_retries, connect=max_retries, read=max_retries, status=max_retries, other=0, redirect=0,
            allowed_methods=frozenset({"GET", "POST"}), status_forcelist=RETRY_STATUSES,
            backoff_factor=backoff_factor, backoff_max=backoff_max, backoff_jitter=backoff_factor,
            retry_after_max=retry_after_max, respect_retry_after_header=True, raise_on_status=False,
        )
        retry.on_retry = self._note_retry
        self.session = requests.Session()
        adapter = HTTPAdapter(max_retries=retry, pool_connections=pool_size, pool_maxsize=pool_size)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self.session.headers.update({"Accept": "application/json", "User-Agent": "billbridge/0.1 (python-requests)"})
        if headers:
            self.session.headers.update(headers)

    def __repr__(self) -> str:
        return f"VendorClient(vendor={self.vendor!r}, base_url={self.base_url!r})"

    def __enter__(self) -> "VendorClient":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.session.close()

    def _note_retry(self, reason: str) -> None:
        with self._lock:
            self.stats["requests"] += 1
            self.retries[reason] += 1
        log.debug("%s: retry after %s", self.vendor, reason)

    # ---------------------------------------------------------------------------- requests
    def _send(self, method: str, url: str, **kw: Any) -> requests.Response:
        path = urlsplit(url).path
        started = time.perf_counter()
        with self._lock:
            self.stats["requests"] += 1
        try:
            resp = self.session.request(method, url, timeout=self.timeout, allow_redirects=False, **kw)
        except requests.RequestException as exc:
            raise VendorConnectionError(_connection_reason(exc, url), vendor=self.vendor, method=method,
                                        path=path, retries=sum(self.retries.values())) from None
        log.debug("%s %s -> %s in %.1f ms", method, path, resp.status_code, (time.perf_counter() - started) * 1e3)
        return resp

    def post(self, url: str, *, json: Any = None, data: Mapping[str, str] | None = None) -> Any:
        """POST without the bearer token (the token request); -> the JSON answer."""
        resp = self._send("POST", url, json=json, data=data)
        if not resp.ok:
            raise self._error(resp, "POST", url, auth=True)
        return _json(resp, self.vendor, "POST", url)

    def token(self) -> str:
        with self._token_lock:
            if self._token is None and self._token_key is not None:
                with _TOKENS_LOCK:
                    cached = _TOKENS.get(self._token_key)
                if cached is not None and cached[1] > time.monotonic():
                    self._token = cached[0]
            if self._token is None:
                with self._lock:
                    self.stats["tokens"] += 1
                got = self._fetch_token(self)
                token, expires_in = got if isinstance(got, tuple) else (got, None)
                register_secret(token)
                self._token = token
                if self._token_key is not None and expires_in:
                    with _TOKENS_LOCK:
                        _TOKENS[self._token_key] = (token, time.monotonic() + max(0.0, float(expires_in) - _TOKEN_MARGIN_S))
            return self._token

    def _renew(self, stale: str) -> None:
        with self._token_lock:
            if self._token == stale:  # another thread may have renewed it already
                self._token = None
            if self._token_key is not None:
                with _TOKENS_LOCK:
                    if _TOKENS.get(self._token_key, ("",))[0] == stale:
                        del _TOKENS[self._token_key]

    def get(self, path: str, params: Mapping[str, Any] | None = None, *, with_body: bool = False) -> Any:
        """GET ``path`` (relative to ``base_url``) with the bearer token; a 401 renews the token
        once. -> the JSON answer with every number as its exact text (``with_body``: and the raw
        bytes, e.g. to fingerprint the answer)."""
        url = path if path.startswith(("http://", "https://")) else f"{self.base_url}/{path.lstrip('/')}"
        for attempt in (1, 2):
            tok = self.token()
            resp = self._send("GET", url, params=params, headers={"Authorization": f"Bearer {tok}"})
            if resp.status_code == 401 and attempt == 1:
                resp.close()
                log.debug("%s: token refused, renewing it", self.vendor)
                self._renew(tok)
                continue
            if not resp.ok:
                raise self._error(resp, "GET", url)
            data = _json(resp, self.vendor, "GET", url)
            return (data, resp.content) if with_body else data
        raise AssertionError("unreachable")

    def _error(self, resp: requests.Response, method: str, url: str, auth: bool = False) -> VendorAPIError:
        path = urlsplit(url).path
        message = _error_message(resp)
        cls = VendorAuthError if resp.status_code in (401, 403) else VendorAPIError
        if resp.status_code in (401, 403):
            message = ("the credentials were refused" if resp.status_code == 401 else "permission denied") + \
                      (f" ({message})" if message else "") + "; check the client id, secret" + \
                      (" and subscription key" if "Ocp-Apim-Subscription-Key" in self.session.headers else "")
        elif resp.status_code == 429:
            message = "rate limited: too many requests" + (f" ({message})" if message else "")
        return cls(message or resp.reason or "request failed", vendor=self.vendor, status=resp.status_code,
                   method=method, path=path, retries=sum(self.retries.values()))


def _json(resp: requests.Response, vendor: str, method: str, url: str) -> Any:
    try:
        return resp.json(parse_float=str, parse_int=str)
    except ValueError:
        raise VendorAPIError("the answer is not JSON", vendor=vendor, status=resp.status_code, method=method,
                             path=urlsplit(url).path) from None


def _error_message(resp: requests.Response) -> str:
    """The vendor's own words from an error body (Pax8 ``message``, OAuth ``error_description``,
    RFC 7807 ``title``/``detail``), short; never the whole body."""
    try:
        body = resp.json()
    except ValueError:
        return ""
    if not isinstance(body, dict):
        return ""
    parts = [body.get(k) for k in ("message", "title", "detail", "error_description", "error")]
    text = "; ".join(str(p) for p in parts if p)
    return text[:300]


def _connection_reason(exc: requests.RequestException, url: str) -> str:
    netloc = urlsplit(url).netloc
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"connecting to {netloc} timed out"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return f"{netloc} did not answer in time"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS handshake with {netloc} failed"
    if isinstance(exc, requests.exceptions.ConnectionError):
        text = str(exc)
        if "refused" in text.lower() or "NewConnectionError" in text or "resolve" in text.lower():
            return f"could not connect to {netloc} (connection refused or host unknown)"
        return f"{netloc} closed the connection without an answer"
    return f"request to {netloc} failed: {type(exc).__name__}"
