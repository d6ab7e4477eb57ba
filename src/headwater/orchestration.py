"""The shared Airflow DAG factory: one pipeline DAG and one maintenance DAG per domain.

A domain plugs in with two files under `dags/<domain>/`: `pipeline.yaml` (schedule, owner,
tags, retries, dbt selection, extract-load mode) and a three-line DAG file calling
`pipeline_dag` and `maintenance_dag`. Everything else is written once, here.

The pipeline DAG is

    extract_load → raw_gate → dbt (one task per model, its tests right after it) → marts_gate → publish

* extract_load triggers the domain's Airbyte connection with the provider's deferrable
  operator when a connection id is configured, and runs the local sync engine otherwise.
* The gates run the Soda contracts of a layer; a failed check fails the task at once (no
  retry: retrying does not change the data) and nothing downstream runs.
* dbt runs through cosmos. Each model is a task, and the model's tests run right after it,
  so a failed test stops its dependants and `publish` never runs. By default (`dbt.execution:
  watcher`) one task runs a single `dbt build` of the selection and the per-model tasks then
  report each node's result (cosmos `ExecutionMode.WATCHER`); `dbt.execution: local` runs one
  dbt command per model and per test instead, several times slower (see "the watcher
  execution" below).
* dbt gets the run's data interval (ISO 8601) in the environment variables
  HEADWATER_DATA_INTERVAL_START / _END, so a rerun or a backfill reprocesses exactly that
  window; the models read them at run time, which keeps dbt's partial parse valid from one
  run to the next.
* No task runs in two of a DAG's runs at once (`max_active_tis_per_dag`), so a backfill
  next to the hourly run never runs two builds, syncs or publishes together.

Importing a DAG file does no work: no database connection, no clock, no dbt invocation.
The dbt graph comes from a manifest file built beforehand by `build_manifest()` (the local
launcher and the docker-compose init service do it; so does `python -m
headwater.orchestration manifest`). Connections and dbt credentials are resolved when a task
runs.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from headwater import config
from headwater.connection import parse_duration
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

DAGS_DIR = "dags"
PIPELINE_FILE = "pipeline.yaml"
MANIFEST_ENV = "HEADWATER_DBT_MANIFEST"
DBT_TARGET_ENV = "HEADWATER_DBT_TARGET"
PROFILE_NAME = "headwater"

# What no tool in a DAG may do: phone home. config.TELEMETRY_OFF plus the switches cosmos
# (SCARF_NO_ANALYTICS) and Soda Core 4 (SODA_CORE_TELEMETRY_ENABLED) actually read.
TELEMETRY_OFF = {
    **config.TELEMETRY_OFF,
    "SCARF_NO_ANALYTICS": "true",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
}

# The data interval every dbt task gets, as environment variables the models read at run time
# (macros/incremental/incremental_lower_bound.sql): the run's interval, falling back to the
# run's time for runs without one (a manual run triggered without a logical date). Not as dbt
# `--vars`: dbt discards its partial parse whenever the vars change, and they would change
# every run, so each run would re-parse the whole project (about 15 s here).
INTERVAL_START_ENV = "HEADWATER_DATA_INTERVAL_START"
INTERVAL_END_ENV = "HEADWATER_DATA_INTERVAL_END"
INTERVAL_ENV = {
    INTERVAL_START_ENV: "{{ (data_interval_start or dag_run.run_after).isoformat() }}",
    INTERVAL_END_ENV: "{{ (data_interval_end or dag_run.run_after).isoformat() }}",
}

# The maintenance DAG's window: the `start` / `end` params when given, else the run's own.
MAINTENANCE_ENV = {
    INTERVAL_START_ENV: "{{ params.start or (data_interval_start or dag_run.run_after).isoformat() }}",
    INTERVAL_END_ENV: "{{ params.end or (data_interval_end or dag_run.run_after).isoformat() }}",
}

# --- configuration: dags/<domain>/pipeline.yaml ---------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _duration(value: Any) -> Any:
    if isinstance(value, str):
        return parse_duration(value)
    return value


class ExtractLoad(_Model):
    """How raw data arrives. One switch; the tasks downstream are the same either way."""

    # auto: Airbyte when a connection id is configured (here or in `connection_id_env`),
    # else the local sync engine. `airbyte` insists on Airbyte, `local` on the engine.
    mode: Literal["auto", "airbyte", "local"] = "auto"
    airbyte_conn_id: str = "airbyte_default"
    connection_id: str | None = None
    connection_id_env: str | None = None
    timeout: timedelta = timedelta(hours=1)

    _lag = field_validator("timeout", mode="before")(_duration)

    def resolve(self, env: Mapping[str, str] = os.environ) -> tuple[str, str | None]:
        """('airbyte', connection id) or ('local', None)."""
        connection_id = self.connection_id or (
            env.get(self.connection_id_env) if self.connection_id_env else None
        )
        if self.mode == "local":
            return "local", None
        if connection_id:
            return "airbyte", connection_id
        if self.mode == "airbyte":
            where = (
                f"connection_id or ${self.connection_id_env}"
                if self.connection_id_env
                else "connection_id"
            )
            raise ConfigError(
                f"extract_load.mode is airbyte but no Airbyte connection id is set ({where})"
            )
        return "local", None


class Dbt(_Model):
    """Which dbt nodes belong to this domain's pipeline, and which profile target runs them."""

    select: list[str] = Field(min_length=1)
    exclude: list[str] = []
    target: str = "local"
    # The environment variable that overrides `target` (for example bigquery in production).
    target_env: str = DBT_TARGET_ENV
    # watcher: one `dbt build` for the whole selection, and per-model tasks that report each
    # node's result (a run costs one dbt invocation). local: one dbt command per model and
    # per test task (a run costs some 60 dbt invocations).
    execution: Literal["watcher", "local"] = "watcher"

    def resolved_target(self, env: Mapping[str, str] = os.environ) -> str:
        return env.get(self.target_env) or self.target


