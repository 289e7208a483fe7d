"""Running a participant written with another WebRTC stack against the real edge.

A stack client is a process that speaks the edge's signaling messages (``docs/protocol.md``) as JSON
lines on its stdin/stdout; :class:`StackPeer` joins the meeting over the edge's WebSocket with a
token from the control plane and carries those lines both ways. Lines of type ``stats`` (what the
client sent and received) and ``log`` stay here. Media flows directly between the client's
peer connections and the edge.

Node clients get their RTP from a GStreamer encoder (:class:`RtpEncoder`: VP8 with a keyframe
every second, and Opus) over UDP on loopback; their DTLS certificate is a PEM file made here,
RSA or ECDSA (:func:`certificate`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import json
import shutil
import socket
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from websockets.asyncio.client import connect

CLIENTS = Path(__file__).resolve().parent / "clients"
JS = Path(__file__).resolve().parents[1] / "js"
#: Messages from the edge a stack client handles.
FOR_CLIENT = {"offer", "answer", "ice", "error"}


def certificate(kind: str, directory: Path) -> tuple[Path, Path]:
    """A self-signed DTLS certificate and its key, ``kind`` "rsa" (2048 bits) or "ecdsa" (P-256)."""
    key: rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey
    key = rsa.generate_private_key(65537, 2048) if kind == "rsa" else ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"interop-{kind}")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30)).sign(key, hashes.SHA256()))
    cert_path, key_path = directory / f"{kind}-cert.pem", directory / f"{kind}-key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_path, key_path


def udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def gst_available() -> bool:
    return shutil.which("gst-launch-1.0") is not None


def node_packages_available(*packages: str) -> bool:
    return shutil.which("node") is not None and all((JS / "node_modules" / p).is_dir() for p in packages)


class RtpEncoder:
    """GStreamer encoding a moving test pattern (VP8, 320×240, 30 fps, a keyframe each second) and a
    tone (Opus) into RTP sent to two UDP ports on loopback."""

    def __init__(self, log_path: Path, video_ssrc: int = 0x1111, audio_ssrc: int = 0x2222) -> None:
        self.video_port, self.audio_port = udp_port(), udp_port()
        self.video_ssrc, self.audio_ssrc = video_ssrc, audio_ssrc
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> RtpEncoder:
        cmd = ["gst-launch-1.0", "-q",
               "videotestsrc", "is-live=true", "pattern=ball", "!",
               "video/x-raw,width=320,height=240,framerate=30/1", "!",
               "vp8enc", "deadline=1", "keyframe-max-dist=30", "target-bitrate=300000", "!",
               "rtpvp8pay", "pt=96", f"ssrc={self.video_ssrc}", "mtu=1200", "!",
               "udpsink", "host=127.0.0.1", f"port={self.video_port}",
               "audiotestsrc", "is-live=true", "wave=sine", "!", "audioconvert", "!", "audioresample", "!",
               "opusenc", "!", "rtpopuspay", "pt=111", f"ssrc={self.audio_ssrc}", "!",
               "udpsink", "host=127.0.0.1", f"port={self.audio_port}"]
        with open(self.log_path, "ab") as log:
            self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        return self

    def options(self) -> dict[str, int]:
        return {"videoPort": self.video_port, "audioPort": self.audio_port,
                "videoSsrc": self.video_ssrc, "audioSsrc": self.audio_ssrc}

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


class StackPeer:
    """One stack client process, joined to the meeting through the edge's WebSocket."""

    def __init__(self, cmd: Sequence[str], granted: dict[str, Any], log_path: Path) -> None:
        self.cmd, self.granted, self.log_path = list(cmd), granted, log_path
        self.participant_id = ""
        self.stats: dict[str, Any] = {}
        self.logs: list[str] = []
        self.from_edge: list[dict[str, Any]] = []
        self.to_edge: list[dict[str, Any]] = []
        self.exit_code: int | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> StackPeer:
        self.ws = await connect(self.granted["edge_url"], open_timeout=10)
        await self.ws.send(json.dumps({"type": "join", "id": 1, "token": self.granted["token"],
                                       "meeting_id": self.granted["meeting_id"]}))
        joined = json.loads(await asyncio.wait_for(self.ws.recv(), 10))
        assert joined["type"] == "joined", joined
        self.participant_id = joined["participant_id"]
        with open(self.log_path, "ab") as log:
            self._proc = await asyncio.create_subprocess_exec(
                *self.cmd, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=log,
                limit=1 << 20)
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._from_client()), loop.create_task(self._to_client())]
        return self

    async def _from_client(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        async for raw in self._proc.stdout:
            msg = json.loads(raw)
            if msg["type"] == "stats":
                self.stats = msg
            elif msg["type"] == "log":
                self.logs.append(msg["text"])
                with open(self.log_path, "a") as log:
                    log.write(f"[client] {msg['text']}\n")
            else:
                self.to_edge.append(msg)
                await self.ws.send(json.dumps(msg))
        self.exit_code = await self._proc.wait()

    async def _to_client(self) -> None:
        assert self._proc is not None and self._proc.stdin is not None
        async for raw in self.ws:
            msg = json.loads(raw)
            self.from_edge.append(msg)
            if msg["type"] in FOR_CLIENT:
                self._proc.stdin.write((json.dumps(msg) + "\n").encode())
                with contextlib.suppress(ConnectionError):
                    await self._proc.stdin.drain()

    def received(self, kind: str) -> int:
        return int(self.stats.get("received", {}).get(kind, 0))

    def frames(self) -> int:
        return int(self.stats.get("frames", {}).get("video", 0))

    def failed(self) -> bool:
        return self.exit_code is not None

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.ws.send(json.dumps({"type": "leave"}))
            await self.ws.close()
        if self._proc is not None and self._proc.returncode is None:
            self._proc.terminate()
            try:
                await asyncio.wait_for(self._proc.wait(), 5)
            except TimeoutError:
                self._proc.kill()
                await self._proc.wait()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def describe(self) -> str:
        tail = "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:]) if self.log_path.exists() else ""
        return f"stats {self.stats}, exit {self.exit_code}, edge said {[m['type'] for m in self.from_edge]}\n{tail}"


async def until(check: Any, peer: StackPeer, timeout: float, what: str) -> None:
    """Poll *check* until true; fail with the client's log after *timeout*, and raise
    :class:`ClientExited` at once if the client process exits."""
    deadline = asyncio.get_running_loop().time() + timeout
    while not check():
        if peer.failed():
            raise ClientExited(f"{what}: the client exited: {peer.describe()}")
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"{what} not met within {timeout}s: {peer.describe()}")
        await asyncio.sleep(0.1)


class ClientExited(Exception):
    pass
