"""``bench/cascade.py --quick`` runs end to end and its JSON says media crossed (speed is not checked)."""

from __future__ import annotations

import pytest

from tests.support.bench import run_quick


@pytest.mark.long  # a benchmark smoke run: ./dev test-long
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_cascade_benchmark_runs_and_each_track_crosses_once() -> None:
    result = run_quick("cascade.py", timeout=200)
    assert set(result["machine"]) >= {"cpu_model", "cores", "python", "aiortc", "load_average_start"}
    rows = {r["k"]: r for r in result["rows"]}
    assert list(rows) == [1, 2]
    for k, r in rows.items():
        assert r["sub_video_fps_min"] > 0 and r["decoded_video_fps_min"] > 0, r
        assert (r["relay_pcs"], r["relayed_streams"]) == (1, 2), r        # one PC, audio + video, once
        # the link carries the publisher's stream once; B sends it k times
        assert 0.9 < r["link_bytes_per_s"] / r["publisher_stream_bytes_per_s"] < 1.1, r
        assert 0.9 * k < r["fanout_bytes_per_s"] / r["link_bytes_per_s"] < 1.1 * k, r
        assert r["baseline_no_cascade_bytes_per_s"] == round(k * r["publisher_stream_bytes_per_s"], 1)