class MicroBatch(_Model):
    """What `headwater run <domain> --every <interval>` runs on each tick."""

    # The dbt selection per tick (default: the pipeline's `dbt.select` / `dbt.exclude`):
    # the models dashboards read every minute, leaving slow batch marts to the schedule.
    select: list[str] = []
    exclude: list[str] = []
    # The freshness bound `--every` keeps when given without one (headwater.pipeline.run_every).
    every: timedelta = timedelta(minutes=1)
    # The pipeline steps a tick runs, in pipeline order (default: all of them). A domain
    # whose live dashboards read the marts directly can tick with [sync, dbt] and leave
    # the gates and publishing to the scheduled DAG.
    steps: list[Literal["sync", "raw_gate", "dbt", "marts_gate", "publish"]] = Field(
        default=["sync", "raw_gate", "dbt", "marts_gate", "publish"], min_length=1
    )

    # Build in the background: a tick syncs (and runs the raw gate), then hands dbt, the
    # marts gate and publish to a worker unless the previous tick's build still runs. Ticks
    # then keep the interval however long a build takes, and what dashboards read from raw
    # is never older than one interval (see docs/restaurant.md).
    background_build: bool = False

    _every = field_validator("every", mode="before")(_duration)


class Pipeline(_Model):
    domain: str
    description: str
    owner: str
    schedule: str | None
    start_date: datetime
    catchup: bool = False
    max_active_runs: int = Field(1, ge=1)
    dagrun_timeout: timedelta | None = None
    tags: list[str] = Field(min_length=1)
    retries: int = Field(3, ge=2)
    retry_delay: timedelta = timedelta(minutes=1)
    retry_exponential_backoff: float = Field(2.0, gt=1.0)
    max_retry_delay: timedelta = timedelta(minutes=30)
    execution_timeout: timedelta | None = timedelta(hours=2)
    extract_load: ExtractLoad = ExtractLoad()
    dbt: Dbt
    # The marts analysts read: copied to `analytics` as one set after the marts gate.
    marts: list[str] = Field(min_length=1)
    publish: bool = True
    micro_batch: MicroBatch = MicroBatch()

    _durations = field_validator(
        "dagrun_timeout", "retry_delay", "max_retry_delay", "execution_timeout", mode="before"
    )(_duration)

    @field_validator("start_date", mode="before")
    @classmethod
    def _static_start(cls, value: Any) -> Any:
        if isinstance(value, date) and not isinstance(value, datetime):
            value = datetime(value.year, value.month, value.day)
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    @property
    def pipeline_dag_id(self) -> str:
        return f"{self.domain}_elt"

    @property
    def maintenance_dag_id(self) -> str:
        return f"{self.domain}_maintenance"


def pipeline_path(domain: str) -> Path:
    return config.project_dir() / DAGS_DIR / domain / PIPELINE_FILE


