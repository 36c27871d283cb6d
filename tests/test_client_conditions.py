"""The conditions builder: literals, operators, field-name validation (pure, no HTTP)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billbridge.connectwise import conditions as C


# A reference reader of one ConnectWise string literal, written from protocol.md section 4:
# "..." or '...', a backslash escapes the next character.
def read_string_literal(text: str) -> tuple[str, str]:
    """(value, rest of text after the closing quote)."""
    assert text[0] in "\"'", text
    quote, out, i = text[0], [], 1
    while i < len(text):
        ch = text[i]
        if ch == "\\":
            out.append(text[i + 1])
            i += 2
            continue
        if ch == quote:
            return "".join(out), text[i + 1 :]
        out.append(ch)
        i += 1
    raise AssertionError(f"unterminated literal: {text!r}")


@pytest.mark.parametrize(
    "value, expected",
    [
        ("Acme", '"Acme"'),
        ('say "hi"', "'say \"hi\"'"),
        ("O'Brien", '"O\'Brien"'),
        ("both ' and \"", '"both \' and \\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("", '""'),
        ("Zürich ☃", '"Zürich ☃"'),
        (True, "true"),
        (False, "false"),
        (None, "null"),
        (42, "42"),
        (-7, "-7"),
        (Decimal("12.50"), "12.50"),
        (Decimal("1E+3"), "1000"),
        (0.1, "0.1"),
        (date(2026, 11, 30), "[2026-11-30T00:00:00Z]"),
        (datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc), "[2026-01-02T03:04:05Z]"),
        (datetime(2026, 1, 2, 1, 0, tzinfo=timezone(timedelta(hours=2))), "[2026-01-01T23:00:00Z]"),
    ],
)
def test_literal_renders_each_type_in_connectwise_syntax(value, expected):
    assert C.literal(value) == expected


def test_literal_date_is_midnight_utc_whatever_the_local_zone(monkeypatch):
    monkeypatch.setenv("TZ", "Pacific/Kiritimati")  # UTC+14: a shifted date would move a day
    assert C.literal(date(2026, 3, 1)) == "[2026-03-01T00:00:00Z]"


@pytest.mark.parametrize("bad", [datetime(2026, 1, 1), float("nan"), Decimal("Infinity"), float("inf")])
def test_literal_refuses_naive_datetimes_and_non_finite_numbers(bad):
    with pytest.raises(ValueError):
        C.literal(bad)


@pytest.mark.parametrize("bad", [b"bytes", object(), [1, 2], {"a": 1}])
def test_literal_refuses_types_it_cannot_express(bad):
    with pytest.raises(TypeError):
        C.literal(bad)


@given(st.text())
def test_any_string_round_trips_through_its_literal(value):
    lit = C.literal(value)
    parsed, rest = read_string_literal(lit)
    assert parsed == value
    assert rest == ""


@given(st.text(), st.text())
def test_a_string_value_cannot_escape_its_literal(value, tail):
    # Whatever the operator typed, the condition is exactly one comparison: everything after the
    # literal is what *we* appended, never something carried in by the value.
    cond = C.eq("name", value) + " and id = 1"
    assert cond.startswith("name = ")
    parsed, rest = read_string_literal(cond[len("name = ") :])
    assert parsed == value
    assert rest == " and id = 1"


@given(st.lists(st.one_of(st.integers(), st.text(max_size=10)), min_size=1, max_size=20))
def test_in_list_holds_each_value_as_its_own_literal(values):
    cond = C.in_("identifier", values)
    assert cond.startswith("identifier in (") and cond.endswith(")")
    body = cond[len("identifier in (") : -1]
    seen = []
    while body:
        if body[0] in "\"'":
            v, body = read_string_literal(body)
        else:
            raw, _, body = body.partition(",")
            v = int(raw)
            body = "," + body if body else ""
        seen.append(v)
        body = body[1:] if body.startswith(",") else body
    assert seen == values


@pytest.mark.parametrize(
    "build, expected",
    [
        (lambda: C.eq("company/id", 250), "company/id = 250"),
        (lambda: C.ne("name", "x"), 'name != "x"'),
        (lambda: C.lt("quantity", 5), "quantity < 5"),
        (lambda: C.le("quantity", Decimal("2.5")), "quantity <= 2.5"),
        (lambda: C.gt("lastUpdated", date(2026, 1, 1)), "lastUpdated > [2026-01-01T00:00:00Z]"),
        (lambda: C.ge("lastUpdated", date(2026, 1, 1)), "lastUpdated >= [2026-01-01T00:00:00Z]"),
        (lambda: C.contains("name", "Acme"), 'name contains "Acme"'),
        (lambda: C.like("name", "Acme%"), 'name like "Acme%"'),
        (lambda: C.in_("id", [1, 2, 3]), "id in (1,2,3)"),
        (lambda: C.not_in("status/id", (12, 15)), "status/id not in (12,15)"),
        (lambda: C.eq("cancelledDate", None), "cancelledDate = null"),
        (lambda: C.eq("inactiveFlag", False), "inactiveFlag = false"),
        (lambda: C.not_(C.eq("id", 1)), "not (id = 1)"),
    ],
)
def test_operators_render_the_documented_grammar(build, expected):
    assert build() == expected


def test_all_of_and_any_of_group_with_parentheses_so_precedence_is_explicit():
    active = C.any_of(C.eq("cancelledDate", None), C.gt("cancelledDate", date(2026, 11, 1)))
    cond = C.all_of(C.eq("agreementId", 7), active)
    assert cond == (
        "(agreementId = 7 and (cancelledDate = null or cancelledDate > [2026-11-01T00:00:00Z]))"
    )


def test_all_of_wraps_a_raw_string_that_has_its_own_or():
    assert C.all_of("a = 1 or b = 2", C.eq("c", 3)) == "((a = 1 or b = 2) and c = 3)"


def test_all_of_skips_none_and_returns_a_single_condition_unchanged():
    assert C.all_of(C.eq("id", 1), None) == "id = 1"


def test_an_empty_in_list_or_empty_group_is_an_error_not_a_silent_match_all():
    with pytest.raises(ValueError):
        C.in_("id", [])
    with pytest.raises(ValueError):
        C.all_of()
    with pytest.raises(TypeError):
        C.in_("id", "123")


@pytest.mark.parametrize(
    "bad",
    ["", "name = 1 or 1", "name)", "a b", "1abc", "company//id", "/id", "id/", "name\n", 'x"', "na-me", "é"],
)
def test_field_names_that_could_break_a_query_are_refused(bad):
    with pytest.raises(ValueError):
        C.eq(bad, 1)


@pytest.mark.parametrize("good", ["id", "company/id", "_info", "type/identifier", "a1/b_2/c3"])
def test_nested_field_names_are_accepted(good):
    assert C.eq(good, 1) == f"{good} = 1"


@settings(max_examples=200)
@given(st.text())
def test_any_operator_supplied_field_name_is_either_valid_or_refused(name):
    try:
        out = C.eq(name, 1)
    except ValueError:
        return
    assert out == f"{name} = 1"
    assert C.FIELD_RE.fullmatch(name)
