"""``bench/sfu.py --quick`` runs end to end and its JSON says media flowed (speed is not checked)."""

from __future__ import annotations

import pytest

from tests.support.bench import run_quick


@pytest.mark.long  # a benchmark smoke run: ./dev test-long
@pytest.mark.slow
@pytest.mark.timeout(240)
def test_quick_sfu_benchmark_runs_and_media_flows() -> None:
    result = run_quick("sfu.py", timeout=200)
    for key in ("cpu_per_stream_forward", "cpu_per_stream_relay", "ratio", "streams_per_core", "machine"):
        assert key in result
    assert set(result["machine"]) >= {"cpu_model", "cores", "python", "aiortc", "load_average_start"}
    assert list(result["forward"]) == ["1", "2"] and list(result["relay"]) == ["1"]
    for mode in ("forward", "relay"):
        for n, r in result[mode].items():
            assert r["edge_cpu_pct"] > 0, (mode, n)
            assert r["sub_video_fps_min"] > 0 and r["decoded_video_fps_min"] > 0, (mode, n, r)
            assert r["join_to_first_frame_ms_p50"] is not None and r["joined_with_video"] == r["joined"], (mode, n, r)
    assert result["forward"]["2"]["forwarded_pps"] > 0
    assert 0.5 < result["floor_us"] < 1000          # the floor loop ran and measured something
    assert result["floor_live_us"] > 0.5            # also with a live reader
    assert 0.5 < result["path_us"] < 1000           # and so did the forwarding path alone
    assert 0.5 < result["floor_paced_us"] < 1000    # and the floor's work spread over sockets and paced
