"""The whole stack for browser tests, as real processes: nats-server, the control plane (which
serves the web app), one edge that accepts the control plane's origin and, when asked for, a
recorder service."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from tests.support import procs
from tests.support.ldap import GROUPS, PEOPLE, ROOT_DN, ROOT_PW, Directory, Slapd, slapd_available
from tests.support.ldap import Person as DirectoryPerson
from tests.support.nats import NatsServer
from tests.support.oidc import OidcProvider, oidc_provider_available
from tests.support.util import eventually_sync

OIDC_ID = "test-sso"
#: People known to the test OpenID Connect provider (its login pages accept any password).
OIDC_ACCOUNTS = {"olga": {"email": "olga@example.org", "name": "Olga Oidc", "groups": ["staff"]}}
#: People in the test directory (slapd).
DIRECTORY = Directory(people=[DirectoryPerson("lena", "lena-directory-pw", cn="Lena Directory",
                                              mail="lena@example.org")], groups={"staff": ["lena"]})

CSRF = "X-CSRF-Token"


@dataclass
class Person:
    username: str
    password: str
    display_name: str
    role: str


@dataclass
class Stack:
    workdir: Path
    nats: NatsServer
    cp: procs.Proc
    edges: list[procs.Proc]
    oidc: OidcProvider | None = None
    ldap: Slapd | None = None
    recorder: procs.Proc | None = None
    people: dict[str, Person] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.cp.base_url

    @property
    def edge(self) -> procs.Proc:
        return self.edges[0]

    def edge_by_id(self, edge_id: str) -> procs.Proc:
        return next(e for e in self.edges if e.config["edge_id"] == edge_id)

    def add_edge(self, edge_id: str) -> procs.Proc:
        """Another edge in the same region, accepting the web app's origin; listed once it is up."""
        edge = procs.edge(self.workdir, self.nats.url, edge_id, heartbeat={"interval": 0.5},
                          signaling={"allowed_origins": [self.url]})
        self.edges.append(edge)
        edge.start()
        edge.wait_http("/readyz", timeout=30)
        eventually_sync(lambda: edge_id in [e["edge_id"] for e in procs.live_edges(self.cp, timeout=2)],
                        timeout=10, what=f"{edge_id} in the control plane's registry")
        return edge

    def admin(self) -> httpx.Client:
        """An API client signed in as the first admin."""
        password = (self.workdir / "admin-password").read_text().strip()
        client = httpx.Client(base_url=self.url, timeout=10)
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        r.raise_for_status()
        client.headers[CSRF] = r.json()["csrf_token"]
        return client

    def create_meeting(self, owner: Person, title: str, **fields: Any) -> str:
        """A meeting *owner* creates through the API (signed in as them); its id."""
        with httpx.Client(base_url=self.url, timeout=10) as api:
            r = api.post("/api/v1/auth/login", json={"username": owner.username, "password": owner.password})
            r.raise_for_status()
            api.headers[CSRF] = r.json()["csrf_token"]
            r = api.post("/api/v1/meetings", json={"title": title, **fields})
            r.raise_for_status()
            return str(r.json()["id"])

    def add_person(self, username: str, display_name: str, role: str = "member") -> Person:
        """An account made through the API: registered, then given its role by the admin."""
        password = f"{username}-password-1"
        with httpx.Client(base_url=self.url, timeout=10) as anon:
            r = anon.post("/api/v1/auth/register", json={"username": username, "password": password,
                                                          "display_name": display_name})
            assert r.status_code == 201, r.text
            account_id = r.json()["account"]["id"]
        if role != "member":
            admin = self.admin()
            try:
                r = admin.patch(f"/api/v1/accounts/{account_id}", json={"role": role})
                assert r.status_code == 200, r.text
            finally:
                admin.close()
        person = Person(username, password, display_name, role)
        self.people[username] = person
        return person

    @property
    def recordings(self) -> Path:
        """The folder the recorder writes into and the control plane reads from (with a recorder)."""
        return Path(self.cp.config["recordings"]["dir"])

    def stop(self) -> None:
        for proc in (*([self.recorder] if self.recorder is not None else []), *self.edges, self.cp):
            proc.stop()
        if self.oidc is not None:
            self.oidc.stop()
        if self.ldap is not None:
            self.ldap.stop()
        self.nats.stop()


def start_stack(workdir: Path, *, oidc: bool = True, ldap: bool = True, recorder: bool = False,
                **cp_settings: Any) -> Stack:
    """The stack; with node and the npm packages of ``tests/js`` (and *oidc*), also an OpenID
    Connect provider that the control plane offers on its sign-in page; with slapd (and *ldap*), a
    directory whose people sign in with the same form as local accounts; with *recorder*, a
    recorder service writing into ``workdir/recordings`` (the control plane's ``recordings.dir``).
    *cp_settings*: more settings of the control plane (e.g. ``tokens={"ttl_minutes": 0.1}``)."""
    if recorder:
        cp_settings.setdefault("recordings", {}).setdefault("dir", str(workdir / "recordings"))
    nats = NatsServer(workdir, name="hub").start()
    cp = procs.control_plane(
        workdir, nats.url,
        accounts={"allow_registration": True},
        bootstrap={"admin_username": "admin", "admin_password_file": str(workdir / "admin-password")},
        **cp_settings,
    )
    edge = procs.edge(workdir, nats.url, "edge-1", heartbeat={"interval": 0.5},
                      signaling={"allowed_origins": [cp.base_url]})
    stack = Stack(workdir, nats, cp, [edge])
    try:
        if oidc and oidc_provider_available():
            stack.oidc = OidcProvider(workdir, accounts=OIDC_ACCOUNTS,
                                      redirect_uris=[f"{cp.base_url}/api/v1/auth/oidc/{OIDC_ID}/callback"]).start()
            cp.config["oidc"] = [{"id": OIDC_ID, "name": "Test SSO", "issuer": stack.oidc.issuer,
                                  "client_id": stack.oidc.client_id, "client_secret": stack.oidc.client_secret}]
        if ldap and slapd_available():
            (workdir / "ldap").mkdir(exist_ok=True)
            stack.ldap = Slapd(workdir / "ldap", DIRECTORY).start()
            cp.config["ldap"] = {"url": stack.ldap.url, "bind_dn": ROOT_DN, "bind_password": ROOT_PW,
                                 "user_base": PEOPLE, "user_filter": "(&(objectClass=inetOrgPerson)(uid={username}))",
                                 "group_base": GROUPS, "default_role": "member", "timeout": 3.0}
        cp.start()
        cp.wait_http("/readyz", timeout=30)
        if recorder:
            stack.recorder = procs.recorder(workdir, nats.url, dir=cp.config["recordings"]["dir"]).start()
            stack.recorder.wait_http("/readyz", timeout=30)
        edge.start()
        edge.wait_http("/readyz", timeout=30)
        eventually_sync(lambda: procs.live_edges(cp, timeout=2), timeout=10,
                        what="the edge in the control plane's registry")
    except BaseException:
        stack.stop()
        raise
    return stack