def _pipeline_file(path_or_domain: str | Path) -> Path:
    """A pipeline file's path as given, or the domain's (`dags/<domain>/pipeline.yaml`)."""
    path = Path(path_or_domain)
    return path if path.suffix else pipeline_path(str(path_or_domain))


def load_pipeline(path_or_domain: str | Path) -> Pipeline:
    """Read and validate a pipeline file, or raise one ConfigError line naming the problem."""
    path = _pipeline_file(path_or_domain)
    by_domain = not Path(path_or_domain).suffix
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        if by_domain:
            known = sorted(p.parent.name for p in path.parent.parent.glob(f"*/{PIPELINE_FILE}"))
            raise ConfigError(
                f"no pipeline for domain {str(path_or_domain)!r}: {DAGS_DIR}/{path_or_domain}/"
                f"{PIPELINE_FILE} does not exist (domains: {', '.join(known) or 'none'})"
            ) from None
        raise ConfigError(f"{path}: no such pipeline file") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: invalid YAML: {getattr(exc, 'problem', exc)}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    try:
        return Pipeline.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])
        raise ConfigError(f"{path}: {where}: {first['msg']}") from None


# --- dbt: the project, the manifest the DAG is drawn from, credentials at run time ----------


def dbt_project_dir() -> Path:
    from headwater import dbt

    return Path(dbt.PROJECT_DIR)


def manifest_path() -> Path:
    """Where the DAGs read the dbt graph from: $HEADWATER_DBT_MANIFEST or <home>/dbt/manifest.json."""
    if env := os.environ.get(MANIFEST_ENV):
        return Path(env)
    return config.home() / "dbt" / "manifest.json"


def dbt_executable() -> Path:
    """The dbt next to the running interpreter (the project's virtual environment)."""
    return Path(sys.executable).parent / "dbt"


def dbt_env(target: str, warehouse_url: str | None = None) -> dict[str, str]:
    """Environment for a dbt command: the profile's connection settings, telemetry off."""
    from headwater import dbt

    url = warehouse_url or config.warehouse_url()
    return {**TELEMETRY_OFF, **dbt.profile_env(target, url)}


def build_manifest(target: str | None = None, *, warehouse_url: str | None = None) -> Path:
    """Run `dbt parse` and put manifest.json where the DAGs read it. Needs no database.

    Written to a temporary directory and moved into place, so a DAG parse running at the
    same time reads the old file or the new one, never half of one.
    """
    target = target or os.environ.get(DBT_TARGET_ENV) or "local"
    project = dbt_project_dir()
    destination = manifest_path()
    destination.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, **dbt_env(target, warehouse_url)}
    with tempfile.TemporaryDirectory(dir=destination.parent) as tmp:
        command = [
            str(dbt_executable()),
            "parse",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--target",
            target,
            "--target-path",
            tmp,
            "--log-path",
            tmp,
            "--no-partial-parse",
            "--quiet",
        ]
        result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
        built = Path(tmp) / "manifest.json"
        if result.returncode != 0 or not built.exists():
            tail = (result.stdout + result.stderr).strip().splitlines()[-5:]
            raise HeadwaterError(
                f"dbt parse failed for {project} (target {target}): " + " | ".join(tail)
            )
        os.replace(built, destination)
    log.info("dbt manifest written to %s", destination)
    return destination


def _require_manifest() -> Path:
    path = manifest_path()
    if not path.exists():
        raise ConfigError(
            f"no dbt manifest at {path}: build it with `python -m headwater.orchestration manifest` "
            "(`headwater airflow` does it when it starts)"
        )
    return path


def _dbt_credentials(target: str):
    """A cosmos interceptor: adds the profile's settings to the dbt command when the task runs."""

    def interceptor(context: Any, operator: Any) -> None:
        operator.env = {**(operator.env or {}), **dbt_env(target)}

    return interceptor


def _cosmos_configs(pipeline: Pipeline, *, execution_mode: str = "local"):
    from cosmos import ExecutionConfig, ProfileConfig, ProjectConfig
    from cosmos.constants import ExecutionMode, InvocationMode

    target = pipeline.dbt.resolved_target()
    project_dir = dbt_project_dir()
    project = ProjectConfig(
        dbt_project_path=project_dir,
        manifest_path=_require_manifest(),
        install_dbt_deps=False,
    )
    profile = ProfileConfig(
        profile_name=PROFILE_NAME,
        target_name=target,
        profiles_yml_filepath=project_dir / "profiles.yml",
    )
    watcher = execution_mode == "watcher"
    execution = ExecutionConfig(
        execution_mode=ExecutionMode.WATCHER if watcher else ExecutionMode.LOCAL,
        invocation_mode=InvocationMode.DBT_RUNNER,
        dbt_executable_path=dbt_executable(),
        setup_operator_args=_producer_args(pipeline) if watcher else None,
    )
    return target, project, profile, execution


