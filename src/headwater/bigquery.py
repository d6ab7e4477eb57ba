"""A local BigQuery: the `bqemulator` process, a client for it, and a copy of the raw layer.

Production runs the dbt models on BigQuery; locally the warehouse is PostgreSQL. To find
BigQuery-only failures (SQL dialect, types, `merge` incrementals) before production does,
this module runs `bqemulator` (BigQuery's REST API on DuckDB) as a background process,
copies a warehouse raw schema into it with the column types Airbyte's BigQuery destination
would have created, and gives dbt the profile fields to reach it.

The emulator is in-memory (`--ephemeral`): stopping it drops every dataset. Its pid, ports
and log live under `<home>/bqemulator/`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import psycopg
from psycopg import sql

from headwater import config, db
from headwater.errors import HeadwaterError

if TYPE_CHECKING:  # the BigQuery client is part of the `stack` extra, imported when used
    from google.cloud import bigquery as bq

log = logging.getLogger(__name__)

PROJECT = "local"
LOCATION = "US"
HOST = "127.0.0.1"
DEFAULT_REST_PORT = 9050
DEFAULT_GRPC_PORT = 9060
READY_TIMEOUT_S = 30.0
STOP_TIMEOUT_S = 10.0
# The emulator accepts any bearer token. This one only satisfies clients (dbt's
# `oauth-secrets` method) that insist on sending one; it is not a secret.
STATIC_TOKEN = "headwater-local-emulator"
# One load job per this many bytes of newline-delimited JSON: few API calls for small
# tables, bounded temporary files for large ones.
LOAD_CHUNK_BYTES = 64 * 1024 * 1024

_SPATIAL_DIST = "duckdb-extension-spatial"
# Emulators this process started: stopping one reaps it (no zombie), and holding the handle
# keeps Popen from warning, while this process lives, about a child that still runs.
_started: dict[int, subprocess.Popen] = {}


# --- the emulator process ---------------------------------------------------------------------


def emulator_dir() -> Path:
    return config.home() / "bqemulator"


def log_file() -> Path:
    return emulator_dir() / "emulator.log"


def state_file() -> Path:
    return emulator_dir() / "emulator.json"


@dataclass(frozen=True)
class EmulatorStatus:
    running: bool
    pid: int | None
    rest_port: int | None
    grpc_port: int | None
    project: str
    log_file: Path

    @property
    def api_endpoint(self) -> str:
        """The REST endpoint clients use instead of https://bigquery.googleapis.com."""
        return f"http://{HOST}:{self.rest_port}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "running": self.running,
            "pid": self.pid,
            "rest_port": self.rest_port,
            "grpc_port": self.grpc_port,
            "project": self.project,
            "api_endpoint": self.api_endpoint if self.running else None,
            "log_file": str(self.log_file),
        }


def _binary() -> Path:
    # The emulator must run on the same interpreter and DuckDB as this package.
    path = Path(sys.executable).parent / "bqemulator"
    if not path.is_file():
        raise HeadwaterError(
            f"bqemulator is not installed next to {sys.executable}; "
            "install the stack extra (pip install 'headwater[stack]')"
        )
    return path


def _spatial_extension_file() -> Path:
    try:
        dist = importlib.metadata.distribution(_SPATIAL_DIST)
    except importlib.metadata.PackageNotFoundError:
        raise HeadwaterError(
            f"{_SPATIAL_DIST} is not installed; the BigQuery emulator needs DuckDB's spatial "
            "extension from it (pip install 'headwater[stack]')"
        ) from None
    for file in dist.files or ():
        if file.name.endswith(".duckdb_extension"):
            return Path(str(dist.locate_file(file)))
    raise HeadwaterError(f"no .duckdb_extension file in the {_SPATIAL_DIST} package")


def ensure_spatial_extension() -> None:
    """Install DuckDB's spatial extension from its wheel, once.

    bqemulator refuses to start without it and otherwise asks DuckDB to download it,
    which fails where only package registries are reachable.
    """
    import duckdb

    with contextlib.closing(duckdb.connect()) as con:
        row = con.execute(
            "select installed from duckdb_extensions() where extension_name = 'spatial'"
        ).fetchone()
        if row and row[0]:
            return
        path = _spatial_extension_file()
        log.info("installing DuckDB's spatial extension from %s", path)
        quoted = str(path).replace("'", "''")
        try:
            con.execute(f"INSTALL '{quoted}'")
        except duckdb.Error as exc:
            raise HeadwaterError(
                f"cannot install DuckDB's spatial extension from {path}: {exc}"
            ) from None


