"""The network benchmark's pieces: the shaped link really caps what crosses it and leaves nothing
behind; its arithmetic over getStats samples; and ``bench/network.py --quick`` end to end (media
reaches both subscribers; speed is not checked)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench import netns
from bench.network_stats import layer_of, summarise
from tests.support.browser import chromium_path, playwright_available
from tests.support.util import require

ROOT = Path(__file__).resolve().parents[3]

RECEIVER = """
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 0))
s.settimeout(1.0)
print(s.getsockname()[1], flush=True)
n, first, last = 0, None, None
try:
    while True:
        data = s.recv(2048)
        first = first or time.monotonic()
        last = time.monotonic()
        n += len(data)
except OSError:
    pass
print(n, (last or 0) - (first or 0), flush=True)
"""


def _links() -> str:
    return subprocess.run(["ip", "-o", "link"], capture_output=True, text=True).stdout


def test_the_shaped_link_caps_what_crosses_it_and_is_removed_on_close() -> None:
    require(netns.available() is None, f"{netns.available()} for network namespaces")
    link = netns.ShapedLink(rate_kbit=300).open()
    try:
        assert link.name in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
        receiver = subprocess.Popen(link.command(sys.executable, "-c", RECEIVER), stdout=subprocess.PIPE, text=True)
        port = int(receiver.stdout.readline())
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            end = time.monotonic() + 2.0
            while time.monotonic() < end:   # ~4 Mb/s offered into a 300 kb/s link
                s.sendto(b"x" * 1000, (link.peer, port))
                time.sleep(0.002)
        received, seconds = (float(x) for x in receiver.communicate(timeout=30)[0].split())
        rate = received * 8 / seconds / 1000
        assert 150 < rate < 400, rate
        assert link.qdisc()["dropped"] > 0
    finally:
        link.close()
    assert link.name not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert link.host_dev not in _links()


def _sample(t: float, frames: int, height: int = 360, freezes: int = 0, frozen: float = 0.0,
            received: int = 0) -> dict:
    return {"t": t, "framesDecoded": frames, "freezeCount": freezes, "totalFreezesDuration": frozen,
            "bytesReceived": received, "frameWidth": height * 16 // 9, "frameHeight": height, "audioBytes": 0,
            "packetsLost": 0, "nackCount": 0, "pliCount": 0, "firCount": 0, "framesDropped": 0}


def test_the_figures_from_samples_count_the_window_only_and_an_open_stall() -> None:
    layers = [{"height": 90}, {"height": 180}, {"height": 360}]
    # before the window: 1000 frames; in it: 30 fps for 5 s at 180p, then a stall of 2 s still open
    samples = [_sample(0, 990), _sample(900, 1000)]
    samples += [_sample(1000 + i * 100, 1000 + 3 * (i + 1), 180, received=(i + 1) * 5000) for i in range(50)]
    samples += [_sample(6000 + i * 100, 1150, 180, received=250000) for i in range(1, 21)]
    figures, details = summarise(samples, 1000, 8000, layers)
    assert figures["layer"] == 1 and details["height"] == 180
    assert figures["fps"] == pytest.approx(150 / 7.1, abs=0.1)
    assert 2.0 <= figures["max_freeze_s"] <= 2.15 and figures["freeze_count"] == 0
    assert figures["kbps"] == pytest.approx(250000 * 8 / 7.1 / 1000, abs=0.1)
    # a freeze getStats reports (0.8 s) counts even where the sampled gap looks shorter
    samples = [_sample(i * 100, i * 3) for i in range(10)] + [_sample(1000, 30, freezes=1, frozen=0.8)]
    figures, _ = summarise(samples, 0, 1000, layers)
    assert figures["freeze_count"] == 1 and figures["max_freeze_s"] == 0.8 and figures["layer"] == 2
    # nothing decoded at all: no layer, the whole window frozen
    figures, _ = summarise([_sample(i * 100, 0, 0) for i in range(11)], 0, 1000, layers)
    assert figures["fps"] == 0 and figures["layer"] is None and figures["max_freeze_s"] == 1.0
    assert layer_of(0, layers) is None and layer_of(170, layers) == 1 and layer_of(360, []) == 0


@pytest.mark.long  # a benchmark smoke run: ./dev test-long
@pytest.mark.slow
@pytest.mark.browser
@pytest.mark.timeout(300)
def test_quick_network_benchmark_runs_and_media_reaches_both_subscribers(tmp_path: Path) -> None:
    require(netns.available() is None, f"{netns.available()} for network namespaces")
    require(playwright_available(), "playwright for Python (pip install playwright)")
    require(chromium_path() is not None, "Chromium (apt-get install chromium)")
    out = tmp_path / "network.json"
    run = subprocess.Popen([sys.executable, "bench/network.py", "--quick", "--modes", "adaptive", "--out", str(out)],
                           cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = run.communicate(timeout=280)
    finally:
        run.kill()
    assert run.returncode == 0, stderr[-3000:]
    result = json.loads(out.read_text())
    assert list(result["modes"]) == ["adaptive"]
    for who in ("shaped", "unshaped"):
        figures = result["modes"]["adaptive"][who]
        assert set(figures) == {"fps", "max_freeze_s", "freeze_count", "kbps", "layer"}
        assert figures["fps"] > 0 and figures["kbps"] > 0 and figures["layer"] is not None, (who, figures)
    assert result["details"]["adaptive"]["thin_link"]["bytes"] > 0
    assert f"{netns.PREFIX}-{run.pid}-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
