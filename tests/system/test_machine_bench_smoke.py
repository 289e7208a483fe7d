"""``bench/machine.py --quick`` runs end to end: the whole stack with one and two workers, the
load generators' clip replayed and their subscribers read in batches, and every subscriber gets
video (speed is not checked)."""

from __future__ import annotations

import pytest

from tests.support.bench import run_quick


@pytest.mark.long  # a benchmark smoke run: ./dev test-long
@pytest.mark.slow
@pytest.mark.timeout(400)
def test_quick_machine_benchmark_runs_and_every_subscriber_gets_video() -> None:
    result = run_quick("machine.py", timeout=360)
    for config, workers in (("one_worker", 1), ("workers", 2)):
        steps = result[config]["steps"]
        assert steps and result[config]["workers"] == workers
        for step in steps:
            assert step["min_fps"] >= 24, (config, step)
            # every counting subscriber was handed over to the batch reader once its video flowed
            assert step["batched"] == step["subscribers"], (config, step)
            assert len(step["workers_cpu_pct"]) == workers
    assert result["spread"]["min_fps"] >= 24
    assert len(result["spread"]["spread_workers"]) == 2   # the meeting spread onto the second worker
