"""The marketplace DAG, run for real with `dag.test()`: Airflow 3, cosmos, dbt, Soda, publish.

One Airflow metadata database (`airflow_test`) and one source and warehouse pair
(`dagrun_marketplace`, `dagrun_warehouse`) on the session's embedded server; a small seeded
source. Each DAG run happens in a subprocess that imports Airflow with that configuration,
so Airflow's logging and settings stay out of this test session.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import psycopg
import pytest

from headwater import config, db

pytestmark = [pytest.mark.airflow, pytest.mark.integration, pytest.mark.slow]

DOMAIN = "marketplace"
PIPELINE = "marketplace_elt"
MAINTENANCE = "marketplace_maintenance"
SCALE = 0.2
# Past hours: the run under test and the ones the planted failures use.
LOGICAL = "2026-11-20T10:00:00+00:00"
FAILED_LOGICAL = "2026-11-20T11:00:00+00:00"
BACKFILL_NEXT = "2026-11-20T12:00:00+00:00"
TEST_FAILED_LOGICAL = "2026-11-20T13:00:00+00:00"
RUN_TIMEOUT = 900

# Runs one DAG with dag.test() and prints the outcome as one JSON line.
RUNNER = r"""
import json, sys, time
from datetime import datetime

from airflow.dag_processing.dagbag import DagBag

dags_folder, dag_id, logical = sys.argv[1], sys.argv[2], sys.argv[3]
conf = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
bag = DagBag(dag_folder=dags_folder)
if bag.import_errors:
    print("RESULT " + json.dumps({"import_errors": bag.import_errors}))
    sys.exit(0)
