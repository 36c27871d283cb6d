"""The Load month and Timeline pages: upload, preview, problems, commit, history, demo vendor."""

from __future__ import annotations

from decimal import Decimal

import pytest

from apptest_util import open_page
from billbridge import store as st
from billbridge import sources
from billbridge.store import Store

MONTH = "2026-11"


def _store(app_env) -> Store:
    return Store.open(app_env)


def _upload(at, name: str, data: bytes, fmt: str = "generic"):
    at.selectbox(key="load_format").select(fmt).run()
    at.file_uploader(key="load_file").set_value((name, data, "text/csv")).run()
    return at


@pytest.mark.parametrize("fmt", ["generic", "intermedia", "interworks", "phin"])
def test_each_preset_sample_previews_clean_and_stores_on_commit(app_env, fmt):
    at = open_page("load_month.py", state={"billing_month": MONTH})
    _upload(at, f"{fmt}.csv", sources.sample_bytes(fmt), fmt)
    assert not at.exception
    assert not at.error, [e.value for e in at.error]
    assert any("valid" in s.value for s in at.success)
    at.button(key="load_commit").click().run()
    assert not at.exception
    imports = st.list_imports(_store(app_env), billing_month=MONTH)
    assert len(imports) == 1 and imports[0]["vendor"] == fmt
    assert any("Loaded" in s.value for s in at.success)


def test_failed_upload_names_row_column_reason_and_stores_nothing(app_env):
    bad = (
        "vendor_customer_id,vendor_customer_name,sku,quantity,unit_cost\n"
        "C1,Acme,SKU1,3,10.00\n"
        "C2,Beta,SKU2,lots,10.00\n"
        "C3,Gamma,SKU3,2,2026-02-30\n"
    ).encode()
    at = open_page("load_month.py", state={"billing_month": MONTH})
    _upload(at, "bad.csv", bad)
    assert not at.exception
    problems = at.dataframe[0].value
    assert set(problems["Row"]) == {3, 4}
    assert "quantity" in set(problems["Column"]) and "unit_cost" in set(problems["Column"])
    assert at.button(key="load_commit").disabled
    assert st.list_imports(_store(app_env), billing_month=MONTH) == []


def test_demo_button_loads_the_demo_month_and_a_second_click_changes_nothing(app_env):
    at = open_page("load_month.py", state={"billing_month": MONTH})
    at.button(key="load_demo").click().run()
    assert not at.exception
    assert len(st.list_imports(_store(app_env), billing_month=MONTH)) == 1
    at.button(key="load_demo").click().run()
    assert any("identical" in i.value for i in at.info)
    assert len(st.list_imports(_store(app_env), billing_month=MONTH)) == 1


def test_history_shows_what_changed_between_two_versions(app_env):
    store = _store(app_env)
    v1 = sources.sample_bytes("generic")
    text = v1.decode()
    header, first, *rest = text.splitlines()
    v2 = "\n".join([header, *rest]).encode()  # the first line is gone in version 2
    assert sources.load_month(store, MONTH, v1, "g.csv", "generic").status == "loaded"
    assert sources.load_month(store, MONTH, v2, "g.csv", "generic").status == "loaded"
    at = open_page("load_month.py", state={"billing_month": MONTH})
    assert not at.exception
    removed = [m for m in at.metric if m.label == "Lines removed"]
    assert removed and removed[0].value == "1"


def test_timeline_page_draws_the_loaded_month_with_late_month_risks(app_env):
    sources.load_demo(_store(app_env), MONTH)
    at = open_page("timeline.py", state={"billing_month": MONTH})
    assert not at.exception
    metrics = {m.label: m.value for m in at.metric}
    assert int(metrics["Accounts"]) == 25
    assert int(metrics["Late-month risks"]) >= 1
    accounts = at.dataframe[0].value
    assert "Tidewater Marine Supply" in set(accounts["vendor_customer_name"])


def test_timeline_page_without_imports_points_to_load_month(app_env):
    at = open_page("timeline.py", state={"billing_month": "2026-01"})
    assert not at.exception
    assert any("Nothing loaded" in i.value for i in at.info)


def test_custom_layout_is_mapped_on_the_page_loaded_and_saved_as_a_named_format(app_env):
    data = "Client No;Client;Item;Seats;Cost\nK-1;Kappa Ltd;SEAT;4;12,50\nK-2;Lambda BV;SEAT;2;12,50\n".encode()
    at = open_page("load_month.py", state={"billing_month": MONTH})
    at.selectbox(key="load_format").select("Map columns myself…").run()
    at.text_input(key="load_vendor_Map columns myself…").input("acme-distri").run()
    at.file_uploader(key="load_file").set_value(("acme.csv", data, "text/csv")).run()
    assert any("Still to map" in w.value for w in at.warning)
    fields = ["vendor_customer_id *", "vendor_customer_name *", "sku *", "quantity *", "unit_cost *"]
    at.session_state["custom_map_acme.csv"] = {
        "edited_rows": {i: {"billbridge field": f} for i, f in enumerate(fields)},
        "added_rows": [], "deleted_rows": [],
    }
    at.checkbox(key="custom_decimal").check().run()
    assert not at.exception
    assert any("valid" in s.value for s in at.success), [e.value for e in at.error]
    at.text_input(key="custom_name").input("acme export")  # inside a form: sent with the submit
    next(b for b in at.button if b.label == "Save format").click().run()
    assert not at.exception
    saved = st.get_format(Store.open(app_env), "acme-distri", "acme export")
    assert saved is not None and saved["decimal_comma"] is True
    result = sources.load_month(Store.open(app_env), MONTH, data, "acme.csv", "acme export", vendor="acme-distri")
    assert result.status == "loaded" and result.parse.total_cost == Decimal("75.00")


def test_blank_rows_are_skipped_and_said_so_not_reported_as_problems(app_env):
    data = sources.sample_bytes("generic").replace(b"\n", b"\r\n") + b",,,,,,,,,,,,,,,\r\n\r\n"
    at = open_page("load_month.py", state={"billing_month": MONTH})
    _upload(at, "excel-export.csv", data)
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("2 blank rows skipped" in s.value for s in at.success)
    at.button(key="load_commit").click().run()
    assert any("2 blank rows skipped" in s.value for s in at.success)


def test_a_binary_file_gets_one_message_and_the_same_file_under_another_vendor_is_refused(app_env):
    import os

    at = open_page("load_month.py", state={"billing_month": MONTH})
    _upload(at, "bill.csv", os.urandom(4000))
    assert not at.exception
    assert len(at.dataframe[0].value) == 1 and "not a text (CSV) or Excel" in at.dataframe[0].value.iloc[0]["Problem"]
    with _store(app_env) as store:
        assert sources.load_month(store, MONTH, sources.sample_bytes("generic"), "nov.csv", vendor="generic").ok
    at = open_page("load_month.py", state={"billing_month": MONTH})
    _upload(at, "nov.csv", sources.sample_bytes("generic"))
    at.text_input(key="load_vendor_generic").set_value("acme-cloud").run()
    at.button(key="load_commit").click().run()
    assert not at.exception
    assert any("already loaded for 2026" in e.value and "generic" in e.value for e in at.error)
    assert [i["vendor"] for i in st.list_imports(_store(app_env), billing_month=MONTH)] == ["generic"]
