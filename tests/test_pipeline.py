"""`headwater run --every`: the micro-batch loop's freshness bound and its handling of failed
ticks."""

from __future__ import annotations

from datetime import timedelta
from itertools import pairwise

import pytest

from headwater import pipeline
from headwater.errors import HeadwaterError


def loop(monkeypatch, domain, durations, *, fail_tick=None, every=10.0):
    """Run `run_every` on a fake clock: tick n takes durations[n - 1] seconds (tick
    `fail_tick` fails). Returns (ticks, the (start, end) of each tick's run)."""
    clock = {"now": 0.0}
    spans = []
    pending = list(durations)

    def fake_run(name, *, target, micro_batch):
        assert (name, micro_batch) == (domain, True)
        start = clock["now"]
        clock["now"] += pending.pop(0)
        spans.append((start, clock["now"]))
        if len(spans) == fail_tick:
            raise HeadwaterError(f"{domain} raw gate failed: 1 of 9 checks")
        return pipeline.RunReport(name)

    monkeypatch.setattr(pipeline, "run", fake_run)
    monkeypatch.setattr(pipeline.time, "monotonic", lambda: clock["now"])
    ticks = pipeline.run_every(
        domain,
        timedelta(seconds=every),
        iterations=len(durations),
        sleep=lambda seconds: clock.__setitem__("now", clock["now"] + seconds),
    )
    return ticks, spans


def test_ticks_start_early_enough_to_keep_the_bound_and_a_failed_tick_does_not_stop_the_loop(
    monkeypatch,
):
    ticks, spans = loop(monkeypatch, "hospitality", [2.0] * 4, fail_tick=2)
    assert [t.number for t in ticks] == [1, 2, 3, 4]
    assert [t.error is None for t in ticks] == [True, False, True, True]
    assert "raw gate failed" in ticks[1].error
    # Ticks take 2 s, so each starts 10 - 2 x 1.25 s after the previous one: what lands
    # just after a tick starts is in the marts within 10 s.
    assert [start for start, _ in spans] == [0.0, 7.5, 15.0, 22.5]


def test_a_slow_tick_delays_the_next_one_without_overlap(monkeypatch):
    _, spans = loop(monkeypatch, "restaurant", [15.0, 1.0, 1.0])
    # The 15-s tick overran the bound: the next starts at once, and the one after it still
    # allows for a tick as long as the longest of the last three.
    assert [start for start, _ in spans] == [0.0, 15.0, 16.0]


@pytest.mark.parametrize("durations", [[3.0] * 8, [1.0, 1.2, 1.5, 1.8, 2.2, 1.0, 1.25, 1.5]])
def test_nothing_waits_longer_than_the_bound_while_ticks_fit_in_it(monkeypatch, durations):
    """Landing just after tick i starts, an event shows when tick i + 1 ends: that must be
    within `every` whenever a tick is no longer than 1.25 x the longest of the three before
    it."""
    _, spans = loop(monkeypatch, "hospitality", durations)
    waits = [
        spans[i + 1][1] - spans[i][0]
        for i in range(len(spans) - 1)
        if durations[i + 1] <= pipeline.TICK_MARGIN * max(durations[max(0, i - 2) : i + 1])
    ]
    assert waits and max(waits) <= 10.0
    # And no tick starts more often than it must: steady 3-s ticks start 6.25 s apart.
    if len(set(durations)) == 1:
        assert [b[0] - a[0] for a, b in pairwise(spans)] == [6.25] * (len(spans) - 1)


def test_the_interval_must_be_positive():
    with pytest.raises(HeadwaterError, match="must be positive"):
        pipeline.run_every("restaurant", timedelta(0), iterations=1)


def test_a_micro_batch_tick_runs_only_the_steps_its_pipeline_names(monkeypatch):
    """restaurant ticks sync and build (dags/restaurant/pipeline.yaml); gates and publish
    are left to the scheduled DAG. A full run still does every step."""
    from headwater import dbt, gates, publish, sync

    calls = []

    class Report:
        def __init__(self, name):
            self.name = name

        def as_dict(self):
            return {"rows_written": 0}

        def summary(self):
            return "passed"

        def statuses(self):
            return {"success": 1}

        elapsed = 0.0

    from headwater import orchestration

    config = orchestration.load_pipeline("restaurant")
    batch = config.micro_batch.model_copy(update={"background_build": False})
    monkeypatch.setattr(
        pipeline, "load_pipeline", lambda domain: config.model_copy(update={"micro_batch": batch})
    )
    monkeypatch.setattr(sync, "sync", lambda domain: calls.append("sync") or Report("sync"))
    monkeypatch.setattr(
        gates, "check_gate", lambda domain, layer: calls.append(f"{layer}_gate") or Report(layer)
    )
    monkeypatch.setattr(dbt, "run", lambda args, **kw: calls.append(("dbt", args)) or Report("dbt"))
    monkeypatch.setattr(publish, "publish", lambda domain: calls.append("publish") or Report("p"))
    report = pipeline.run("restaurant", micro_batch=True)
    assert [c if isinstance(c, str) else c[0] for c in calls] == ["sync", "dbt"]
    assert set(report.steps) == {"sync", "dbt"}
    assert "resource_type:test" in calls[1][1]  # the micro-batch selection, tests excluded
    calls.clear()
    pipeline.run("restaurant")
    assert [c if isinstance(c, str) else c[0] for c in calls] == [
        "sync",
        "raw_gate",
        "dbt",
        "marts_gate",
        "publish",
    ]


def test_a_background_build_lets_ticks_keep_syncing(monkeypatch):
    """micro_batch.background_build: a tick syncs and starts a build only when none runs;
    a failed build fails the next tick with its error."""
    import threading

    from headwater import dbt, orchestration, sync

    release = threading.Event()
    builds, syncs = [], []

    class Synced:
        def as_dict(self):
            return {"rows_written": 1}

    class Built:
        elapsed = 0.0

        def statuses(self):
            return {"success": 1}

    def slow_build(args, **kwargs):
        builds.append(args)
        release.wait(5)
        if len(builds) == 2:
            raise HeadwaterError("dbt run failed on target local: model fct_x (boom)")
        return Built()

    config = orchestration.load_pipeline("restaurant")
    batch = config.micro_batch.model_copy(
        update={"steps": ["sync", "dbt"], "background_build": True}
    )
    monkeypatch.setattr(
        pipeline, "load_pipeline", lambda domain: config.model_copy(update={"micro_batch": batch})
    )
    monkeypatch.setattr(sync, "sync", lambda domain: syncs.append(1) or Synced())
    monkeypatch.setattr(dbt, "run", slow_build)
    first = pipeline.run("restaurant", micro_batch=True)
    second = pipeline.run("restaurant", micro_batch=True)
    assert (first.steps["build"], second.steps["build"]) == ("started", "running")
    assert len(syncs) == 2 and len(builds) == 1
    release.set()
    pipeline._BUILDS["restaurant"].join(5)
    release.clear()
    assert pipeline.run("restaurant", micro_batch=True).steps["build"] == "started"
    release.set()
    pipeline._BUILDS["restaurant"].join(5)
    with pytest.raises(HeadwaterError, match="background build failed: dbt run failed"):
        pipeline.run("restaurant", micro_batch=True)
    assert pipeline.run("restaurant", micro_batch=True).steps["build"] == "started"
    pipeline._BUILDS["restaurant"].join(5)
