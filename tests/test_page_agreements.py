"""Agreements page (AppTest on the sandbox): select, import, read-only fields, incremental second import."""

from __future__ import annotations

from apptest_util import open_page
from billbridge import store as st_
from billbridge.config import load_config
from billbridge.runtime import connect
from billbridge.store import Store


def _button_labels(at):
    return {b.key: b.label for b in at.button}


def test_agreements_page_lists_everything_new_on_first_visit_with_zero_selected(app_env):
    at = open_page("agreements.py", timeout=60)
    assert not at.exception, at.exception
    assert int(at.metric[0].value) > 100  # every seeded agreement is new
    assert _button_labels(at)["ag_import"] == "Import 0 selected"
    assert at.button(key="ag_import").disabled


def test_ticking_one_agreement_counts_it_with_its_additions_and_imports_them(app_env):
    at = open_page("agreements.py", timeout=60)
    at.session_state["ag_pick_agreements"] = {"edited_rows": {1: {"import": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    # agreement 2 (Acme Dental, Demo Cloud Services) has two additions
    assert _button_labels(at)["ag_import"] == "Import 3 selected"
    at.button(key="ag_import").click().run()
    assert not at.exception, at.exception
    assert any("Imported 1 agreements and 2 additions" in s.value for s in at.success)
    with Store.open(app_env) as store:
        assert st_.list_contracts(store)["agreement_id"].tolist() == [2]
        assert sorted(st_.list_contract_additions(store)["addition_id"]) == [3, 4]


def test_imported_contract_fields_owned_by_connectwise_are_read_only(app_env):
    at = open_page("agreements.py", timeout=60)
    at.session_state["ag_pick_agreements"] = {"edited_rows": {1: {"import": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="ag_import").click().run()
    # the operator tries to change the status and writes a note: only the note is saved
    at.session_state["ag_contracts"] = {"edited_rows": {0: {"status": "Cancelled", "notes": "renews in March"}},
                                        "added_rows": [], "deleted_rows": []}
    at.run()
    at.button(key="ag_save_notes").click().run()
    assert not at.exception, at.exception
    with Store.open(app_env) as store:
        row = st_.list_contracts(store).iloc[0]
    assert row["notes"] == "renews in March" and row["status"] == "Active"
    assert "read-only" in at.caption[0].value


def test_second_import_offers_only_the_addition_changed_in_connectwise(app_env):
    at = open_page("agreements.py", timeout=60)
    with Store.open(app_env) as store:
        from billbridge import agreements as ag
        ag.import_all(store, source="test")
    conn = connect(load_config(None))
    conn.client.patch_fields("/finance/agreements/2/additions/3", {"quantity": 21})
    at.button(key="ag_fetch").click().run()
    assert not at.exception, at.exception
    assert at.metric[0].value == "1" and at.metric[1].value == "1"
    at.session_state["ag_pick_additions"] = {"edited_rows": {0: {"import": True}}, "added_rows": [], "deleted_rows": []}
    at.run()
    assert _button_labels(at)["ag_import"] == "Import 1 selected"
    at.button(key="ag_import").click().run()
    with Store.open(app_env) as store:
        adds = st_.list_contract_additions(store)
    assert str(adds.loc[adds["addition_id"] == 3, "quantity"].iloc[0]) == "21.0"
    assert at.metric[1].value == "0"


def test_import_all_is_one_click_and_the_monthly_amount_is_shown(app_env):
    at = open_page("agreements.py", timeout=60, state={"billing_month": "2026-11"})
    pending = int(at.metric[0].value)
    button = at.button(key="ag_import_all")
    assert button.label.startswith(f"Import all {pending} agreements")  # was: tick all {pending} one by one
    button.click().run()
    assert not at.exception, at.exception
    assert any(f"Imported {pending} agreements" in s.value for s in at.success)
    assert at.metric[0].value == "0"
    with Store.open(app_env) as store:
        assert len(st_.list_contracts(store)) == pending
        from billbridge import agreements as ag
        amounts = ag.contracts_with_amounts(store, "2026-11").set_index("agreement_id")["bill_amount"]
    assert amounts.loc[2] > 0  # Acme Dental's Demo Cloud Services: its additions, not ConnectWise's 0 bill amount
