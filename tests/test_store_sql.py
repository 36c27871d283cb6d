"""The database answers questions: with plain SQL on the file (no billbridge code), an investigation
lists a month's vendor lines for a customer, the ConnectWise additions of an agreement and the plan
rows of a cause, each with one WHERE (the queries of the README's "Investigating with SQL")."""

from __future__ import annotations

import sqlite3

import pytest

from demo_month_support import MONTH, close, demo_month_world


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    w = demo_month_world(tmp_path_factory.mktemp("sql"))
    yield w
    close(w)


def query(path, sql: str, *params) -> list[dict]:
    con = sqlite3.connect(path)
    con.row_factory = sqlite3.Row
    try:
        return [dict(r) for r in con.execute(sql, params)]
    finally:
        con.close()


def test_a_months_vendor_lines_for_one_customer_are_typed_rows(world):
    rows = query(world["path"], "SELECT line_no, sku, charge_type, quantity, unit_cost, period_start FROM month_lines "
                                "WHERE billing_month = ? AND vendor_customer_id = 'DC-10001' ORDER BY line_no", MONTH)
    lines = world["store"].conn.execute(
        "SELECT COUNT(*) FROM vendor_lines WHERE vendor_customer_id = 'DC-10001'").fetchone()[0]
    assert rows and len(rows) == lines
    assert all(isinstance(r["line_no"], int) and r["sku"] for r in rows)
    assert all(r["period_start"][:7] in ("2026-10", "2026-11") for r in rows)  # ISO dates, comparable as text
    assert all(r["quantity"].replace(".", "").lstrip("-").isdigit() for r in rows)  # exact decimal text


def test_the_connectwise_additions_of_an_agreement_are_typed_rows(world):
    agreement_id = int(world["plan"].rows.dropna(subset=["cw_addition_id"])["agreement_id"].iloc[0])
    rows = query(world["path"], "SELECT addition_id, product_identifier, quantity, unit_price, effective_date, "
                                "cancelled_date, line_key FROM month_additions "
                                "WHERE billing_month = ? AND agreement_id = ?", MONTH, agreement_id)
    expected = [a for a in world["sb"].records("additions") if a["agreementId"] == agreement_id]
    assert sorted(r["addition_id"] for r in rows) == sorted(a["id"] for a in expected)
    by_id = {a["id"]: a for a in expected}
    for r in rows:
        a = by_id[r["addition_id"]]
        assert float(r["quantity"]) == a["quantity"] and r["effective_date"] == a["effectiveDate"][:10]
        assert r["product_identifier"] == a["product"]["identifier"]
    assert any(r["line_key"] and r["line_key"].startswith("demo|") for r in rows)


def test_the_plan_rows_of_a_cause_are_typed_rows_with_names(world):
    rows = query(world["path"], "SELECT key, action, vendor_customer_name, product_description, vendor_quantity, "
                                "reason, flags FROM month_plan_lines WHERE billing_month = ? AND cause = 'unmapped_customer'",
                 MONTH)
    plan = world["plan"].rows
    expected = plan[plan["cause"] == "unmapped_customer"]
    assert sorted(r["key"] for r in rows) == sorted(expected["key"]) and len(rows) >= 1
    assert {r["action"] for r in rows} == {"blocked"} and all(r["reason"] and r["vendor_customer_name"] for r in rows)
    # one plain WHERE on the base table works too, and flags are plain text
    base = query(world["path"], "SELECT COUNT(*) AS n FROM plan_rows WHERE plan_id = ? AND cause = 'unmapped_customer'",
                 world["plan_id"])
    assert base[0]["n"] == len(rows)
    flagged = query(world["path"], "SELECT key FROM plan_lines WHERE plan_id = ? AND flags LIKE '%late_month_bdom%'",
                    world["plan_id"])
    assert {r["key"] for r in flagged} == {k for k, f in zip(plan["key"], plan["flags"]) if "late_month_bdom" in (f or [])}


def test_no_json_where_a_column_can_say_it(world):
    """JSON only in documents: request bodies, field diffs, lookups, the raw ConnectWise records."""
    con = sqlite3.connect(world["path"])
    try:
        json_cols = {}
        for (table,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for row in con.execute(f"SELECT * FROM {table} LIMIT 200"):
                names = [d[0] for d in con.execute(f"SELECT * FROM {table} LIMIT 0").description]
                for name, v in zip(names, row):
                    if isinstance(v, str) and v[:1] in "[{" and v[-1:] in "]}":
                        json_cols.setdefault(table, set()).add(name)
        # impact_by_cause (issue 12, m012): a changed row's price impact split into its four parts, read whole
        assert json_cols.get("plan_rows", set()) <= {"writes", "request", "lookup", "depends_on", "maps", "extra",
                                                     "impact_by_cause"}
        assert "vendor_lines" not in json_cols
        assert all(cols == {"record"} for t, cols in json_cols.items() if t.startswith("cw_"))
        assert not {"import_blobs", "snapshot_data"} & {t for (t,) in con.execute("SELECT name FROM sqlite_master")}
    finally:
        con.close()


def test_the_readmes_investigation_queries_run_and_answer(world):
    import re
    import shlex
    from pathlib import Path

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    section = readme.split("## Investigating with SQL", 1)[1].split("\n## ", 1)[0]
    queries = [shlex.split(line)[3] for line in section.splitlines() if line.startswith("sqlite-utils query")]
    assert len(queries) == 3
    for sql in queries:
        assert len(re.findall(r"\bWHERE\b", sql)) == 1, sql
        assert query(world["path"], sql), sql
