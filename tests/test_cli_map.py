"""`billbridge map suggest/export/import` against the sandbox with the demo month loaded."""

from __future__ import annotations

import json

from click.testing import CliRunner

from billbridge.cli import main
from billbridge import store as st
from billbridge.config import load_config
from billbridge.store import Store


def run(*args):
    return CliRunner().invoke(main, list(args))


def json_of(result):
    """The JSON document (the note on how many requests ConnectWise took goes to stderr first)."""
    return json.loads(result.output[result.output.index("{"):])


def test_map_suggest_accept_above_records_unflagged_suggestions_and_lists_the_rest(app_env):
    assert run("load", "2026-11", "--demo").exit_code == 0
    listed = run("map", "suggest", "2026-11", "--json")
    assert listed.exit_code == 0, listed.output
    before = json_of(listed)
    assert before["accepted"] is None and len(before["suggestions"]["companies"]) > 25
    result = run("map", "suggest", "2026-11", "--accept-above", "90", "--json")
    assert result.exit_code == 0, result.output
    out = json_of(result)
    assert out["accepted"] == {"company": 22, "agreement": 18, "product": 8}
    left = {r["vendor_customer_id"] for r in out["suggestions"]["companies"]}
    assert left == {"DC-10005", "DC-10017", "DC-10018"}  # no candidate, fuzzy 80, prospect
    with Store.open(load_config(None).db_path) as store:
        assert len(st.get_mappings(store, "company", "demo")) == 22
        assert set(st.mapping_history(store)["source"]) == {"suggestion"}


def test_map_suggest_rejects_a_bad_month(app_env):
    result = run("map", "suggest", "November")
    assert result.exit_code == 2 and "YYYY-MM" in result.output


def test_map_export_then_import_round_trips_and_a_bad_file_imports_nothing(app_env, tmp_path):
    assert run("load", "2026-11", "--demo").exit_code == 0
    assert run("map", "suggest", "2026-11", "--accept-above", "95").exit_code == 0
    path = tmp_path / "maps.csv"
    exported = run("map", "export", str(path))
    assert exported.exit_code == 0 and "Wrote" in exported.output
    text = path.read_text()
    assert text.startswith("kind,vendor,") and text.count("\n") > 40
    again = run("map", "import", str(path))
    assert again.exit_code == 0 and "0 company changed" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_text(text + "agreement,demo,DC-99999,,,,,,,,not-a-number,,,,,,,,,,\n")
    result = run("map", "import", str(bad))
    assert result.exit_code == 2
    assert "column agreement_id" in result.output and "Nothing was imported" in result.output
