"""Initial sync throughput: headwater's sync against a bare COPY pipe and against dlt.

The marketplace source at 1M orders (scale 1; its users, products, items, payments, reviews,
tier history and event log too: every stream of airbyte/connections/marketplace.yaml, about
10M rows) is loaded from scratch into an empty schema of one warehouse database by

  headwater  `headwater sync marketplace`: a first load of every stream;
  copy_pipe  `COPY (select * from t) TO STDOUT` → `COPY t FROM STDIN` per table, same tables,
             into plain tables of the source's types without indexes: the practical limit;
  dlt        dlt's `sql_database` source (pyarrow backend by default) into its `postgres`
             destination, installed in its own virtual environment (benchmarks/.venv-dlt,
             made on first use).

Runs are interleaved (the order rotates each repetition) and each run starts from an empty
schema after a CHECKPOINT. Reported: rows/s and MB/s (MB: the size of the tables' COPY text,
the same for every contender) and the throughput ratios headwater / copy_pipe and
headwater / dlt per repetition, min / median / max. Where headwater's time goes: the share
of each run in the COPY, the index builds after the load, ANALYZE and the rest (catalog
work, state), the share of it the Python process was on a CPU, and its COPY alone against
the pipe.
Targets: headwater ≥ 0.8 × copy_pipe; headwater ≥ 1.5 × dlt.
"""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

import psycopg
from psycopg import sql

from benchmarks import _marketplace
from headwater import bench, sync
from headwater.connection import load_connection
from headwater.errors import HeadwaterError

NAME = "sync_throughput"
# `make bench`: 20k orders (208k rows), three interleaved repetitions.
QUICK = {"scale": 0.02, "repetitions": 3}
log = logging.getLogger(__name__)

ORDERS = 1_000_000  # at scale 1
SMOKE_ORDERS = 200
DEFAULT_REPETITIONS = 3
DLT_VERSION = "1.31.0"
DLT_PACKAGES = (f"dlt[postgres,sql_database]=={DLT_VERSION}", "pyarrow", "connectorx")
DLT_BACKEND = "pyarrow"  # the faster of pyarrow and connectorx here (docs/benchmarks.md)
DLT_LOADER_FORMAT = "insert_values"
DLT_CHUNK_SIZE = 100_000
PIPE_SCHEMA = "pipe_marketplace"
DLT_DATASET = "dlt_marketplace"
DLT_VENV = Path(__file__).resolve().parent / ".venv-dlt"
DLT_SCRIPT = Path(__file__).resolve().parent / "_dlt_load.py"


