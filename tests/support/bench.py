"""Benchmark smoke runs: a ``bench/*.py --quick`` run end to end, its JSON read back."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


def run_quick(script: str, *, timeout: float) -> dict[str, Any]:
    """Run ``bench/<script> --quick``; it must exit 0 (its stderr's end is the failure message)."""
    run = subprocess.run([sys.executable, f"bench/{script}", "--quick"], cwd=ROOT, capture_output=True, text=True,
                         timeout=timeout)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)
