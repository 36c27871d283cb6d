"""Helpers shared by the sandbox tests (real HTTP against a sandbox on a free local port)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import requests

import billbridge.sandbox.schema
from billbridge import clock
from billbridge.sandbox import CREDENTIALS, Sandbox, SandboxConfig, start_sandbox

SPEC_PATH = Path(billbridge.sandbox.schema.__file__).with_name("openapi-billing-subset.json")
MEDIA = "application/vnd.connectwise.com+json; version=2026.4"


def make_session(sb: Sandbox, member: str = "full", client_id: str | None = "test-client") -> requests.Session:
    """A requests session authenticated as one of the sandbox API members."""
    cred = CREDENTIALS[member]
    s = requests.Session()
    s.auth = (f"{CREDENTIALS['company_id']}+{cred['public_key']}", cred["private_key"])
    if client_id is not None:
        s.headers["clientId"] = client_id
    s.headers["Accept"] = MEDIA
    return s


def new_sandbox(**kw) -> Sandbox:
    kw.setdefault("today", clock.today())
    return start_sandbox(SandboxConfig(**kw))


@pytest.fixture(scope="module")
def sb():
    box = new_sandbox()
    yield box
    box.stop()


@pytest.fixture(scope="module")
def api(sb):
    s = make_session(sb)
    yield s
    s.close()


def load_spec() -> dict:
    return json.loads(SPEC_PATH.read_text())
