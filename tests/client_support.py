"""Shared by the client tests: a real client against the module's sandbox (fixture ``sb``), with
short timeouts and backoff so retry tests stay fast. Import the fixtures into a test module that
defines its own ``sb``."""

from __future__ import annotations

import pytest

from billbridge.connectwise import CWClient, CWSettings

FAST = dict(timeout=(2, 10), max_retries=3, backoff_factor=0.01, backoff_max=0.05)


def make_client(sb, *, public_key=None, private_key=None, company_id=None, **kw) -> CWClient:
    s = CWSettings(
        site=sb.base_url,
        company_id=company_id or sb.company_id,
        public_key=public_key or sb.public_key,
        private_key=private_key or sb.private_key,
        client_id="billbridge-tests",
    )
    return CWClient(s, **{**FAST, **kw})


@pytest.fixture
def client(sb):
    c = make_client(sb)
    yield c
    c.close()


@pytest.fixture
def faults(sb):
    """Set faults for one test and always clear them afterwards."""
    yield sb.set_faults
    sb.set_faults(error_rate=0.0, throttle_rate=0.0, drop_rate=0.0, latency_ms=0, retry_after_s=1)