# --- the watcher execution: one `dbt build`, one reporting task per node ---------------------
#
# cosmos's ExecutionMode.WATCHER renders the same tasks as the local mode (`dbt.<model>.run`,
# `dbt.<model>.test`, `dbt.<seed>_seed`, ...) plus a producer task, `dbt.dbt_producer_watcher`,
# that runs one `dbt build` of the whole selection and records every node's result in XCom.
# The per-node tasks are sensors that read that result: they succeed or fail as their node
# did, so a failed test still stops its dependants and publish. Three choices here:
#
# * The per-node tasks wait for the producer (`producer >> first nodes`, trigger rule
#   none_failed) instead of polling next to it. A run then costs one process per node,
#   nothing defers, and `dag.test()` (which runs tasks one at a time) always runs the build
#   before the nodes that read it. The price: the nodes turn green together when the build
#   ends, not one by one while it runs.
# * The producer never reruns dbt on a retry: when `dbt build` fails (a test failed, a model
#   did not build), its retry restores the results and is skipped, and only then do the
#   node tasks read them. Its retry delay is therefore short.
# * A failed dbt test fails its task at once, like a failed gate: retrying re-runs the same
#   query on the same data (`DbtTestFailurePolicy`). A model that did not build keeps its
#   retries: its retry runs `dbt run` of that one model, which survives a transient error.
#
# Clearing a failed node task after a fix reruns that node alone with dbt (cosmos falls back
# to the local execution for any try after the first), and so do its cleared dependants.

PRODUCER_RETRY_DELAY = timedelta(seconds=5)


def _producer_args(pipeline: Pipeline) -> dict[str, Any]:
    return {
        "retry_delay": PRODUCER_RETRY_DELAY,
        "max_retry_delay": PRODUCER_RETRY_DELAY * 8,
        "doc_md": (
            "Runs one `dbt build` of the pipeline's selection (seeds, models, snapshots, "
            "tests) and records each node's result; the other `dbt.*` tasks report them. "
            "A retry does not run dbt again: it restores the results and is skipped."
        ),
    }


def _retry_policy():
    from airflow.sdk.definitions.retry_policy import RetryDecision, RetryPolicy

    class DbtTestFailurePolicy(RetryPolicy):
        """Fail a test task at once when dbt recorded a failed test; otherwise retry as usual."""

        def evaluate(self, exception, try_number, max_tries, context=None):
            task = (context or {}).get("task")
            if not getattr(task, "is_test_sensor", False) or try_number > 1:
                return RetryDecision.default()
            from cosmos.operators._watcher.aggregation import get_tests_status_xcom_key

            status = context["ti"].xcom_pull(
                task_ids=task.producer_task_id,
                key=get_tests_status_xcom_key(task.model_unique_id),
            )
            if status == "fail":
                return RetryDecision.fail(
                    f"dbt tests of {task.model_unique_id} failed on this run's data: "
                    "a retry cannot change that (runbook: runbooks/dbt-test-failed.md)"
                )
            return RetryDecision.default()

        def serialize(self) -> dict[str, Any]:
            return {"__type": "DbtTestFailurePolicy"}

    return DbtTestFailurePolicy()


# dbt's per-node lifecycle events before the result. cosmos stores each of them in XCom (one
# Execution API call apiece, ~900 per build here) only to echo them in the node tasks' logs;
# the result itself (NodeFinished), error events and the log lines all still go through.
_LIFECYCLE_EVENTS = frozenset({"NodeStart", "NodeCompiling", "NodeExecuting"})


def _without_lifecycle_events(make_parse: Any):
    """Wrap the producer's dbt-event parser so it skips `_LIFECYCLE_EVENTS`."""
    import json

    def make():
        parse = make_parse()

        def lean(line: str, extra_kwargs: Any) -> None:
            try:
                name = json.loads(line).get("info", {}).get("name")
            except (ValueError, AttributeError):
                name = None
            if name not in _LIFECYCLE_EVENTS:
                parse(line, extra_kwargs)

        return lean

    return make


