"""Withdrawing an import (issue 10): a recorded, reversible act. A withdrawn import is no part of its
month (the vendor's newest version still in effect is), its lines stay, and it can be restored;
through the library, the ``billbridge withdraw`` command and the Load month page."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from apptest_util import open_page
from billbridge import month as mo
from billbridge import sources
from billbridge import store as st
from billbridge.cli import main
from billbridge.errors import InputError, NotFoundError
from billbridge.store import Store

M = "2026-11"
HEADER = "vendor_customer_id,vendor_customer_name,subscription_id,sku,quantity,unit_cost,period_start,period_end"


def f(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode()


V1 = f("C1,Acme,S1,SKU,3,18.00,2026-11-04,2026-12-03")
V2 = f("C1,Acme,S1,SKU,5,18.00,2026-11-04,2026-12-03", "C2,Blue,S2,SKU,1,18.00,2026-11-04,2026-12-03")


@pytest.fixture
def store(tmp_path):
    s = Store.open(tmp_path / "billbridge.db")
    yield s
    s.close()


def two_versions(store) -> tuple[int, int]:
    a = sources.load_month(store, M, V1, "a.csv", vendor="acme").import_id
    b = sources.load_month(store, M, V2, "b.csv", vendor="acme").import_id
    return a, b


def test_withdrawing_the_newest_version_puts_the_month_back_on_the_one_before(store):
    v1, v2 = two_versions(store)
    assert [i["id"] for i in st.month_imports(store, M)] == [v2]
    imp = st.withdraw_import(store, v2, reason="wrong file: the October export", by="ann")
    assert imp["withdrawn_by"] == "ann" and imp["withdrawn_reason"] == "wrong file: the October export"
    assert imp["withdrawn_at"].endswith("Z")
    assert [i["id"] for i in st.month_imports(store, M)] == [v1]
    assert st.latest_import(store, "acme", M)["id"] == v1
    assert st.latest_import(store, "acme", M, include_withdrawn=True)["id"] == v2
    assert len(st.import_lines(store, v2)) == 2  # the lines stay in the history
    assert [i["id"] for i in st.list_imports(store, billing_month=M)] == [v2, v1]  # so does the import
    lines = mo.month_vendor_lines(store, M)
    assert list(lines) == ["acme"] and lines["acme"][0]["id"] == v1


def test_a_restored_import_is_the_months_again_and_both_acts_are_recorded(store):
    v1, v2 = two_versions(store)
    st.withdraw_import(store, v2, reason="wrong file", by="ann")
    st.restore_import(store, v2, reason="it was the right file after all", by="bob")
    assert [i["id"] for i in st.month_imports(store, M)] == [v2]
    assert st.get_import(store, v2)["withdrawn_at"] is None
    events = st.import_events(store, billing_month=M)
    assert [(e["import_id"], e["event"], e["by"], e["reason"]) for e in events] == [
        (v2, "withdrawn", "ann", "wrong file"), (v2, "restored", "bob", "it was the right file after all")]


def test_withdrawing_every_version_leaves_the_vendor_out_of_the_month(store):
    v1, v2 = two_versions(store)
    other = sources.load_month(store, M, f("C9,Other,S9,SKU,1,5.00,2026-11-04,2026-12-03"), "c.csv",
                               vendor="other").import_id
    for i in (v2, v1):
        st.withdraw_import(store, i, reason="vendor billed us by mistake")
    assert [i["id"] for i in st.month_imports(store, M)] == [other]
    # loading the same file again is a new version in effect, not "unchanged"
    again = sources.load_month(store, M, V1, "a.csv", vendor="acme")
    assert again.status == "loaded" and again.version == 3


def test_a_withdrawn_import_no_longer_blocks_its_file_under_another_vendor(store):
    """The same bytes under a second vendor name are refused while the first import is in effect
    (the month would double); once it is withdrawn, the file can be loaded where it belongs."""
    wrong = sources.load_month(store, M, V1, "a.csv", vendor="wrong-vendor").import_id
    refused = sources.load_month(store, M, V1, "a.csv", vendor="acme")
    assert refused.status == "duplicate" and "wrong-vendor" in refused.message
    st.withdraw_import(store, wrong, reason="loaded under the wrong vendor")
    assert sources.load_month(store, M, V1, "a.csv", vendor="acme").status == "loaded"


def test_a_withdrawal_needs_a_reason_a_real_import_and_a_state_to_change(store):
    v1, _ = two_versions(store)
    with pytest.raises(InputError, match="reason"):
        st.withdraw_import(store, v1, reason="  ")
    with pytest.raises(NotFoundError):
        st.withdraw_import(store, 999, reason="x")
    with pytest.raises(InputError, match="not withdrawn"):
        st.restore_import(store, v1, reason="x")
    st.withdraw_import(store, v1, reason="x")
    with pytest.raises(InputError, match="already withdrawn"):
        st.withdraw_import(store, v1, reason="again")
    assert len(st.import_events(store, import_id=v1)) == 1


def test_the_plan_is_stale_once_its_import_is_withdrawn(tmp_path):
    from demo_month_support import TODAY, close, demo_month_world

    w = demo_month_world(tmp_path)
    try:
        store = w["store"]
        assert not mo.plan_is_stale(store, M)
        demo_id = st.month_imports(store, M)[0]["id"]
        st.withdraw_import(store, demo_id, reason="wrong month")
        assert mo.plan_is_stale(store, M)
        plan, _ = mo.build_plan(store, M, today=TODAY)
        assert plan.summary.lines_checked == 0 and not (plan.rows["action"] == "create").any()
        st.restore_import(store, demo_id, reason="right month after all")
        assert mo.plan_is_stale(store, M)
        plan, _ = mo.build_plan(store, M, today=TODAY)
        assert plan.summary.lines_checked == 41
    finally:
        close(w)


# ---- the command ---------------------------------------------------------------------------------
def run(*args):
    return CliRunner().invoke(main, list(args))


def test_withdraw_command_withdraws_and_restores_with_a_reason(app_env):
    with Store.open(app_env) as s:
        v1, v2 = two_versions(s)
    result = run("withdraw", str(v2), "--reason", "wrong file")
    assert result.exit_code == 0, result.output
    assert f"Withdrew import {v2}" in result.output and "uses version 1 of acme" in result.output
    result = run("withdraw", str(v2), "--reason", "right file", "--restore")
    assert result.exit_code == 0 and f"Restored import {v2}" in result.output and "uses version 2" in result.output
    with Store.open(app_env) as s:
        assert [e["event"] for e in st.import_events(s, import_id=v2)] == ["withdrawn", "restored"]


def test_withdraw_command_says_what_is_wrong_in_one_line_and_exits_2(app_env):
    with Store.open(app_env) as s:
        v1, _ = two_versions(s)
    for args, words in ((["999", "--reason", "x"], "no import 999"),
                        ([str(v1), "--reason", "x", "--restore"], "not withdrawn"),
                        ([str(v1), "--reason", ""], "reason")):
        result = run("withdraw", *args)
        assert result.exit_code == 2 and words in result.output, result.output
        assert "Traceback" not in result.output and len(result.output.strip().splitlines()) == 1
    assert run("withdraw", str(v1)).exit_code == 2  # --reason is required


# ---- the page ------------------------------------------------------------------------------------
def test_load_month_history_withdraws_and_restores_an_import(app_env):
    with Store.open(app_env) as s:
        v1, v2 = two_versions(s)
    at = open_page("load_month.py", state={"billing_month": M})
    history = at.dataframe[0].value
    assert list(history["Status"]) == ["in effect", "in effect"] and [int(x) for x in history["Import"]] == [v2, v1]
    at.selectbox(key="withdraw_pick").select(v2).run()
    assert at.button(key="withdraw_go").disabled  # no reason yet
    at.text_input(key="withdraw_reason").input("wrong file").run()
    assert at.button(key="withdraw_go").label == "Withdraw this import"
    at.button(key="withdraw_go").click().run()
    assert not at.exception
    assert any("uses version 1 of acme" in s.value for s in at.success)
    history = at.dataframe[0].value
    assert history["Status"].iloc[0].startswith("withdrawn") and "wrong file" in history["Status"].iloc[0]
    with Store.open(app_env) as s:
        assert [i["id"] for i in st.month_imports(s, M)] == [v1]
    at.selectbox(key="withdraw_pick").select(v2).run()
    assert at.button(key="withdraw_go").label == "Restore this import"
    at.text_input(key="withdraw_reason").input("it was right").run()
    at.button(key="withdraw_go").click().run()
    with Store.open(app_env) as s:
        assert [i["id"] for i in st.month_imports(s, M)] == [v2]
