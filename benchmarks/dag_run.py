"""How long one run of a domain's pipeline DAG takes with `dag.test()`, task by task.

    .venv/bin/python benchmarks/dag_run.py [--domain marketplace] [--scale 0.2] [--runs 2]

Uses its own HEADWATER_HOME (a temporary directory unless --home is given), seeds the
source at --scale, configures Airflow on the embedded PostgreSQL, then runs the DAG --runs
times for consecutive past hours. Each run happens in a fresh subprocess (as
tests/test_dag_run.py does) and reports its wall time, its state and the time of every task
(`end_date - start_date` from the metadata database). The first run loads everything; later
runs are incremental. `headwater bench dag_run --scale 0.2 --repetitions 2` runs it too.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
log = logging.getLogger(__name__)

RUNNER = r"""
import json, sys, time
from datetime import datetime

from airflow.dag_processing.dagbag import DagBag

dags_folder, dag_id, logical = sys.argv[1], sys.argv[2], sys.argv[3]
started = time.monotonic()
bag = DagBag(dag_folder=dags_folder)
parsed = time.monotonic() - started
run = bag.dags[dag_id].test(logical_date=datetime.fromisoformat(logical))
value = lambda state: getattr(state, "value", state)
tis = run.get_task_instances()
print("RESULT " + json.dumps({
    "state": value(run.state),
    "seconds": round(time.monotonic() - started, 1),
    "parse_seconds": round(parsed, 1),
    "tasks": {
        ti.task_id: {
            "state": value(ti.state),
            "seconds": round((ti.end_date - ti.start_date).total_seconds(), 1)
            if ti.end_date and ti.start_date else None,
        }
        for ti in tis
    },
}))
"""


NAME = "dag_run"
# `make bench`: two consecutive hourly runs at scale 0.2 (400 orders): the first and a later one.
QUICK = {"scale": 0.2, "repetitions": 2}

PARSER = r"""
import json, sys, time

from airflow.dag_processing.dagbag import DagBag

started = time.monotonic()
bag = DagBag(dag_folder=sys.argv[1])
if bag.import_errors:
    sys.exit("import errors: " + json.dumps(bag.import_errors))
