"""List queries: filtering (conditions, childConditions, customFieldConditions), ``orderBy``,
``fields``, navigable and forward-only paging with ConnectWise-style ``Link`` headers."""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Callable, Iterable

from .conditions import (ConditionError, FieldResolver, compile_conditions, compile_custom_field_conditions,
                         parse_datetime)

__all__ = ["ListQuery", "parse_query", "DEFAULT_PAGE_SIZE", "MAX_PAGE_SIZE"]

DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 1000

#: computed fields (not in the schema) that conditions may name, per schema
EXTRA_FIELDS: dict[str, dict[str, str]] = {}


@dataclass
class ListQuery:
    """The parsed list/count parameters of one request."""

    predicate: Callable[[dict], bool] | None
    order: list[tuple[Callable[[dict], Any], bool]]  # (key, descending)
    fields: list[list[str]] | None
    page: int
    page_size: int
    page_id: int | None
    forward_only: bool

    def filter(self, records: Iterable[dict]) -> list[dict]:
        p = self.predicate
        return [r for r in records if p is None or p(r)]


def _int(v: str | None) -> int | None:
    if v is None or v == "":
        return None
    try:
        return int(v)
    except ValueError:
        return None


def _sort_key(getter: Callable[[dict], Any]) -> Callable[[dict], Any]:
    def key(r: dict) -> Any:
        v = getter(r)
        if v is None:
            return (0, 0, "")
        if isinstance(v, bool):
            return (1, int(v), "")
        if isinstance(v, (int, float, Decimal)):
            return (1, float(v), "")
        if isinstance(v, str):
            dt = parse_datetime(v) if len(v) >= 10 and v[4:5] == "-" and v[:4].isdigit() else None
            if dt is not None:
                return (1, dt.timestamp(), "")
            return (2, 0, v.casefold())
        return (3, 0, str(v))

    return key


def parse_query(params: dict[str, str], schema: str, forward_only: bool) -> ListQuery:
    """Build a ListQuery from case-insensitively keyed params (``params`` keys are lower case)."""
    resolver = FieldResolver(schema, EXTRA_FIELDS.get(schema))
    preds = []
    cond = compile_conditions(params.get("conditions"), resolver)
    if cond:
        preds.append(cond)
    child = compile_conditions(params.get("childconditions"), resolver)
    if child:
        preds.append(child)
    cf = compile_custom_field_conditions(params.get("customfieldconditions"))
    if cf:
        preds.append(cf)
    page_id = _int(params.get("pageid"))
    if page_id is not None and forward_only:
        pid = page_id
        preds.append(lambda r: (r.get("id") or 0) > pid)
    predicate = None
    if len(preds) == 1:
        predicate = preds[0]
    elif preds:
        predicate = lambda r: all(p(r) for p in preds)  # noqa: E731

    order: list[tuple[Callable[[dict], Any], bool]] = []
    ob = params.get("orderby")
    if ob and ob.strip() and not forward_only:
        for part in ob.split(","):
            bits = part.split()
            if not bits:
                continue
            if len(bits) > 2 or (len(bits) == 2 and bits[1].lower() not in ("asc", "desc")):
                raise ConditionError(f"Invalid orderBy clause '{part.strip()}'.", code="InvalidOrderBy")
            resolver.kind(bits[0])  # unknown field -> ConditionError
            order.append((_sort_key(resolver.getter(bits[0])), len(bits) == 2 and bits[1].lower() == "desc"))

    fields = None
    fp = params.get("fields")
    if fp and fp.strip():
        fields = [f.strip().split("/") for f in fp.split(",") if f.strip()]

    size = _int(params.get("pagesize"))
    if size is None or size <= 0:
        size = DEFAULT_PAGE_SIZE
    size = min(size, MAX_PAGE_SIZE)
    page = _int(params.get("page"))
    if page is None or page < 1:
        page = 1
    return ListQuery(predicate, order, fields, page, size, page_id, forward_only)


def sort_records(recs: list[dict], order: list[tuple[Callable[[dict], Any], bool]]) -> list[dict]:
    """Sort by the orderBy keys (stable; id ascending as the final tie-break)."""
    recs = sorted(recs, key=lambda r: r.get("id") or 0)
    for key, desc in reversed(order):
        recs.sort(key=key, reverse=desc)
    return recs


def trim_fields(rec: dict, fields: list[list[str]]) -> dict:
    """Keep only the requested (possibly nested) fields."""
    out: dict[str, Any] = {}
    for path in fields:
        _copy_path(rec, out, path)
    return out


def _copy_path(src: Any, dst: dict, path: list[str]) -> None:
    if not isinstance(src, dict) or path[0] not in src:
        return
    v = src[path[0]]
    if len(path) == 1:
        dst[path[0]] = v
        return
    if isinstance(v, list):
        cur = dst.setdefault(path[0], [{} for _ in v])
        for s, d in zip(v, cur):
            _copy_path(s, d, path[1:])
    elif isinstance(v, dict):
        _copy_path(v, dst.setdefault(path[0], {}), path[1:])


def _strip_paging(raw_query: str) -> list[str]:
    keep = []
    for part in raw_query.split("&") if raw_query else []:
        if not part:
            continue
        k = part.split("=", 1)[0].lower()
        if k in ("page", "pagesize", "pageid"):
            continue
        keep.append(part)
    return keep


def link_header(url_base: str, raw_query: str, page: int, size: int, total: int) -> str | None:
    """Navigable-mode ``Link``: first/prev when page>1, next/last when page<last; None on one page."""
    last = max(1, math.ceil(total / size))
    if page == 1 and last == 1:
        return None
    keep = _strip_paging(raw_query)

    def url(n: int) -> str:
        q = "&".join(keep + [f"pageSize={size}", f"page={n}"])
        return f"<{url_base}?{q}>"

    links = []
    if page > 1:
        links.append(f'{url(1)}; rel="first"')
        links.append(f'{url(min(page - 1, last))}; rel="prev"')
    if page < last:
        links.append(f'{url(page + 1)}; rel="next"')
        links.append(f'{url(last)}; rel="last"')
    return ", ".join(links)


def forward_link(url_base: str, raw_query: str, size: int, last_id: int | None, more: bool) -> str:
    """Forward-only ``Link``: only ``next`` with ``pageId=<last id>``; empty on the last page."""
    if not more or last_id is None:
        return ""
    q = "&".join(_strip_paging(raw_query) + [f"pageSize={size}", f"pageId={last_id}"])
    return f'<{url_base}?{q}>; rel="next"'