def _is_emulator(pid: int) -> bool:
    import psutil

    try:
        proc = psutil.Process(pid)
        if proc.status() == psutil.STATUS_ZOMBIE:
            return False
        cmdline = proc.cmdline()
    except psutil.Error:
        return False
    return any(Path(part).name == "bqemulator" for part in cmdline) and "start" in cmdline


def _read_state() -> dict[str, Any] | None:
    try:
        state = json.loads(state_file().read_text())
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) and isinstance(state.get("pid"), int) else None


def _write_state(state: dict[str, Any]) -> None:
    tmp = state_file().with_suffix(".tmp")
    tmp.write_text(json.dumps(state, indent=2) + "\n")
    tmp.replace(state_file())


def emulator_status() -> EmulatorStatus:
    state = _read_state()
    if state is None or not _is_emulator(state["pid"]):
        project = state.get("project", PROJECT) if state else PROJECT
        return EmulatorStatus(False, None, None, None, project, log_file())
    return EmulatorStatus(
        True,
        state["pid"],
        state.get("rest_port"),
        state.get("grpc_port"),
        state.get("project", PROJECT),
        log_file(),
    )


def _port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # The emulator's servers set SO_REUSEADDR too, so TIME_WAIT leftovers do not count.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _any_free_port(avoid: set[int]) -> int:
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.bind((HOST, 0))
            port = sock.getsockname()[1]
        if port not in avoid:
            return port


def _choose_port(requested: int | None, default: int, what: str, avoid: set[int]) -> int:
    if requested is not None:
        if requested in avoid or not _port_is_free(requested):
            raise HeadwaterError(
                f"cannot start the BigQuery emulator: {what} port {requested} on {HOST} is in use"
            )
        return requested
    if default not in avoid and _port_is_free(default):
        return default
    return _any_free_port(avoid)


def start_emulator(
    *,
    project: str = PROJECT,
    rest_port: int | None = None,
    grpc_port: int | None = None,
    timeout: float = READY_TIMEOUT_S,
) -> EmulatorStatus:
    """Start the emulator in the background unless it runs already. Idempotent.

    Without ports it takes REST 9050 and gRPC 9060 when they are free, else free ports.
    Returns once the REST API answers, so callers can use it straight away.
    """
    current = emulator_status()
    if current.running:
        _check_matches(current, project, rest_port, grpc_port)
        return current

    binary = _binary()
    ensure_spatial_extension()
    rest = _choose_port(rest_port, DEFAULT_REST_PORT, "REST", set())
    grpc = _choose_port(grpc_port, DEFAULT_GRPC_PORT, "gRPC", {rest})

    directory = emulator_dir()
    (directory / "uploads").mkdir(parents=True, exist_ok=True)
    command = [
        str(binary),
        "start",
        "--rest-host",
        HOST,
        "--rest-port",
        str(rest),
        "--grpc-host",
        HOST,
        "--grpc-port",
        str(grpc),
        "--project",
        project,
        "--ephemeral",
        "--log-level",
        "info",
    ]
    env = os.environ.copy()
    # Load-job uploads are staged as files; keep them with the rest of the emulator's state.
    env["BQEMU_UPLOAD_STAGING_DIR"] = str(directory / "uploads")
    with log_file().open("wb") as log_fh:
        # A new session: the emulator outlives this process and ignores its terminal's ^C.
        # The working directory is ours so no stray .bqemu.toml changes its settings.
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=log_fh,
            stderr=subprocess.STDOUT,
            cwd=directory,
            env=env,
            start_new_session=True,
        )
    _started[proc.pid] = proc
    _write_state(
        {
            "pid": proc.pid,
            "rest_port": rest,
            "grpc_port": grpc,
            "project": project,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "log_file": str(log_file()),
        }
    )
    try:
        _wait_ready(proc, f"http://{HOST}:{rest}", timeout)
    except BaseException:
        _terminate(proc.pid)
        state_file().unlink(missing_ok=True)
        raise
    log.info("BigQuery emulator running (pid %s) on %s:%s", proc.pid, HOST, rest)
    return emulator_status()


def _check_matches(
    current: EmulatorStatus, project: str, rest_port: int | None, grpc_port: int | None
) -> None:
    wanted = {"project": project, "REST port": rest_port, "gRPC port": grpc_port}
    actual = {
        "project": current.project,
        "REST port": current.rest_port,
        "gRPC port": current.grpc_port,
    }
    for what, value in wanted.items():
        if value is not None and value != actual[what]:
            raise HeadwaterError(
                f"the BigQuery emulator already runs (pid {current.pid}) with {what} "
                f"{actual[what]}; stop it first to use {value}"
            )