def _wait_for_producer(group) -> None:
    """Make the first node tasks of a watcher task group start when the producer is done."""
    from airflow.task.trigger_rule import TriggerRule
    from cosmos.constants import PRODUCER_WATCHER_TASK_ID

    producer = group.get_child_by_label(PRODUCER_WATCHER_TASK_ID)
    producer._make_parse_callable = _without_lifecycle_events(producer._make_parse_callable)
    for root in list(group.roots):
        if root is producer:
            continue
        producer >> root
        # Run after a failed build too (its retry is skipped), so each node reports its
        # own result; not after an upstream failure (the raw gate), so dbt stays untouched.
        root.trigger_rule = TriggerRule.NONE_FAILED


# --- task callables ---------------------------------------------------------------------------


def run_local_sync(domain: str) -> dict[str, Any]:
    """The local sync engine: move what changed in the source into raw_<domain>."""
    from headwater import sync

    report = sync.sync(domain)
    summary = report.as_dict()
    log.info(
        "sync %s: %s rows read, %s written in %ss",
        domain,
        summary["rows_read"],
        summary["rows_written"],
        summary["seconds"],
    )
    return {k: summary[k] for k in ("connection", "sync_id", "rows_read", "rows_written")}


def run_gate(domain: str, layer: str) -> str:
    """Run the layer's Soda contracts. A failed check fails the task without retries."""
    from airflow.sdk.exceptions import AirflowFailException

    from headwater import gates

    try:
        result = gates.check_gate(domain, layer)
    except gates.GateFailed as exc:
        raise AirflowFailException(f"{exc} (runbook: runbooks/gate-failed.md)") from exc
    summary = result.summary() if hasattr(result, "summary") else f"{domain} {layer} gate passed"
    log.info("%s", summary)
    return summary


def run_publish(domain: str) -> dict[str, Any]:
    """Make the gated marts visible in `analytics`."""
    from headwater import publish

    result = publish.publish(domain)
    log.info("%s", result.summary())
    return result.as_dict()


# --- DAGs ---------------------------------------------------------------------------------------


def data_interval_schedule(schedule: str | None):
    """A cron schedule whose runs each cover one interval: [previous tick, this tick).

    Airflow 3 turns a plain cron string into a trigger timetable, whose runs have an empty
    data interval (start = end); the models need the hour they are to process.
    """
    if schedule is None:
        return None
    from airflow.sdk import CronDataIntervalTimetable

    return CronDataIntervalTimetable(schedule, timezone="UTC")


def default_args(pipeline: Pipeline) -> dict[str, Any]:
    from headwater import alerts

    return {
        "owner": pipeline.owner,
        "retries": pipeline.retries,
        "retry_delay": pipeline.retry_delay,
        "retry_exponential_backoff": pipeline.retry_exponential_backoff,
        "max_retry_delay": pipeline.max_retry_delay,
        "execution_timeout": pipeline.execution_timeout,
        "on_failure_callback": alerts.on_failure,
        # One instance of each task at a time across the DAG's runs. A backfill's runs and the
        # hourly scheduled run are limited separately (max_active_runs counts each on its
        # own), so without this two runs' `dbt build`s, syncs or publishes could overlap.
        "max_active_tis_per_dag": 1,
    }


# DAGs built ahead by `prebuild()`, by what they are built from. Only a process that called
# it keeps any: the local scheduler, whose task processes (forked from it) then find their
# DAG here instead of building it again (1.5 to 3 s apiece on this machine, most of it
# cosmos reading the manifest). Everywhere else each call builds a new DAG.
_prebuilt: dict[tuple, Any] | None = None


def _build_key(kind: str, path_or_domain: str | Path) -> tuple:
    path = _pipeline_file(path_or_domain)

    def stamp(file: Path) -> tuple:
        try:
            stat = file.stat()
        except OSError:
            return (str(file), None)
        return (str(file.resolve()), stat.st_mtime_ns, stat.st_size)

    settings = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("HEADWATER_")))
    return (kind, stamp(path), stamp(manifest_path()), settings)


def _kept(kind: str, path_or_domain: str | Path, build: Any) -> Any:
    if _prebuilt is None:
        return build(path_or_domain)
    key = _build_key(kind, path_or_domain)
    if key not in _prebuilt:
        _prebuilt[key] = build(path_or_domain)
    return _prebuilt[key]


