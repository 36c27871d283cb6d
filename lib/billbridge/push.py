"""Push: execute plan rows against ConnectWise safely, journal every write, retry and undo.

::

    from billbridge import push
    push.preview(rows)                                   # [Request(key, method, path, body)], exactly as sent
    run = push.push(store, client, rows, operator="ann", month="2026-11", plan_id=7)
    run.status, run.counts, run.requests                 # "ok" | "partial" | "failed", {ok, failed, ...}
    for ev in push.push_events(store, client, rows, operator="ann", month="2026-11"):
        ev.done, ev.total, ev.counts                     # live progress (the page renders these)
    undo_rows = push.plan_undo(store, client, run.id)    # inverse writes, conflicts marked
    push.undo(store, client, run.id, operator="ann")     # runs them as a new, linked push run
    push.retry(store, client, run.id, keys=None, operator="ann")   # failed rows again, new attempts

Rows are plan rows (a DataFrame or a list of dicts, as :func:`billbridge.plan.reconcile` or
:func:`billbridge.month.latest_plan` give them): ``key``, ``action``, ``request`` ({method, path,
body}), ``cw_*`` (what ConnectWise held when the plan was made), ``company_id``/``company_name``,
``agreement_id``, ``cw_addition_id``, ``price_impact``, optional ``target``/``lookup``/``depends_on``.

Rules (each one tested in tests/test_push*.py):

* ``blocked`` rows (and any row without a request) are never written: ``skipped`` with the reason
  (``in_sync`` rows are ``ok``: nothing to write).
* Just before writing, the additions of every agreement touched are re-read (one request per
  agreement and 1,000 additions, run in the worker pool). A PATCH whose addition no longer holds the
  plan's ConnectWise values is a ``conflict`` (a person edited it since the plan) unless ``force``.
  A PATCH whose addition already holds the target values is ``ok`` with no write ("already
  applied"): pushing the same plan twice writes nothing the second time.
* Creates are idempotent by construction: every created addition carries the row's line key (custom
  field ``BillbridgeKey``) and is looked up by that key in the re-read first. After a lost answer
  (``outcome_unknown``), a 5xx or a dropped connection, the record is looked up again before any new
  attempt, so a retry, a re-push, a crash mid-run or a lost response never makes a duplicate. Other
  creates (``target`` company/agreement/...) carry a natural-key ``lookup`` {path, conditions}:
  looked up first, POSTed only when absent, looked up again after an unknown outcome.
* Writes run in a ``ThreadPoolExecutor`` (``concurrency``, default 4). 429 ``Retry-After`` and
  transient retries are the client's; billbridge adds at most ``max_attempts`` verified attempts
  per row for failures the client does not retry (a POST that got no answer, a plain 500).
* Journal: every write attempt is inserted in ``push_journal`` BEFORE it is sent (``intent``) and
  completed after (``ok``/``failed``/``unknown``), with body, status, CW code/message/field errors,
  the record before and after, attempt number and duration. SQLite is only touched from the thread
  that runs :func:`push_events` (workers hand their journal writes to it and wait), so one
  connection serves the whole run. Secrets never reach the journal (values equal to the client's
  keys are masked before anything is stored).
* A run interrupted by a dead process is marked ``interrupted`` by the next push (its unanswered
  entries become ``unknown``); the next push then re-reads and completes without duplicates.
* A 403 (the API member lacks a permission) is not worth repeating: the first write of each kind
  (``POST`` additions, ``PATCH`` additions, ``DELETE`` additions, ``POST`` companies, ...) is sent
  alone; when it comes back 403 no other write of that kind is sent, and those rows are
  ``skipped`` (error code ``PermissionMissing``) with the permission and the fix. :func:`retry`
  takes them along with the failed rows.
* A failed row's ``reason`` names the request that failed (method, path, how many times it was
  sent) and the writes actually made for the row, then what to do.
* Undo (:func:`plan_undo`, billing-rules Rule 6.7): a PATCH is undone by writing the values back;
  an addition the run created that no ConnectWise invoice has billed yet is DELETEd (the journal
  keeps its full record as the entry's ``before``); one already invoiced is not undone: the row says
  so and carries a correcting line (``correction``) that ``undo(..., correct_invoiced=True)`` adds.
* ``token``: a run token (the page keeps one per confirmation); a second call with the same token
  returns the first run instead of pushing again, so a Streamlit rerun never pushes twice.
"""

from __future__ import annotations

import json
import queue
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

import pandas as pd

from billbridge import demo_world
from billbridge import errors
from billbridge.config import operator_name
from billbridge import store as st
from billbridge.connectwise.client import to_wire
from billbridge.connectwise.errors import (
    AuthenticationError,
    ConnectWiseError,
    CWConnectionError,
    NotFoundError,
    ObjectExistsError,
    PermissionDeniedError,
    RateLimitedError,
    ServerError,
    explain,
    required_permission,
)

__all__ = [
    "Request", "RowResult", "PushRun", "Progress", "RESULTS",
    "normalize_rows", "preview", "pushable", "push_events", "push", "plan_undo", "undo", "retry_rows", "retry",
    "retryable", "new_token", "failure_text", "write_kind", "billed_by", "with_corrections", "UNDO_ACTIONS",
    "plan_out_of_date",
]

RESULTS = ("ok", "failed", "conflict", "skipped")
LINE_KEY_FIELD = demo_world.LINE_KEY_FIELD
LINE_KEY_FIELD_ID = demo_world.LINE_KEY_FIELD_ID
#: addition fields compared for conflicts: plan column -> ConnectWise field
EXPECT_COLUMNS = {"cw_quantity": "quantity", "cw_unit_price": "unitPrice", "cw_unit_cost": "unitCost",
                  "cw_effective_date": "effectiveDate", "cw_cancelled_date": "cancelledDate"}
DATE_FIELDS = {"effectiveDate", "cancelledDate"}
NUMBER_FIELDS = {"quantity", "unitPrice", "unitCost", "lessIncluded"}


# ------------------------------------------------------------------------------------ data types
@dataclass
class Request:
    """One write exactly as it will be sent (``path`` relative to the API root, ``body`` as JSON)."""

    key: str
    method: str
    path: str
    body: Any
    action: str | None = None
    company_name: str | None = None
    agreement_id: int | None = None
    price_impact: Decimal | None = None

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["price_impact"] = None if self.price_impact is None else str(self.price_impact)
        return d


@dataclass
class RowResult:
    key: str
    result: str  # ok | failed | conflict | skipped
    reason: str
    action: str | None = None
    company_id: int | None = None
    company_name: str | None = None
    agreement_id: int | None = None
    addition_id: int | None = None
    http_status: int | None = None
    error_code: str | None = None
    error_class: str | None = None
    cw_message: str | None = None
    field_errors: list[dict] | None = None
    retries: int | None = None
    attempts: int = 0
    writes: int = 0


@dataclass
class PushRun:
    id: int
    kind: str
    month: str | None
    status: str  # running | ok | partial | failed | interrupted | nothing
    counts: dict[str, int]
    rows: list[RowResult] = field(default_factory=list)
    requests: dict[str, int] = field(default_factory=dict)
    writes: int = 0
    dry_run: bool = False
    parent_run_id: int | None = None
    started_at: str | None = None
    finished_at: str | None = None
    reused: bool = False  # True: the token had already run; nothing was pushed this time

    @property
    def all_ok(self) -> bool:
        return self.counts.get("failed", 0) == 0 and self.counts.get("conflict", 0) == 0

    @property
    def credentials_refused(self) -> bool:
        return any(r.http_status == 401 for r in self.rows)


@dataclass
class Progress:
    """One progress event: ``done`` of ``total`` rows, counts by result, the row just finished."""

    run_id: int
    total: int
    done: int
    counts: dict[str, int]
    row: RowResult | None = None
    message: str = ""
    run: PushRun | None = None  # set on the last event


