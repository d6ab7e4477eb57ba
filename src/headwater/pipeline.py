"""One domain's pipeline without Airflow: sync → raw gate → dbt build → marts gate → publish.

The Airflow DAG runs the same steps as separate tasks (headwater.orchestration); this is
what `headwater run <domain>` and `make demo` use. A failing step raises and stops the
run, so nothing after a failed gate or a failed dbt test happens, and `analytics` keeps
the last good marts.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from headwater import dbt, gates, publish, sync
from headwater.errors import HeadwaterError
from headwater.orchestration import load_pipeline

log = logging.getLogger(__name__)

# Background builds of micro-batch ticks (micro_batch.background_build): the running one
# per domain, and the error of the last one that failed, reported by the next tick.
_BUILDS: dict[str, threading.Thread] = {}
_BUILD_ERRORS: dict[str, str] = {}


@dataclass
class RunReport:
    domain: str
    steps: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"domain": self.domain, "steps": self.steps, "seconds": self.seconds}


def dbt_selection(domain: str, *, micro_batch: bool = False) -> list[str]:
    """`--select … --exclude …` for the domain, from its pipeline config (dags/<domain>/).

    With `micro_batch`, the selection a micro-batch tick runs (`micro_batch.select`), when
    the pipeline names one.
    """
    pipeline = load_pipeline(domain)
    select, exclude = pipeline.dbt.select, pipeline.dbt.exclude
    if micro_batch and pipeline.micro_batch.select:
        select, exclude = pipeline.micro_batch.select, pipeline.micro_batch.exclude
    args = ["--select", *select]
    if exclude:
        args += ["--exclude", *exclude]
    return args


# The pipeline's steps, in order; `run(start=...)` may begin at the first three.
ORDER = ("sync", "raw_gate", "dbt", "marts_gate", "publish")
STEPS = ORDER[:2] + ORDER[3:4]


def run(
    domain: str,
    *,
    full_refresh: bool = False,
    target: str = "local",
    vars: dict[str, Any] | None = None,
    micro_batch: bool = False,
    start: str = "sync",
    on_step: Callable[[str], None] | None = None,
    on_sync: Callable[[sync.SyncReport], None] | None = None,
) -> RunReport:
    """Run the pipeline once. `full_refresh` rebuilds incremental models from scratch;
    `micro_batch` builds the pipeline's micro-batch selection instead of all its models,
    and runs only the steps `micro_batch.steps` names.

    `start` runs the pipeline from a later step on what the warehouse already holds:
    `raw_gate` (raw gate → dbt → marts gate → publish) or `marts_gate` (marts gate →
    publish), e.g. to release data after a gate failure was fixed by hand.
    """
    if start not in STEPS:
        raise HeadwaterError(f"unknown start step {start!r} (steps: {', '.join(STEPS)})")
    report = RunReport(domain)
    batch = load_pipeline(domain).micro_batch if micro_batch else None
    steps = set(batch.steps) if batch else set(ORDER)
    steps &= set(ORDER[ORDER.index(start) :])

    def wanted(name: str) -> bool:
        return name in steps

    def step(name: str, work: Callable[[], Any]) -> Any:
        if on_step:
            on_step(name)
        started = time.perf_counter()
        result = work()
        report.seconds[name] = round(time.perf_counter() - started, 2)
        return result

    if wanted("sync"):
        synced = step("sync", lambda: sync.sync(domain))
        report.steps["sync"] = synced.as_dict()
        if on_sync:
            on_sync(synced)
    if wanted("raw_gate"):
        report.steps["raw_gate"] = step(
            "raw gate", lambda: gates.check_gate(domain, "raw").summary()
        )
    if batch and batch.background_build:
        return _build_in_background(domain, report, wanted, target, vars)
    return _build(domain, report, step, wanted, target, vars, micro_batch, full_refresh)


def _build_in_background(domain, report: RunReport, wanted, target, vars) -> RunReport:
    if error := _BUILD_ERRORS.pop(domain, None):
        raise HeadwaterError(f"{domain} background build failed: {error}")
    running = _BUILDS.get(domain)
    if running is not None and running.is_alive():
        report.steps["build"] = "running"
        return report

    def work() -> None:
        started = time.perf_counter()
        background = RunReport(domain)

        def step(name: str, task: Callable[[], Any]) -> Any:
            return task()

        try:
            _build(domain, background, step, wanted, target, vars, True, False)
            log.info("%s background build done in %.1f s", domain, time.perf_counter() - started)
        except Exception as exc:  # reported by the next tick, which fails with it
            _BUILD_ERRORS[domain] = (
                str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
            )
            log.error("%s background build failed: %s", domain, exc)

    thread = threading.Thread(target=work, name=f"{domain}-build", daemon=True)
    _BUILDS[domain] = thread
    thread.start()
    report.steps["build"] = "started"
    return report


def _build(domain, report, step, wanted, target, vars, micro_batch, full_refresh) -> RunReport:
    if wanted("dbt"):
        build_args = [
            "build",
            *dbt_selection(domain, micro_batch=micro_batch),
            *(["--full-refresh"] if full_refresh else []),
        ]
        built = step(
            "dbt build", lambda: dbt.run(build_args, target=target, vars=vars, capture=True)
        )
        report.steps["dbt"] = {"statuses": built.statuses(), "seconds": built.elapsed}
    if wanted("marts_gate"):
        report.steps["marts_gate"] = step(
            "marts gate", lambda: gates.check_gate(domain, "marts").summary()
        )
    if wanted("publish"):
        published = step("publish", lambda: publish.publish(domain))
        report.steps["publish"] = published.as_dict()
    return report


@dataclass
class Tick:
    number: int
    report: RunReport | None
    error: str | None
    seconds: float


# How much longer than the longest of the last three ticks the next one may take and still
# keep the freshness bound of `run_every` (tick times vary by about a quarter here).
TICK_MARGIN = 1.25


def run_every(
    domain: str,
    every: timedelta,
    *,
    iterations: int | None = None,
    target: str = "local",
    on_tick: Callable[[Tick], None] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> list[Tick]:
    """Micro-batch mode: keep the marts at most `every` behind ingestion, for ever or
    `iterations` times.

    A tick sees what was ingested before it started and shows it when it ends, so what lands
    just after a tick starts waits for the next tick to start and finish. The next tick
    therefore starts `every` after this one, less the time a tick takes with a quarter to
    spare (the longest of the last three, x 1.25): with ticks of 24 s and `every` 60 s, they
    start 30 s apart. A tick longer than `every` is logged and the next one starts at once
    (ticks never overlap). A failed tick is reported and the loop goes on: every step is
    idempotent, so the next tick picks up what the failed one left, and `analytics` keeps
    the last good marts in between. Returns the ticks (only when `iterations` is given).
    """
    if every.total_seconds() <= 0:
        raise HeadwaterError(f"the micro-batch interval must be positive, got {every}")
    bound = every.total_seconds()
    ticks: list[Tick] = []
    recent: deque[float] = deque(maxlen=3)
    number = 0
    while iterations is None or number < iterations:
        number += 1
        started = time.monotonic()
        try:
            report, error = run(domain, target=target, micro_batch=True), None
        except HeadwaterError as exc:
            report, error = None, str(exc)
            log.error("%s micro-batch tick %s failed: %s", domain, number, exc)
        took = time.monotonic() - started
        recent.append(took)
        tick = Tick(number, report, error, round(took, 2))
        if iterations is not None:
            ticks.append(tick)
        if on_tick:
            on_tick(tick)
        if took > bound:
            log.warning(
                "%s micro-batch tick %s took %.1f s, longer than the %g s freshness bound",
                domain,
                number,
                took,
                bound,
            )
        wait = started + bound - TICK_MARGIN * max(recent) - time.monotonic()
        if wait > 0 and (iterations is None or number < iterations):
            sleep(wait)
    return ticks