def prebuild(dags_folder: Path) -> int:
    """Build every DAG of `dags_folder` once and keep them for this process and its forks.

    A kept DAG is reused while its pipeline.yaml, the dbt manifest and the HEADWATER_*
    settings are unchanged; a change to any of them builds it anew. Returns how many were built.
    """
    import runpy

    global _prebuilt
    _prebuilt = {} if _prebuilt is None else _prebuilt
    for path in sorted(dags_folder.glob("*/dags.py")):
        runpy.run_path(str(path))
    return len(_prebuilt)


def pipeline_dag(path_or_domain: str | Path):
    """The scheduled pipeline DAG of one domain, from its pipeline.yaml."""
    return _kept("pipeline", path_or_domain, _build_pipeline_dag)


def _build_pipeline_dag(path_or_domain: str | Path):
    from airflow.sdk import dag, task
    from cosmos import DbtTaskGroup, RenderConfig
    from cosmos.constants import LoadMode, TestBehavior

    pipeline = load_pipeline(path_or_domain)
    domain = pipeline.domain
    mode, connection_id = pipeline.extract_load.resolve()
    watcher = pipeline.dbt.execution == "watcher"
    target, project, profile, execution = _cosmos_configs(
        pipeline, execution_mode=pipeline.dbt.execution
    )
    dbt_args: dict[str, Any] = {
        "install_deps": False,
        "append_env": True,
        "env": dict(INTERVAL_ENV),
        "interceptors": [_dbt_credentials(target)],
    }
    if watcher:
        dbt_args["retry_policy"] = _retry_policy()

    @dag(
        dag_id=pipeline.pipeline_dag_id,
        description=pipeline.description,
        schedule=data_interval_schedule(pipeline.schedule),
        start_date=pipeline.start_date,
        catchup=pipeline.catchup,
        max_active_runs=pipeline.max_active_runs,
        dagrun_timeout=pipeline.dagrun_timeout,
        tags=pipeline.tags,
        default_args=default_args(pipeline),
        doc_md=pipeline_doc(pipeline, mode, target),
    )
    def pipeline_dag_():
        if mode == "airbyte":
            from airflow.providers.airbyte.operators.airbyte import AirbyteTriggerSyncOperator

            extract_load = AirbyteTriggerSyncOperator(
                task_id="extract_load",
                airbyte_conn_id=pipeline.extract_load.airbyte_conn_id,
                connection_id=connection_id,
                deferrable=True,
                timeout=pipeline.extract_load.timeout.total_seconds(),
                doc_md=TASK_DOCS["extract_load"],
            )
        else:
            extract_load = task(task_id="extract_load", doc_md=TASK_DOCS["extract_load"])(
                run_local_sync
            )(domain)

        raw_gate = task(task_id="raw_gate", doc_md=TASK_DOCS["raw_gate"])(run_gate)(domain, "raw")
        dbt_models = DbtTaskGroup(
            group_id="dbt",
            project_config=project,
            profile_config=profile,
            execution_config=execution,
            render_config=RenderConfig(
                load_method=LoadMode.DBT_MANIFEST,
                select=list(pipeline.dbt.select),
                exclude=list(pipeline.dbt.exclude),
                test_behavior=TestBehavior.AFTER_EACH,
                emit_datasets=False,
            ),
            operator_args=dbt_args,
        )
        if watcher:
            _wait_for_producer(dbt_models)
        marts_gate = task(task_id="marts_gate", doc_md=TASK_DOCS["marts_gate"])(run_gate)(
            domain, "marts"
        )
        extract_load >> raw_gate >> dbt_models >> marts_gate
        if pipeline.publish:
            marts_gate >> task(task_id="publish", doc_md=TASK_DOCS["publish"])(run_publish)(domain)

    return pipeline_dag_()


def maintenance_dag(path_or_domain: str | Path):
    """A manually triggered DAG for targeted reruns: a dbt selection, a full refresh, a window."""
    return _kept("maintenance", path_or_domain, _build_maintenance_dag)