def new_token() -> str:
    return uuid.uuid4().hex


# ------------------------------------------------------------------------------------ helpers
def _null(v: Any) -> bool:
    return v is None or v is pd.NA or v is pd.NaT or (isinstance(v, float) and v != v)


def _clean(v: Any) -> Any:
    if _null(v):
        return None
    if hasattr(v, "item") and not isinstance(v, (list, dict, str)):  # numpy scalars
        try:
            return v.item()
        except (ValueError, AttributeError):
            return v
    return v


def normalize_rows(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Plan rows as plain dicts (NaN -> None, numpy scalars -> Python)."""
    if isinstance(rows, pd.DataFrame):
        records = rows.to_dict("records")
    else:
        records = [dict(r) for r in rows]
    return [{k: _clean(v) for k, v in r.items()} for r in records]


def _int(v: Any) -> int | None:
    v = _clean(v)
    if v is None or v == "":
        return None
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


def _dec(v: Any) -> Decimal | None:
    if _null(v) or v == "":
        return None
    if isinstance(v, Decimal):
        return v
    try:
        return Decimal(repr(v)) if isinstance(v, float) else Decimal(str(v))
    except InvalidOperation:
        return None


def _key_value(custom_fields: Any) -> str | None:
    for cf in custom_fields or []:
        if isinstance(cf, Mapping) and (cf.get("id") == LINE_KEY_FIELD_ID or cf.get("caption") == LINE_KEY_FIELD):
            v = cf.get("value")
            return None if v in (None, "") else str(v)
    return None


def _norm(field_: str, v: Any) -> Any:
    """A field value in a comparable form (numbers exact, dates as YYYY-MM-DD, refs by id)."""
    if field_ in NUMBER_FIELDS:
        return _dec(v)
    if field_ in DATE_FIELDS:
        return None if _null(v) or v == "" else str(v)[:10]
    if field_ == "customFields":
        return _key_value(v)
    if isinstance(v, Mapping) and "id" in v:
        return _int(v.get("id"))
    return _clean(v)


def _field_of(record: Mapping[str, Any], field_: str) -> Any:
    if field_ == "lastUpdated":
        return (record.get("_info") or {}).get("lastUpdated")
    return record.get(field_)


def _differences(record: Mapping[str, Any], wanted: Mapping[str, Any]) -> list[str]:
    """Fields of ``wanted`` whose value ``record`` does not hold (``lastUpdated`` compared as text)."""
    out = []
    for f, v in wanted.items():
        have = _field_of(record, f)
        if f == "lastUpdated":
            if v and have and str(have)[:19] != str(v)[:19]:
                out.append(f)
        elif _norm(f, have) != _norm(f, v):
            out.append(f)
    return out


def _line_key(row: Mapping[str, Any]) -> str:
    body = ((row.get("request") or {}).get("body")) or {}
    if isinstance(body, Mapping):
        k = _key_value(body.get("customFields"))
        if k:
            return k
    return str(row["key"])


def _target_of(row: Mapping[str, Any]) -> str:
    t = row.get("target")
    return str(t) if t else "addition"


def _is_addition_path(path: str) -> bool:
    parts = [p for p in str(path).split("/") if p]
    return len(parts) >= 4 and parts[0] == "finance" and parts[1] == "agreements" and parts[3] == "additions"


def _agreement_of(path: str) -> int | None:
    parts = [p for p in str(path).split("/") if p]
    return _int(parts[2]) if _is_addition_path(path) else None


def _addition_of(path: str) -> int | None:
    parts = [p for p in str(path).split("/") if p]
    return _int(parts[4]) if _is_addition_path(path) and len(parts) > 4 else None


def _why_not(row: Mapping[str, Any]) -> str | None:
    """Why a row is never written (None when it can be pushed)."""
    action = row.get("action")
    req = row.get("request")
    if action == "blocked":
        cause = row.get("cause") or "blocked"
        return f"blocked ({cause}): {row.get('reason') or 'the plan cannot write this row'}"
    if not req or not isinstance(req, Mapping) or not req.get("method"):
        if action == "in_sync":
            return None
        return f"nothing to write ({action or 'no action'}): {row.get('reason') or 'no request in the plan'}"
    return None


def pushable(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows that would send a write (not blocked, with a request)."""
    return [r for r in normalize_rows(rows) if _why_not(r) is None and r.get("request")]


def preview(rows: pd.DataFrame | Iterable[Mapping[str, Any]]) -> list[Request]:
    """Every write the rows would send: method, path and body exactly as the client sends them
    (the wire form: dates ``YYYY-MM-DDT00:00:00Z``, exact JSON numbers). Blocked rows are left out.
    A row already applied in ConnectWise is still listed here; the push then skips it with no write."""
    out = []
    for r in pushable(rows):
        req = r["request"]
        out.append(Request(key=str(r["key"]), method=str(req["method"]).upper(), path=str(req["path"]),
                           body=to_wire(req.get("body")), action=r.get("action"), company_name=r.get("company_name"),
                           agreement_id=_int(r.get("agreement_id")) or _agreement_of(req["path"]),
                           price_impact=_dec(r.get("price_impact"))))
    return out


# ------------------------------------------------------------------------------------ the run
class _Stop(Exception):
    """The run is stopping: no new write may start."""


class _Denied(Exception):
    """A write of this kind already came back 403: the row is skipped, nothing is sent."""

    def __init__(self, row: RowResult) -> None:
        super().__init__(row.reason)
        self.row = row


class _Funnel:
    """Hands SQLite work from worker threads to the thread that owns the connection, and waits."""

    def __init__(self, store: st.Store) -> None:
        self.store = store
        self.owner = threading.get_ident()
        self.q: queue.Queue = queue.Queue()

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        if threading.get_ident() == self.owner:
            return fn(self.store, *args, **kw)
        box: list[Any] = [None, None]
        done = threading.Event()
        self.q.put(("db", fn, args, kw, box, done))
        done.wait()
        if box[1] is not None:
            raise box[1]
        return box[0]

    def event(self, *item: Any) -> None:
        self.q.put(("event", *item))

    def serve_one(self, item: tuple) -> None:
        _, fn, args, kw, box, done = item
        try:
            box[0] = fn(self.store, *args, **kw)
        except BaseException as exc:  # noqa: BLE001 - handed back to the worker
            box[1] = exc
        finally:
            done.set()


class _Secrets:
    """Masks the client's own keys wherever they might appear in what gets journaled."""

    def __init__(self, client: Any) -> None:
        s = getattr(client, "settings", None)
        vals = [getattr(s, "private_key", None), getattr(s, "public_key", None)] if s else []
        self.values = [v for v in vals if v and len(str(v)) >= 4]

    def scrub(self, obj: Any) -> Any:
        if not self.values:
            return obj
        if isinstance(obj, str):
            for v in self.values:
                if v in obj:
                    obj = obj.replace(v, "[REDACTED]")
            return obj
        if isinstance(obj, Mapping):
            return {k: self.scrub(v) for k, v in obj.items()}
        if isinstance(obj, (list, tuple)):
            return [self.scrub(v) for v in obj]
        return obj


@dataclass
class _Task:
    key: str
    row: dict[str, Any]
    kind: str  # patch | create_addition | create_other | delete | in_sync | skip
    method: str | None = None
    path: str | None = None
    body: Any = None
    agreement_id: int | None = None
    addition_id: int | None = None
    line_key: str | None = None
    expect: dict[str, Any] = field(default_factory=dict)
    target: dict[str, Any] = field(default_factory=dict)
    lookup: dict[str, Any] | None = None
    skip_reason: str | None = None


def _task(row: dict[str, Any]) -> _Task:
    key = str(row["key"])
    why = _why_not(row)
    if why is not None:
        return _Task(key, row, "skip", skip_reason=why)
    req = row.get("request")
    if not req:
        return _Task(key, row, "in_sync")
    method, path, body = str(req["method"]).upper(), str(req["path"]), req.get("body")
    t = _Task(key, row, "skip", method=method, path=path, body=body,
              agreement_id=_agreement_of(path) or _int(row.get("agreement_id")),
              addition_id=_addition_of(path) or _int(row.get("cw_addition_id")))
    if method == "PATCH" and _is_addition_path(path) and t.addition_id:
        t.kind = "patch"
        t.target = {str(op["path"]).strip("/"): op.get("value") for op in body or []}
        if isinstance(row.get("expect"), Mapping):
            t.expect = dict(row["expect"])
        else:
            t.expect = {f: row.get(c) for c, f in EXPECT_COLUMNS.items() if c in row}
            if row.get("cw_last_updated"):
                t.expect["lastUpdated"] = row["cw_last_updated"]
    elif method == "POST" and _is_addition_path(path) and _target_of(row) == "addition":
        t.kind = "create_addition"
        t.line_key = _line_key(row)
        t.target = {k: v for k, v in (body or {}).items()}
    elif method == "POST" and isinstance(row.get("lookup"), Mapping):
        t.kind = "create_other"
        t.lookup = dict(row["lookup"])
    elif method == "DELETE" and _is_addition_path(path) and t.addition_id:
        t.kind = "delete"
        t.expect = dict(row["expect"]) if isinstance(row.get("expect"), Mapping) else {}
    else:
        t.skip_reason = f"billbridge does not push {method} {path} without a natural-key lookup"
    return t


def _override_reason(row: Mapping[str, Any]) -> str | None:
    """The operator's reason when the row is written under an override (kept by the journal), else None."""
    v = row.get("override_reason")
    return None if _null(v) or not str(v).strip() else str(v)


def _err_fields(exc: BaseException) -> dict[str, Any]:
    if isinstance(exc, ConnectWiseError):
        return {"http_status": exc.status, "error_code": exc.code or (
                    "Timeout" if isinstance(exc, CWConnectionError) and "timeout" in getattr(exc, "reason", "")
                    else ("ConnectionLost" if isinstance(exc, CWConnectionError) else None)),
                "error_class": type(exc).__name__, "cw_message": exc.message,
                "field_errors": exc.errors or None, "retries": exc.retries}
    return {"http_status": None, "error_code": "Unexpected", "error_class": type(exc).__name__,
            "cw_message": str(exc)[:500], "field_errors": None, "retries": None}


def _transient(exc: BaseException) -> bool:
    """Failures where the write may or may not have happened, or trying again can help."""
    return isinstance(exc, (CWConnectionError, ServerError, RateLimitedError)) or bool(
        getattr(exc, "outcome_unknown", False))


def write_kind(method: str, path: str) -> str:
    """What kind of write a request is, for the 403 rule: ``"POST /finance/agreements/{id}/additions"``."""
    parts = ["{id}" if p.lstrip("-").isdigit() else p for p in str(path).split("?", 1)[0].split("/") if p]
    return f"{method.upper()} /" + "/".join(parts)


def permission_words(method: str, path: str) -> str:
    """``'Agreements: Add' in the Finance module`` (or "a security permission" when unknown)."""
    req = required_permission(method, path)
    return f"'{req[1]}' in the {req[0]} module" if req else "a security permission"


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def failure_text(exc: BaseException, *, method: str | None, path: str | None, attempts: int, writes: int,
                 stage: str | None = None) -> str:
    """A failed row's reason: the request that failed (method, path, how often it was sent), the writes
    made for the row, then ConnectWise's cause and the fix (:func:`billbridge.journal.explain_failure`)."""
    m = getattr(exc, "method", None) or method
    pth = getattr(exc, "path", None) or path
    retries = int(getattr(exc, "retries", 0) or 0)
    sent = max(attempts, 1) if m and m.upper() != "GET" else 1
    sent += retries
    head = f"{m} {pth} failed" if m and pth else "The request failed"
    head += f" ({stage})" if stage else ""
    head += f", sent {_plural(sent, 'time')}" if sent > 1 else ""
    if writes == 0:
        made = "No write was made for this row."
    else:
        made = (f"{_plural(writes, 'write')} sent for this row; the last may or may not have been applied "
                "(billbridge looks the record up before any new attempt).")
    if isinstance(exc, PermissionDeniedError):
        cause = (f"ConnectWise answered 403 Forbidden: the API member lacks {permission_words(m or '', pth or '')}. "
                 "Fix: ask a ConnectWise administrator to grant it in the API member's security role (System > "
                 "Security Roles), then retry the run's failed rows.")
    elif isinstance(exc, ConnectWiseError):  # the cause and the fix, as for a journal entry (no request: the head has it)
        from billbridge.journal import explain_failure

        cause = explain_failure({"result": "failed", **{k: v for k, v in _err_fields(exc).items()
                                                        if k in ("http_status", "error_code", "error_class",
                                                                 "cw_message", "field_errors", "retries")}})
    else:
        cause = f"Unexpected error: {exc}"
    return f"{head}. {made} {cause}"


class _Runner:
    def __init__(self, store, client, run_id, operator, *, force, dry_run, max_attempts, funnel, secrets):
        self.client = client
        self.run_id = run_id
        self.operator = operator
        self.force = force
        self.dry_run = dry_run
        self.max_attempts = max_attempts
        self.db = funnel
        self.secrets = secrets
        self.stop = threading.Event()
        self.stop_reason: str | None = None
        self.auth_error: BaseException | None = None
        # the 403 rule: write kind -> Event set once its first write was answered; kind -> the 403
        self._gates: dict[str, threading.Event] = {}
        self._denied: dict[str, PermissionDeniedError] = {}
        self._gate_lock = threading.Lock()

    # -- the 403 rule ----------------------------------------------------------------------------
    def open_gate(self, t: _Task) -> tuple[threading.Event | None, RowResult | None]:
        """Before sending ``t``'s write: ``(gate, None)`` when this is the first write of its kind (the
        caller must :meth:`close_gate` it once answered), ``(None, None)`` to go ahead, or ``(None,
        skipped row)`` when a write of this kind already came back 403."""
        kind = write_kind(t.method or "", t.path or "")
        with self._gate_lock:
            gate = self._gates.get(kind)
            if gate is None:
                gate = self._gates[kind] = threading.Event()
                return gate, None
        gate.wait()
        return None, self.denied_row(t)

    def close_gate(self, t: _Task, gate: threading.Event | None, exc: BaseException | None = None) -> None:
        if gate is None:
            return
        if isinstance(exc, PermissionDeniedError):
            self._denied[write_kind(t.method or "", t.path or "")] = exc
        gate.set()

    def denied_row(self, t: _Task) -> RowResult | None:
        exc = self._denied.get(write_kind(t.method or "", t.path or ""))
        if exc is None:
            return None
        perm = permission_words(t.method or "", t.path or "")
        return self.res(t, "skipped", f"Not sent: this run's first write of the same kind "
                        f"({write_kind(t.method or '', t.path or '')}) came back 403 Forbidden, so billbridge sent no "
                        f"more of them: the API member lacks {perm}. Fix: ask a ConnectWise administrator to grant "
                        "it in the API member's security role (System > Security Roles), then retry the run's "
                        "failed rows (these come along).", error_code="PermissionMissing",
                        error_class="PermissionDeniedError")

    def begin(self, t: _Task, attempt: int, before: Any, addition_id: int | None = None
              ) -> tuple[threading.Event | None, int]:
        """Under the 403 rule, journal the intent of ``t``'s next write: ``(gate, entry id)``; raises
        :class:`_Denied` (nothing journaled, nothing sent) when a write of this kind was refused."""
        gate, denied = self.open_gate(t)
        if denied is not None:
            raise _Denied(denied)
        try:
            return gate, self.intent(t, attempt, before, addition_id)
        except BaseException:
            self.close_gate(t, gate)
            raise

    def call(self, t: _Task, gate: threading.Event | None, fn: Callable[[], Any]) -> Any:
        """Send the write; the gate opens once it is answered (recording a 403 for its kind)."""
        try:
            return fn()
        except BaseException as exc:
            self.close_gate(t, gate, exc)
            raise
        finally:
            self.close_gate(t, gate)

    # -- journal -------------------------------------------------------------------------------
    def intent(self, t: _Task, attempt: int, before: Any, addition_id: int | None = None) -> int:
        if self.stop.is_set():
            raise _Stop(self.stop_reason or "stopped")
        return self.db.call(st.journal_intent, run_id=self.run_id, key=t.key, operator=self.operator,
                            attempt=attempt, method=t.method, path=t.path, body=self.secrets.scrub(t.body),
                            before=self.secrets.scrub(before), addition_id=addition_id,
                            override_reason=_override_reason(t.row))

    def result(self, entry: int, started: float, *, status: str, exc: BaseException | None = None,
               after: Any = None, addition_id: int | None = None, note: str | None = None) -> None:
        kw: dict[str, Any] = {}
        if exc is not None:
            e = _err_fields(exc)
            kw = dict(http_status=e["http_status"], cw_code=e["error_code"], cw_message=e["cw_message"],
                      field_errors=e["field_errors"], error_class=e["error_class"], retries=e["retries"],
                      outcome_unknown=bool(getattr(exc, "outcome_unknown", False)))
        else:
            kw = dict(http_status=201 if after is not None and status == "ok" and note == "created" else (
                204 if status == "ok" and note == "deleted" else (200 if status == "ok" else None)))
        self.db.call(st.journal_result, entry, status=status, after=self.secrets.scrub(after),
                     addition_id=addition_id, duration_ms=round((time.perf_counter() - started) * 1e3, 1),
                     note=note, **kw)

    # -- outcomes ------------------------------------------------------------------------------
    def res(self, t: _Task, result: str, reason: str, **kw: Any) -> RowResult:
        r = t.row
        return RowResult(key=t.key, result=result, reason=reason, action=r.get("action"),
                         company_id=_int(r.get("company_id")), company_name=r.get("company_name"),
                         agreement_id=t.agreement_id, addition_id=kw.pop("addition_id", t.addition_id), **kw)

    def failed(self, t: _Task, exc: BaseException, attempts: int, writes: int = 0, stage: str | None = None) -> RowResult:
        if isinstance(exc, AuthenticationError) and not self.stop.is_set():
            self.auth_error = exc
            self.stop_reason = "ConnectWise refused the API keys (401)"
            self.stop.set()
        reason = failure_text(exc, method=t.method, path=t.path, attempts=attempts, writes=writes, stage=stage)
        return self.res(t, "failed", reason, attempts=attempts, writes=writes, **_err_fields(exc))

    def check_stop(self, t: _Task) -> RowResult | None:
        if not self.stop.is_set():
            return None
        if self.auth_error is not None:
            return self.res(t, "failed", "Not attempted: " + (self.stop_reason or ""), **_err_fields(self.auth_error))
        return self.res(t, "skipped", f"Not attempted: {self.stop_reason or 'the push was stopped'}.")

    # -- reads ---------------------------------------------------------------------------------
    def additions(self, agreement_id: int) -> dict[int, dict]:
        recs = self.client.list(f"/finance/agreements/{agreement_id}/additions", page_size=1000, order_by="id asc")
        return {int(r["id"]): r for r in recs}

    def by_key(self, records: Mapping[int, dict], t: _Task) -> dict | None:
        """The addition that a create row already made: same line key, still running at the
        create's effective date (an old line with the key that ended before it is history)."""
        eff = _norm("effectiveDate", (t.body or {}).get("effectiveDate"))
        found = [r for r in records.values() if _key_value(r.get("customFields")) == t.line_key
                 and (r.get("cancelledDate") in (None, "") or eff is None or str(r["cancelledDate"])[:10] >= eff)]
        return min(found, key=lambda r: r["id"]) if found else None

    # -- the three kinds of write ----------------------------------------------------------------
    def run_patch(self, t: _Task, records: Mapping[int, dict]) -> RowResult:
        cur = records.get(t.addition_id) if t.addition_id is not None else None
        if cur is None:
            exc = NotFoundError(f"Addition with id {t.addition_id} not found", status=404, code="NotFound",
                                method="PATCH", path=t.path)
            return self.res(t, "failed", "Not written: the addition no longer exists in ConnectWise (deleted since "
                            "the plan). Refresh from ConnectWise and reconcile again.", **_err_fields(exc))
        attempts = writes = 0
        while True:
            if not _differences(cur, t.target):
                if attempts:
                    return self.res(t, "ok", "Applied (the answer was lost; re-reading shows the change).",
                                    attempts=attempts, writes=writes)
                return self.res(t, "ok", "Already applied: ConnectWise already holds these values; nothing sent.")
            changed = _differences(cur, t.expect)
            if changed and not self.force:
                return self.res(t, "conflict", "Not written: " + ", ".join(changed) + " changed in ConnectWise since "
                                "the plan (last updated by " + str((cur.get("_info") or {}).get("updatedBy") or "?")
                                + "). Reconcile again, or force the push to overwrite.", error_code="Conflict",
                                attempts=attempts, writes=writes)
            if self.dry_run:
                return self.res(t, "skipped", f"Dry run: would send PATCH {t.path}.")
            stopped = self.check_stop(t)
            if stopped:
                return stopped
            try:
                gate, entry = self.begin(t, attempts + 1, cur, t.addition_id)
            except _Denied as d:
                return d.row
            attempts += 1
            started = time.perf_counter()
            try:
                after = self.call(t, gate, lambda: self.client.patch(t.path, t.body))
            except ConnectWiseError as exc:
                unknown = _transient(exc)
                self.result(entry, started, status="unknown" if unknown else "failed", exc=exc)
                if unknown:
                    writes += 1
                if not unknown or attempts >= self.max_attempts:
                    return self.failed(t, exc, attempts, writes)
                try:
                    cur = self.client.get(t.path)
                except ConnectWiseError as exc2:
                    return self.failed(t, exc2, attempts, writes, "re-reading the addition after a failed write")
                continue
            self.result(entry, started, status="ok", after=after, addition_id=t.addition_id)
            return self.res(t, "ok", "Updated." if t.row.get("action") != "cancel" else "Cancelled (end date set).",
                            attempts=attempts, writes=writes + 1)

    def run_create_addition(self, t: _Task, records: Mapping[int, dict]) -> RowResult:
        attempts = writes = 0
        while True:
            found = self.by_key(records, t)
            if found is not None:
                diff = _differences(found, t.target)
                how = ("Created (the answer was lost; found by its line key)" if attempts
                       else "Already created: an addition with this line key exists")
                if diff and not self.force:
                    return self.res(t, "conflict", f"{how} (id {found['id']}), but its {', '.join(diff)} differ "
                                    "from the plan: a person changed it. Reconcile again.", error_code="Conflict",
                                    addition_id=found["id"], attempts=attempts, writes=writes)
                return self.res(t, "ok", f"{how} (id {found['id']}); nothing sent." if not attempts
                                else f"{how} (id {found['id']}).", addition_id=found["id"],
                                attempts=attempts, writes=writes)
            if self.dry_run:
                return self.res(t, "skipped", f"Dry run: would send POST {t.path}.")
            stopped = self.check_stop(t)
            if stopped:
                return stopped
            try:
                gate, entry = self.begin(t, attempts + 1, None)
            except _Denied as d:
                return d.row
            attempts += 1
            started = time.perf_counter()
            try:
                rec = self.call(t, gate, lambda: self.client.post(t.path, t.body))
            except ObjectExistsError as exc:
                self.result(entry, started, status="failed", exc=exc)
                records = self._reread(t, records)
                if self.by_key(records, t) is None:
                    return self.failed(t, exc, attempts, writes)
                continue
            except ConnectWiseError as exc:
                unknown = _transient(exc)
                self.result(entry, started, status="unknown" if unknown else "failed", exc=exc)
                if unknown:
                    writes += 1
                if not unknown or attempts >= self.max_attempts:
                    if unknown:
                        records = self._reread(t, records)
                        if self.by_key(records, t) is not None:
                            continue
                    return self.failed(t, exc, attempts, writes)
                try:
                    records = self.additions(t.agreement_id)
                except ConnectWiseError as exc2:
                    return self.failed(t, exc2, attempts, writes, "looking the line key up after a lost answer")
                continue
            aid = _int((rec or {}).get("id"))
            self.result(entry, started, status="ok", after=rec, addition_id=aid, note="created")
            return self.res(t, "ok", f"Created (addition id {aid}).", addition_id=aid, attempts=attempts,
                            writes=writes + 1)

    def _reread(self, t: _Task, records: Mapping[int, dict]) -> Mapping[int, dict]:
        try:
            return self.additions(t.agreement_id)
        except ConnectWiseError:
            return records

    def lookup(self, t: _Task) -> dict | None:
        lk = t.lookup or {}
        found = self.client.list(lk.get("path") or t.path, conditions=lk.get("conditions"),
                                 custom_field_conditions=lk.get("custom_field_conditions"), page_size=25)
        return found[0] if found else None

    def run_create_other(self, t: _Task) -> RowResult:
        attempts = writes = 0
        while True:
            try:
                found = self.lookup(t)
            except ConnectWiseError as exc:
                return self.failed(t, exc, attempts, writes, "looking the record up before creating it")
            if found is not None:
                return self.res(t, "ok", ("Created (the answer was lost; found by its natural key)" if attempts else
                                          "Already exists in ConnectWise; nothing sent") + f" (id {found.get('id')}).",
                                addition_id=None, attempts=attempts, writes=writes)
            if self.dry_run:
                return self.res(t, "skipped", f"Dry run: would send POST {t.path}.")
            stopped = self.check_stop(t)
            if stopped:
                return stopped
            try:
                gate, entry = self.begin(t, attempts + 1, None)
            except _Denied as d:
                return d.row
            attempts += 1
            started = time.perf_counter()
            try:
                rec = self.call(t, gate, lambda: self.client.post(t.path, t.body))
            except ConnectWiseError as exc:
                unknown = _transient(exc) or isinstance(exc, ObjectExistsError)
                self.result(entry, started, status="unknown" if unknown else "failed", exc=exc)
                writes += 1 if unknown else 0
                if not unknown or attempts >= self.max_attempts:
                    return self.failed(t, exc, attempts, writes)
                continue
            self.result(entry, started, status="ok", after=rec, note="created")
            return self.res(t, "ok", f"Created (id {(rec or {}).get('id')}).", attempts=attempts, writes=writes + 1)

    def run_delete(self, t: _Task, records: Mapping[int, dict]) -> RowResult:
        """DELETE an addition (undo of a create): only while it still holds what the push left."""
        attempts = writes = 0
        cur = records.get(t.addition_id) if t.addition_id is not None else None
        while True:
            if cur is None:
                if attempts:
                    return self.res(t, "ok", "Deleted (the answer was lost; re-reading shows it is gone). Its full "
                                    "record is kept in the journal.", attempts=attempts, writes=writes)
                return self.res(t, "ok", "Already deleted: ConnectWise no longer has this addition; nothing sent.")
            changed = _differences(cur, t.expect)
            if changed and not self.force:
                return self.res(t, "conflict", "Not deleted: " + ", ".join(changed) + " changed in ConnectWise since "
                                "the push (last updated by " + str((cur.get("_info") or {}).get("updatedBy") or "?")
                                + "). Check it by hand.", error_code="Conflict", attempts=attempts, writes=writes)
            if self.dry_run:
                return self.res(t, "skipped", f"Dry run: would send DELETE {t.path}.")
            stopped = self.check_stop(t)
            if stopped:
                return stopped
            try:
                gate, entry = self.begin(t, attempts + 1, cur, t.addition_id)  # the full before-image
            except _Denied as d:
                return d.row
            attempts += 1
            started = time.perf_counter()
            try:
                self.call(t, gate, lambda: self.client.delete(t.path))
            except ConnectWiseError as exc:
                gone_maybe = _transient(exc) or isinstance(exc, NotFoundError)
                self.result(entry, started, status="unknown" if gone_maybe else "failed", exc=exc)
                writes += 1 if gone_maybe else 0
                if not gone_maybe or attempts >= self.max_attempts:
                    return self.failed(t, exc, attempts, writes)
                try:
                    cur = self.additions(t.agreement_id).get(t.addition_id)
                except ConnectWiseError as exc2:
                    return self.failed(t, exc2, attempts, writes, "re-reading the agreement's additions after a "
                                       "failed delete")
                continue
            self.result(entry, started, status="ok", addition_id=t.addition_id, note="deleted")
            return self.res(t, "ok", "Deleted the addition the push created (not invoiced yet; its full record is "
                            "kept in the journal).", attempts=attempts, writes=writes + 1)


def _row_meta(t: _Task) -> dict[str, Any]:
    r = t.row
    return {"key": t.key, "action": r.get("action"), "company_id": _int(r.get("company_id")),
            "company_name": r.get("company_name"), "agreement_id": t.agreement_id, "addition_id": t.addition_id,
            "price_impact": _dec(r.get("price_impact")), "request": r.get("request"),
            "plan_row": _jsonable_row(r)}


def _jsonable_row(r: Mapping[str, Any]) -> dict[str, Any]:
    out = {}
    for k, v in r.items():
        if isinstance(v, Decimal):
            out[k] = format(v, "f")
        elif isinstance(v, (pd.Timestamp,)):
            out[k] = v.isoformat()
        elif hasattr(v, "isoformat") and not isinstance(v, str):
            out[k] = v.isoformat()
        elif isinstance(v, tuple):
            out[k] = list(v)
        else:
            out[k] = v
    return json.loads(json.dumps(out, default=str))


def _load_run(store: st.Store, run_id: int, reused: bool = False) -> PushRun:
    run = st.get_push_run(store, run_id)
    df = st.push_row_results(store, run_id=run_id)
    rows = []
    for r in df.to_dict("records"):
        r = {k: _clean(v) for k, v in r.items()}
        rows.append(RowResult(key=r["key"], result=r["result"], reason=r.get("reason") or "", action=r.get("action"),
                              company_id=_int(r.get("company_id")), company_name=r.get("company_name"),
                              agreement_id=_int(r.get("agreement_id")), addition_id=_int(r.get("addition_id")),
                              http_status=_int(r.get("http_status")), error_code=r.get("error_code"),
                              error_class=r.get("error_class"), cw_message=r.get("cw_message"),
                              field_errors=r.get("field_errors"), retries=_int(r.get("retries")),
                              attempts=int(r.get("attempts") or 0), writes=int(r.get("writes") or 0)))
    counts = {k: int(run.get(k) or 0) for k in RESULTS}
    return PushRun(id=run_id, kind=run["kind"], month=run.get("month"), status=run["status"], counts=counts,
                   rows=rows, requests=run.get("requests") or {}, writes=int(run.get("writes") or 0),
                   dry_run=bool(run.get("dry_run")), parent_run_id=run.get("parent_run_id"),
                   started_at=run.get("started_at"), finished_at=run.get("finished_at"), reused=reused)


def push_events(store: st.Store, client: Any, rows: pd.DataFrame | Iterable[Mapping[str, Any]], *,
                operator: str | None = None, month: str | None = None, plan_id: int | None = None,
                force: bool = False, concurrency: int = 4, dry_run: bool = False, token: str | None = None,
                kind: str = "push", parent_run_id: int | None = None, max_attempts: int = 5) -> Iterator[Progress]:
    """Push ``rows`` and yield a :class:`Progress` after each finished row; the last event carries
    the finished :class:`PushRun` in ``.run``. Must be iterated in the thread that owns ``store``.
    Closing the generator early stops new writes, lets in-flight ones finish and be journaled, and
    marks the run ``interrupted``."""
    operator = operator or operator_name()
    if token:
        prior = st.push_run_by_token(store, token)
        if prior is not None:
            run = _load_run(store, prior["id"], reused=True)
            yield Progress(prior["id"], len(run.rows), len(run.rows), run.counts, message="already pushed", run=run)
            return
    if kind in ("push", "retry") and month and plan_id is not None and not dry_run:
        # a retry re-sends a run's failed rows (re-read and conflict-checked): only a later month's push stops it
        why = plan_out_of_date(store, month, plan_id, snapshot=kind == "push")
        if why:
            raise errors.StalePlanError(why)
    st.mark_interrupted_runs(store)
    tasks = [_task(r) for r in normalize_rows(rows)]
    seen: set[str] = set()
    unique = []
    for t in tasks:  # one result per key
        if t.key not in seen:
            seen.add(t.key)
            unique.append(t)
    tasks = unique
    run_id = st.create_push_run(store, kind=kind, month=month, plan_id=plan_id, operator=operator, token=token,
                                parent_run_id=parent_run_id, site=getattr(getattr(client, "settings", None), "site", None),
                                dry_run=dry_run, force=force, concurrency=concurrency,
                                rows=[_row_meta(t) for t in tasks])
    funnel = _Funnel(store)
    runner = _Runner(store, client, run_id, operator, force=force, dry_run=dry_run, max_attempts=max_attempts,
                     funnel=funnel, secrets=_Secrets(client))
    before_stats = Counter(getattr(client, "stats", {}))
    total, done = len(tasks), 0
    counts: Counter[str] = Counter({k: 0 for k in RESULTS})
    outstanding = 0
    pool = ThreadPoolExecutor(max_workers=max(1, int(concurrency)), thread_name_prefix="billbridge-push")
    finished_ok = False

    def record(res: RowResult) -> Progress:
        nonlocal done
        st.record_push_row(store, run_id, res.key, result=res.result, reason=res.reason,
                           http_status=res.http_status, error_code=res.error_code, error_class=res.error_class,
                           cw_message=res.cw_message, field_errors=res.field_errors, retries=res.retries,
                           attempts=res.attempts, writes=res.writes, addition_id=res.addition_id)
        done += 1
        counts[res.result] += 1
        return Progress(run_id, total, done, dict(counts), row=res)

    def guarded(fn: Callable[..., RowResult], t: _Task, *args: Any) -> None:
        try:
            res = fn(t, *args)
        except _Stop as exc:
            res = runner.check_stop(t) or runner.res(t, "skipped", f"Not attempted: {exc}.")
        except Exception as exc:  # noqa: BLE001 - a bug must not lose the row's result
            res = runner.failed(t, exc, 0)
        funnel.event("row", res)

    def reread(agreement_id: int, group: list[_Task]) -> None:
        try:
            if runner.stop.is_set():
                raise _Stop(runner.stop_reason or "stopped")
            recs = runner.additions(agreement_id)
        except _Stop:
            for t in group:
                funnel.event("row", runner.check_stop(t) or runner.res(t, "skipped", "Not attempted."))
            return
        except Exception as exc:  # noqa: BLE001 - every row of the agreement fails the same way
            for t in group:
                funnel.event("row", runner.failed(t, exc, 0, stage="re-reading the agreement's additions before "
                                                                   "writing"))
            return
        funnel.event("reread", agreement_id, recs, group)

    try:
        per_agreement: dict[int, list[_Task]] = {}
        others: list[_Task] = []
        for t in tasks:
            if t.kind == "skip":
                yield record(runner.res(t, "skipped", t.skip_reason or "not pushable"))
            elif t.kind == "in_sync":
                yield record(runner.res(t, "ok", "In sync: nothing to write."))
            elif t.kind == "create_other":
                others.append(t)
            else:
                per_agreement.setdefault(t.agreement_id, []).append(t)
        # creates of other records first (an addition row may depend on them), then additions
        for t in others:
            pool.submit(guarded, runner.run_create_other, t)
            outstanding += 1
        stage_two_started = not others
        if stage_two_started:
            for agr, group in per_agreement.items():
                pool.submit(reread, agr, group)
            outstanding += sum(len(g) for g in per_agreement.values())
        while outstanding:
            item = funnel.q.get()
            if item[0] == "db":
                funnel.serve_one(item)
                continue
            if item[1] == "reread":
                _, _, agr, recs, group = item
                for t in group:
                    fn = {"patch": runner.run_patch, "delete": runner.run_delete}.get(t.kind, runner.run_create_addition)
                    pool.submit(guarded, fn, t, recs)
                continue
            res = item[2]
            outstanding -= 1
            yield record(res)
            if not outstanding and not stage_two_started:
                stage_two_started = True
                failed_keys = {r for r, in store.conn.execute(
                    "SELECT key FROM push_rows WHERE run_id = ? AND result != 'ok'", (run_id,))}
                for agr, group in per_agreement.items():
                    ready = []
                    for t in group:
                        deps = set(t.row.get("depends_on") or [])
                        if deps & failed_keys:
                            yield record(runner.res(t, "skipped", "Not attempted: it depends on "
                                                    + ", ".join(sorted(deps & failed_keys)) + ", which did not succeed."))
                        else:
                            ready.append(t)
                    if ready:
                        pool.submit(reread, agr, ready)
                        outstanding += len(ready)
        finished_ok = True
    finally:
        if not finished_ok:
            runner.stop_reason = runner.stop_reason or "the push was interrupted"
            runner.stop.set()
            # let in-flight writes finish and be journaled
            while outstanding:
                try:
                    item = funnel.q.get(timeout=60)
                except queue.Empty:
                    break
                if item[0] == "db":
                    funnel.serve_one(item)
                elif item[1] == "row":
                    outstanding -= 1
                    record(item[2])
                elif item[1] == "reread":
                    for t in item[4]:
                        outstanding -= 1
                        record(runner.check_stop(t) or runner.res(t, "skipped", "Not attempted."))
        pool.shutdown(wait=True)
        after_stats = Counter(getattr(client, "stats", {}))
        req = {m: after_stats[m] - before_stats.get(m, 0) for m in after_stats if after_stats[m] - before_stats.get(m, 0)}
        if not finished_ok:
            st.finish_push_run(store, run_id, status="interrupted", requests=req, note="stopped before every row ran")
    c = counts
    if total == 0:
        status = "nothing"
    elif c["failed"] == 0 and c["conflict"] == 0:
        status = "ok"
    elif c["ok"] == 0:
        status = "failed"
    else:
        status = "partial"
    st.finish_push_run(store, run_id, status=status, requests=req)
    run = _load_run(store, run_id)
    yield Progress(run_id, total, done, dict(counts), message="finished", run=run)


def plan_out_of_date(store: st.Store, month: str, plan_id: int, *, snapshot: bool = True) -> str | None:
    """Why plan ``plan_id`` of ``month`` must not be pushed, in plain words with the fix, or None: ConnectWise
    was read again for the month after the plan was built (the plan's ConnectWise values are old), or
    billbridge pushed a later month since (the plan would rewrite what that month set: billing-rules section 9,
    Rule 6.6). ``snapshot=False``: the later month's push only."""
    from billbridge.plan.reasons import month_name

    meta = st.get_plan(store, plan_id)
    if meta is None:
        return None
    fix = f"reconcile {month_name(month)} again ('billbridge reconcile {month}', or the Reconcile page) and push the new plan"
    snap = st.latest_snapshot(store, month)
    if snapshot and snap is not None and meta.get("snapshot_id") is not None and int(snap["id"]) > int(meta["snapshot_id"]):
        return (f"Plan {plan_id} for {month_name(month)} was built from an older read of ConnectWise than the newest "
                f"one (taken {snap['taken_at']}): its rows may no longer match ConnectWise. Nothing was pushed: {fix}.")
    newest = st.newest_pushed_month(store)
    known = (meta.get("inputs") or {}).get("newest_pushed_month") or ""
    if newest and newest > month and known < newest:
        return (f"billbridge pushed {month_name(newest)} after plan {plan_id} for {month_name(month)} was built: "
                f"pushing it would change standing lines {month_name(newest)} set. Nothing was pushed: {fix} "
                f"(it leaves those lines alone and offers correction lines instead).")
    return None


def push(store: st.Store, client: Any, rows: pd.DataFrame | Iterable[Mapping[str, Any]], *,
         operator: str | None = None, month: str | None = None, plan_id: int | None = None, force: bool = False,
         concurrency: int = 4, dry_run: bool = False, progress: Callable[[Progress], None] | None = None,
         token: str | None = None, kind: str = "push", parent_run_id: int | None = None,
         max_attempts: int = 5) -> PushRun:
    """Push ``rows`` (see the module docstring) and return the finished :class:`PushRun`;
    ``progress`` is called with every :class:`Progress` event."""
    run = None
    for ev in push_events(store, client, rows, operator=operator, month=month, plan_id=plan_id, force=force,
                          concurrency=concurrency, dry_run=dry_run, token=token, kind=kind,
                          parent_run_id=parent_run_id, max_attempts=max_attempts):
        if progress is not None:
            progress(ev)
        if ev.run is not None:
            run = ev.run
    assert run is not None
    return run


# ------------------------------------------------------------------------------------ undo / retry
#: the actions of undo rows: write values back, delete a created addition, add a correcting line
#: (``correct_invoiced``), nothing to do, cannot be undone
UNDO_ACTIONS = ("update", "delete", "create", "in_sync", "blocked")


def _day(v: Any) -> str | None:
    return None if _null(v) or v == "" else str(v)[:10]


def _month_end(day: str) -> str:
    import calendar

    y, m = int(day[:4]), int(day[5:7])
    return f"{day[:7]}-{calendar.monthrange(y, m)[1]:02d}"


def billed_by(addition: Mapping[str, Any], invoices: Iterable[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The agreement invoice (of the addition's agreement) that billed ``addition``, or None.

    An agreement invoice dated in month X bills the additions running in X (effective on or before
    X's last day, not cancelled before X's first day) that existed when it was made (the invoice was
    entered after the addition). The one rule undo uses to tell "not billed yet" (Rule 6.7)."""
    eff, canc = _day(addition.get("effectiveDate")), _day(addition.get("cancelledDate"))
    made = str((addition.get("_info") or {}).get("dateEntered") or "")[:19]
    for inv in sorted(invoices, key=lambda i: str(i.get("date") or "")):
        day = _day(inv.get("date"))
        if not day:
            continue
        if eff and eff > _month_end(day):
            continue
        if canc and canc < day[:7] + "-01":
            continue
        entered = str((inv.get("_info") or {}).get("dateEntered") or "")[:19]
        if made and entered and entered < made:
            continue
        return dict(inv)
    return None


def _correction(agr: int, created: Mapping[str, Any], invoice: Mapping[str, Any], run_id: int) -> dict[str, Any]:
    """A one-off correcting line (Rule 6.1) that takes back what ``invoice`` billed for ``created``: the
    same product, price and cost, the quantity negated, dated the month after the invoice's month."""
    from billbridge.bdom import add_months, addition_dates

    first, last = addition_dates(add_months(str(invoice.get("date"))[:7], 1))
    key = _key_value(created.get("customFields"))
    body = {"product": {"id": _int((created.get("product") or {}).get("id"))}, "billCustomer": "Billable",
            "quantity": -(_dec(created.get("quantity")) or Decimal(0)), "unitPrice": _dec(created.get("unitPrice")),
            "unitCost": _dec(created.get("unitCost")), "effectiveDate": first, "cancelledDate": last,
            "customFields": [{"id": LINE_KEY_FIELD_ID, "caption": LINE_KEY_FIELD,
                              "value": f"{key or 'line'}|undo{run_id}"}]}
    return {"method": "POST", "path": f"/finance/agreements/{agr}/additions", "body": to_wire(body)}


def plan_undo(store: st.Store, client: Any, run_id: int) -> list[dict[str, Any]]:
    """Inverse writes of a push run, computed from its journal, as pushable rows (action in
    :data:`UNDO_ACTIONS`).

    Each successful write of the run gets one row:

    * a PATCH is undone by writing back the values the record had before (quantity, price, cost,
      dates, line key); a cancel is undone by restoring the previous ``cancelledDate`` (reinstated);
    * an addition the run created is DELETEd when no ConnectWise invoice has billed it yet
      (:func:`billed_by`; billing-rules Rule 6.7: a line with ``cancelledDate = effectiveDate`` still
      bills that day, so cancelling would not undo it); the DELETE's journal entry keeps the full
      record as ``before``;
    * an addition already invoiced cannot be undone: the row is ``blocked`` (cause ``invoiced``),
      says which invoice billed it, and carries ``correction``: a one-off correcting line for the
      next month that :func:`undo` adds with ``correct_invoiced=True``.

    The current records are re-read: a record changed in ConnectWise after the push is ``blocked``
    with cause ``conflict``, not undone blindly. Rows carry ``expect`` (the values the push left),
    so the undo push refuses them too if they change before it runs."""
    from billbridge.connectwise import conditions as C

    entries = [e for e in st.journal_entries(store, run_id=run_id) if e["status"] in ("ok", "unknown")]
    results = {r["key"]: r for r in st.push_row_results(store, run_id=run_id).to_dict("records")}
    plan_rows = {k: (r.get("plan_row") or {}) for k, r in results.items()}
    last: dict[str, dict] = {}
    for e in entries:  # the last write per key decides; the first one's "before" is the original state
        first = last.get(e["key"], {}).get("_first_before")
        e = dict(e)
        e["_first_before"] = first if e["key"] in last else e.get("before")
        last[e["key"]] = e
    reads: dict[int, dict[int, dict]] = {}
    invoices: dict[int, list[dict] | ConnectWiseError] = {}
    out = []
    for key, e in last.items():
        res = results.get(key) or {}
        if res.get("result") != "ok":
            continue
        pr = plan_rows.get(key) or {}
        path = e["path"]
        agr = _agreement_of(path)
        meta = {"company_id": _int(pr.get("company_id")), "company_name": pr.get("company_name"), "agreement_id": agr,
                "undo_of": e["id"], "vendor_customer_id": pr.get("vendor_customer_id")}
        impact = _dec(pr.get("price_impact"))
        meta["price_impact"] = None if impact is None else str(-impact)
        if agr is None:
            out.append({"key": key, "action": "blocked", "cause": "not_undoable", **meta,
                        "reason": f"{e['method']} {path} created a record other than an addition: remove it in "
                                  "ConnectWise by hand if it is not wanted.", "request": None})
            continue
        if agr not in reads:
            try:
                reads[agr] = {int(r["id"]): r for r in client.list(f"/finance/agreements/{agr}/additions",
                                                                  page_size=1000, order_by="id asc")}
            except ConnectWiseError:
                reads[agr] = {}
        if e["method"] == "POST":
            aid = _int(e.get("addition_id")) or _int((e.get("after") or {}).get("id"))
            if aid is None:  # answer lost: find it by its line key
                lk = _key_value((e.get("body") or {}).get("customFields"))
                aid = next((i for i, r in reads[agr].items() if lk and _key_value(r.get("customFields")) == lk), None)
            created = e.get("after") or e.get("body") or {}
            expect = {f: created.get(f) for f in ("quantity", "unitPrice", "unitCost", "effectiveDate",
                                                  "cancelledDate") if f in created}
            cur = reads[agr].get(aid) if aid is not None else None
            row = {"key": key, "action": "delete", "cause": None, **meta, "cw_addition_id": aid, "expect": expect,
                   "request": {"method": "DELETE", "path": f"/finance/agreements/{agr}/additions/{aid}", "body": None},
                   "reason": "Undo: delete the addition the push created (no invoice has billed it yet)."}
            if cur is None:
                row.update(action="in_sync", request=None,
                           reason="Already undone: the addition the push created is no longer in ConnectWise.")
            elif _differences(cur, expect):
                row.update(action="blocked", cause="conflict", request=None,
                           reason=f"Not undone: {', '.join(_differences(cur, expect))} changed in ConnectWise after "
                                  f"the push (last updated by {(cur.get('_info') or {}).get('updatedBy') or '?'}); "
                                  "check it by hand.")
            else:
                if agr not in invoices:
                    try:
                        invoices[agr] = client.list("/finance/invoices", conditions=C.all_of(
                            C.eq("applyToType", "Agreement"), C.eq("applyToId", agr)), page_size=1000)
                    except ConnectWiseError as exc:
                        invoices[agr] = exc
                invs = invoices[agr]
                if isinstance(invs, ConnectWiseError):
                    row.update(action="blocked", cause="invoice_unknown", request=None,
                               reason="Not undone: billbridge could not read the agreement's invoices to make sure "
                                      f"none has billed this addition ({explain(invs)}). Check the agreement's "
                                      "invoices in ConnectWise, then preview the undo again.")
                elif (inv := billed_by(cur, invs)) is not None:
                    fix = _correction(agr, cur, inv, run_id)
                    q = fix["body"]["quantity"]
                    row.update(action="blocked", cause="invoiced", request=None, correction=fix,
                               reason=f"Cannot undo: ConnectWise invoice {inv.get('invoiceNumber') or inv.get('id')} "
                                      f"({_day(inv.get('date'))}) already billed this addition, so deleting it would "
                                      f"not take the charge back. Offered instead: a correcting line (quantity {q} "
                                      f"at the same price, once, on {fix['body']['effectiveDate'][:10]}); add it "
                                      f"with 'billbridge undo {run_id} --correct-invoiced' or the checkbox on Sync "
                                      "status.")
            out.append(row)
            continue
        aid = _addition_of(path)
        after = e.get("after") or {}
        before = e.get("_first_before") or e.get("before") or {}
        fields = [str(op["path"]).strip("/") for op in e.get("body") or []]
        expect = {f: (after or {}).get(f) if after else next(
            (op.get("value") for op in e.get("body") or [] if str(op["path"]).strip("/") == f), None)
            for f in fields}
        ops = [{"op": "replace", "path": f, "value": before.get(f)} for f in fields]
        action_text = ("reinstate the cancelled addition" if fields == ["cancelledDate"] and not before.get(
            "cancelledDate") else "restore the values before the push")
        cur = reads[agr].get(aid) if aid is not None else None
        row = {"key": key, "action": "update", "cause": None, **meta, "cw_addition_id": aid,
               "expect": expect,
               "request": {"method": "PATCH", "path": f"/finance/agreements/{agr}/additions/{aid}", "body": ops},
               "reason": f"Undo: {action_text}."}
        if cur is None:
            row.update(action="blocked", cause="deleted", request=None,
                       reason="Cannot undo: the addition no longer exists in ConnectWise.")
        elif _differences(cur, expect) and _differences(cur, {op["path"]: op["value"] for op in ops}):
            changed = ", ".join(_differences(cur, expect))
            row.update(action="blocked", cause="conflict", request=None,
                       reason=f"Not undone: {changed} changed in ConnectWise after the push (last updated by "
                              f"{(cur.get('_info') or {}).get('updatedBy') or '?'}); check it by hand.")
        elif not _differences(cur, {op["path"]: op["value"] for op in ops}):
            row.update(action="in_sync", request=None, reason="Already undone: ConnectWise holds the earlier values.")
        out.append(row)
    return out


def with_corrections(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Undo rows with each already-invoiced addition's offered correcting line as a create."""
    return [dict(r, action="create", cause=None, request=r["correction"], target="addition",
                 reason="Undo: add a correcting line for an addition ConnectWise already invoiced "
                        f"(quantity {r['correction']['body']['quantity']}, once, on "
                        f"{str(r['correction']['body']['effectiveDate'])[:10]}).")
            if r.get("cause") == "invoiced" and r.get("correction") else r for r in rows]


def undo(store: st.Store, client: Any, run_id: int, *, operator: str | None = None, dry_run: bool = False,
         concurrency: int = 4, token: str | None = None, progress: Callable[[Progress], None] | None = None,
         rows: list[dict[str, Any]] | None = None, correct_invoiced: bool = False) -> PushRun:
    """Run :func:`plan_undo`'s rows as a new push run linked to ``run_id`` (kind ``undo``).
    ``correct_invoiced`` adds the offered correcting line of each addition already invoiced."""
    run = st.get_push_run(store, run_id)
    if run is None:
        raise errors.NotFoundError(f"There is no push run {run_id}: billbridge status lists the runs.")
    rows = plan_undo(store, client, run_id) if rows is None else rows
    if correct_invoiced:
        rows = with_corrections(rows)
    return push(store, client, rows, operator=operator, month=run.get("month"), plan_id=run.get("plan_id"),
                concurrency=concurrency, dry_run=dry_run, token=token, kind="undo", parent_run_id=run_id,
                progress=progress)


def retryable(result: Mapping[str, Any]) -> bool:
    """A row result worth retrying: it failed, or it was not sent because a write of its kind came back
    403 (``PermissionMissing``: retry once the permission is granted)."""
    return result.get("result") == "failed" or (result.get("result") == "skipped"
                                                 and result.get("error_code") == "PermissionMissing")


def retry_rows(store: st.Store, run_id: int, keys: Iterable[str] | None = None) -> list[dict[str, Any]]:
    """The plan rows of a run's failed rows and of those not sent for a missing permission (and of
    conflicting ones, when named in ``keys``), to push again."""
    df = st.push_row_results(store, run_id=run_id)
    wanted = set(keys) if keys is not None else None
    out = []
    for r in df.to_dict("records"):
        if wanted is not None and r["key"] not in wanted:
            continue
        if wanted is None and not retryable(r):
            continue
        if r["result"] == "ok":
            continue
        row = r.get("plan_row") or {}
        if row:
            out.append(row)
    return out


def retry(store: st.Store, client: Any, run_id: int, keys: Iterable[str] | None = None, *,
          operator: str | None = None, force: bool = False, concurrency: int = 4, token: str | None = None,
          progress: Callable[[Progress], None] | None = None) -> PushRun:
    """Push a run's failed rows (or the named ``keys``) again as a new run (kind ``retry``): new,
    journaled attempts; rows done meanwhile are found already applied and not written twice."""
    run = st.get_push_run(store, run_id)
    if run is None:
        raise errors.NotFoundError(f"There is no push run {run_id}: billbridge status lists the runs.")
    return push(store, client, retry_rows(store, run_id, keys), operator=operator, month=run.get("month"),
                plan_id=run.get("plan_id"), force=force, concurrency=concurrency, token=token, kind="retry",
                parent_run_id=run_id, progress=progress)
