"""Network benchmark: what a subscriber on a thin link sees, with the edge's bandwidth adaptation on
and off, measured in the same run.

One meeting, three real Chromium browsers (Debian's, headless, fake camera): a host publishes its
camera (the web app's own publishing: simulcast where the web app sends it) and microphone; two
members, who may not publish (the meeting's publish policy is ``hosts``), receive. One member's
Chromium runs in a network namespace behind a veth pair shaped with ``tc`` ``tbf`` to 300 kb/s
both ways (``bench/netns.py``); the other is on this machine's own addresses, unshaped. The
control plane and the edge listen on the veth's address in this namespace, so everything the
shaped member sends or receives — the web app, signaling and media — crosses the thin link.

Each mode starts its own stack (nats-server, control plane, one edge): ``adaptive`` with the
edge's defaults, ``fixed`` with ``sfu.adaptation = false``. The browsers join, media flows for a
warm-up, then each subscriber's ``getStats()`` is sampled every 0.1 s for the measurement window.

    .venv/bin/python bench/network.py [--quick] [--out bench/results/network.json]

Prints JSON: ``modes.<adaptive|fixed>.<shaped|unshaped>`` = ``{fps, max_freeze_s, freeze_count,
kbps, layer}``; ``details`` has what explains them (resolutions, the publisher's layers, the thin
link's queue drops); ``definitions`` says how each figure is computed.
"""

from __future__ import annotations

import asyncio
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import arguments, emit, log, machine  # noqa: E402
from bench.netns import ShapedLink, available  # noqa: E402
from bench.network_stack import Member, Stack, adaptation_setting, camera_file  # noqa: E402
from bench.network_stats import PUBLISHER_SAMPLER, SUBSCRIBER_SAMPLER, publisher_layers, summarise  # noqa: E402

RATE_KBIT = 300
GOALS = {"adaptive_shaped_fps_min": 15, "adaptive_shaped_max_freeze_s_max": 1.0, "unshaped_fps_min": 28}


async def launch(pw, profile: Path, executable: str, origin: str, camera: Path | None = None):  # noqa: ANN001, ANN201
    """A Chromium with its own profile that treats the stack's plain-http origin as secure (camera,
    microphone), its fake camera showing *camera* (a Y4M file) when given; *executable* may be a
    wrapper that starts it inside the namespace."""
    from tests.support.browser import CHROMIUM_ARGS

    args = [*CHROMIUM_ARGS, f"--unsafely-treat-insecure-origin-as-secure={origin}",
            "--disable-background-timer-throttling", "--disable-renderer-backgrounding",
            "--disable-backgrounding-occluded-windows"]
    if camera is not None:
        args.append(f"--use-file-for-fake-video-capture={camera}")
    return await pw.chromium.launch_persistent_context(
        str(profile), executable_path=executable, headless=True, args=args, viewport={"width": 1600, "height": 900},
        permissions=["camera", "microphone"], ignore_default_args=["--headless"])


async def enter(ctx, stack: Stack, who: Member, meeting_id: str, timeout: float) -> Any:  # noqa: ANN001, ANN401
    """Sign *who* in on a page of *ctx*, join the meeting; the page once connected."""
    from tests.e2e.ui import join, joined, sign_in

    page = ctx.pages[0] if ctx.pages else await ctx.new_page()
    page.set_default_timeout(timeout * 1000)
    await sign_in(page, stack.url, who)
    await join(page, stack.url, meeting_id)
    await joined(page)
    return page