def _build_maintenance_dag(path_or_domain: str | Path):
    from airflow.sdk import Param, dag, task
    from cosmos.operators.local import DbtBuildLocalOperator

    pipeline = load_pipeline(path_or_domain)
    domain = pipeline.domain
    target, project, profile, execution = _cosmos_configs(pipeline)

    @dag(
        dag_id=pipeline.maintenance_dag_id,
        description=f"Targeted reruns of the {domain} dbt models (manual).",
        schedule=None,
        start_date=pipeline.start_date,
        catchup=False,
        max_active_runs=1,
        tags=[domain, "maintenance"],
        default_args=default_args(pipeline),
        doc_md=maintenance_doc(pipeline),
        params={
            "select": Param(
                " ".join(pipeline.dbt.select),
                type="string",
                minLength=1,
                title="dbt selection",
                description="dbt node selection syntax, e.g. `stg_marketplace__orders+` or "
                "`tag:marketplace`. Ignored when a full-refresh model is given.",
            ),
            "full_refresh_model": Param(
                "",
                type="string",
                title="Full refresh of one model",
                description="A model name: rebuild it from scratch (`dbt build --full-refresh "
                "--select <model>`). Leave empty for a normal build of the selection.",
            ),
            "start": Param(
                None,
                type=["null", "string"],
                format="date-time",
                title="Window start",
                description="Data interval start for the models (ISO 8601). Empty: this run's interval.",
            ),
            "end": Param(
                None,
                type=["null", "string"],
                format="date-time",
                title="Window end",
                description="Data interval end for the models (ISO 8601). Empty: this run's interval.",
            ),
            "publish": Param(
                True,
                type="boolean",
                title="Publish afterwards",
                description="Run the marts gate and publish to `analytics` after the build.",
            ),
        },
    )
    def maintenance_dag_():
        @task(task_id="check_params", doc_md="Rejects a malformed window or model name.")
        def check_params(params: dict | None = None) -> dict[str, Any]:
            from airflow.sdk.exceptions import AirflowFailException

            try:
                return validate_maintenance_params(params or {})
            except ConfigError as exc:  # a wrong parameter: retrying cannot help
                raise AirflowFailException(str(exc)) from None

        build = DbtBuildLocalOperator(
            task_id="dbt_build",
            project_dir=str(project.dbt_project_path),
            profile_config=profile,
            dbt_executable_path=str(execution.dbt_executable_path),
            invocation_mode=execution.invocation_mode,
            select="{{ params.full_refresh_model or params.select }}",
            full_refresh="{{ params.full_refresh_model != '' }}",
            env=dict(MAINTENANCE_ENV),
            install_deps=False,
            append_env=True,
            emit_datasets=False,
            interceptors=[_dbt_credentials(target)],
            doc_md="`dbt build` of the selection (models, snapshots, seeds and their tests).",
        )

        @task.short_circuit(task_id="should_publish", ignore_downstream_trigger_rules=True)
        def should_publish(params: dict | None = None) -> bool:
            return bool((params or {}).get("publish", True))

        marts_gate = task(task_id="marts_gate", doc_md=TASK_DOCS["marts_gate"])(run_gate)(
            domain, "marts"
        )
        publish = task(task_id="publish", doc_md=TASK_DOCS["publish"])(run_publish)(domain)
        check_params() >> build >> should_publish() >> marts_gate >> publish

    return maintenance_dag_()


def validate_maintenance_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Fail fast, before dbt starts, on parameters that cannot be right (ConfigError)."""
    start, end = params.get("start"), params.get("end")
    parsed = {}
    for name, value in (("start", start), ("end", end)):
        if value:
            try:
                parsed[name] = datetime.fromisoformat(str(value))
            except ValueError:
                raise ConfigError(f"param {name} is not an ISO 8601 date-time: {value!r}") from None
    if "start" in parsed and "end" in parsed and parsed["start"] >= parsed["end"]:
        raise ConfigError(f"param start ({start}) must be before end ({end})")
    model = (params.get("full_refresh_model") or "").strip()
    if model and any(ch in model for ch in " +@*:,"):
        raise ConfigError(
            f"full_refresh_model takes one model name, got {model!r}; use `select` for selections"
        )
    return {
        "select": model or params.get("select"),
        "full_refresh": bool(model),
        "start": start,
        "end": end,
        "publish": bool(params.get("publish", True)),
    }


# --- documentation shown in the Airflow UI ------------------------------------------------------

TASK_DOCS = {
    "extract_load": (
        "Moves what changed in the source into `raw_<domain>` (Airbyte when a connection id is "
        "configured, else the local sync engine). Safe to rerun: state commits with the rows. "
        "On failure: `runbooks/sync-failed.md`."
    ),
    "raw_gate": (
        "Soda contracts on `raw_<domain>` (row counts, keys, freshness). Fails without retry "
        "when a check fails; dbt and publish do not run. On failure: `runbooks/gate-failed.md`."
    ),
    "marts_gate": (
        "Soda contracts on the marts before they are published. Fails without retry when a "
        "check fails; publish does not run. On failure: `runbooks/gate-failed.md`."
    ),
    "publish": (
        "Makes the gated marts visible in the `analytics` schema. A bad publish is undone with "
        "`runbooks/restore-analytics.md`."
    ),
}


def _runbook(page: str) -> str:
    base = os.environ.get("HEADWATER_RUNBOOKS_URL", "").rstrip("/")
    return f"[`runbooks/{page}`]({base}/{page})" if base else f"`runbooks/{page}`"


def pipeline_doc(pipeline: Pipeline, mode: str, target: str) -> str:
    domain = pipeline.domain
    source = (
        "the Airbyte connection (deferrable operator, Airflow connection "
        f"`{pipeline.extract_load.airbyte_conn_id}`)"
        if mode == "airbyte"
        else f"the local sync engine (`headwater sync {domain}`)"
    )
    return f"""\
