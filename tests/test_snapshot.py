"""The ConnectWise snapshot over real HTTP: what it reads and how few requests that takes."""

from __future__ import annotations

import pytest

from billbridge.snapshot import invoiced_agreements, read_additions, take_snapshot
from sandbox_fixtures import new_sandbox
from test_month_demo import client_for


@pytest.fixture(scope="module")
def env():
    sb = new_sandbox()
    client = client_for(sb)
    client.get("/system/info")  # the client's one-time codebase lookup happens here, not in the counts below
    yield sb, client
    client.close()
    sb.stop()


def test_snapshot_reads_every_resource_in_six_requests_plus_one_per_agreement(env):
    sb, client = env
    agreements = client.list("/finance/agreements", page_size=1000)
    ids = [a["id"] for a in agreements[:5]]
    snap = take_snapshot(client, billing_month="2026-11", agreement_ids=ids)
    assert snap.request_count == 6 + len(ids) and snap.requests == {"GET": 6 + len(ids)}
    assert len(snap.companies) == len(sb.records("companies"))
    assert len(snap.agreements) == len(agreements) and snap.catalog and snap.agreement_types and snap.product_types
    assert {a["agreementId"] for a in snap.additions} <= set(ids)
    expected = sum(1 for a in sb.records("additions") if a["agreementId"] in ids)
    assert len(snap.additions) == expected


def test_snapshot_reads_only_the_months_agreement_invoices(env):
    _, client = env
    snap = take_snapshot(client, billing_month="2026-11", agreement_ids=[])
    assert snap.request_count == 6
    assert all(inv["date"][:7] == "2026-11" for inv in snap.invoices)
    agreement_ids = {a["id"] for a in snap.agreements}
    assert invoiced_agreements(snap) <= agreement_ids
    assert len(invoiced_agreements(snap)) == len({i.get("applyToId") or (i.get("agreement") or {}).get("id") for i in snap.invoices})


def test_read_additions_keeps_cancelled_lines_and_tags_each_with_its_agreement(env):
    sb, client = env
    agreement_id = sb.records("additions")[0]["agreementId"]
    lines = [a for a in sb.records("additions") if a["agreementId"] == agreement_id]
    client.patch_fields(f"/finance/agreements/{agreement_id}/additions/{lines[0]['id']}",
                        {"cancelledDate": "2026-10-31T00:00:00Z"})
    got = read_additions(client, [agreement_id, agreement_id])  # asked twice, read once
    assert len(got) == len(lines) and any(a.get("cancelledDate") for a in got)
    assert {a["agreementId"] for a in got} == {agreement_id}


def _connections(client) -> int:
    """HTTP connections the client's pool has opened (one per request in flight at once, at most)."""
    pools = client.session.get_adapter("http://").poolmanager.pools
    return sum(pools[key].num_connections for key in pools.keys())


def test_additions_are_read_several_agreements_at_a_time_and_a_429_is_waited_out():
    from push_support import client_for as fast_client

    sb = new_sandbox()
    try:
        plain = fast_client(sb)
        ids = sorted({a["agreementId"] for a in sb.records("additions")})[:12]
        expected = read_additions(plain, ids, concurrency=1)
        assert _connections(plain) == 1  # one after another: one connection
        plain.close()
        client = fast_client(sb, pool_size=8)
        client.codebase
        sb.set_faults(latency_ms=30, throttle_rate=0.3, retry_after_s=1, seed=7)
        got = read_additions(client, ids, concurrency=4)
        sb.set_faults(latency_ms=0, throttle_rate=0.0)
        assert got == expected  # same additions, same order
        assert client.stats_retries["429"] > 0  # throttled requests were retried after Retry-After (capped in tests)
        assert 2 <= _connections(client) <= 4  # several in flight, never more than the concurrency
        client.close()
    finally:
        sb.stop()


def test_every_sandbox_agreement_carries_its_currency_and_the_stored_snapshot_keeps_it(env, tmp_path):
    from billbridge import store as st
    from billbridge.plan.inputs import snapshot_frames

    sb, client = env
    assert all((a.get("currency") or {}).get("currencyCode") == "USD" for a in sb.records("agreements"))
    snap = take_snapshot(client, billing_month="2026-11", agreement_ids=[])
    assert {a["currency"]["currencyCode"] for a in snap.agreements} == {"USD"}
    with st.Store.open(tmp_path / "b.db") as store:
        sid = st.save_snapshot(store, "2026-11", snap)
        stored = st.load_snapshot_frames(store, sid).agreements
    assert len(stored) == len(snap.agreements) and set(stored["currency"]) == {"USD"}
    assert set(snapshot_frames(snap.as_dict()).agreements["currency"]) == {"USD"}
