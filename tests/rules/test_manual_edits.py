"""Manual edits (Rules 5.5, 5.4): a line billbridge keeps that a person changed after billbridge's last
write is protected (``manually_edited``) when the row would write; the operator may override it
(``overrides_manual_edit``). Timestamps compare in UTC to the second."""

from __future__ import annotations

import pandas as pd
import pytest

from rules_support import addition, lines, only, run, snapshot, vline

EDITED = dict(qty=22, updated_by="jsmith", last_updated="2026-10-20T15:00:00Z")


def test_a_persons_edit_after_billbridges_write_is_protected_and_named():
    r = only(run(lines(vline(qty="21")), snapshot([addition(1, **EDITED)])), key="demo|DC-1|S-1")
    assert (r.action, r.cause, r.request) == ("blocked", "manually_edited", None)
    assert r.reason.startswith("jsmith changed Hosted PBX seat on Demo Cloud Services for Acme Dental by hand on "
                               "2026-10-20 (ConnectWise has 22 at $25.00, the vendor bills 21)")


def test_the_operator_may_override_it():
    r = only(run(lines(vline(qty="21")), snapshot([addition(1, **EDITED)]), overrides=frozenset({"demo|DC-1|S-1"})),
             key="demo|DC-1|S-1")
    assert r.action == "update" and "overrides_manual_edit" in r.flags and "Overwrites jsmith's manual change" in r.reason


def test_an_edit_that_agrees_with_the_vendor_is_in_sync():
    assert only(run(lines(vline(qty="22")), snapshot([addition(1, **EDITED)])), key="demo|DC-1|S-1").action == "in_sync"


@pytest.mark.parametrize("written_at, cause", [("2026-10-25T09:00:00Z", None), ("2026-10-02T09:00:00Z", "manually_edited"),
                                               ("2026-10-20 15:00:00", None)])  # the same second is not after it
def test_the_journal_says_when_billbridge_last_wrote(written_at, cause):
    journal = pd.DataFrame([{"key": "demo|DC-1|S-1", "addition_id": 1, "written_at": written_at}])
    r = only(run(lines(vline(qty="21")), snapshot([addition(1, **EDITED)]), journal=journal), key="demo|DC-1|S-1")
    assert r.cause == cause


def test_timestamps_compare_in_utc():
    # 17:00 at +02:00 is 15:00Z: the person's edit at 15:30Z came after billbridge's write
    journal = pd.DataFrame([{"key": "demo|DC-1|S-1", "addition_id": 1, "written_at": "2026-10-20T17:00:00+02:00"}])
    edited = dict(EDITED, last_updated="2026-10-20T15:30:00Z")
    r = only(run(lines(vline(qty="21")), snapshot([addition(1, **edited)]), journal=journal), key="demo|DC-1|S-1")
    assert r.cause == "manually_edited"


def test_a_keyless_line_a_person_keeps_is_not_an_edit_of_ours():
    r = only(run(lines(vline(qty="9")), snapshot([addition(1, key=None, qty=8, updated_by="jsmith")])),
             key="demo|DC-1|S-1")
    assert r.action == "update" and "adopts_existing_line" in r.flags
