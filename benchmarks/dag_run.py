"""How long one run of a domain's pipeline DAG takes with `dag.test()`, task by task.

    .venv/bin/python benchmarks/dag_run.py [--domain marketplace] [--scale 0.2] [--runs 2]

Uses its own HEADWATER_HOME (a temporary directory unless --home is given), seeds the
source at --scale, configures Airflow on the embedded PostgreSQL, then runs the DAG --runs
times for consecutive past hours. Each run happens in a fresh subprocess (as
tests/test_dag_run.py does) and reports its wall time, its state and the time of every task
(`end_date - start_date` from the metadata database). The first run loads everything; later
runs are incremental. Results are printed and written as JSON to benchmarks/results/.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

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

    home = Path(args.home or tempfile.mkdtemp(prefix="headwater-bench-"))
    os.environ["HEADWATER_HOME"] = str(home)
    for key in ("HEADWATER_WAREHOUSE_URL", "HEADWATER_DBT_TARGET", "HEADWATER_DBT_MANIFEST"):
        os.environ.pop(key, None)

    from headwater import airflow_local, config, db
    from headwater.generators import marketplace

    config.disable_telemetry()
    status = db.start()
    db.ensure_databases(status.url(), (args.domain, config.WAREHOUSE_DB))
    if args.domain != "marketplace":
        raise SystemExit("this benchmark seeds the marketplace source only")
    started = time.monotonic()
    if not args.no_seed:
        marketplace.seed(config.source_url(args.domain), args.scale)
    seed_seconds = time.monotonic() - started
    started = time.monotonic()
    env = airflow_local.prepare(home=home / "airflow", database="airflow_bench")
    prepare_seconds = time.monotonic() - started

    dag_id = f"{args.domain}_elt"
    first = datetime.fromisoformat(args.first_hour)
    runs = []
    for index in range(args.runs):
        logical = (first + timedelta(hours=index)).isoformat()
        command = [sys.executable, "-c", RUNNER, str(ROOT / "dags"), dag_id, logical]
        proc = subprocess.run(
            command, env=env, capture_output=True, text=True, cwd=str(ROOT), check=False
        )
        (home / f"run-{index}.log").write_text(proc.stdout + proc.stderr)
        lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
        if not lines:
            print(f"run {index} printed no result; log: {home / f'run-{index}.log'}")
            return 1
        result = json.loads(lines[-1].removeprefix("RESULT "))
        result["logical_date"] = logical
        runs.append(result)
        tasks = result["tasks"]
        slowest = sorted(((v["seconds"] or 0, k) for k, v in tasks.items()), reverse=True)[:8]
        print(
            f"run {index} ({logical}): {result['state']} in {result['seconds']} s, "
            f"{len(tasks)} tasks, DagBag parse {result['parse_seconds']} s"
        )
        for seconds, task_id in slowest:
            print(f"    {seconds:7.1f} s  {task_id}")
        dbt_sum = sum(v["seconds"] or 0 for k, v in tasks.items() if k.startswith("dbt."))
        print(f"    {dbt_sum:7.1f} s  sum of the dbt.* tasks")

    report = {
        "benchmark": "dag_run",
        "when": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average": os.getloadavg(),
        },
        "params": vars(args),
        "seed_seconds": round(seed_seconds, 1),
        "prepare_seconds": round(prepare_seconds, 1),
        "runs": runs,
    }
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"dag_run-{datetime.now(UTC):%Y%m%dT%H%M%S}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"written {path}")
    return 0 if all(r["state"] == "success" for r in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
