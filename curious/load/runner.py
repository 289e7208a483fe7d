"""A ``curious load`` run: participants added over the ramp, a sample every second (progress line,
timeline, the edges' CPU), a hard stop at the duration, everyone leaving, the report."""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import Any, TextIO
from urllib.parse import urlsplit

import httpx

from ..api import EXIT_AUTH, EXIT_OTHER, EXIT_UNREACHABLE, exit_code_for
from . import report
from .options import Options
from .participant import Aim, LoadParticipant, Record

SAMPLE_EVERY = 1.0


class Unusable(Exception):
    """The run cannot start (unreachable control plane, no meeting, …): one line for the operator
    and the command line's exit code (``curious.api``)."""

    def __init__(self, message: str, code: int = EXIT_OTHER) -> None:
        super().__init__(message)
        self.code = code


class EdgeCpu:
    """The edges' CPU (percent of one core), each second: from the edge's Prometheus ``/metrics``
    (``cc_process_cpu_seconds_total``) when it serves them on its own address, else the control
    plane's ``GET /api/v1/edges`` (``cpu_pct`` of the edges' heartbeats; needs an admin token)."""

    def __init__(self, aim: Aim, http: httpx.AsyncClient, headers: dict[str, str]) -> None:
        self.aim, self.http, self.headers = aim, http, headers
        self.source: dict[str, str] = {}
        self.samples: dict[str, list[float]] = {}
        self._last: dict[str, tuple[float, float]] = {}
        self.unavailable = ""

    async def sample(self, edges: dict[str, str]) -> dict[str, float]:
        out: dict[str, float] = {}
        need_api = []
        for edge_id, url in edges.items():
            if self.source.get(edge_id, "metrics") == "metrics":
                value = await self._from_metrics(edge_id, url)
                if value is not None:
                    out[edge_id] = value
                    continue
            if self.source.get(edge_id) != "metrics":
                need_api.append(edge_id)
        if need_api:
            out.update(await self._from_api(need_api))
        for edge_id, value in out.items():
            self.samples.setdefault(edge_id, []).append(value)
        return out

    async def _from_metrics(self, edge_id: str, ws_url: str) -> float | None:
        parts = urlsplit(ws_url)
        url = f"{'https' if parts.scheme == 'wss' else 'http'}://{parts.netloc}/metrics"
        try:
            resp = await self.http.get(url, timeout=2)
        except httpx.HTTPError:
            resp = None
        seconds = None
        if resp is not None and resp.status_code == 200:
            for line in resp.text.splitlines():
                if line.startswith(("cc_process_cpu_seconds_total ", "process_cpu_seconds_total ")):
                    seconds = float(line.split()[1])
                    break
        if seconds is None:
            if edge_id not in self.source:
                self.source[edge_id] = "api"
            return None
        self.source[edge_id] = "metrics"
        now = time.monotonic()
        last, self._last[edge_id] = self._last.get(edge_id), (now, seconds)
        if last is None or now <= last[0]:
            return None
        return round(100 * (seconds - last[1]) / (now - last[0]), 1)

    async def _from_api(self, edge_ids: list[str]) -> dict[str, float]:
        if not self.headers:
            self.unavailable = "the edges serve no /metrics and no admin token was given for GET /api/v1/edges"
            return {}
        try:
            resp = await self.http.get(f"{self.aim.control_plane}/api/v1/edges", headers=self.headers, timeout=2)
        except httpx.HTTPError as exc:
            self.unavailable = f"GET /api/v1/edges failed: {exc!r}"
            return {}
        if resp.status_code != 200:
            self.unavailable = f"GET /api/v1/edges answered HTTP {resp.status_code}"
            return {}
        return {e["edge_id"]: float(e["cpu_pct"]) for e in resp.json() if e.get("edge_id") in edge_ids}

    def summary(self) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {
            edge_id: {"source": self.source.get(edge_id, "api"), "samples": len(values),
                      "mean_pct": round(sum(values) / len(values), 1), "max_pct": round(max(values), 1)}
            for edge_id, values in self.samples.items() if values}
        if not out and self.unavailable:
            out["unavailable"] = {"reason": self.unavailable}
        return out


