"""The DAG files: they import cleanly, carry what on-call needs, and do no work at import.

The DagBag is filled in a subprocess, for two reasons: importing Airflow configures logging
and settings process-wide, which must not leak into the rest of the session; and the import
runs in a poisoned environment. Warehouse and source URLs point at an address that does not
answer, HEADWATER_HOME is an empty directory (so nothing can find the embedded server), and
guards record any socket connection, database connection, subprocess or embedded-server start
made while the DAG files are imported. A DAG file is configuration; importing it must need
none of those.
"""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

import pytest

from headwater import alerts, config, orchestration
from headwater.errors import ConfigError

# Every domain with a pipeline file gets its scheduled and its maintenance DAG.
DOMAINS = sorted(p.parent.name for p in (config.project_dir() / "dags").glob("*/pipeline.yaml"))
DAGS = {f"{domain}_{kind}" for domain in DOMAINS for kind in ("elt", "maintenance")}
POISON = "postgresql://nobody:not-a-secret@192.0.2.1:9/nowhere"
AIRBYTE_ENV = "HEADWATER_MARKETPLACE_AIRBYTE_CONNECTION_ID"

INSPECT = r"""
import json, os, socket, subprocess, sys

# Libraries first: importing them is not the DAG files' doing (croniter, for one, runs
# `file` on the interpreter when it is imported).
import cosmos, cosmos.operators.local
import airflow.providers.airbyte.operators.airbyte
from airflow.dag_processing.dagbag import DagBag

attempts = []


def guard(name):
    def blocked(*args, **kwargs):
        attempts.append(f"{name} {args[1:2] if name == 'socket.connect' else args[:1]}")
        raise OSError(f"{name} during DAG import")
    return blocked


socket.socket.connect = guard("socket.connect")
socket.socket.connect_ex = guard("socket.connect")
subprocess.Popen.__init__ = guard("subprocess")
import psycopg, psycopg2
from headwater import db
psycopg.connect = guard("psycopg.connect")
psycopg2.connect = guard("psycopg2.connect")
db.start = guard("embedded server start")


def describe(bag):
    dags = {}
    for dag_id, dag in bag.dags.items():
        dags[dag_id] = {
            "owner": dag.owner,
            "tags": sorted(dag.tags),
            "doc_md": dag.doc_md or "",
            "catchup": dag.catchup,
            "schedule": [type(dag.timetable).__name__, getattr(dag.timetable, "expression", None)],
            "start_date": dag.start_date.isoformat() if dag.start_date else None,
            "max_active_runs": dag.max_active_runs,
            "params": sorted(dag.params.keys()),
            "tasks": {
                t.task_id: {
                    "type": type(t).__name__,
                    "owner": t.owner,
                    "retries": t.retries,
                    "backoff": float(t.retry_exponential_backoff or 0),
                    "alerts": [getattr(c, "__qualname__", "") for c in (t.on_failure_callback or [])],
                    "upstream": sorted(t.upstream_task_ids),
                    "deferrable": getattr(t, "deferrable", None),
                    "connection_id": getattr(t, "connection_id", None),
                    "vars": getattr(t, "vars", None),
                    "env": getattr(t, "env", None),
                    "max_active_tis_per_dag": t.max_active_tis_per_dag,
                    "trigger_rule": str(getattr(t.trigger_rule, "value", t.trigger_rule)),
                    "select": getattr(t, "select", None),
                    "retry_policy": type(getattr(t, "retry_policy", None)).__name__,
                }
                for t in dag.tasks
            },
        }
    return dags


first = DagBag(dag_folder=sys.argv[1])
result = {"import_errors": first.import_errors, "dags": describe(first)}
os.environ[sys.argv[2]] = "3f8c5d4e-0000-4000-8000-000000000001"
airbyte = DagBag(dag_folder=sys.argv[1])
result["airbyte_import_errors"] = airbyte.import_errors
result["airbyte_dags"] = describe(airbyte)
result["attempts"] = attempts
print("RESULT " + json.dumps(result, default=str))
"""