def run(*, scale: float = 1.0, repetitions: int = DEFAULT_REPETITIONS, smoke: bool = False) -> dict:
    orders = SMOKE_ORDERS if smoke else max(SMOKE_ORDERS, round(ORDERS * scale))
    repetitions = 1 if smoke else repetitions
    source_url, seeded = _marketplace.seeded_source(orders)
    warehouse_url = bench.database_url("bench_sync_warehouse")
    connection = load_connection("marketplace").model_copy(
        update={"name": "bench_sync_throughput", "namespace": "bench_raw_marketplace"}
    )
    tables = [stream.name for stream in connection.streams]
    rows_by_table = _row_counts(source_url, tables)
    total_rows = sum(rows_by_table.values())
    python = ensure_dlt_venv()

    def prepare() -> None:
        with psycopg.connect(warehouse_url, autocommit=True) as conn:
            for schema in (
                connection.namespace,
                PIPE_SCHEMA,
                DLT_DATASET,
                f"{DLT_DATASET}_staging",
            ):
                conn.execute(
                    sql.SQL("drop schema if exists {} cascade").format(sql.Identifier(schema))
                )
            if _has_state(conn):
                conn.execute(
                    "delete from headwater.sync_state where connection = %s", [connection.name]
                )
            conn.execute("checkpoint")

    def headwater_run() -> dict[str, Any]:
        prepare()
        cpu_before = _cpu_seconds()
        with bench.timed() as t:
            report = sync.sync(connection, source_url=source_url, warehouse_url=warehouse_url)
        rows = sum(s.rows_read for s in report.streams)
        _check_rows("headwater", rows, total_rows)
        phases = {name: 0.0 for name in PHASES}
        for stream in report.streams:
            for name, seconds in stream.phases.items():
                phases[name] += seconds
        phases["other"] = t.seconds - sum(phases.values())
        return {
            "seconds": t.seconds,
            "rows": rows,
            "phases": phases,
            "python_cpu": _cpu_seconds() - cpu_before,
        }

    def pipe_run() -> dict[str, Any]:
        prepare()
        return copy_pipe(source_url, warehouse_url, tables, total_rows)

    def dlt_run() -> dict[str, Any]:
        prepare()
        out = dlt_load(python, source_url, warehouse_url, tables)
        _check_rows("dlt", sum(out["rows"].values()), total_rows)
        return out

    runs = bench.interleave(
        {"headwater": headwater_run, "copy_pipe": pipe_run, "dlt": dlt_run}, repetitions
    )
    prepare()
    copy_bytes = runs["copy_pipe"][0]["bytes"]
    mb = copy_bytes / 1e6
    seconds = {name: [r["seconds"] for r in results] for name, results in runs.items()}
    rows_per_s = {name: [total_rows / s for s in values] for name, values in seconds.items()}
    vs_pipe = bench.ratio_spread(rows_per_s["headwater"], rows_per_s["copy_pipe"])
    vs_dlt = bench.ratio_spread(rows_per_s["headwater"], rows_per_s["dlt"])
    # Where headwater's time goes, as shares of its run, and its COPY alone against the pipe.
    shares = {
        f"headwater_{name}_share": bench.spread(
            [r["phases"][name] / r["seconds"] for r in runs["headwater"]]
        )
        for name in (*PHASES, "other")
    }
    shares["headwater_python_cpu_share"] = bench.spread(
        [r["python_cpu"] / r["seconds"] for r in runs["headwater"]]
    )
    copy_vs_pipe = bench.ratio_spread(
        seconds["copy_pipe"], [r["phases"]["copy"] for r in runs["headwater"]]
    )
    table = []
    for name in ("headwater", "copy_pipe", "dlt"):
        table.append(
            {
                "contender": name,
                "rows": total_rows,
                "MB": round(mb, 1),
                "seconds": bench.spread(seconds[name], 2),
                "rows/s": bench.spread(rows_per_s[name], 0),
                "MB/s": bench.spread([mb / s for s in seconds[name]], 1),
                "headwater ×": None
                if name == "headwater"
                else bench.ratio_spread(rows_per_s["headwater"], rows_per_s[name]),
            }
        )
    return {
        "parameters": {
            "orders": orders,
            "scale": scale,
            "repetitions": repetitions,
            "smoke": smoke,
            "source": seeded,
            "rows_by_table": rows_by_table,
            "copy_text_bytes": copy_bytes,
            "streams": tables,
            "dlt": {
                "version": DLT_VERSION,
                "backend": DLT_BACKEND,
                "loader_file_format": DLT_LOADER_FORMAT,
                "chunk_size": DLT_CHUNK_SIZE,
                "write_disposition": "replace",
            },
            "order": "interleaved, rotated each repetition; CHECKPOINT and empty schemas before each run",
        },
        "results": {
            "rows": total_rows,
            "headwater_rows_per_s": bench.spread(rows_per_s["headwater"], 0),
            "copy_pipe_rows_per_s": bench.spread(rows_per_s["copy_pipe"], 0),
            "dlt_rows_per_s": bench.spread(rows_per_s["dlt"], 0),
            "headwater_mb_per_s": bench.spread([mb / s for s in seconds["headwater"]], 1),
            "headwater_vs_copy_pipe": vs_pipe,
            "headwater_vs_dlt": vs_dlt,
            "headwater_copy_alone_vs_copy_pipe": copy_vs_pipe,
            **shares,
        },
        "rows": table,
        "targets": {
            "headwater_vs_copy_pipe": {
                "target": ">= 0.8",
                "met": vs_pipe["median"] >= 0.8,
                "detail": f"median {vs_pipe['median']:.2f}",
            },
            "headwater_vs_dlt": {
                "target": ">= 1.5",
                "met": vs_dlt["median"] >= 1.5,
                "detail": f"median {vs_dlt['median']:.2f}",
            },
        },
    }


# The phases a stream's sync reports (headwater.sync.StreamResult.phases).
PHASES = ("copy", "indexes", "analyze")


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _has_state(conn: psycopg.Connection) -> bool:
    return conn.execute("select to_regclass('headwater.sync_state') is not null").fetchone()[0]


def _check_rows(who: str, rows: int, expected: int) -> None:
    if rows != expected:
        raise HeadwaterError(f"{who} moved {rows:,} rows, the source has {expected:,}")


def _row_counts(source_url: str, tables: list[str]) -> dict[str, int]:
    with psycopg.connect(source_url) as conn:
        return {
            t: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(t))
            ).fetchone()[0]
            for t in tables
        }


