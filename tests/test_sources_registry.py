"""The source registry: every source by name, presets unchanged, and the shared validation that
turns a source's canonical lines into a ParseResult speaking the vendor's rows and columns."""

from __future__ import annotations

from decimal import Decimal

import pandas as pd
import pytest

from billbridge import sources
from billbridge.errors import InputError
from billbridge.sources import registry
from billbridge.sources.parse import parse_file
from billbridge.store import LINE_COLUMNS, Store

MONTH = "2026-11"


def test_every_source_is_registered_by_name_with_its_kind():
    assert registry.names(kind="file") == ["generic", "intermedia", "interworks", "phin", "microsoft", "microsoft-graph"]
    assert registry.names(kind="api") == ["pax8", "sherweb"]
    assert sources.format_names() == registry.names(kind="file")
    for name in registry.names():
        src = registry.get(name)
        assert src.name == name and src.kind in registry.KINDS
        assert set(src.charge_types.values()) <= {"recurring", "usage", "one_time", "credit", "by sign"}


def test_an_unknown_source_is_an_input_error_listing_the_known_ones():
    with pytest.raises(InputError) as err:
        registry.get("acme")
    assert "pax8" in str(err.value) and "microsoft" in str(err.value)


def test_register_adds_a_source_and_get_returns_it():
    src = registry.Source(name="zz-test", kind="file", label="Test", parse=lambda d, f, m: parse_file(d, f, "generic", m))
    try:
        assert registry.register(src) is src
        assert registry.get("zz-test") is src and "zz-test" in registry.names()
    finally:
        registry._REGISTRY.pop("zz-test")


def test_a_source_needs_the_function_its_kind_calls():
    with pytest.raises(ValueError):
        registry.Source(name="x", kind="api", label="X")
    with pytest.raises(ValueError):
        registry.Source(name="x", kind="ftp", label="X", parse=lambda *a: None)


@pytest.mark.parametrize("fmt", ["generic", "intermedia", "interworks", "phin"])
def test_a_preset_through_the_registry_parses_exactly_as_parse_file(fmt):
    data = sources.sample_bytes(fmt)
    direct = parse_file(data, f"{fmt}.csv", fmt, MONTH)
    via = registry.get(fmt).parse(data, f"{fmt}.csv", MONTH)
    assert via.ok and direct.ok
    assert via.total_cost == direct.total_cost and via.sha256 == direct.sha256
    assert via.lines.equals(direct.lines)
    assert registry.get(fmt).preset


def test_the_preset_charge_type_tables_hold_their_value_maps():
    assert registry.get("intermedia").charge_types["permission"] == "usage"
    assert registry.get("interworks").charge_types["refund"] == "credit"
    assert registry.get("phin").charge_types == {"recurring": "recurring"}


def _lines(**over) -> registry.SourceLines:
    base = {"vendor_customer_id": "C1", "vendor_customer_name": "Acme", "subscription_id": "S1", "sku": "SKU",
            "charge_type": "recurring", "quantity": "3", "unit_cost": "1.335", "period_start": "2026-11-01",
            "period_end": "2026-11-30", "currency": "USD", "extended_cost": "4.00", "tax": "0.24"}
    rows = [dict(base), {**base, "subscription_id": "S2", "extended_cost": "4.01"}]
    for k, v in over.items():
        rows[1][k] = v
    return registry.SourceLines("acme", "acme bill", "f" * 64, pd.DataFrame(rows), [17, 42],
                                columns={"unit_cost": "Price", "quantity": "Qty", "extended_cost": "Amount"})


def test_validate_keeps_the_vendors_own_extended_amounts_and_total():
    parsed = registry.validate(_lines(), MONTH)
    assert parsed.ok, parsed.problems
    assert parsed.total_cost == Decimal("8.01")  # the vendor's figures, not 3 x 1.335 rounded twice (8.02)
    assert parsed.lines["extended_cost"].tolist() == ["4.00", "4.01"]
    assert parsed.lines["line_no"].tolist() == [17, 42]
    assert parsed.lines["tax"].tolist() == ["0.24", "0.24"]
    assert parsed.format == "acme" and parsed.file_name == "acme bill" and parsed.sha256 == "f" * 64


def test_validate_names_the_vendors_row_and_column_in_every_problem():
    parsed = registry.validate(_lines(quantity="lots", period_start="2026-11-31"), MONTH)
    assert not parsed.ok
    by_col = {p.column: p for p in parsed.problems}
    assert by_col["Qty"].row == 42 and by_col["Qty"].reason == "not a number"
    assert by_col["period_start"].row == 42  # no vendor name given for it: the canonical one


def test_validate_keeps_a_real_duplicate_but_not_two_vendor_lines_sharing_a_key():
    twins = _lines(subscription_id="S1")
    assert any("duplicate of row 17" in p.reason for p in registry.validate(twins, MONTH).problems)
    twins.line_ids = ["order-1", "order-2"]  # two orders: two real lines
    assert registry.validate(twins, MONTH).ok
    twins.line_ids = ["order-1", "order-1"]  # the same line twice
    assert not registry.validate(twins, MONTH).ok


def test_validate_adds_the_row_names_to_problems():
    lines = _lines(quantity="x")
    lines.row_names = ["item a", "item b"]
    (p,) = registry.validate(lines, MONTH).problems
    assert p.row == 42 and p.reason.endswith("(item b)")


def test_an_empty_source_is_one_problem_not_a_crash():
    empty = registry.SourceLines("acme", "nothing", "0" * 64, pd.DataFrame(), [])
    parsed = registry.validate(empty, MONTH)
    assert [p.reason for p in parsed.problems] == ["nothing has no lines"]


def test_link_credits_points_each_credit_at_the_charge_of_its_subscription():
    df = pd.DataFrame([
        {"vendor_customer_id": "C", "subscription_id": "S", "sku": "K", "charge_type": "recurring",
         "period_start": "2026-11-01", "period_end": "2026-11-30"},
        {"vendor_customer_id": "C", "subscription_id": "S", "sku": "K", "charge_type": "recurring",
         "period_start": "2026-11-20", "period_end": "2026-11-30"},
        {"vendor_customer_id": "C", "subscription_id": "S", "sku": "K", "charge_type": "credit",
         "period_start": "2026-11-21", "period_end": "2026-11-30"},
        {"vendor_customer_id": "C", "subscription_id": "T", "sku": "K", "charge_type": "credit",
         "period_start": "2026-11-05", "period_end": "2026-11-30"},
    ])
    linked, missing = registry.link_credits(df, [2, 3, 4, 5])
    assert linked.tolist() == ["", "", "3", ""] and missing == 1


def test_the_extra_columns_are_declared_once_and_never_clash_with_stored_ones():
    assert not set(registry.EXTRA_COLUMNS) & set(LINE_COLUMNS)
    assert all(meaning for meaning in registry.EXTRA_COLUMNS.values())


def test_load_month_routes_presets_to_the_file_loader_unchanged(tmp_path):
    store = Store.open(tmp_path / "b.db")
    r = sources.load_month(store, MONTH, sources.sample_bytes("generic"), "g.csv", "generic")
    assert r.status == "loaded" and r.vendor == "generic"
    assert sources.load_month(store, MONTH, sources.sample_bytes("generic"), "g.csv", "generic").status == "unchanged"


def test_an_api_source_is_not_a_file_format():
    with pytest.raises(InputError):
        sources.parse_file(b"x", "x.csv", "pax8", MONTH)
