"""A thin network link for benchmarks: a network namespace joined to this one by a veth pair whose
two ends are shaped with ``tc`` ``tbf`` (token bucket: a rate cap whose full queue drops what does
not fit, as a thin access link does). Servers stay in this namespace on :attr:`ShapedLink.host`;
a client started with :meth:`ShapedLink.command` runs inside the namespace, on :attr:`ShapedLink.peer`,
and everything it sends or receives crosses the shaped pair. Nothing here is part of the product.

Needs root and ``ip``/``tc`` (iproute2). Everything created is removed on :meth:`ShapedLink.close`
(also when setting up fails half-way); a namespace left by a run that was killed is removed by the
next run (its name carries the dead process's id).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

PREFIX = "ccbench"  # namespace names: ccbench-<pid>-<n>; veths: cb<pid><n>h / cb<pid><n>n


def available() -> str | None:
    """None when links can be made here, else what is missing."""
    if os.geteuid() != 0:
        return "root (network namespaces and tc)"
    for tool in ("ip", "tc"):
        if shutil.which(tool) is None:
            return f"{tool} (apt-get install iproute2)"
    return None


def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(args, capture_output=True, text=True)
    if check and done.returncode != 0:
        raise RuntimeError(f"{' '.join(args)}: {done.stderr.strip() or done.returncode}")
    return done


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def remove_stale() -> list[str]:
    """Delete the namespaces (and with them their veth pairs) of benchmark runs that died."""
    removed = []
    for line in _run("ip", "netns", "list", check=False).stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        m = re.fullmatch(rf"{PREFIX}-(\d+)-\d+", name)
        if m and not _alive(int(m.group(1))):
            _run("ip", "netns", "delete", name, check=False)
            removed.append(name)
    return removed


def _used_subnets() -> set[str]:
    out = _run("ip", "-o", "-4", "addr", "show", check=False).stdout
    return {".".join(addr.split(".")[:3]) for addr in re.findall(r"inet (\d+\.\d+\.\d+)\.\d+", out)}


class ShapedLink:
    """A namespace behind a veth pair shaped to *rate_kbit* in both directions (``tbf`` with
    *burst_kbit* of burst and at most *latency_ms* of queue). Use as a context manager."""

    _count = 0

    def __init__(self, rate_kbit: int = 300, burst_kbit: int = 32, latency_ms: int = 400) -> None:
        ShapedLink._count += 1
        n, pid = ShapedLink._count, os.getpid()
        self.rate_kbit, self.burst_kbit, self.latency_ms = rate_kbit, burst_kbit, latency_ms
        self.name = f"{PREFIX}-{pid}-{n}"
        self.host_dev, self.peer_dev = f"cb{pid}{n}h"[-15:], f"cb{pid}{n}n"[-15:]
        used = _used_subnets()
        third = next((x for x in range(pid % 200 + 20, 256) if f"10.213.{x}" not in used), None)
        if third is None:
            third = next(x for x in range(1, 256) if f"10.213.{x}" not in used)
        self.host, self.peer = f"10.213.{third}.1", f"10.213.{third}.2"
        self._made: list[str] = []
        self._wrappers: list[Path] = []

    def open(self) -> ShapedLink:
        remove_stale()
        try:
            _run("ip", "netns", "add", self.name)
            self._made.append("netns")
            _run("ip", "link", "add", self.host_dev, "type", "veth", "peer", "name", self.peer_dev)
            self._made.append("veth")
            _run("ip", "link", "set", self.peer_dev, "netns", self.name)
            _run("ip", "addr", "add", f"{self.host}/30", "dev", self.host_dev)
            _run("ip", "link", "set", self.host_dev, "up")
            inside = ("ip", "netns", "exec", self.name)
            _run(*inside, "ip", "addr", "add", f"{self.peer}/30", "dev", self.peer_dev)
            _run(*inside, "ip", "link", "set", self.peer_dev, "up")
            _run(*inside, "ip", "link", "set", "lo", "up")
            _run(*inside, "ip", "route", "add", "default", "via", self.host)
            self.shape(self.rate_kbit)
        except BaseException:
            self.close()
            raise
        return self

    def shape(self, rate_kbit: int) -> None:
        """(Re)set both ends' token bucket to *rate_kbit*."""
        self.rate_kbit = rate_kbit
        tbf = ("tbf", "rate", f"{rate_kbit}kbit", "burst", f"{self.burst_kbit}kbit", "latency", f"{self.latency_ms}ms")
        _run("tc", "qdisc", "replace", "dev", self.host_dev, "root", *tbf)
        _run("ip", "netns", "exec", self.name, "tc", "qdisc", "replace", "dev", self.peer_dev, "root", *tbf)

    def qdisc(self) -> dict[str, int]:
        """The host end's tbf counters: bytes and packets sent into the namespace, packets dropped."""
        out = _run("tc", "-s", "qdisc", "show", "dev", self.host_dev, check=False).stdout
        m = re.search(r"Sent (\d+) bytes (\d+) pkt \(dropped (\d+), overlimits (\d+)", out)
        if not m:
            return {}
        return {"bytes": int(m.group(1)), "packets": int(m.group(2)), "dropped": int(m.group(3)),
                "overlimits": int(m.group(4))}

    def command(self, *args: str) -> list[str]:
        """*args* as a command line that runs inside the namespace."""
        return ["ip", "netns", "exec", self.name, *args]

    def wrapper(self, executable: str, directory: Path) -> str:
        """An executable script in *directory* that runs *executable* (with its arguments) inside
        the namespace: for launchers that take a program path (e.g. Playwright's Chromium)."""
        path = Path(directory) / f"{self.name}-{Path(executable).name}"
        path.write_text(f'#!/bin/sh\nexec ip netns exec {self.name} {executable} "$@"\n')
        path.chmod(0o755)
        self._wrappers.append(path)
        return str(path)

    def close(self) -> None:
        if "veth" in self._made:
            _run("ip", "link", "delete", self.host_dev, check=False)
        if "netns" in self._made:
            _run("ip", "netns", "delete", self.name, check=False)
        self._made.clear()
        for path in self._wrappers:
            path.unlink(missing_ok=True)
        self._wrappers.clear()

    def __enter__(self) -> ShapedLink:
        return self.open()

    def __exit__(self, *exc: object) -> None:
        self.close()