@pytest.fixture(scope="module")
def dag_env(tmp_path_factory):
    """An environment for importing the DAG files: unreachable databases, a fresh manifest."""
    import os

    root = tmp_path_factory.mktemp("dagbag")
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("AIRFLOW", "HEADWATER_"))
    }
    env.update(orchestration.TELEMETRY_OFF)
    env.update(
        {
            "HEADWATER_HOME": str(root / "home"),
            "HEADWATER_PROJECT_DIR": str(config.project_dir()),
            "HEADWATER_WAREHOUSE_URL": POISON,
            **{config.source_url_env(domain): POISON for domain in config.DOMAINS},
            "HEADWATER_DBT_MANIFEST": str(root / "manifest.json"),
            "AIRFLOW_HOME": str(root / "airflow"),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{root / 'airflow.db'}",
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__DAGS_FOLDER": str(config.project_dir() / "dags"),
        }
    )
    # Building the manifest is the one step that runs dbt; it happens before, not at import.
    build = subprocess.run(
        [sys.executable, "-m", "headwater.orchestration", "manifest"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert build.returncode == 0, build.stderr
    return env


@pytest.fixture(scope="module")
def dagbag(dag_env):
    """What the DagBag holds when the DAG files are imported in a poisoned environment."""
    proc = subprocess.run(
        [sys.executable, "-c", INSPECT, str(config.project_dir() / "dags"), AIRBYTE_ENV],
        env=dag_env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    assert lines, (proc.stdout + proc.stderr)[-4000:]
    return json.loads(lines[-1].removeprefix("RESULT "))


@pytest.mark.airflow
class TestDagBag:
    def test_no_import_errors(self, dagbag):
        assert dagbag["import_errors"] == {}
        assert set(dagbag["dags"]) == DAGS

    def test_no_database_call_or_subprocess_at_import(self, dagbag):
        assert dagbag["attempts"] == []

    def test_every_dag_has_owner_tags_retries_and_docs(self, dagbag):
        for dag_id, dag in dagbag["dags"].items():
            assert dag["owner"] == "data-platform", dag_id
            assert dag["tags"], dag_id
            assert "runbooks/" in dag["doc_md"], dag_id
            assert dag["catchup"] is False, dag_id
            assert dag["start_date"] == "2026-11-01T00:00:00+00:00", dag_id
            for task_id, task in dag["tasks"].items():
                assert task["retries"] >= 2, (dag_id, task_id)
                assert task["backoff"] > 1, (dag_id, task_id)
                assert task["owner"] == "data-platform", (dag_id, task_id)
                # (the watcher producer also backs up its results before a retry)
                assert "on_failure" in task["alerts"], (dag_id, task_id)
                # A backfill's runs and the scheduled runs are limited separately: no task
                # (sync, dbt build, gate, publish) may run in two of them at once.
                assert task["max_active_tis_per_dag"] == 1, (dag_id, task_id)

    def test_pipeline_shape(self, dagbag):
        dag = dagbag["dags"]["marketplace_elt"]
        tasks = dag["tasks"]
        # Runs cover an hour each ([previous tick, this tick)), not an instant.
        assert dag["schedule"] == ["CronDataIntervalTimetable", "0 * * * *"]
        assert dag["max_active_runs"] == 1
        assert tasks["extract_load"]["type"] == "_PythonDecoratedOperator"
        assert tasks["raw_gate"]["upstream"] == ["extract_load"]
        assert tasks["publish"]["upstream"] == ["marts_gate"]
        dbt_tasks = {t: v for t, v in tasks.items() if t.startswith("dbt.")}
        # dbt starts only after the raw gate: one `dbt build` of the pipeline's selection.
        assert tasks[PRODUCER]["upstream"] == ["raw_gate"]
        assert tasks[PRODUCER]["type"] == "DbtProducerWatcherOperator"
        selection = orchestration.load_pipeline("marketplace").dbt.select
        assert tasks[PRODUCER]["select"].split() == selection
        # One task per model; the first ones report once the build is done, even a failed
        # build (its results are per node), but not after a failed raw gate.
        staging = model_task(tasks, "stg_marketplace__orders")
        assert tasks[staging]["upstream"] == [PRODUCER]
        assert tasks[staging]["trigger_rule"] == "none_failed"
        assert tasks[staging]["type"] == "DbtRunWatcherOperator"
        assert model_task(tasks, "fct_orders")
        assert all(t.startswith("dbt.") for t in tasks["marts_gate"]["upstream"])
        firsts = [
            t for t, v in dbt_tasks.items() if v["upstream"] == [PRODUCER] and t != PRODUCER_DONE
        ]
        assert len(firsts) >= 9, "every seed and staging model waits for the build"
        assert tasks[PRODUCER_DONE]["trigger_rule"] == "none_failed"
        del dbt_tasks[PRODUCER_DONE]  # cosmos's gateway: absorbs a skipped (retried) producer
        for task_id, task in dbt_tasks.items():
            if task_id not in firsts and task_id != PRODUCER:
                assert task["trigger_rule"] in ("all_success", "none_failed"), task_id
            # Test failures fail at once; everything else keeps its retries.
            assert task["retry_policy"] == "DbtTestFailurePolicy", task_id
        # Every dbt task gets the run's data interval, in the environment: as --vars, a new
        # interval would make dbt re-parse the project on every run.
        for task_id, task in dbt_tasks.items():
            assert set(task["env"]) == {
                "HEADWATER_DATA_INTERVAL_START",
                "HEADWATER_DATA_INTERVAL_END",
            }, task_id
            assert not task["vars"], task_id

    def test_models_tests_follow_their_model(self, dagbag):
        tasks = dagbag["dags"]["marketplace_elt"]["tasks"]
        test_tasks = [t for t in tasks if t.startswith("dbt.") and t.endswith(".test")]
        assert test_tasks, "TestBehavior.AFTER_EACH renders a test task after tested nodes"
        assert {tasks[t]["type"] for t in test_tasks} == {"DbtTestWatcherOperator"}
        for test_task in test_tasks:
            node = test_task.removesuffix(".test")
            # The model's tests run right after the model, and what depends on the model
            # waits for its tests.
            assert tasks[test_task]["upstream"] in ([f"{node}.run"], [f"{node}.seed"]), test_task
        orders_test = "dbt.stg_marketplace__orders.test"
        assert orders_test in tasks
        dependants = [t for t, v in tasks.items() if orders_test in v["upstream"]]
        assert dependants, "models built on stg_marketplace__orders wait for its tests"

    def test_airbyte_connection_switches_extract_load(self, dagbag):
        assert dagbag["airbyte_import_errors"] == {}
        tasks = dagbag["airbyte_dags"]["marketplace_elt"]["tasks"]
        extract = tasks["extract_load"]
        assert extract["type"] == "AirbyteTriggerSyncOperator"
        assert extract["deferrable"] is True
        assert extract["connection_id"] == "3f8c5d4e-0000-4000-8000-000000000001"
        # The same downstream either way.
        assert tasks["raw_gate"]["upstream"] == ["extract_load"]
        local = dagbag["dags"]["marketplace_elt"]["tasks"]
        assert set(tasks) == set(local)

    def test_maintenance_dag_params(self, dagbag):
        dag = dagbag["dags"]["marketplace_maintenance"]
        assert dag["schedule"][0] == "NullTimetable"
        assert dag["params"] == ["end", "full_refresh_model", "publish", "select", "start"]
        assert dag["tasks"]["dbt_build"]["type"] == "DbtBuildLocalOperator"


PRODUCER = "dbt.dbt_producer_watcher"
PRODUCER_DONE = "dbt.dbt_producer_watcher_done"


def model_task(tasks: dict, model: str) -> str:
    """The task that builds `model`: `dbt.<model>.run` when it has tests, else `dbt.<model>_run`."""
    for task_id in (f"dbt.{model}.run", f"dbt.{model}_run"):
        if task_id in tasks:
            return task_id
    raise AssertionError(f"no task builds {model}: {sorted(tasks)}")


# --- configuration and alerts, without Airflow ---------------------------------------------------


def test_pipeline_file_loads():
    pipeline = orchestration.load_pipeline("marketplace")
    assert pipeline.schedule == "@hourly"
    assert pipeline.retries >= 2
    assert pipeline.retry_delay == timedelta(minutes=1)
    assert pipeline.pipeline_dag_id == "marketplace_elt"


def test_pipeline_file_rejects_too_few_retries(tmp_path):
    text = orchestration.pipeline_path("marketplace").read_text()
    path = tmp_path / "pipeline.yaml"
    path.write_text(text.replace("retries: 3", "retries: 1"))
    with pytest.raises(ConfigError, match="retries"):
        orchestration.load_pipeline(path)


def test_extract_load_switch():
    extract = orchestration.ExtractLoad(connection_id_env=AIRBYTE_ENV)
    assert extract.resolve({}) == ("local", None)
    assert extract.resolve({AIRBYTE_ENV: "abc"}) == ("airbyte", "abc")
    assert orchestration.ExtractLoad(mode="local").resolve({AIRBYTE_ENV: "abc"}) == ("local", None)
    with pytest.raises(ConfigError, match="no Airbyte connection id"):
        orchestration.ExtractLoad(mode="airbyte", connection_id_env=AIRBYTE_ENV).resolve({})


def test_maintenance_params_are_checked():
    ok = orchestration.validate_maintenance_params(
        {"select": "fct_orders+", "full_refresh_model": "", "publish": True}
    )
    assert ok["select"] == "fct_orders+" and ok["full_refresh"] is False
    refresh = orchestration.validate_maintenance_params({"full_refresh_model": "fct_orders"})
    assert refresh["select"] == "fct_orders" and refresh["full_refresh"] is True
    with pytest.raises(ConfigError, match="before end"):
        orchestration.validate_maintenance_params(
            {"start": "2026-11-02T00:00:00+00:00", "end": "2026-11-01T00:00:00+00:00"}
        )
    with pytest.raises(ConfigError, match="one model name"):
        orchestration.validate_maintenance_params({"full_refresh_model": "fct_orders+"})


class _TaskInstance:
    dag_id, task_id, run_id, try_number = "marketplace_elt", "raw_gate", "scheduled__x", 3
    log_url = "http://localhost:8080/dags/marketplace_elt/runs/x/tasks/raw_gate"


def _context(exc: Exception) -> dict:
    from datetime import UTC, datetime

    return {
        "task_instance": _TaskInstance(),
        "run_id": "scheduled__x",
        "data_interval_start": datetime(2026, 11, 20, 10, tzinfo=UTC),
        "data_interval_end": datetime(2026, 11, 20, 11, tzinfo=UTC),
        "exception": exc,
    }


def test_alert_names_task_interval_error_and_runbook():
    alert = alerts.build_alert(
        _context(RuntimeError("cannot connect to postgresql://u:hunter2@db/x")), env={}
    )
    text = alert.text()
    assert "marketplace_elt.raw_gate failed" in text
    assert "2026-11-20T10:00:00+00:00 → 2026-11-20T11:00:00+00:00" in text
    assert "runbooks/gate-failed.md" in text
    assert "hunter2" not in text
    assert alerts.runbook_for("dbt.fct_orders_run", {}) == "runbooks/dbt-test-failed.md"
    assert alerts.runbook_for("extract_load", {"HEADWATER_RUNBOOKS_URL": "https://x/rb/"}) == (
        "https://x/rb/sync-failed.md"
    )


def test_alert_posts_to_webhook_and_never_raises(caplog):
    import http.server
    import threading

    received: list[dict] = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - the http.server API
            received.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hooks/secret-token"
        alert = alerts.build_alert(_context(ValueError("boom")), env={})
        sent = alerts.notify(alert, env={alerts.WEBHOOK_ENV: url})
        assert sent == ["log", "webhook"]
        assert "marketplace_elt.raw_gate failed" in received[0]["text"]
        # A dead webhook is logged without its URL (which carries the token) and not raised.
        server.shutdown()
        server.server_close()
        with caplog.at_level("WARNING", logger="headwater.alerts"):
            assert alerts.notify(alert, env={alerts.WEBHOOK_ENV: url}) == ["log"]
        assert "webhook failed" in caplog.text
        assert "secret-token" not in caplog.text
    finally:
        server.server_close()


def test_local_airflow_config_keeps_each_home_apart(tmp_path):
    """Two local Airflows on one machine share no port and no cosmos cache; dbt results are
    backed up once per failed build, not once per result."""
    import configparser

    from headwater import airflow_local

    airflow_local.write_config(tmp_path / "a", "postgresql+psycopg2://x@/airflow", port=8780)
    cfg = configparser.ConfigParser(interpolation=None)
    cfg.read(tmp_path / "a" / "airflow.cfg")
    assert cfg["api"]["port"] == "8780"
    assert cfg["core"]["execution_api_server_url"] == "http://127.0.0.1:8780/execution/"
    # Airflow's defaults (8793, 8794) would collide with any other Airflow here.
    assert cfg["logging"]["worker_log_server_port"] == "8781"
    assert cfg["logging"]["triggerer_log_server_port"] == "8782"
    assert cfg["cosmos"]["cache_dir"] == str(tmp_path / "a" / "cosmos")
    assert cfg["cosmos"]["enable_watcher_reliable_retry"] == "False"


def test_the_scheduler_starts_with_what_its_task_processes_import(dag_env):
    """The LocalExecutor forks every task from the scheduler: a scheduler that imported the DAG
    factory, cosmos and dbt first saves each task process importing them again."""
    from headwater import airflow_local

    command = airflow_local.component_command("scheduler")
    assert command[1:] == ["-m", "headwater.airflow_local", "run", "scheduler"]
    assert airflow_local.component_command("triggerer")[1:] == ["triggerer"]
    script = (
        "import sys, airflow.__main__ as cli\n"
        "from headwater import airflow_local\n"
        "def main():\n"
        "    from headwater import orchestration\n"
        "    loaded = [m for m in airflow_local.TASK_IMPORTS if m in sys.modules]\n"
        "    print('ARGV', sys.argv, 'LOADED', loaded, 'BUILT', len(orchestration._prebuilt))\n"
        "cli.main = main\n"
        "sys.exit(airflow_local.main(['run', 'scheduler']))\n"
    )
    before = subprocess.run(
        [sys.executable, "-c", "import sys, airflow.__main__; print(sorted(sys.modules))"],
        capture_output=True,
        text=True,
        check=True,
    )
    assert "dbt.cli.main" not in before.stdout, "importing Airflow alone does not load dbt"
    line = next(x for x in run_python(script, env=dag_env) if x.startswith("ARGV"))
    # ... and every DAG of the four domains (a pipeline and a maintenance DAG each) is built.
    loaded = list(airflow_local.TASK_IMPORTS)
    assert line == f"ARGV ['airflow', 'scheduler'] LOADED {loaded} BUILT 8", line


PREBUILD = """
import os, sys
from pathlib import Path
from headwater import orchestration

folder = Path(sys.argv[1])
path = folder / "marketplace" / "pipeline.yaml"
fresh = orchestration.pipeline_dag(path)
print("FRESH", fresh is orchestration.pipeline_dag(path))
print("BUILT", orchestration.prebuild(folder))
kept = orchestration.pipeline_dag(path)
print("KEPT", kept is orchestration.pipeline_dag(path), kept is fresh)
stat = path.stat()
os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
print("CHANGED", orchestration.pipeline_dag(path) is kept)
"""


def test_a_prebuilt_dag_is_reused_until_its_configuration_changes(dag_env, tmp_path):
    """What the local scheduler builds before it forks: the same DAG object for every task
    process, and a new one once pipeline.yaml (or the manifest) changes."""
    import shutil

    shutil.copytree(config.project_dir() / "dags" / "marketplace", tmp_path / "marketplace")
    marks = ("FRESH ", "BUILT ", "KEPT ", "CHANGED ")
    output = run_python(PREBUILD, str(tmp_path), env=dag_env)
    lines = [line for line in output if line.startswith(marks)]
    assert lines == ["FRESH False", "BUILT 2", "KEPT True False", "CHANGED False"], output


def run_python(script: str, *args: str, env: dict[str, str]) -> list[str]:
    """Run `script` in a new interpreter; its output lines (it must exit 0)."""
    proc = subprocess.run(
        [sys.executable, "-c", script, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc.stdout.splitlines()