print("RESULT " + json.dumps({
    "state": "parsed",
    "seconds": round(time.monotonic() - started, 1),
    "parse_seconds": round(time.monotonic() - started, 1),
    "tasks": {t.task_id: {"state": None, "seconds": None} for t in bag.dags[sys.argv[2]].tasks},
}))
"""


def run(*, scale: float = 0.2, repetitions: int = 2, smoke: bool = False) -> dict:
    """`repetitions` consecutive hourly runs of marketplace_elt at `scale`.

    smoke=True parses the DAG folder in a subprocess, as each run does, and runs no DAG:
    a `dag.test()` of the whole pipeline takes minutes, and tests/test_dag_run.py runs one.
    """
    report = measure(
        domain="marketplace",
        scale=0.01 if smoke else scale,
        runs=1 if smoke else repetitions,
        parse_only=smoke,
    )
    runs = report["runs"]
    seconds = [r["seconds"] for r in runs]
    return {
        "parameters": {
            "domain": "marketplace",
            "scale": report["params"]["scale"],
            "runs": len(runs),
            "parse_only": smoke,
        },
        "results": {
            "first_run_seconds": seconds[0],
            "later_run_seconds": {
                "min": min(seconds[1:]),
                "median": statistics.median(seconds[1:]),
                "max": max(seconds[1:]),
            }
            if len(seconds) > 1
            else None,
            "parse_seconds": statistics.median(r["parse_seconds"] for r in runs),
            "tasks": len(runs[0]["tasks"]),
        },
        "rows": [
            {
                "run": index,
                "logical_date": r["logical_date"],
                "state": r["state"],
                "seconds": r["seconds"],
                "parse_seconds": r["parse_seconds"],
                "tasks": len(r["tasks"]),
            }
            for index, r in enumerate(runs)
        ],
    }


def measure(
    *,
    domain: str = "marketplace",
    scale: float = 0.2,
    runs: int = 2,
    first_hour: str = "2026-11-20T10:00:00+00:00",
    home: str | None = None,
    no_seed: bool = False,
    parse_only: bool = False,
) -> dict:
    """Seed, configure Airflow, run the DAG `runs` times; the report as a dict."""
    params = {
        "domain": domain,
        "scale": scale,
        "runs": runs,
        "first_hour": first_hour,
        "parse_only": parse_only,
    }
    home_dir = Path(home or tempfile.mkdtemp(prefix="headwater-bench-"))
    saved = {k: os.environ.get(k) for k in ("HEADWATER_HOME", *_CLEARED)}
    os.environ["HEADWATER_HOME"] = str(home_dir)
    for key in _CLEARED:
        os.environ.pop(key, None)
    try:
        return _measure(home_dir, params, no_seed=no_seed)
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


_CLEARED = ("HEADWATER_WAREHOUSE_URL", "HEADWATER_DBT_TARGET", "HEADWATER_DBT_MANIFEST")


def _measure(home: Path, params: dict, *, no_seed: bool) -> dict:
    from headwater import airflow_local, config, db
    from headwater.errors import HeadwaterError
    from headwater.generators import marketplace

    domain = params["domain"]
    if domain != "marketplace":
        raise HeadwaterError("dag_run seeds the marketplace source only")
    config.disable_telemetry()
    status = db.start()
    db.ensure_databases(status.url(), (domain, config.WAREHOUSE_DB))
    started = time.monotonic()
    if not no_seed and not params["parse_only"]:
        marketplace.seed(config.source_url(domain), params["scale"])
    seed_seconds = time.monotonic() - started
    started = time.monotonic()
    if params["parse_only"]:
        env = airflow_local.environment(
            airflow_local.write_config(
                home / "airflow", airflow_local.metadata_url("airflow_bench")
            )
        )
        from headwater import orchestration

        orchestration.build_manifest()
    else:
        env = airflow_local.prepare(home=home / "airflow", database="airflow_bench")
    prepare_seconds = time.monotonic() - started

    dag_id = f"{domain}_elt"
    first = datetime.fromisoformat(params["first_hour"])
    runs = []
    for index in range(params["runs"]):
        logical = (first + timedelta(hours=index)).isoformat()
        script = PARSER if params["parse_only"] else RUNNER
        command = [sys.executable, "-c", script, str(ROOT / "dags"), dag_id, logical]
        proc = subprocess.run(
            command, env=env, capture_output=True, text=True, cwd=str(ROOT), check=False
        )
        log_path = home / f"run-{index}.log"
        log_path.write_text(proc.stdout + proc.stderr)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            raise HeadwaterError(f"dag_run: run {index} printed no result; log: {log_path}")
        result = json.loads(lines[-1].removeprefix("RESULT "))
        result["logical_date"] = logical
        runs.append(result)
        tasks = result["tasks"]
        slowest = sorted(((v["seconds"] or 0, k) for k, v in tasks.items()), reverse=True)[:8]
        log.info(
            "run %d (%s): %s in %s s, %d tasks, DagBag parse %s s",
            index,
            logical,
            result["state"],
            result["seconds"],
            len(tasks),
            result["parse_seconds"],
        )
        for seconds, task_id in slowest:
            log.info("    %7.1f s  %s", seconds, task_id)
    return {
        "benchmark": "dag_run",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "params": params,
        "seed_seconds": round(seed_seconds, 1),
        "prepare_seconds": round(prepare_seconds, 1),
        "runs": runs,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domain", default="marketplace")
    parser.add_argument("--scale", type=float, default=0.2)
    parser.add_argument("--runs", type=int, default=2)
    parser.add_argument("--first-hour", default="2026-11-20T10:00:00+00:00")
    parser.add_argument("--home", default=None, help="HEADWATER_HOME (default: a temp dir)")
    parser.add_argument(
        "--no-seed", action="store_true", help="keep the source of an earlier --home run"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    report = measure(
        domain=args.domain,
        scale=args.scale,
        runs=args.runs,
        first_hour=args.first_hour,
        home=args.home,
        no_seed=args.no_seed,
    )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"dag_run-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {path}")
    return 0 if all(r["state"] == "success" for r in report["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