async def wait_frames(page, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await page.evaluate("window.__bench.frames()") > 0:
            return
        await asyncio.sleep(0.25)
    raise RuntimeError(f"no video decoded within {timeout:.0f} s")


async def run_mode(pw, link: ShapedLink, workdir: Path, chromium: str, camera: Path, adaptive: bool,  # noqa: ANN001
                   warmup: float, window: float) -> tuple[dict[str, Any], dict[str, Any]]:
    stack = Stack(workdir, link.host, adaptive).start()
    contexts = []
    try:
        meeting_id = stack.meeting()
        in_ns = link.wrapper(chromium, workdir)
        roles = {"publisher": chromium, "shaped": in_ns, "unshaped": chromium}
        pages = {}
        for role, executable in roles.items():
            ctx = await launch(pw, workdir / f"profile-{role}", executable, stack.url,
                               camera if role == "publisher" else None)
            contexts.append(ctx)
            # the thin link carries the web app too: it loads slowly
            pages[role] = await enter(ctx, stack, stack.members[role], meeting_id, timeout=60 if role == "shaped" else 20)
            await pages[role].evaluate(PUBLISHER_SAMPLER if role == "publisher" else SUBSCRIBER_SAMPLER)
            log(f"{'adaptive' if adaptive else 'fixed'}: {role} in")
        for role in ("shaped", "unshaped"):
            await wait_frames(pages[role], 30)
        log(f"media flowing; warm-up {warmup:.0f} s")
        await asyncio.sleep(warmup)
        link_before = link.qdisc()
        start = await pages["unshaped"].evaluate("performance.timeOrigin + performance.now()")
        await asyncio.sleep(window)
        end = start + window * 1000
        link_after = link.qdisc()
        layers = publisher_layers(await pages["publisher"].evaluate("window.__bench.samples"), start, end)
        result, details = {}, {"publisher_layers": layers}
        for role in ("shaped", "unshaped"):
            samples = await pages[role].evaluate("window.__bench.samples")
            result[role], details[role] = summarise(samples, start, end, layers)
        details["thin_link"] = {k: link_after.get(k, 0) - link_before.get(k, 0) for k in link_after}
        details["thin_link"]["kbps"] = round(details["thin_link"].get("bytes", 0) * 8 / window / 1000, 1)
        return result, details
    finally:
        for ctx in contexts:
            await ctx.close()
        stack.stop()


async def main_async(args) -> dict[str, Any]:  # noqa: ANN001
    from playwright.async_api import async_playwright

    from tests.support.browser import chromium_path

    chromium = chromium_path()
    if chromium is None:
        raise SystemExit("Chromium is required (apt-get install chromium)")
    warmup, window = (5.0, 5.0) if args.quick else (args.warmup, args.window)
    began = time.monotonic()
    result: dict[str, Any] = {
        "benchmark": "network", "machine": machine(),
        "config": {"link": f"tbf {RATE_KBIT} kbit/s both ways, burst 32 kbit, latency 400 ms (veth into a network namespace)",
                   "publisher": "Chromium, the web app's own publishing; its fake camera plays a 1280x720@30 clip of scrolling random texture (bench/network_stack.py: camera_file)", "subscribers": 2,
                   "viewport": "1600x900 (three tiles, each large enough to want the top layer)",
                   "warmup_s": warmup, "window_s": window, "sample_interval_s": 0.1, "quick": args.quick,
                   "adaptation_setting": adaptation_setting()},
        "modes": {}, "details": {},
    }
    tmp = Path(tempfile.mkdtemp(prefix="cc-bench-network-"))
    try:
        camera = camera_file(tmp / "camera.y4m")
        async with async_playwright() as pw:
            with ShapedLink(RATE_KBIT) as link:
                for mode in args.modes:
                    log(f"--- {mode}")
                    workdir = tmp / mode
                    workdir.mkdir()
                    result["modes"][mode], result["details"][mode] = await run_mode(
                        pw, link, workdir, chromium, camera, mode == "adaptive", warmup, window)
                    log(result["modes"][mode])
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    modes = result["modes"]
    result["goals"] = GOALS
    result["goals_met"] = {
        "adaptive_shaped_fps": modes.get("adaptive", {}).get("shaped", {}).get("fps", 0) >= GOALS["adaptive_shaped_fps_min"],
        "adaptive_shaped_max_freeze_s": modes.get("adaptive", {}).get("shaped", {}).get("max_freeze_s", 1e9)
        <= GOALS["adaptive_shaped_max_freeze_s_max"],
        "unshaped_fps": all(m["unshaped"]["fps"] >= GOALS["unshaped_fps_min"] for m in modes.values()),
    }
    result["definitions"] = {
        "fps": "framesDecoded per second over the window (the last window_s seconds), from the subscriber's getStats() inbound-rtp of the publisher's camera",
        "max_freeze_s": "longest time without a newly decoded frame in the window: the longer of the longest freeze getStats reports (totalFreezesDuration gained while freezeCount rose by one) and the longest gap between framesDecoded increases (sampled every 0.1 s; a stall still open at the window's end counts)",
        "freeze_count": "freezeCount gained during the window",
        "kbps": "video bytesReceived during the window, in kbit/s (RTP payload)",
        "layer": "the publisher's simulcast layer (0 = lowest) whose resolution the subscriber decoded for most of the window, from frameHeight in getStats (publisher: outbound-rtp per rid); null when nothing was decoded",
        "details.thin_link": "the shaped link's tbf towards the shaped subscriber during the window: bytes, packets, dropped (queue full), overlimits",
    }
    result["duration_s"] = round(time.monotonic() - began, 1)
    return result


def main() -> None:
    parser = arguments(__doc__, quick="a smoke run: 5 s of warm-up and 5 s windows")
    parser.add_argument("--warmup", type=float, default=25.0, help="seconds of media before the window")
    parser.add_argument("--window", type=float, default=20.0, help="seconds measured")
    parser.add_argument("--modes", nargs="+", default=["adaptive", "fixed"], choices=["adaptive", "fixed"])
    args = parser.parse_args()
    missing = available()
    if missing:
        raise SystemExit(f"bench/network.py needs {missing}")
    emit(asyncio.run(main_async(args)), args.out)


if __name__ == "__main__":
    main()