def _wait_ready(proc: subprocess.Popen, endpoint: str, timeout: float) -> None:
    # Straight to 127.0.0.1: a proxy from the environment must not answer for the emulator.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        code = proc.poll()
        if code is not None:
            raise HeadwaterError(
                f"bqemulator exited with code {code} while starting; see {log_file()}"
            )
        try:
            with opener.open(f"{endpoint}/readyz", timeout=2) as response:
                if response.status == 200:
                    return
        except (urllib.error.URLError, OSError):
            pass
        time.sleep(0.1)
    raise HeadwaterError(
        f"the BigQuery emulator did not become ready within {timeout:g} s; see {log_file()}"
    )


def _terminate(pid: int, timeout: float = STOP_TIMEOUT_S) -> None:
    import psutil

    try:
        proc = psutil.Process(pid)
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout)
        except psutil.TimeoutExpired:
            log.warning("bqemulator (pid %s) ignored SIGTERM for %g s; killing it", pid, timeout)
            proc.kill()
            proc.wait(5)
    except psutil.NoSuchProcess:
        pass
    child = _started.pop(pid, None)
    if child is not None:
        with contextlib.suppress(subprocess.TimeoutExpired):
            child.wait(timeout=1)


def stop_emulator() -> bool:
    """Stop the emulator; its in-memory data goes with it. False when it was not running."""
    current = emulator_status()
    if current.running and current.pid is not None:
        _terminate(current.pid)
    state_file().unlink(missing_ok=True)
    return current.running


def _running(status: EmulatorStatus | None) -> EmulatorStatus:
    status = status if status is not None else emulator_status()
    if not status.running:
        raise HeadwaterError("the BigQuery emulator is not running; start it first")
    return status


# --- clients ------------------------------------------------------------------------------------


def client(status: EmulatorStatus | None = None) -> bq.Client:
    """A google-cloud-bigquery client talking to the emulator (no Google credentials)."""
    from google.api_core.client_options import ClientOptions
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import bigquery

    status = _running(status)
    return bigquery.Client(
        project=status.project,
        credentials=AnonymousCredentials(),
        client_options=ClientOptions(api_endpoint=status.api_endpoint),
        location=LOCATION,
    )


def emulator_env(status: EmulatorStatus | None = None) -> dict[str, str]:
    """Environment variables the `bigquery_emulator` target in profiles.yml reads."""
    status = _running(status)
    return {
        "HEADWATER_BQ_API_ENDPOINT": status.api_endpoint,
        "HEADWATER_BQ_PROJECT": status.project,
    }


def dbt_profile_target(
    status: EmulatorStatus | None, dataset: str, *, threads: int = 4
) -> dict[str, Any]:
    """The fields of a dbt-bigquery output that runs against the emulator."""
    if not 1 <= threads <= 4:
        raise HeadwaterError(f"threads must be between 1 and 4 for the emulator, not {threads}")
    status = _running(status)
    return {
        "type": "bigquery",
        # `oauth-secrets` with a static token needs no Google credentials at all.
        "method": "oauth-secrets",
        "token": STATIC_TOKEN,
        "project": status.project,
        "dataset": dataset,
        "api_endpoint": status.api_endpoint,
        "location": LOCATION,
        "threads": threads,
        "job_retries": 0,
        "priority": "interactive",
    }


# --- the raw layer, from the warehouse to the emulator ---------------------------------------

# PostgreSQL type (information_schema.columns.data_type) -> what Airbyte's BigQuery destination
# (Destinations V2) creates for it. Airbyte types every JSON-schema number as NUMERIC, every
# array and object as JSON, and timestamps by whether they carry a zone.
_PG_TO_BIGQUERY = {
    "smallint": "INT64",
    "integer": "INT64",
    "bigint": "INT64",
    "numeric": "NUMERIC",
    "real": "NUMERIC",
    "double precision": "NUMERIC",
    "boolean": "BOOL",
    "text": "STRING",
    "character varying": "STRING",
    "character": "STRING",
    "uuid": "STRING",
    "timestamp with time zone": "TIMESTAMP",
    "timestamp without time zone": "DATETIME",
    "date": "DATE",
    "time without time zone": "TIME",
    "time with time zone": "STRING",
    "json": "JSON",
    "jsonb": "JSON",
    "ARRAY": "JSON",
}
_AIRBYTE_COLUMNS = {"_airbyte_meta": "JSON", "_airbyte_generation_id": "INT64"}
# BigQuery's REST API names some types the legacy way and reports them so in tables.get;
# creating tables with these names keeps the emulator's catalog the same.
_REST_TYPE_NAMES = {"INT64": "INTEGER", "BOOL": "BOOLEAN", "FLOAT64": "FLOAT"}
# BigQuery NUMERIC keeps 9 decimal places; more needs BIGNUMERIC.
_NUMERIC_MAX_SCALE = 9
# Types whose to_json() output is already what a BigQuery JSON load expects.
_AS_IS = {
    "STRING": {"text", "character varying", "character", "uuid"},
    "INT64": {"smallint", "integer", "bigint"},
    "BOOL": {"boolean"},
    "TIMESTAMP": {"timestamp with time zone"},
    "DATETIME": {"timestamp without time zone"},
    "DATE": {"date"},
    "TIME": {"time without time zone"},
    "JSON": {"jsonb"},
}


