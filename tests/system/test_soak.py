"""The soak (``./dev soak``): one meeting of 20 participants for 30 minutes with people leaving and
joining all along, every process's memory and open files watched (``bench/soak.py``). Marked
``long``: left out of ``./dev test``; it writes ``bench/results/soak.json``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.long
@pytest.mark.slow
@pytest.mark.timeout(45 * 60)
def test_thirty_minutes_of_twenty_participants_leak_nothing() -> None:
    out = ROOT / "bench" / "results" / "soak.json"
    run = subprocess.run([sys.executable, "bench/soak.py", "--minutes", "30", "--participants", "20",
                          "--out", str(out)], cwd=ROOT, capture_output=True, text=True, timeout=40 * 60)
    assert run.returncode == 0, run.stderr[-3000:]
    result = json.loads(out.read_text())
    assert result["config"]["participants"] == 20 and result["left"] > 0
    for name, p in result["processes"].items():
        assert p["rss_growth_pct"] <= 10, (name, p)
        assert p["fd_growth"] <= 0, (name, p)
