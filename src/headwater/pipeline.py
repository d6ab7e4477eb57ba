"""One domain's pipeline without Airflow: sync → raw gate → dbt build → marts gate → publish.

The Airflow DAG runs the same steps as separate tasks (headwater.orchestration); this is
what `headwater run <domain>` and `make demo` use. A failing step raises and stops the
run, so nothing after a failed gate or a failed dbt test happens, and `analytics` keeps
the last good marts.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from headwater import dbt, gates, publish, sync
from headwater.orchestration import load_pipeline


@dataclass
class RunReport:
    domain: str
    steps: dict[str, Any] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {"domain": self.domain, "steps": self.steps, "seconds": self.seconds}


def dbt_selection(domain: str) -> list[str]:
    """`--select … --exclude …` for the domain, from its pipeline config (dags/<domain>/)."""
    config = load_pipeline(domain).dbt
    args = ["--select", *config.select]
    if config.exclude:
        args += ["--exclude", *config.exclude]
    return args


def run(
    domain: str,
    *,
    full_refresh: bool = False,
    target: str = "local",
    vars: dict[str, Any] | None = None,
    on_step: Callable[[str], None] | None = None,
    on_sync: Callable[[sync.SyncReport], None] | None = None,
) -> RunReport:
    """Run the whole pipeline once. `full_refresh` rebuilds incremental models from scratch."""
    report = RunReport(domain)

    def step(name: str, work: Callable[[], Any]) -> Any:
        if on_step:
            on_step(name)
        started = time.perf_counter()
        result = work()
        report.seconds[name] = round(time.perf_counter() - started, 2)
        return result

    synced = step("sync", lambda: sync.sync(domain))
    report.steps["sync"] = synced.as_dict()
    if on_sync:
        on_sync(synced)
    report.steps["raw_gate"] = step("raw gate", lambda: gates.check_gate(domain, "raw").summary())
    build_args = ["build", *dbt_selection(domain), *(["--full-refresh"] if full_refresh else [])]
    built = step("dbt build", lambda: dbt.run(build_args, target=target, vars=vars, capture=True))
    report.steps["dbt"] = {"statuses": built.statuses(), "seconds": built.elapsed}
    report.steps["marts_gate"] = step(
        "marts gate", lambda: gates.check_gate(domain, "marts").summary()
    )
    published = step("publish", lambda: publish.publish(domain))
    report.steps["publish"] = published.as_dict()
    return report
