"""The ConnectWise ``conditions`` query language: tokenizer, parser, type checker and evaluator.

Grammar (protocol.md section 4)::

    expr       := and_expr (OR and_expr)*
    and_expr   := unary (AND unary)*
    unary      := NOT unary | primary
    primary    := "(" expr ")" | comparison
    comparison := PATH op literal
                | PATH [NOT] IN "(" literal ("," literal)* ")"
                | PATH [NOT] (LIKE | CONTAINS) literal
    op         := = | != | <> | < | <= | > | >=
    literal    := "str" | 'str' (backslash escapes) | [date] | number | true | false | null

Keywords are case-insensitive; whitespace around operators is optional; paths nest with ``/``.
``and`` binds tighter than ``or``. String comparisons are case-insensitive (SQL Server collation).
Comparisons against a missing (null) value are false, except ``= null`` / ``!= null``.

:func:`compile_conditions` parses, checks every path against a :class:`FieldResolver` and returns
a predicate ``record -> bool``. Problems raise :class:`ConditionError` carrying the ConnectWise
error code and message.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Callable, Iterable

from .schema import SCHEMAS

__all__ = [
    "ConditionError",
    "FieldResolver",
    "Literal",
    "compile_conditions",
    "parse",
    "parse_datetime",
    "TYPE_HINT",
]

#: The tail of the server's own type-mismatch message (connectwise-rest README).
TYPE_HINT = (
    "String values should be enclosed with double or single quotes; DateTime values should be "
    "enclosed in square brackets; numbers should consist of only digits, and optionally a decimal "
    "point and a negation sign; boolean values should be indicated with the keywords true or false; "
    "null values should be indicated by the keyword null."
)

#: _info fields that conditions can name directly at top level.
INFO_FIELDS = {"lastUpdated": "datetime", "dateEntered": "datetime", "updatedBy": "string", "enteredBy": "string"}


class ConditionError(ValueError):
    """A bad ``conditions``/``childConditions``/``customFieldConditions``/``orderBy`` value."""

    def __init__(self, message: str, code: str = "ApiFindCondition"):
        super().__init__(message)
        self.code = code
        self.message = message


# --------------------------------------------------------------------------- tokens

@dataclass(frozen=True)
class Token:
    kind: str  # LP RP COMMA OP STR DATE NUM WORD KW EOF
    value: Any
    pos: int


@dataclass(frozen=True)
class Literal:
    """A parsed literal: ``kind`` is string | datetime | number | boolean | null."""

    kind: str
    value: Any


KEYWORDS = {"and", "or", "not", "in", "like", "contains", "true", "false", "null"}
_WORD = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:/[A-Za-z_][A-Za-z0-9_]*)*")
_NUM = re.compile(r"-?(?:\d+(?:\.\d*)?|\.\d+)")
_OPS = ("<=", ">=", "!=", "<>", "=", "<", ">")


def tokenize(text: str) -> list[Token]:
    toks: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
            continue
        if c == "(":
            toks.append(Token("LP", c, i)); i += 1; continue
        if c == ")":
            toks.append(Token("RP", c, i)); i += 1; continue
        if c == ",":
            toks.append(Token("COMMA", c, i)); i += 1; continue
        op = next((o for o in _OPS if text.startswith(o, i)), None)
        if op:
            toks.append(Token("OP", "!=" if op == "<>" else op, i)); i += len(op); continue
        if c in "\"'":
            quote, j, buf = c, i + 1, []
            while j < n and text[j] != quote:
                if text[j] == "\\" and j + 1 < n:
                    nxt = text[j + 1]
                    buf.append({"n": "\n", "t": "\t", "r": "\r"}.get(nxt, nxt))
                    j += 2
                else:
                    buf.append(text[j]); j += 1
            if j >= n:
                raise ConditionError(f"Unterminated string starting at position {i}.")
            toks.append(Token("STR", "".join(buf), i)); i = j + 1; continue
        if c == "[":
            j = text.find("]", i)
            if j < 0:
                raise ConditionError(f"Unterminated date starting at position {i}.")
            raw = text[i + 1:j].strip()
            dt = parse_datetime(raw)
            if dt is None:
                raise ConditionError(f"'{raw}' is not a valid DateTime value. {TYPE_HINT}")
            toks.append(Token("DATE", dt, i)); i = j + 1; continue
        m = _NUM.match(text, i)
        if m and (c.isdigit() or c in "-."):
            end = m.end()
            if end < n and (text[end].isalpha() or text[end] == "_"):
                raise ConditionError(f"Unexpected value '{text[i:end + 1]}' at position {i}. {TYPE_HINT}")
            toks.append(Token("NUM", Decimal(m.group(0)), i)); i = end; continue
        m = _WORD.match(text, i)
        if m:
            w = m.group(0)
            if w.lower() in KEYWORDS:
                toks.append(Token("KW", w.lower(), i))
            else:
                toks.append(Token("WORD", w, i))
            i = m.end(); continue
        raise ConditionError(f"Unexpected character '{c}' at position {i}.")
    toks.append(Token("EOF", None, n))
    return toks


def parse_datetime(raw: str) -> datetime | None:
    """Parse a bracketed condition date (``2026-01-01``, ``...T00:00:00Z``, offsets, fractions).

    Naive values are taken as UTC. Returns an aware UTC datetime or None.
    """
    s = raw.strip()
    if not s:
        return None
    if s.endswith("Z") or s.endswith("z"):
        s = s[:-1] + "+00:00"
    try:
        if len(s) == 10:
            d = date.fromisoformat(s)
            return datetime(d.year, d.month, d.day, tzinfo=timezone.utc)
        dt = datetime.fromisoformat(s)
    except ValueError:
        return None
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=timezone.utc)
    return dt.astimezone(timezone.utc)


# --------------------------------------------------------------------------- AST

@dataclass(frozen=True)
class Cmp:
    path: str
    op: str  # = != < <= > >= like contains in
    value: Any  # Literal, or tuple[Literal, ...] for in
    negate: bool = False


@dataclass(frozen=True)
class And:
    items: tuple


@dataclass(frozen=True)
class Or:
    items: tuple


@dataclass(frozen=True)
class Not:
    item: Any


class _Parser:
    def __init__(self, text: str):
        self.toks = tokenize(text)
        self.i = 0

    def peek(self) -> Token:
        return self.toks[self.i]

    def take(self) -> Token:
        t = self.toks[self.i]
        self.i += 1
        return t

    def kw(self, word: str) -> bool:
        t = self.peek()
        if t.kind == "KW" and t.value == word:
            self.i += 1
            return True
        return False

    def error(self, t: Token, what: str) -> ConditionError:
        got = "end of conditions" if t.kind == "EOF" else repr(str(t.value) if t.kind != "DATE" else t.value.isoformat())
        return ConditionError(f"Syntax error in conditions at position {t.pos}: expected {what}, found {got}.")

    def parse(self):
        node = self.expr()
        if self.peek().kind != "EOF":
            raise self.error(self.peek(), "'and', 'or' or ')'")
        return node

    def expr(self):
        items = [self.and_expr()]
        while self.kw("or"):
            items.append(self.and_expr())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def and_expr(self):
        items = [self.unary()]
        while self.kw("and"):
            items.append(self.unary())
        return items[0] if len(items) == 1 else And(tuple(items))

    def unary(self):
        if self.kw("not"):
            return Not(self.unary())
        t = self.peek()
        if t.kind == "LP":
            self.take()
            node = self.expr()
            if self.take().kind != "RP":
                raise self.error(self.toks[self.i - 1], "')'")
            return node
        return self.comparison()

    def literal(self) -> Literal:
        t = self.take()
        if t.kind == "STR":
            return Literal("string", t.value)
        if t.kind == "DATE":
            return Literal("datetime", t.value)
        if t.kind == "NUM":
            return Literal("number", t.value)
        if t.kind == "KW" and t.value in ("true", "false"):
            return Literal("boolean", t.value == "true")
        if t.kind == "KW" and t.value == "null":
            return Literal("null", None)
        if t.kind == "WORD":
            raise ConditionError(f"Unexpected value '{t.value}' at position {t.pos}. {TYPE_HINT}")
        raise self.error(t, "a value")

    def comparison(self):
        t = self.take()
        if t.kind != "WORD":
            raise self.error(t, "a field name")
        path = t.value
        negate = self.kw("not")
        nt = self.peek()
        if nt.kind == "KW" and nt.value == "in":
            self.take()
            if self.take().kind != "LP":
                raise self.error(self.toks[self.i - 1], "'(' after in")
            vals = [self.literal()]
            while self.peek().kind == "COMMA":
                self.take()
                vals.append(self.literal())
            if self.take().kind != "RP":
                raise self.error(self.toks[self.i - 1], "',' or ')'")
            return Cmp(path, "in", tuple(vals), negate)
        if nt.kind == "KW" and nt.value in ("like", "contains"):
            self.take()
            return Cmp(path, nt.value, self.literal(), negate)
        if negate:
            raise self.error(nt, "'in', 'like' or 'contains' after not")
        if nt.kind != "OP":
            raise self.error(nt, "an operator")
        self.take()
        return Cmp(path, nt.value, self.literal())


def parse(text: str):
    """Parse a conditions string into an AST (Cmp/And/Or/Not). Raises ConditionError."""
    return _Parser(text).parse()


# --------------------------------------------------------------------------- field typing

class FieldResolver:
    """Knows the fields of one schema: resolves a ``a/b/c`` path to a kind and reads its value.

    ``extra`` adds computed fields (name -> kind) that are not in the schema.
    """

    def __init__(self, schema: str, extra: dict[str, str] | None = None, promote_info: bool = True):
        self.schema = schema
        self.extra = extra or {}
        self.promote_info = promote_info

    def kind(self, path: str) -> str:
        parts = path.split("/")
        props = SCHEMAS[self.schema]["properties"]
        first = parts[0]
        if len(parts) == 1 and first in self.extra:
            return self.extra[first]
        if first not in props:
            if self.promote_info and len(parts) == 1 and first in INFO_FIELDS:
                return INFO_FIELDS[first]
            raise ConditionError(f"{first} is not a recognized name.")
        spec = props[first]
        for part in parts[1:]:
            if spec["kind"] in ("ref", "array") and "ref" in spec:
                sub = SCHEMAS[spec["ref"]]["properties"]
                if part not in sub:
                    raise ConditionError(f"{path} is not a recognized name.")
                spec = sub[part]
            else:
                raise ConditionError(f"{path} is not a recognized name.")
        kind = spec["kind"]
        if kind == "ref" or (kind == "array" and "ref" in spec):
            raise ConditionError(f"{path} is not a recognized name.")
        if kind == "array":
            return spec.get("items", "any")
        return kind

    def getter(self, path: str) -> Callable[[dict], Any]:
        parts = path.split("/")
        if len(parts) == 1:
            key = parts[0]
            if self.promote_info and key in INFO_FIELDS and key not in SCHEMAS[self.schema]["properties"]:
                return lambda r: (r.get("_info") or {}).get(key)
            return lambda r: r.get(key)

        def get(r: dict) -> Any:
            cur: Any = [r]
            many = False
            for part in parts:
                nxt = []
                for c in cur:
                    v = c.get(part) if isinstance(c, dict) else None
                    if isinstance(v, list):
                        many = True
                        nxt.extend(v)
                    elif v is not None:
                        nxt.append(v)
                cur = nxt
            if many:
                return _Many(cur)
            return cur[0] if cur else None

        return get


class _Many(list):
    """Values reached through an array: a comparison matches if any element matches."""


# --------------------------------------------------------------------------- evaluation

_EXPECT_NAMES = {"string": "string", "datetime": "datetime", "number": "numeric", "integer": "numeric",
                 "boolean": "boolean", "null": "null"}


def _type_error(field_kind: str, lit: Literal) -> ConditionError:
    want = {"string": "a string", "datetime": "a datetime", "number": "a numeric", "integer": "a numeric",
            "boolean": "a boolean"}.get(field_kind, "a " + field_kind)
    got = {"string": "a string", "datetime": "a datetime", "number": "a numeric", "boolean": "a boolean",
           "null": "null"}[lit.kind]
    return ConditionError(f"Expected {want} value, not {got}. {TYPE_HINT}")


def _check(field_kind: str, lit: Literal, op: str) -> None:
    if lit.kind == "null":
        if op not in ("=", "!=", "in"):
            raise ConditionError(f"The operator {op} cannot be used with null. {TYPE_HINT}")
        return
    if field_kind in ("any", "object"):
        return
    ok = {
        "string": ("string",),
        "datetime": ("datetime",),
        "number": ("number",),
        "integer": ("number",),
        "boolean": ("boolean",),
    }.get(field_kind, (lit.kind,))
    if lit.kind not in ok:
        raise _type_error(field_kind, lit)
    if op in ("like", "contains") and field_kind != "string":
        raise ConditionError(f"The operator {op} can only be used with string values, not a {_EXPECT_NAMES.get(field_kind, field_kind)}. {TYPE_HINT}")


def _norm(v: Any, kind: str) -> Any:
    """Normalise a stored value for comparison with a literal of ``kind``."""
    if v is None:
        return None
    if kind == "string":
        return str(v).casefold()
    if kind == "number":
        if isinstance(v, bool):
            return None
        try:
            return Decimal(str(v))
        except InvalidOperation:
            return None
    if kind == "datetime":
        if isinstance(v, datetime):
            return v
        return parse_datetime(str(v))
    if kind == "boolean":
        if isinstance(v, bool):
            return v
        if isinstance(v, str):
            return v.lower() == "true"
        return bool(v)
    return v


def _lit_value(lit: Literal) -> Any:
    if lit.kind == "string":
        return lit.value.casefold()
    return lit.value


def _like_regex(pattern: str) -> re.Pattern:
    out = []
    for ch in pattern:
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        else:
            out.append(re.escape(ch))
    return re.compile("".join(out), re.IGNORECASE | re.DOTALL)


def _compile_cmp(node: Cmp, resolver: FieldResolver) -> Callable[[dict], bool]:
    kind = resolver.kind(node.path)
    lits: Iterable[Literal] = node.value if node.op == "in" else (node.value,)
    for lit in lits:
        _check(kind, lit, node.op)
    get = resolver.getter(node.path)
    op = node.op

    def over(values: Any, test: Callable[[Any], bool]) -> bool:
        if isinstance(values, _Many):
            return any(test(v) for v in values) if values else test(None)
        return test(values)

    if op == "in":
        wanted = [lit for lit in node.value]
        want_null = any(lit.kind == "null" for lit in wanted)
        concrete = [lit for lit in wanted if lit.kind != "null"]
        ckind = concrete[0].kind if concrete else "null"
        vals = {_lit_value(lit) for lit in concrete}

        def test_in(v: Any) -> bool:
            if v is None:
                return want_null
            return _norm(v, ckind) in vals

        if node.negate:
            def pred(r: dict) -> bool:
                v = get(r)
                if v is None or (isinstance(v, _Many) and not v):
                    return not want_null and False
                return not over(v, test_in)
            return pred
        return lambda r: over(get(r), test_in)

    lit = node.value
    if op in ("like", "contains"):
        rx = _like_regex(lit.value) if op == "like" else None
        needle = lit.value.casefold()

        def test_text(v: Any) -> bool:
            if v is None:
                return False
            s = str(v)
            return bool(rx.fullmatch(s)) if rx is not None else needle in s.casefold()

        if node.negate:
            return lambda r: (lambda v: v is not None and not over(v, test_text))(get(r))
        return lambda r: over(get(r), test_text)

    if lit.kind == "null":
        if op == "=":
            return lambda r: over(get(r), lambda v: v is None)
        return lambda r: over(get(r), lambda v: v is not None)

    want = _lit_value(lit)
    lkind = lit.kind
    import operator as _op
    fn = {"=": _op.eq, "!=": _op.ne, "<": _op.lt, "<=": _op.le, ">": _op.gt, ">=": _op.ge}[op]

    def test(v: Any) -> bool:
        nv = _norm(v, lkind)
        if nv is None:
            return False
        try:
            return fn(nv, want)
        except TypeError:
            return False

    return lambda r: over(get(r), test)


def _compile(node: Any, resolver: FieldResolver) -> Callable[[dict], bool]:
    if isinstance(node, Cmp):
        return _compile_cmp(node, resolver)
    if isinstance(node, And):
        fs = [_compile(n, resolver) for n in node.items]
        return lambda r: all(f(r) for f in fs)
    if isinstance(node, Or):
        fs = [_compile(n, resolver) for n in node.items]
        return lambda r: any(f(r) for f in fs)
    if isinstance(node, Not):
        f = _compile(node.item, resolver)
        return lambda r: not f(r)
    raise TypeError(node)


def compile_conditions(text: str | None, resolver: FieldResolver) -> Callable[[dict], bool] | None:
    """Parse and type-check ``text`` for ``resolver``'s schema; None when text is empty."""
    if text is None or not text.strip():
        return None
    return _compile(parse(text), resolver)


def compile_custom_field_conditions(text: str | None) -> Callable[[dict], bool] | None:
    """``customFieldConditions``: a record matches when ANY of its customFields matches ``text``."""
    if text is None or not text.strip():
        return None
    inner = _compile(parse(text), FieldResolver("CustomFieldValue", extra={"value": "any"}, promote_info=False))

    def pred(r: dict) -> bool:
        return any(inner(cf) for cf in (r.get("customFields") or []) if isinstance(cf, dict))

    return pred