# {domain} pipeline

{pipeline.description}

**Schedule** `{pipeline.schedule}` · **owner** {pipeline.owner} · **dbt target** `{target}` ·
**retries** {pipeline.retries} with exponential backoff · alerts go to the log, and to the
webhook / email configured in the environment.

## What it does
1. `extract_load`: {source} writes `raw_{domain}`.
2. `raw_gate`: Soda contracts on `raw_{domain}`.
3. `dbt`: one task per model (staging → intermediate → snapshots → marts), each followed
   by its tests; dbt gets the run's data interval (`HEADWATER_DATA_INTERVAL_START` /
   `_END`). No task runs in two runs at once, so a backfill waits for the hourly run. With
   the watcher execution, `dbt.dbt_producer_watcher` runs them all as one `dbt build` and
   each task reports its node's result (the producer's log has dbt's whole output).
4. `marts_gate`: Soda contracts on the marts.
5. `publish`: the marts become visible in `analytics`.

A failed gate or test stops everything downstream: `analytics` keeps the last good data.
Every task is idempotent: clearing a run, or backfilling a range twice, gives the same marts.

## When it fails
| failed task | what to do |
|---|---|
| `extract_load` | {_runbook("sync-failed.md")} |
| `raw_gate`, `marts_gate` | {_runbook("gate-failed.md")} |
| a `dbt.*` test (fails at once, no retries) | {_runbook("dbt-test-failed.md")} |
| a `dbt.*` run | {_runbook("dbt-test-failed.md")} (same steps; the log names the model) |
| `publish`, or bad data in `analytics` | {_runbook("restore-analytics.md")} |
| data older than expected | {_runbook("freshness-breached.md")}, {_runbook("late-data.md")} |

After the fix, **Clear** the failed task with *Downstream* ticked (or
`airflow tasks clear {pipeline.pipeline_dag_id} -s <start> -e <end> -t <task> -d -y`).
Reprocess a range: {_runbook("backfill.md")}. Rebuild one model: {_runbook("full-refresh-model.md")}
(DAG `{pipeline.maintenance_dag_id}`). All runbooks: {_runbook("README.md")}.
"""


def maintenance_doc(pipeline: Pipeline) -> str:
    return f"""\
# {pipeline.domain} maintenance (manual)

Targeted reruns without touching the schedule: trigger with parameters.

* **dbt selection** (`select`): dbt node selection, e.g. `fct_orders+`.
* **Full refresh of one model** (`full_refresh_model`): rebuilds that model from scratch
  (`dbt build --full-refresh`), then its tests.
* **Window** (`start`, `end`): the data interval the models see
  (`HEADWATER_DATA_INTERVAL_START` / `_END`); empty means this run's own interval.
* **Publish afterwards** (`publish`): run the marts gate and publish to `analytics`.

Same alerts and retries as `{pipeline.pipeline_dag_id}`. Runbooks:
{_runbook("full-refresh-model.md")}, {_runbook("late-data.md")}, {_runbook("backfill.md")}.
"""


def main(argv: list[str] | None = None) -> int:
    """`python -m headwater.orchestration manifest [--target T]`: build the dbt manifest."""
    import argparse

    parser = argparse.ArgumentParser(prog="python -m headwater.orchestration")
    sub = parser.add_subparsers(dest="command", required=True)
    manifest = sub.add_parser("manifest", help="run dbt parse and write the manifest the DAGs read")
    manifest.add_argument("--target", default=None)
    args = parser.parse_args(argv)
    config.disable_telemetry()
    try:
        print(build_manifest(args.target))
    except HeadwaterError as exc:
        from headwater.db import redact

        print(f"error: {redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
