"""A NATS hub and regional leaf nodes with per-node users and subject permissions — the layout
of ``configs/nats-hub.conf`` and ``configs/nats-leaf-*.conf``, on free loopback ports.

Each leaf connects to the hub through a :class:`tests.support.netcut.Link`, so a test can cut a
region off and heal it. Edges connect to their region's leaf as ``edge-<id>``; the control plane
connects to the hub as ``control-plane``. With ``observer=True`` every leaf also has a user
``observer`` that may only use its JetStream API, so a test can look into a region's streams while
the region is cut off.

With ``tls=Ca(...)`` every listener speaks TLS with a certificate from that CA and verifies its
peers: clients (our processes, with their own client certificates) and the leaf links.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import nats

from .nats import NatsServer, tls_block
from .netcut import Link
from .tls import Ca
from .util import free_port

PASSWORD = "s3cret-for-tests"


def edge_permissions(edge_id: str, *, on_hub: bool = False) -> str:
    """What an edge may do (same text as the example configs): publish only under its own id.
    On the hub itself the server maps ``$JS.hub.API`` to its own ``$JS.API`` before it checks a
    permission, so an edge there reads the placement through ``$JS.API``."""
    e = edge_id
    api = "$JS.API" if on_hub else "$JS.hub.API"
    return f"""{{
        publish: {{
          allow: ["cc.edge.{e}.>", "cc.evt.{e}.>", "cc.relay.m.*.{e}.>", "cc.relay.e.*.{e}.>",
                  "cc.cp.jwks", "{api}.STREAM.MSG.GET.KV_cc_placement"]
          deny: ["cc.cmd.>"]
        }}
        subscribe: {{
          allow: ["cc.cmd.>", "cc.relay.m.>", "cc.relay.e.{e}.>", "_INBOX.{e}.>"]
        }}
        allow_responses: true
      }}"""


CONTROL_PLANE_PERMISSIONS = """{
        publish: { allow: ["cc.cmd.>", "cc.cp.>", "cc.rec.>", "$JS.>", "$KV.>", "$SRV.>", "_INBOX.control-plane.>"] }
        subscribe: { allow: ["cc.>", "$JS.>", "$KV.>", "$SRV.>", "_INBOX.control-plane.>"] }
        allow_responses: true
      }"""


def recorder_permissions(recorder_id: str) -> str:
    """What a recorder service may do (same text as configs/nats-hub.conf): report under its own
    id, hear starts (queue group) and its own stops."""
    r = recorder_id
    return f"""{{
        publish: {{ allow: ["cc.cp.rec.{r}.>"] }}
        subscribe: {{ allow: ["cc.rec.start", "cc.rec.{r}.>", "_INBOX.{r}.>"] }}
        allow_responses: true
      }}"""


OBSERVER_PERMISSIONS = """{
        publish: { allow: ["$JS.API.>", "_INBOX.observer.>"] }
        subscribe: { allow: ["_INBOX.observer.>"] }
        allow_responses: true
      }"""


def users_block(users: dict[str, str]) -> str:
    entries = "\n".join(f'    {{ user: "{name}", password: "{PASSWORD}", permissions: {perms} }}'
                        for name, perms in users.items())
    return f"authorization {{\n  users: [\n{entries}\n  ]\n}}"


@dataclass
class Region:
    name: str
    leaf: NatsServer
    link: Link
    edges: list[str] = field(default_factory=list)


class Topology:
    def __init__(self, workdir: Path, regions: dict[str, list[str]], *, hub_edges: list[str] | None = None,
                 observer: bool = False, tls: Ca | None = None, recorders: list[str] | None = None) -> None:
        """*regions*: region → edge ids on its leaf; *hub_edges*: edges connected to the hub itself;
        *recorders*: recorder services connected to the hub."""
        self.workdir = Path(workdir)
        self.leaf_port = free_port()
        self.ca = tls
        hub_cert = tls.issue("hub") if tls else None
        link_tls = tls_block(hub_cert, tls.cert_file) if tls else ""
        hub_users = {"control-plane": CONTROL_PLANE_PERMISSIONS,
                     **{f"edge-{e}": edge_permissions(e, on_hub=True) for e in (hub_edges or [])},
                     **{f"recorder-{r}": recorder_permissions(r) for r in (recorders or [])}}
        self.hub = NatsServer(self.workdir, name="hub", domain="hub", config=users_block(hub_users) + f"""