started = time.monotonic()
run = bag.dags[dag_id].test(logical_date=datetime.fromisoformat(logical), run_conf=conf)
value = lambda state: getattr(state, "value", state)
print("RESULT " + json.dumps({
    "state": value(run.state),
    "seconds": round(time.monotonic() - started, 1),
    "data_interval": [str(run.data_interval_start), str(run.data_interval_end)],
    "tasks": {ti.task_id: value(ti.state) for ti in run.get_task_instances()},
    "tries": {ti.task_id: ti.try_number for ti in run.get_task_instances()},
}))
"""


@pytest.fixture(scope="module")
def airflow_env(pg_home):
    """Airflow configured on the embedded server, a seeded source, an empty warehouse."""
    from headwater import airflow_local
    from headwater.generators import marketplace

    status = db.start()
    source_db, warehouse_db, metadata_db = "dagrun_marketplace", "dagrun_warehouse", "airflow_test"
    db.ensure_databases(status.url(), (source_db, warehouse_db, metadata_db))
    urls = {
        config.source_url_env(DOMAIN): status.url(source_db),
        "HEADWATER_WAREHOUSE_URL": status.url(warehouse_db),
    }
    with pytest.MonkeyPatch.context() as patch:
        for key, value in urls.items():
            patch.setenv(key, value)
        for key in ("HEADWATER_DBT_TARGET", "HEADWATER_MARKETPLACE_AIRBYTE_CONNECTION_ID"):
            patch.delenv(key, raising=False)
        patch.setenv("HEADWATER_DBT_MANIFEST", str(pg_home / "dag_run" / "manifest.json"))
        marketplace.seed(urls[config.source_url_env(DOMAIN)], SCALE)
        env = airflow_local.prepare(home=pg_home / "dag_run" / "airflow", database=metadata_db)
        yield {"env": env, "warehouse_url": urls["HEADWATER_WAREHOUSE_URL"], "dir": pg_home}


def run_dag(airflow_env, dag_id: str, logical: str, conf: dict | None = None) -> dict:
    """dag.test() in a subprocess; the run's state, interval and every task's state."""
    args = [sys.executable, "-c", RUNNER, str(config.project_dir() / "dags"), dag_id, logical]
    if conf is not None:
        args.append(json.dumps(conf))
    proc = subprocess.run(
        args,
        env=airflow_env["env"],
        capture_output=True,
        text=True,
        timeout=RUN_TIMEOUT,
        cwd=str(config.project_dir()),
        check=False,
    )
    log_file = Path(airflow_env["dir"]) / f"{dag_id}-{logical[:13]}.log"
    log_file.write_text(proc.stdout + proc.stderr)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    tail = "\n".join((proc.stdout + proc.stderr).splitlines()[-30:])
    assert lines, f"dag.test printed no result (exit {proc.returncode}):\n{tail}"
    result = json.loads(lines[-1].removeprefix("RESULT "))
    assert "import_errors" not in result, result
    result["log"] = str(log_file)
    return result


def mart_checksums(warehouse_url: str, schema: str) -> dict[str, str]:
    from headwater import publish

    return publish.analytics_checksums(DOMAIN, schema=schema, warehouse_url=warehouse_url)


def failed_tasks(result: dict) -> dict[str, str]:
    return {task: state for task, state in result["tasks"].items() if state != "success"}


@pytest.fixture(scope="module")
def first_run(airflow_env):
    result = run_dag(airflow_env, PIPELINE, LOGICAL)
    url = airflow_env["warehouse_url"]
    return {
        "result": result,
        "analytics": mart_checksums(url, "analytics"),
        "marts": mart_checksums(url, "marts"),
    }


def test_pipeline_runs_end_to_end_and_publishes_marts(airflow_env, first_run):
    from headwater import publish

    result = first_run["result"]
    assert result["state"] == "success", (failed_tasks(result), result["log"])
    assert not failed_tasks(result)
    tasks = set(result["tasks"])
    assert {"extract_load", "raw_gate", "marts_gate", "publish"} <= tasks
    dbt_tasks = {t for t in tasks if t.startswith("dbt.")}
    assert any(t.startswith("dbt.stg_marketplace__orders") for t in dbt_tasks)
    assert any(t.startswith("dbt.fct_orders") for t in dbt_tasks)
    assert any(t.endswith(".test") for t in dbt_tasks), "tests run as their own tasks"
    assert len(dbt_tasks) >= 20, "one task per model, seed and snapshot"
    # Every mart is in analytics, with rows.
    assert set(first_run["analytics"]) == set(publish.marts_of(DOMAIN))
    with psycopg.connect(airflow_env["warehouse_url"]) as conn:
        orders = conn.execute("select count(*) from analytics.fct_orders").fetchone()[0]
        raw = conn.execute("select count(*) from raw_marketplace.orders").fetchone()[0]
        logged = conn.execute(
            "select count(*) from headwater.publish_log where domain = %s", [DOMAIN]
        ).fetchone()[0]
    assert orders > 0 and raw > 0
    assert logged == 1


def test_same_interval_twice_gives_identical_marts(airflow_env, first_run):
    again = run_dag(airflow_env, PIPELINE, LOGICAL)
    assert again["state"] == "success", (failed_tasks(again), again["log"])
    assert again["data_interval"] == first_run["result"]["data_interval"]
    url = airflow_env["warehouse_url"]
    assert mart_checksums(url, "marts") == first_run["marts"]
    assert mart_checksums(url, "analytics") == first_run["analytics"]


def test_a_backfill_twice_runs_the_first_interval_a_third_time_and_changes_nothing(
    airflow_env, first_run
):
    """A backfill of 10:00 and 12:00, twice (as `airflow backfill create` runs it: one run per
    interval, in order). 10:00 already ran twice; the second pass runs it a third time."""
    url = airflow_env["warehouse_url"]
    published_before = publish_count(url)
    first_pass = run_dag(airflow_env, PIPELINE, BACKFILL_NEXT)
    assert first_pass["state"] == "success", (failed_tasks(first_pass), first_pass["log"])
    after_first = {s: mart_checksums(url, s) for s in ("marts", "analytics")}

    third = run_dag(airflow_env, PIPELINE, LOGICAL)
    assert third["state"] == "success", (failed_tasks(third), third["log"])
    assert third["data_interval"] == first_run["result"]["data_interval"]
    assert mart_checksums(url, "marts") == first_run["marts"], "third run of one interval"
    assert mart_checksums(url, "analytics") == first_run["analytics"]
    second_pass = run_dag(airflow_env, PIPELINE, BACKFILL_NEXT)
    assert second_pass["state"] == "success", (failed_tasks(second_pass), second_pass["log"])
    assert second_pass["data_interval"] == first_pass["data_interval"]
    assert {s: mart_checksums(url, s) for s in ("marts", "analytics")} == after_first
    assert publish_count(url) == published_before + 3, "every successful run published once"


def publish_count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute(
            "select count(*) from headwater.publish_log where domain = %s", [DOMAIN]
        ).fetchone()[0]


def test_maintenance_dag_full_refresh_of_one_model(airflow_env, first_run):
    conf = {"full_refresh_model": "fct_orders", "publish": False}
    result = run_dag(airflow_env, MAINTENANCE, "2026-11-20T12:30:00+00:00", conf)
    states = result["tasks"]
    assert states["check_params"] == "success", result["log"]
    assert states["dbt_build"] == "success", result["log"]
    # publish=False: the gate and publish are skipped, analytics untouched.
    assert states["marts_gate"] == "skipped" and states["publish"] == "skipped"
    url = airflow_env["warehouse_url"]
    assert mart_checksums(url, "marts")["fct_orders"] == first_run["marts"]["fct_orders"]
    assert mart_checksums(url, "analytics") == first_run["analytics"]


def test_raw_gate_failure_stops_dbt_and_publish(airflow_env, first_run):
    url = airflow_env["warehouse_url"]
    before = mart_checksums(url, "analytics")
    # A duplicate order id in raw, as a broken loader would leave it.
    with psycopg.connect(url, autocommit=True) as conn:
        planted = conn.execute(
            "insert into raw_marketplace.orders "
            "select (jsonb_populate_record(null::raw_marketplace.orders, "
            "to_jsonb(o) || jsonb_build_object('_airbyte_raw_id', gen_random_uuid()::text))).* "
            "from raw_marketplace.orders o order by id limit 1 returning _airbyte_raw_id"
        ).fetchone()[0]
    try:
        result = run_dag(airflow_env, PIPELINE, FAILED_LOGICAL)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("delete from raw_marketplace.orders where _airbyte_raw_id = %s", [planted])
    states = result["tasks"]
    assert result["state"] == "failed"
    assert states["extract_load"] == "success"
    assert states["raw_gate"] == "failed", result["log"]
    dbt_states = {t: s for t, s in states.items() if t.startswith("dbt.")}
    assert dbt_states and set(dbt_states.values()) <= {"upstream_failed", None}
    assert states["marts_gate"] == "upstream_failed"
    assert states["publish"] == "upstream_failed"
    assert mart_checksums(url, "analytics") == before
    # The alert went out (as a log line: no webhook is configured here).
    log_text = Path(result["log"]).read_text()
    assert "ALERT" in log_text and "marketplace_elt.raw_gate failed" in log_text
    assert "id is unique" in log_text


def test_failed_dbt_test_stops_its_downstream_models_and_publish(airflow_env, first_run):
    url = airflow_env["warehouse_url"]
    before = mart_checksums(url, "analytics")
    # A seller rating out of range in raw: the raw gate does not check ratings, the staging
    # model's accepted_range test does. Everything built on stg_marketplace__users must stop.
    with psycopg.connect(url, autocommit=True) as conn:
        user_id, rating = conn.execute(
            "select id, seller_rating from raw_marketplace.users "
            "where seller_rating is not null order by id limit 1"
        ).fetchone()
        conn.execute("update raw_marketplace.users set seller_rating = 9 where id = %s", [user_id])
    try:
        result = run_dag(airflow_env, PIPELINE, TEST_FAILED_LOGICAL)
    finally:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(
                "update raw_marketplace.users set seller_rating = %s where id = %s",
                [rating, user_id],
            )
    states, tries = result["tasks"], result["tries"]
    assert result["state"] == "failed"
    assert states["raw_gate"] == "success", result["log"]
    failed_test = "dbt.stg_marketplace__users.test"
    assert states["dbt.stg_marketplace__users.run"] == "success", result["log"]
    assert states[failed_test] == "failed", result["log"]
    # A failed test is a data problem: it fails at once instead of retrying.
    assert tries[failed_test] == 1
    # What is built on the model never runs; what is not keeps its result.
    for model in ("int_seller_tiers_current", "int_orders_enriched", "dim_users", "fct_orders"):
        assert states[model_task_id(states, model)] == "upstream_failed", (model, result["log"])
    assert states["dbt.stg_marketplace__orders.test"] == "success"
    assert states["dbt.int_exchange_rates_ranged.test"] == "success"
    assert states["marts_gate"] == "upstream_failed"
    assert states["publish"] == "upstream_failed"
    assert mart_checksums(url, "analytics") == before
    log_text = Path(result["log"]).read_text()
    assert "ALERT" in log_text and f"marketplace_elt.{failed_test} failed" in log_text


def model_task_id(states: dict, model: str) -> str:
    for task_id in (f"dbt.{model}.run", f"dbt.{model}_run"):
        if task_id in states:
            return task_id
    raise AssertionError(f"no task builds {model}: {sorted(states)}")