class Progress:
    """One line on stderr each second: rewritten in place on a terminal, one line each otherwise."""

    def __init__(self, stream: TextIO = sys.stderr) -> None:
        self.stream, self.tty = stream, stream.isatty()

    def show(self, line: str) -> None:
        if self.tty:
            self.stream.write("\r\033[K" + line)
        else:
            self.stream.write(line + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


async def run(opts: Options, progress: Progress) -> dict[str, Any]:
    aim = Aim(opts.control_plane, opts.allow_hosts)
    admin = {"Authorization": f"Bearer {opts.token}"} if opts.token else {}
    # trust_env=False: no proxy from the environment, nothing but the addresses given.
    async with httpx.AsyncClient(timeout=10, follow_redirects=False, trust_env=False) as http:
        try:
            health = await http.get(f"{opts.control_plane}/healthz", timeout=5)
        except httpx.HTTPError as exc:
            why = "no answer in time" if isinstance(exc, httpx.TimeoutException) else str(exc) or type(exc).__name__
            raise Unusable(f"cannot reach the control plane at {opts.control_plane}: {why}", EXIT_UNREACHABLE) from None
        if health.status_code != 200:
            raise Unusable(f"the control plane at {opts.control_plane} answered /healthz with HTTP "
                           f"{health.status_code}", EXIT_UNREACHABLE)
        meeting = opts.meeting or await _create_meeting(http, opts.control_plane, admin)
        records = [Record(i, f"{opts.name_prefix}-{i + 1:03d}", i < opts.publishers) for i in range(opts.participants)]
        stop = asyncio.Event()
        cpu = EdgeCpu(aim, http, admin)
        timeline: list[dict[str, Any]] = []
        window = report.FpsWindow()
        started = time.monotonic()
        deadline = started + opts.duration

        async def one(r: Record) -> None:
            delay = opts.ramp * r.index / max(1, opts.participants - 1)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), max(0.0, started + delay - time.monotonic()))
            if stop.is_set():
                r.failure = "not started: the run ended first"
                return
            await LoadParticipant(r, aim, http, headers=admin if opts.signed_in else {}, size=opts.size,
                                  fps=opts.fps, audio=opts.audio).run(meeting, stop)

        async def sample() -> dict[str, Any]:
            now = time.monotonic()
            edges = {r.edge_id: r.edge_url for r in records if r.joined and r.edge_id}
            point = {"t": round(now - started, 2), "joined": sum(1 for r in records if r.joined),
                     "failed": sum(1 for r in records if r.failure),
                     "fps_received": report.summarise(window.sample(records, now)),
                     "edges_cpu_pct": await cpu.sample(edges) if edges else {}}
            timeline.append(point)
            progress.show(report.progress_line(point, len(records)))
            return point

        async def sampler() -> None:
            while True:
                await asyncio.sleep(SAMPLE_EVERY - (time.monotonic() - started) % SAMPLE_EVERY)
                await sample()

        tasks = [asyncio.create_task(one(r)) for r in records]
        timeline.append({"t": 0.0, "joined": 0, "failed": 0, "fps_received": report.summarise([]),
                         "edges_cpu_pct": {}})
        sampling = asyncio.create_task(sampler())
        # Until the duration is over, or every participant has ended (all failed) before it.
        await asyncio.wait(tasks, timeout=max(0.0, deadline - time.monotonic()))
        stop.set()
        ended = time.monotonic()
        sampling.cancel()
        await asyncio.gather(sampling, return_exceptions=True)
        _, late = await asyncio.wait(tasks, timeout=opts.grace)
        for task in late:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for r in records:
            if r.failure:
                continue
            if not r.joined:
                r.failure = "still joining when the run ended"
            elif not r.left:
                r.failure = f"did not leave within {opts.grace:g} s"
        progress.done()
        settings = {"control_plane": opts.control_plane, "meeting_id": meeting, "participants": opts.participants,
                    "publishers": opts.publishers, "ramp_s": opts.ramp, "duration_s": opts.duration,
                    "video": f"{opts.size[0]}x{opts.size[1]}@{opts.fps}", "audio": opts.audio,
                    "allowed_hosts": sorted(opts.allow_hosts)}
        return report.build(records, started=started, ended=ended, settings=settings, timeline=timeline,
                            edges_cpu=cpu.summary())


async def _create_meeting(http: httpx.AsyncClient, cp: str, admin: dict[str, str]) -> str:
    if not admin:
        raise Unusable("give --meeting, or a token (--token-file, $CURIOUS_TOKEN or `curious login`) to create a "
                       "meeting for the run", EXIT_AUTH)
    try:
        resp = await http.post(f"{cp}/api/v1/meetings", headers=admin,
                               json={"title": "Load test", "allow_guests": True})
    except httpx.HTTPError as exc:
        raise Unusable(f"cannot create a meeting on {cp}: {exc!r}", EXIT_UNREACHABLE) from None
    if resp.status_code != 201:
        raise Unusable(f"cannot create a meeting on {cp}: HTTP {resp.status_code} {resp.text[:200]}",
                       exit_code_for(resp.status_code))
    meeting_id: str = resp.json()["id"]
    return meeting_id