leafnodes {{
  listen: 127.0.0.1:{self.leaf_port}
  no_advertise: true
  authorization {{ user: leaf, password: "{PASSWORD}" }}
  {link_tls}
}}
""", tls=hub_cert, client_ca=tls.cert_file if tls else None)
        self.regions: dict[str, Region] = {}
        for name, edges in regions.items():
            link = Link(self.leaf_port)
            leaf_users = {f"edge-{e}": edge_permissions(e) for e in edges}
            if observer:
                leaf_users["observer"] = OBSERVER_PERMISSIONS
            remote_tls = tls_block(tls.issue(f"leaf-{name}-link", (f"leaf-{name}",), client=True), tls.cert_file,
                                   verify=False) if tls else ""
            leaf = NatsServer(self.workdir, name=f"leaf-{name}", domain=name, config=users_block(leaf_users) + f"""
leafnodes {{
  remotes: [
    {{
      url: "nats-leaf://leaf:{PASSWORD}@127.0.0.1:{link.port}"
      deny_exports: ["cc.evt.>"]
      deny_imports: ["cc.evt.>"]
      {remote_tls}
    }}
  ]
}}
""", tls=tls.issue(f"leaf-{name}") if tls else None, client_ca=tls.cert_file if tls else None)
            self.regions[name] = Region(name, leaf, link, list(edges))

    def start(self) -> Topology:
        self.hub.start()
        for region in self.regions.values():
            region.link.start()
            region.leaf.start()
        return self

    def stop(self) -> None:
        for region in self.regions.values():
            region.leaf.stop()
            region.link.close()
        self.hub.stop()

    # -- connection settings for our processes ---------------------------------------------------
    def client_tls(self, who: str) -> dict:
        """``[nats.tls]`` for the process *who*: the test CA and a client certificate of its own."""
        if self.ca is None:
            return {}
        cert = self.ca.issue(f"client-{who}", (who,), client=True)
        return {"tls": {"ca_file": str(self.ca.cert_file), "cert_file": str(cert.cert), "key_file": str(cert.key)}}

    def control_plane_nats(self) -> dict:
        return {"servers": [self.hub.url], "user": "control-plane", "password": PASSWORD,
                "inbox_prefix": "_INBOX.control-plane", "jetstream_domain": "hub", **self.client_tls("control-plane")}

    def observer_nats(self, region: str) -> dict:
        """The leaf's JetStream-only test user (``observer=True``)."""
        return {"servers": [self.regions[region].leaf.url], "user": "observer", "password": PASSWORD,
                "inbox_prefix": "_INBOX.observer"}

    def recorder_nats(self, recorder_id: str) -> dict:
        return {"servers": [self.hub.url], "user": f"recorder-{recorder_id}", "password": PASSWORD,
                "inbox_prefix": f"_INBOX.{recorder_id}", **self.client_tls(f"recorder-{recorder_id}")}

    def edge_mesh(self) -> dict:
        """An edge's ``[mesh]`` settings here: the placement bucket is in the hub's domain."""
        return {"placement_domain": "hub"}

    def edge_nats(self, edge_id: str) -> dict:
        for region in self.regions.values():
            if edge_id in region.edges:
                return {"servers": [region.leaf.url], "user": f"edge-{edge_id}", "password": PASSWORD,
                        "inbox_prefix": f"_INBOX.{edge_id}", **self.client_tls(f"edge-{edge_id}")}
        return {"servers": [self.hub.url], "user": f"edge-{edge_id}", "password": PASSWORD,
                "inbox_prefix": f"_INBOX.{edge_id}", **self.client_tls(f"edge-{edge_id}")}


@contextlib.asynccontextmanager
async def nats_client(opts: dict) -> AsyncIterator[nats.NATS]:
    """A bare NATS client signed in as the node whose settings *opts* are (to forge or to watch)."""
    nc = await nats.connect(servers=opts["servers"], user=opts["user"], password=opts["password"],
                            inbox_prefix=opts["inbox_prefix"])
    try:
        yield nc
    finally:
        await nc.close()
