"""The stack ``bench/network.py`` measures: nats-server, the control plane (serving the web app) and
one edge, started as real processes the way the browser tests start them, but listening on the
thin link's address (so a browser inside the namespace reaches them); a host and two members with
accounts; a meeting in which only hosts publish. Nothing here is part of the product."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from tests.support import procs
from tests.support.nats import NatsServer
from tests.support.util import eventually_sync, free_port

ROOT = Path(__file__).resolve().parents[1]


def adaptation_setting() -> bool:
    """Whether this edge has the ``sfu.adaptation`` switch (bandwidth adaptation on/off)."""
    from edge.settings import SfuSettings

    return "adaptation" in SfuSettings.__struct_fields__


@dataclass
class Member:
    username: str
    password: str
    display_name: str


class Node(procs.Proc):
    """A control plane or edge process, running this checkout's code, reached on the address it
    listens on."""

    def __init__(self, module: str, workdir: Path, config: dict[str, Any], name: str) -> None:
        super().__init__(module, workdir, config, name, env={"PYTHONPATH": str(ROOT)})

    @property
    def base_url(self) -> str:
        return f"http://{self.config['http']['host']}:{self.port}"


class Stack:
    def __init__(self, workdir: Path, host: str, adaptive: bool) -> None:
        self.workdir, self.host = Path(workdir), host
        self.nats = NatsServer(self.workdir, name="hub")
        cp_port, edge_port = free_port(), free_port()
        self.url = f"http://{host}:{cp_port}"
        self.cp = Node("control_plane", self.workdir, {
            "public_url": self.url, "http": {"host": host, "port": cp_port},
            "nats": {"servers": [self.nats.url]},
            "database": {"path": str(self.workdir / "cp.sqlite3")}, "keys": {"dir": str(self.workdir / "keys")},
            "log": {"level": "WARNING", "format": "json"}, "accounts": {"allow_registration": True},
            "bootstrap": {"admin_username": "admin", "admin_password_file": str(self.workdir / "admin-password")},
        }, name="control_plane")
        sfu: dict[str, Any] = {"adaptation": adaptive} if adaptation_setting() else {}
        self.edge = Node("edge", self.workdir, {
            "edge_id": "edge-1", "public_url": f"ws://{host}:{edge_port}/ws", "http": {"host": host, "port": edge_port},
            "nats": {"servers": [self.nats.url]}, "log": {"level": "WARNING", "format": "json"},
            "heartbeat": {"interval": 0.5}, "signaling": {"allowed_origins": [self.url]}, "sfu": sfu,
        }, name="edge")
        self.members: dict[str, Member] = {}

    def start(self) -> Stack:
        try:
            self.nats.start()
            self.cp.start()
            self.cp.wait_http("/readyz", timeout=30)
            self.edge.start()
            self.edge.wait_http("/readyz", timeout=30)
            eventually_sync(lambda: procs.live_edges(self.cp, timeout=2), timeout=15,
                            what="the edge in the control plane's registry")
            for role, account_role in (("publisher", "host"), ("shaped", "member"), ("unshaped", "member")):
                self.members[role] = self._account(role, account_role)
        except BaseException:
            self.stop()
            raise
        return self

    def _admin(self) -> httpx.Client:
        password = (self.workdir / "admin-password").read_text().strip()
        client = httpx.Client(base_url=self.url, timeout=10)
        r = client.post("/api/v1/auth/login", json={"username": "admin", "password": password})
        r.raise_for_status()
        client.headers["X-CSRF-Token"] = r.json()["csrf_token"]
        return client

    def _account(self, username: str, role: str) -> Member:
        member = Member(username, f"{username}-password-1", username.capitalize())
        with httpx.Client(base_url=self.url, timeout=10) as anon:
            r = anon.post("/api/v1/auth/register", json={"username": member.username, "password": member.password,
                                                          "display_name": member.display_name})
            r.raise_for_status()
            account_id = r.json()["account"]["id"]
        if role != "member":
            admin = self._admin()
            try:
                admin.patch(f"/api/v1/accounts/{account_id}", json={"role": role}).raise_for_status()
            finally:
                admin.close()
        return member

    def meeting(self) -> str:
        """A meeting of the publisher's in which only hosts publish; its id."""
        host = self.members["publisher"]
        with httpx.Client(base_url=self.url, timeout=10) as api:
            r = api.post("/api/v1/auth/login", json={"username": host.username, "password": host.password})
            r.raise_for_status()
            api.headers["X-CSRF-Token"] = r.json()["csrf_token"]
            r = api.post("/api/v1/meetings", json={"title": "Thin link", "publish_policy": "hosts"})
            r.raise_for_status()
            return str(r.json()["id"])

    def stop(self) -> None:
        for proc in (self.edge, self.cp):
            proc.stop()
        self.nats.stop()


def camera_file(path: Path, width: int = 1280, height: int = 720, fps: int = 30, seconds: float = 2.0) -> Path:
    """A Y4M clip for Chromium's fake camera (``--use-file-for-fake-video-capture``, played in a
    loop) that a video encoder cannot squeeze much, as a real camera's picture: a scrolling random
    texture with a fresh random band in each frame, so every simulcast layer really uses its bitrate
    (Chromium's built-in fake picture is a few flat shapes that need a tenth of it)."""
    texture = bytes(64 + (b & 0x7F) for b in os.urandom(width * height * 2))
    chroma = bytes(112 + (b & 0x1F) for b in os.urandom(width * height))
    band = height // 24
    with open(path, "wb") as f:
        f.write(f"YUV4MPEG2 W{width} H{height} F{fps}:1 Ip A1:1 C420jpeg\n".encode())
        for i in range(int(fps * seconds)):
            offset = (i * 4 * width) % (width * height)
            y = bytearray(texture[offset:offset + width * height])
            row = (i * band) % (height - band)
            y[row * width:(row + band) * width] = bytes(64 + (b & 0x7F) for b in os.urandom(band * width))
            shift = (i * 2 * width // 4) % (width * height // 4)
            f.write(b"FRAME\n" + bytes(y) + chroma[shift:shift + width * height // 4]
                    + chroma[shift + width * height // 4:shift + width * height // 2])
    return path
