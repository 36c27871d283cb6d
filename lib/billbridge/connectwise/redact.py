"""Keep ConnectWise secrets out of log lines, reprs and exception text.

Every :class:`~billbridge.connectwise.client.CWClient` registers its public key, private key and
the Basic ``Authorization`` token here; :func:`redact` removes them (and any ``Authorization:``
header value) from a string, and :class:`RedactingFilter` does the same to every log record that
passes through the loggers it is installed on (our own ``billbridge`` loggers plus ``urllib3``
and ``requests``).
"""

from __future__ import annotations

import logging
import re
import threading

__all__ = ["register_secret", "redact", "RedactingFilter", "install_redaction", "REDACTED"]

REDACTED = "[REDACTED]"
_MIN_SECRET_LEN = 4  # never "redact" one or two characters out of every log line

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None

# "Authorization: Basic xxx", "'Authorization': 'Basic xxx'", "Basic xxx" tokens
_AUTH_RE = re.compile(
    r"(?i)(authorization['\"]?\s*[:=]\s*['\"]?)(basic|bearer)?\s*[A-Za-z0-9+/=._~-]+"
)
_BASIC_RE = re.compile(r"(?i)\b(basic)\s+[A-Za-z0-9+/]{8,}={0,2}")


def register_secret(value: str | None) -> None:
    """Remember ``value`` so :func:`redact` removes it everywhere from now on."""
    global _pattern
    if not value or len(value) < _MIN_SECRET_LEN:
        return
    with _lock:
        if value in _secrets:
            return
        _secrets.add(value)
        alts = sorted(_secrets, key=len, reverse=True)
        _pattern = re.compile("|".join(re.escape(s) for s in alts))


def redact(text: object) -> str:
    """``text`` as a string with registered secrets and Authorization values replaced."""
    s = text if isinstance(text, str) else str(text)
    pat = _pattern
    if pat is not None:
        s = pat.sub(REDACTED, s)
    s = _AUTH_RE.sub(lambda m: m.group(1) + REDACTED, s)
    s = _BASIC_RE.sub(lambda m: m.group(1) + " " + REDACTED, s)
    return s


class RedactingFilter(logging.Filter):
    """A logging filter that rewrites each record's message (and args) with :func:`redact`."""

    def filter(self, record: logging.LogRecord) -> bool:  # noqa: A003 - logging API name
        try:
            message = record.getMessage()
        except Exception:  # a malformed record: leave it to logging's own error handling
            return True
        clean = redact(message)
        if clean != message or record.args:
            record.msg = clean
            record.args = None
        if record.exc_info and record.exc_text is None and record.exc_info[1] is not None:
            # Pre-format the traceback so the handler prints the redacted text.
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


_FILTER = RedactingFilter()
_installed: set[str] = set()
LOGGER_NAMES = (
    "billbridge",
    "billbridge.connectwise",
    "urllib3",
    "urllib3.connectionpool",
    "urllib3.util.retry",
    "requests",
)


def install_redaction(*logger_names: str) -> None:
    """Attach the redacting filter to the named loggers (default: ours, urllib3's, requests').

    A filter on a logger only sees records logged *at* that logger, so every logger that can
    emit request details is listed explicitly. Idempotent.
    """
    for name in logger_names or LOGGER_NAMES:
        if name in _installed:
            continue
        logging.getLogger(name).addFilter(_FILTER)
        _installed.add(name)
