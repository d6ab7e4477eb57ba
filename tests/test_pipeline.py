"""`headwater run --every`: the micro-batch loop's cadence and its handling of failed ticks."""

from __future__ import annotations

from datetime import timedelta

import pytest

from headwater import pipeline
from headwater.errors import HeadwaterError


def test_ticks_keep_their_cadence_and_a_failed_tick_does_not_stop_the_loop(monkeypatch):
    clock = {"now": 0.0}
    calls = []

    def fake_run(domain, *, target, micro_batch):
        calls.append((domain, micro_batch, clock["now"]))
        clock["now"] += 2.0  # each tick takes 2 s
        if len(calls) == 2:
            raise HeadwaterError("hospitality raw gate failed: 1 of 9 checks")
        return pipeline.RunReport(domain)

    def fake_sleep(seconds):
        clock["now"] += seconds

    monkeypatch.setattr(pipeline, "run", fake_run)
    monkeypatch.setattr(pipeline.time, "monotonic", lambda: clock["now"])
    ticks = pipeline.run_every("hospitality", timedelta(seconds=10), iterations=4, sleep=fake_sleep)
    assert [t.number for t in ticks] == [1, 2, 3, 4]
    assert [t.error is None for t in ticks] == [True, False, True, True]
    assert "raw gate failed" in ticks[1].error
    # Every tick runs the micro-batch selection, starting on the 10-second grid.
    assert [c[1] for c in calls] == [True] * 4
    assert [c[2] for c in calls] == [0.0, 10.0, 20.0, 30.0]


def test_a_slow_tick_delays_the_next_one_without_overlap(monkeypatch):
    clock = {"now": 0.0}
    starts = []

    def fake_run(domain, *, target, micro_batch):
        starts.append(clock["now"])
        clock["now"] += 15.0 if len(starts) == 1 else 1.0
        return pipeline.RunReport(domain)

    monkeypatch.setattr(pipeline, "run", fake_run)
    monkeypatch.setattr(pipeline.time, "monotonic", lambda: clock["now"])
    pipeline.run_every(
        "restaurant",
        timedelta(seconds=10),
        iterations=3,
        sleep=lambda s: clock.__setitem__("now", clock["now"] + s),
    )
    assert starts == [0.0, 15.0, 25.0]


def test_the_interval_must_be_positive():
    with pytest.raises(HeadwaterError, match="must be positive"):
        pipeline.run_every("restaurant", timedelta(0), iterations=1)