def bigquery_type(column: str, data_type: str, numeric_scale: int | None = None) -> str:
    """The BigQuery type Airbyte's destination gives a PostgreSQL column of the raw layer."""
    if column in _AIRBYTE_COLUMNS:
        return _AIRBYTE_COLUMNS[column]
    if data_type == "numeric" and numeric_scale is not None and numeric_scale > _NUMERIC_MAX_SCALE:
        return "BIGNUMERIC"
    return _PG_TO_BIGQUERY.get(data_type, "STRING")


@dataclass(frozen=True)
class _Column:
    name: str
    data_type: str
    bq_type: str  # as production BigQuery would type it
    load_type: str  # as the emulator stores it

    def select_expr(self) -> sql.Composable:
        """The column as to_json() must see it to write a value BigQuery's JSON loader takes."""
        ident = sql.Identifier(self.name)
        if self.data_type in _AS_IS.get(self.load_type, ()):
            return ident
        if self.load_type in ("NUMERIC", "BIGNUMERIC") or self.bq_type == "BIGNUMERIC":
            # As text, so no digit goes through a binary float on the way.
            return sql.SQL("{}::numeric::text").format(ident)
        if self.load_type == "JSON":
            if self.data_type == "ARRAY":
                return sql.SQL("to_jsonb({})").format(ident)
            return sql.SQL("{}::jsonb").format(ident)  # also normalises json's whitespace
        if self.load_type == "INT64":
            return sql.SQL("{}::bigint").format(ident)
        if self.data_type == "bytea":
            return sql.SQL("translate(encode({}, 'base64'), E'\\n', '')").format(ident)
        return sql.SQL("{}::text").format(ident)


def _load_type(schema: str, table: str, column: str, bq_type: str) -> str:
    if bq_type != "BIGNUMERIC":
        return bq_type
    # bqemulator 1.4 maps BIGNUMERIC to DuckDB DECIMAL(76, 38), which DuckDB (max width 38)
    # rejects, and its DDL path turns BIGNUMERIC into NUMERIC, rounding to 9 places. The exact
    # decimal text is the faithful choice left; queries that need arithmetic must cast.
    log.warning(
        "%s.%s.%s would be BIGNUMERIC in BigQuery; the emulator cannot store BIGNUMERIC, "
        "so it holds the exact value as STRING",
        schema,
        table,
        column,
    )
    return "STRING"


def _raw_tables(conn: psycopg.Connection, schema: str) -> dict[str, list[_Column]]:
    rows = conn.execute(
        """
        select c.table_name, c.column_name, c.data_type, c.numeric_scale
        from information_schema.columns as c
        inner join information_schema.tables as t
            on t.table_schema = c.table_schema and t.table_name = c.table_name
        where c.table_schema = %s and t.table_type = 'BASE TABLE'
        order by c.table_name, c.ordinal_position
        """,
        (schema,),
    ).fetchall()
    tables: dict[str, list[_Column]] = {}
    for table, name, data_type, scale in rows:
        bq_type = bigquery_type(name, data_type, scale)
        load_type = _load_type(schema, table, name, bq_type)
        tables.setdefault(table, []).append(_Column(name, data_type, bq_type, load_type))
    return tables