def copy_pipe(source_url: str, warehouse_url: str, tables: list[str], expected_rows: int) -> dict:
    """Each table through one COPY pipe, into a plain table of the same column types."""
    nbytes = 0
    with (
        psycopg.connect(source_url, autocommit=True) as source,
        psycopg.connect(warehouse_url, autocommit=True) as warehouse,
        bench.timed() as t,
    ):
        warehouse.execute(sql.SQL("create schema {}").format(sql.Identifier(PIPE_SCHEMA)))
        source.execute("begin isolation level repeatable read read only")
        rows = 0
        for table in tables:
            columns = source.execute(
                """
                select a.attname, format_type(a.atttypid, a.atttypmod)
                from pg_attribute as a
                where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
                order by a.attnum
                """,
                [table],
            ).fetchall()
            target = sql.Identifier(PIPE_SCHEMA, table)
            warehouse.execute(
                sql.SQL("create table {} ({})").format(
                    target,
                    sql.SQL(", ").join(
                        sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns
                    ),
                )
            )
            with (
                source.cursor().copy(
                    sql.SQL("copy {} to stdout").format(sql.Identifier(table))
                ) as copy_out,
                warehouse.cursor() as cur,
            ):
                with cur.copy(sql.SQL("copy {} from stdin").format(target)) as copy_in:
                    for chunk in copy_out:
                        nbytes += len(chunk)
                        copy_in.write(chunk)
                rows += cur.rowcount
        source.execute("rollback")
    _check_rows("copy_pipe", rows, expected_rows)
    return {"seconds": t.seconds, "rows": rows, "bytes": nbytes}


# --- dlt, in its own virtual environment --------------------------------------------------------


def ensure_dlt_venv() -> Path:
    """benchmarks/.venv-dlt with dlt, made on first use (python -m venv, then from PyPI)."""
    python = DLT_VENV / "bin" / "python"
    stamp = DLT_VENV / ".installed"
    wanted = " ".join(DLT_PACKAGES)
    if python.exists() and stamp.exists() and stamp.read_text().strip() == wanted:
        return python
    log.info("creating %s with %s", DLT_VENV, wanted)
    shutil.rmtree(DLT_VENV, ignore_errors=True)
    _run([sys.executable, "-m", "venv", str(DLT_VENV)], "create the dlt virtual environment")
    uv = Path(sys.executable).parent / "uv"
    if uv.exists():  # the project's own installer, when the main venv has it: much faster
        command = [str(uv), "pip", "install", "--quiet", "--python", str(python), *DLT_PACKAGES]
    else:
        command = [str(python), "-m", "pip", "install", "--quiet", *DLT_PACKAGES]
    _run(command, "install dlt into benchmarks/.venv-dlt")
    stamp.write_text(wanted + "\n")
    return python


def _run(command: list[str], what: str) -> None:
    proc = subprocess.run(command, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise HeadwaterError(f"could not {what}: {last[0]}")


def _server(url: str) -> dict[str, Any]:
    parts = urlsplit(url)
    query = parse_qs(parts.query)
    return {
        "host": parts.hostname or query.get("host", [""])[0],
        "port": parts.port or int(query.get("port", ["5432"])[0]),
        "user": unquote(parts.username) if parts.username else query.get("user", ["postgres"])[0],
        "password": unquote(parts.password) if parts.password else "",
        "database": unquote(parts.path.lstrip("/")),
    }


def dlt_load(python: Path, source_url: str, warehouse_url: str, tables: list[str]) -> dict:
    """One dlt load in a subprocess; its own clock excludes interpreter start-up and imports."""
    workdir = Path(tempfile.mkdtemp(prefix="headwater-dlt-"))
    args = {
        "source": _server(source_url),
        "warehouse": _server(warehouse_url),
        "dataset": DLT_DATASET,
        "tables": tables,
        "backend": DLT_BACKEND,
        "chunk_size": DLT_CHUNK_SIZE,
        "loader_file_format": DLT_LOADER_FORMAT,
        "pipelines_dir": str(workdir / "pipelines"),
    }
    env = {**os.environ, "RUNTIME__LOG_LEVEL": "WARNING", "DLT_DATA_DIR": str(workdir)}
    try:
        proc = subprocess.run(
            [str(python), str(DLT_SCRIPT), json.dumps(args)],
            capture_output=True,
            text=True,
            cwd=workdir,
            env=env,
            check=False,
        )
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if proc.returncode != 0 or not lines:
        errors = [line for line in proc.stderr.splitlines() if "Error" in line or "error" in line]
        raise HeadwaterError(f"dlt load failed: {(errors or ['no output'])[-1][:300]}")
    return json.loads(lines[-1])
