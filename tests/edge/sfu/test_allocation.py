"""The allocation policy and its careful application over time."""

from __future__ import annotations

from edge.sfu.allocation import (
    CAMERA,
    FEEDBACK_TIMEOUT,
    SCREEN,
    SPEAKER,
    STEP_UP_INTERVAL,
    Allocator,
    Demand,
    allocate,
    fitting_layer,
)

LAYERS = [150_000.0, 500_000.0, 1_500_000.0]
SIZES: list[tuple[int, int] | None] = [(320, 180), (640, 360), (1280, 720)]


def cam(track_id: str, priority: int = CAMERA, **kw: object) -> Demand:
    return Demand(track_id, True, list(LAYERS), list(SIZES), priority, **kw)  # type: ignore[arg-type]


def audio(track_id: str, rate: float = 40_000) -> Demand:
    return Demand(track_id, False, [rate])


def test_audio_first_then_screen_then_speaker_then_cameras() -> None:
    demands = [cam("c1"), cam("sp", SPEAKER), cam("scr", SCREEN), audio("a1"), audio("a2")]
    assert allocate(80_000 + 150_000 * 2 + 100_000, demands) == {"scr": 0, "sp": 0, "c1": None}
    assert allocate(80_000 + 150_000 * 3 + 350_000, demands) == {"scr": 1, "sp": 0, "c1": 0}
    assert allocate(80_000 + 1_500_000 + 500_000 + 150_000, demands) == {"scr": 2, "sp": 1, "c1": 0}
    assert allocate(50_000, demands) == {"scr": None, "sp": None, "c1": None}


def test_tiles_cap_layers_and_hidden_tracks_get_nothing() -> None:
    demands = [cam("small", tile=(300, 170)), cam("mid", tile=(600, 340)), cam("off", hidden=True), cam("free")]
    assert allocate(10_000_000, demands) == {"small": 0, "mid": 1, "off": None, "free": 2}
    assert fitting_layer([None, None, (1280, 720)], 3, (600, 340)) == 1  # halving assumed
    assert fitting_layer([None, None, None], 3, (100, 100)) == 2  # nothing known: no limit
    assert fitting_layer([(320, 180)], 1, (2000, 2000)) == 0


def test_a_layer_that_is_not_flowing_is_not_chosen() -> None:
    d = cam("c")
    d.bitrates[2] = 0
    assert allocate(10_000_000, [d]) == {"c": 1}


def test_decreases_at_once_increases_one_step_at_a_time() -> None:
    a = Allocator()
    t = 100.0
    assert a.decide(300_000, [cam("c")], t) == {"c": 0}
    assert a.decide(10_000_000, [cam("c")], t + 0.5) == {"c": 1}
    assert a.decide(10_000_000, [cam("c")], t + 1.0) == {"c": 1}  # waits
    assert a.decide(10_000_000, [cam("c")], t + 0.5 + STEP_UP_INTERVAL) == {"c": 2}
    assert a.decide(100_000, [cam("c")], t + 3.0) == {"c": None}  # paused at once
    assert a.decide(10_000_000, [cam("c")], t + 3.1) == {"c": None}  # still waits


def test_a_step_up_that_congests_doubles_the_wait() -> None:
    a = Allocator()
    t = 0.0
    a.decide(300_000, [cam("c")], t)
    assert a.decide(900_000, [cam("c")], t + 10) == {"c": 1}
    assert a.decide(450_000, [cam("c")], t + 11) == {"c": 0}  # the estimate fell after stepping up
    assert a.decide(900_000, [cam("c")], t + 11 + STEP_UP_INTERVAL) == {"c": 0}
    assert a.decide(900_000, [cam("c")], t + 11 + 2 * STEP_UP_INTERVAL + 0.1) == {"c": 1}


def test_views_apply_and_no_feedback_means_lowest() -> None:
    a = Allocator()
    a.set_view({"c": (320, 180)}, frozenset({"h"}))
    assert a.decide(10_000_000, [cam("c"), cam("h")], 0.0) == {"c": 0, "h": None}
    assert a.decide(10_000_000, [cam("c"), cam("h"), cam("n")], FEEDBACK_TIMEOUT + 1,
                    no_feedback=True) == {"c": 0, "h": None, "n": 0}


def test_nothing_is_paused_before_the_path_shows_congestion() -> None:
    a = Allocator()
    assert a.decide(100_000, [cam("c"), cam("d")], 0.0, congested=False) == {"c": 0, "d": 0}
    assert a.decide(100_000, [cam("c"), cam("d")], 1.0) == {"c": None, "d": None}


def test_what_flows_is_kept_while_it_about_fits_the_estimate() -> None:
    a = Allocator()
    a.decide(10_000_000, [cam("c")], 0.0)
    assert a.decide(1_400_000, [cam("c")], 1.0) == {"c": 2}  # a little over, measurements are noisy
    assert a.decide(1_300_000, [cam("c")], 2.0) == {"c": 1}


def test_a_step_up_the_path_has_not_proven_asks_for_a_probe_instead() -> None:
    a = Allocator()
    demands = [cam("c1"), audio("a1")]
    assert a.decide(5_000_000, demands, 0.0, up_limit=0.0) == {"c1": 0}  # starts at its lowest layer
    # the estimate would take the next layer; what the path proved would not: no step, a probe
    assert a.decide(5_000_000, demands, 10.0, up_limit=250_000) == {"c1": 0}
    assert a.probe_target == (40_000 + 500_000) / 0.9
    # proven (the probe got through): the step is taken, and nothing more is probed for now
    assert a.decide(5_000_000, demands, 20.0, up_limit=700_000) == {"c1": 1}
    assert a.probe_target == 0.0
    # without up_limit (no transport-wide feedback) the estimate alone decides, as before
    b = Allocator()
    assert b.decide(5_000_000, demands, 0.0) == {"c1": 2} and b.probe_target == 0.0
    # a decrease never waits for proof
    assert a.decide(200_000, demands, 21.0, up_limit=700_000) == {"c1": 0}


def test_a_layer_held_back_costs_at_least_three_times_the_one_below() -> None:
    from edge.sfu.adaptation import LAYER_RATIO, layer_costs
    assert LAYER_RATIO == 3.0
    # the top layer measures low while nobody receives it (its publisher was told to spend little)
    assert layer_costs([150_000.0, 60_000.0, 2_000_000.0]) == [150_000.0, 450_000.0, 2_000_000.0]
    assert layer_costs([150_000.0, 0.0, 100_000.0]) == [150_000.0, 0.0, 100_000.0]  # not flowing: unknown
    assert layer_costs([40_000.0]) == [40_000.0]