def load_raw_from_warehouse(
    warehouse_url: str,
    schema: str = "raw_marketplace",
    *,
    dataset: str | None = None,
    status: EmulatorStatus | None = None,
) -> dict[str, int]:
    """Copy every table of a warehouse schema into an emulator dataset; rows per table.

    Each base table is replaced (dropped, recreated with Airbyte's BigQuery types, loaded
    with newline-delimited JSON load jobs) and its row count checked against the warehouse;
    tables only the dataset has are left alone. All tables are read from one snapshot, so
    the copy is consistent even while a sync writes to the warehouse.
    """
    from google.cloud import bigquery

    status = _running(status)
    dataset = dataset or schema
    bq_client = client(status)
    target = bigquery.Dataset(f"{status.project}.{dataset}")
    target.location = LOCATION
    _bq_call(lambda: bq_client.create_dataset(target, exists_ok=True), f"create dataset {dataset}")

    counts: dict[str, int] = {}
    with db.connect(warehouse_url, what="warehouse") as conn:
        conn.isolation_level = psycopg.IsolationLevel.REPEATABLE_READ
        conn.read_only = True
        # to_json() writes timestamptz in the session's zone; BigQuery TIMESTAMP is UTC.
        conn.execute("set timezone to 'UTC'")
        tables = _raw_tables(conn, schema)
        if not tables:
            raise HeadwaterError(
                f"the warehouse ({db.describe(warehouse_url)}) has no tables in schema {schema}"
            )
        for table, columns in tables.items():
            counts[table] = _copy_table(conn, bq_client, schema, table, columns, dataset)
            log.info("copied %s.%s to the emulator: %d rows", schema, table, counts[table])
    return counts


def _copy_table(
    conn: psycopg.Connection,
    bq_client: bq.Client,
    schema: str,
    table: str,
    columns: list[_Column],
    dataset: str,
) -> int:
    from google.cloud import bigquery

    ref = f"{bq_client.project}.{dataset}.{table}"
    fields = [
        bigquery.SchemaField(c.name, _REST_TYPE_NAMES.get(c.load_type, c.load_type))
        for c in columns
    ]
    _bq_call(lambda: bq_client.delete_table(ref, not_found_ok=True), f"drop {ref}")
    _bq_call(lambda: bq_client.create_table(bigquery.Table(ref, schema=fields)), f"create {ref}")

    query = sql.SQL(
        "copy (select to_json(t)::text from (select {columns} from {table}) as t) to stdout"
    ).format(
        columns=sql.SQL(", ").join(
            sql.SQL("{} as {}").format(c.select_expr(), sql.Identifier(c.name)) for c in columns
        ),
        table=sql.Identifier(schema, table),
    )
    read = 0
    with tempfile.TemporaryFile() as chunk:
        for line in _copy_lines(conn, query):
            chunk.write(line)
            read += 1
            if chunk.tell() >= LOAD_CHUNK_BYTES:
                _load_chunk(bq_client, chunk, ref, fields)
        if chunk.tell():
            _load_chunk(bq_client, chunk, ref, fields)

    held = _count_rows(bq_client, ref)
    if held != read:
        raise HeadwaterError(
            f"{ref}: read {read} rows from {schema}.{table} but the emulator holds {held}"
        )
    return read


def _copy_lines(conn: psycopg.Connection, query: sql.Composable) -> Iterator[bytes]:
    with conn.cursor() as cur, cur.copy(query) as copy:
        for (text,) in copy.rows():
            yield text.encode() + b"\n"


def _load_chunk(
    bq_client: bq.Client, chunk: IO[bytes], ref: str, fields: list[bq.SchemaField]
) -> None:
    from google.cloud import bigquery

    job_config = bigquery.LoadJobConfig(
        schema=fields,
        source_format=bigquery.SourceFormat.NEWLINE_DELIMITED_JSON,
        write_disposition=bigquery.WriteDisposition.WRITE_APPEND,
        create_disposition=bigquery.CreateDisposition.CREATE_NEVER,
    )
    chunk.seek(0)

    def load() -> None:
        bq_client.load_table_from_file(chunk, ref, job_config=job_config).result()

    _bq_call(load, f"load {ref}")
    chunk.seek(0)
    chunk.truncate()


def _count_rows(bq_client: bq.Client, ref: str) -> int:
    query = f"select count(*) from `{ref}`"  # noqa: S608 - ref is built from catalog names
    rows = _bq_call(lambda: list(bq_client.query(query).result()), f"count rows of {ref}")
    return int(rows[0][0])


def _bq_call(call, what: str):
    """Run one client call; its failure becomes one line naming what was being done."""
    import requests
    from google.api_core import exceptions

    try:
        return call()
    except exceptions.GoogleAPIError as exc:
        reason = " ".join(str(getattr(exc, "message", None) or exc).split())
        raise HeadwaterError(f"BigQuery emulator: cannot {what}: {reason}") from None
    except requests.RequestException as exc:
        reason = " ".join(str(exc).split())
        raise HeadwaterError(f"BigQuery emulator: cannot {what}: unreachable ({reason})") from None
