"""Airflow 3 on this machine: api-server, scheduler, dag-processor and triggerer.

Everything lives under `<home>/airflow` (HEADWATER_HOME, default .headwater): the generated
`airflow.cfg`, logs, pid files and the simple auth manager's password file. The metadata
database is a database `airflow` on the embedded PostgreSQL, the DAGs are the repository's
`dags/` folder, and the UI signs in with one admin user whose password is generated once.

    start(unpause=False)   start what is not running, wait until healthy, print URL + login
    stop()                 stop the components this module started
    status()               what runs, where

Usage-data collection (Airflow's and cosmos's) is off. `env.sh` next to the configuration
sets the variables the `airflow` command needs, for backfills and other CLI work:

    source .headwater/airflow/env.sh && airflow backfill create --dag-id ...
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from headwater import config, db
from headwater.errors import HeadwaterError

log = logging.getLogger(__name__)

COMPONENTS = ("api-server", "scheduler", "dag-processor", "triggerer")
DATABASE = "airflow"
ADMIN_USER = "admin"
DEFAULT_PORT = 8080
PORT_ENV = "HEADWATER_AIRFLOW_PORT"
HOST_ENV = "HEADWATER_AIRFLOW_HOST"
START_TIMEOUT = 240.0

# Airflow's own switches, plus the variables cosmos and its dependencies read.
TELEMETRY_OFF = {
    **config.TELEMETRY_OFF,
    "SCARF_NO_ANALYTICS": "true",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
}


@dataclass
class AirflowInfo:
    url: str
    username: str
    password: str
    home: Path
    pids: dict[str, int] = field(default_factory=dict)
    unpaused: list[str] = field(default_factory=list)


# --- configuration ------------------------------------------------------------------------------


def airflow_home() -> Path:
    return config.home() / "airflow"


def dags_folder() -> Path:
    return config.project_dir() / "dags"


def metadata_url(database: str = DATABASE) -> str:
    """SQLAlchemy URL of `database` on the embedded server (started and created if needed)."""
    status = db.start()
    db.ensure_databases(status.url(), (database,))
    return f"postgresql+psycopg2://postgres@/{database}?host={status.socket_dir}&port={status.port}"


def _secrets(home: Path) -> dict[str, str]:
    """Keys generated once per Airflow home and kept in a file only the owner can read."""
    path = home / "secrets.json"
    values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}
    changed = False
    for key, make in (
        ("fernet_key", _fernet_key),
        ("jwt_secret", lambda: secrets.token_urlsafe(48)),
        ("secret_key", lambda: secrets.token_urlsafe(32)),
    ):
        if not values.get(key):
            values[key] = make()
            changed = True
    if changed:
        _write_private(path, json.dumps(values, indent=2) + "\n")
    return values


def _passwords_file(home: Path) -> Path:
    return home / "simple_auth_manager_passwords.json"


def admin_password(home: Path | None = None) -> str:
    """The UI password of the admin user, generated on first use.

    The simple auth manager reads this file and only generates passwords for users it lacks.
    """
    path = _passwords_file(home or airflow_home())
    users: dict[str, str] = json.loads(path.read_text() or "{}") if path.exists() else {}
    if not users.get(ADMIN_USER):
        users[ADMIN_USER] = secrets.token_urlsafe(12)
        _write_private(path, json.dumps(users) + "\n")
    return users[ADMIN_USER]


def _fernet_key() -> str:
    from cryptography.fernet import Fernet

    return Fernet.generate_key().decode()


def _write_private(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(text)
    os.chmod(path, 0o600)


def write_config(
    home: Path,
    sql_alchemy_conn: str,
    *,
    port: int = DEFAULT_PORT,
    host: str = "127.0.0.1",
    dags: Path | None = None,
) -> dict[str, str]:
    """Write `<home>/airflow.cfg` and `<home>/env.sh`; return the environment for `airflow`.

    The file is generated: it is rewritten on every start, so change settings here (or with
    AIRFLOW__SECTION__KEY variables), not in the file.
    """
    home.mkdir(parents=True, exist_ok=True)
    keys = _secrets(home)
    passwords = _passwords_file(home)
    admin_password(home)
    dags = dags or dags_folder()
    settings = {
        "core": {
            "dags_folder": str(dags),
            "load_examples": "False",
            "executor": "LocalExecutor",
            "parallelism": "4",
            "max_active_tasks_per_dag": "4",
            "dags_are_paused_at_creation": "True",
            "fernet_key": keys["fernet_key"],
            "execution_api_server_url": f"http://127.0.0.1:{port}/execution/",
            "auth_manager": (
                "airflow.api_fastapi.auth.managers.simple.simple_auth_manager.SimpleAuthManager"
            ),
            "simple_auth_manager_users": f"{ADMIN_USER}:admin",
            "simple_auth_manager_passwords_file": str(passwords),
        },
        "database": {
            "sql_alchemy_conn": sql_alchemy_conn,
            # Airflow 3 also opens an async engine; by default it would want asyncpg, which
            # is not installed. psycopg 3 (installed for headwater itself) does async.
            "sql_alchemy_conn_async": sql_alchemy_conn.replace("+psycopg2:", "+psycopg:", 1),
            "sql_alchemy_pool_size": "3",
            "sql_alchemy_max_overflow": "5",
        },
        "api": {
            "host": host,
            "port": str(port),
            "workers": "1",
            "secret_key": keys["secret_key"],
            "expose_config": "False",
        },
        "api_auth": {"jwt_secret": keys["jwt_secret"]},
        "dag_processor": {
            "refresh_interval": "60",
            "min_file_process_interval": "60",
            "parsing_processes": "1",
        },
        "logging": {
            "base_log_folder": str(home / "logs"),
            # The scheduler's and the triggerer's log servers (Airflow's defaults, 8793 and
            # 8794, clash with a second Airflow on the machine): the two ports after the UI's.
            "worker_log_server_port": str(port + 1),
            "triggerer_log_server_port": str(port + 2),
        },
        "usage_data_collection": {"enabled": "False"},
        "cosmos": {
            "enable_telemetry": "False",
            # cosmos keeps dbt's partial-parse state per DAG under this directory (default
            # /tmp/cosmos, shared by every Airflow on the machine, whatever its dbt project).
            "cache_dir": str(home / "cosmos"),
            # The watcher producer backs up its per-node results for its retry. "True" rewrites
            # the whole backup (an Airflow Variable) on each of the ~1,000 results of a build,
            # which made one build take minutes; "False" writes it once, when the producer
            # fails. Only a producer killed outright loses it, and then each node task falls
            # back to running its own dbt command.
            "enable_watcher_reliable_retry": "False",
        },
    }
    lines = [
        "# Generated by headwater.airflow_local on every start; edits here are overwritten.",
        "# Override a setting with an AIRFLOW__<SECTION>__<KEY> environment variable instead.",
    ]
    for section, values in settings.items():
        lines.append(f"\n[{section}]")
        lines.extend(f"{key} = {value}" for key, value in values.items())
    _write_private(home / "airflow.cfg", "\n".join(lines) + "\n")

    env = {
        **TELEMETRY_OFF,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW_CONFIG": str(home / "airflow.cfg"),
        "HEADWATER_HOME": str(config.home()),
        "HEADWATER_PROJECT_DIR": str(config.project_dir()),
    }
    script = ["# Source this file to use the `airflow` command with headwater's local Airflow."]
    script += [f"export {key}={shlex.quote(value)}" for key, value in env.items()]
    script.append(f'export PATH={shlex.quote(str(Path(sys.executable).parent))}:"$PATH"')
    (home / "env.sh").write_text("\n".join(script) + "\n")
    return env


def environment(extra: Mapping[str, str]) -> dict[str, str]:
    """The process environment for Airflow commands: ours on top of the caller's."""
    env = {**os.environ, **extra}
    # A leftover AIRFLOW__DATABASE__SQL_ALCHEMY_CONN would silently win over airflow.cfg.
    for key in ("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "AIRFLOW__CORE__DAGS_FOLDER"):
        env.pop(key, None)
    return env


def airflow_bin() -> str:
    return str(Path(sys.executable).parent / "airflow")


# What every task process of the DAGs imports: the task runner parsing the DAG file (the
# factory, cosmos), the watcher's sensors, dbt itself for the build (several seconds each).
TASK_IMPORTS = (
    "headwater.orchestration",
    "cosmos",
    "cosmos.operators.watcher",
    "dbt.cli.main",
)


def component_command(component: str) -> list[str]:
    """The command line of one component. The scheduler runs through `run_component`."""
    if component == "scheduler":
        return [sys.executable, "-m", "headwater.airflow_local", "run", component]
    return [airflow_bin(), component]


def run_component(component: str) -> int:
    """`airflow <component>` in this process, after importing `TASK_IMPORTS` and, for the
    scheduler, building the DAGs (`orchestration.prebuild`).

    The LocalExecutor forks its workers from the scheduler, and each worker forks a process
    per task: what the scheduler imported and built before it started is already there in
    every task, instead of being imported and built again for each of a run's ~60 tasks.
    A DAG whose pipeline.yaml or dbt manifest changed is built anew; a change to
    headwater's own code needs a restart (`stop`, then `start`).
    """
    import importlib

    for module in TASK_IMPORTS:
        importlib.import_module(module)
    if component == "scheduler":
        from headwater import orchestration

        try:
            orchestration.prebuild(dags_folder())
        except Exception as exc:  # the dag-processor reports a broken DAG file; tasks rebuild
            log.warning("DAGs not built ahead (each task builds its own): %s", exc)
    from airflow.__main__ import main as airflow_main

    sys.argv = ["airflow", component]
    return airflow_main() or 0


def migrate(env: Mapping[str, str]) -> None:
    """`airflow db migrate`: create or upgrade the metadata schema. Idempotent."""
    result = subprocess.run(
        [airflow_bin(), "db", "migrate"],
        env=dict(env),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        tail = " | ".join((result.stdout + result.stderr).strip().splitlines()[-5:])
        raise HeadwaterError(f"airflow db migrate failed: {db.redact(tail)}")


def prepare(
    *, home: Path | None = None, database: str = DATABASE, port: int | None = None
) -> dict[str, str]:
    """Configuration, metadata database and dbt manifest: everything but the processes."""
    from headwater import orchestration

    home = home or airflow_home()
    port = port or int(os.environ.get(PORT_ENV, DEFAULT_PORT))
    host = os.environ.get(HOST_ENV, "127.0.0.1")
    env = environment(write_config(home, metadata_url(database), port=port, host=host))
    migrate(env)
    orchestration.build_manifest()
    return env


# --- processes ---------------------------------------------------------------------------------


def _pid_file(home: Path) -> Path:
    return home / "pids.json"


def _read_pids(home: Path) -> dict[str, int]:
    path = _pid_file(home)
    try:
        return {k: int(v) for k, v in json.loads(path.read_text()).items()}
    except (OSError, ValueError):
        return {}


def _is_ours(pid: int, component: str) -> bool:
    """The pid still runs `airflow <component>` (pids get reused)."""
    import psutil

    try:
        process = psutil.Process(pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return False
        # The api-server retitles itself "airflow api_server -- host:...".
        cmdline = " ".join(process.cmdline()).replace("_", "-")
    except psutil.Error:
        return False
    return "airflow" in cmdline and component in cmdline


def status() -> dict[str, int | None]:
    """Pid of each component started by `start()`, None when it does not run."""
    pids = _read_pids(airflow_home())
    return {c: (pids[c] if c in pids and _is_ours(pids[c], c) else None) for c in COMPONENTS}


def _port_in_use(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def start(
    unpause: bool = False,
    *,
    port: int | None = None,
    echo: Callable[[str], None] = print,
    timeout: float = START_TIMEOUT,
) -> AirflowInfo:
    """Start Airflow in the background and wait until every component reports healthy.

    Idempotent: components already running are left alone. With `unpause`, the DAGs in
    `dags/` are unpaused once the dag-processor has registered them (they are created
    paused otherwise, so nothing runs until someone says so).
    """
    home = airflow_home()
    port = port or int(os.environ.get(PORT_ENV, DEFAULT_PORT))
    running = {c: pid for c, pid in status().items() if pid}
    if "api-server" not in running and _port_in_use("127.0.0.1", port):
        raise HeadwaterError(
            f"port {port} is already in use; stop what listens there or set {PORT_ENV}"
        )
    echo(f"preparing Airflow in {home} (metadata: database '{DATABASE}' on the embedded server)")
    env = prepare(home=home, port=port)
    (home / "logs").mkdir(parents=True, exist_ok=True)
    pids = dict(running)
    for component in COMPONENTS:
        if component in running:
            continue
        command = component_command(component)
        if component == "api-server":
            command += ["--port", str(port)]
        logfile = open(home / "logs" / f"{component}.log", "ab")  # the child keeps its own copy
        process = subprocess.Popen(
            command,
            env=env,
            stdout=logfile,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            cwd=str(config.project_dir()),
        )
        logfile.close()
        pids[component] = process.pid
        echo(f"started {component} (pid {process.pid}), log {home / 'logs' / (component + '.log')}")
    _write_private(_pid_file(home), json.dumps(pids) + "\n")

    url = f"http://localhost:{port}"
    _wait_healthy(f"http://127.0.0.1:{port}", home, pids, timeout)
    password = admin_password(home)
    info = AirflowInfo(url=url, username=ADMIN_USER, password=password, home=home, pids=pids)
    if unpause:
        info.unpaused = unpause_dags(
            f"http://127.0.0.1:{port}", ADMIN_USER, password, dag_ids(), timeout=timeout
        )
        echo(f"unpaused: {', '.join(info.unpaused)}")
    echo(f"Airflow UI: {url}  (user {ADMIN_USER}, password {password})")
    echo(f"CLI: source {home / 'env.sh'} && airflow dags list")
    return info


def _wait_healthy(base_url: str, home: Path, pids: Mapping[str, int], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    last: dict = {}
    while time.monotonic() < deadline:
        for component, pid in pids.items():
            if not _is_ours(pid, component):
                raise HeadwaterError(
                    f"Airflow {component} exited during start-up; see {home / 'logs' / component}.log"
                )
        with contextlib.suppress(OSError, ValueError):
            with urllib.request.urlopen(f"{base_url}/api/v2/monitor/health", timeout=5) as resp:
                last = json.loads(resp.read())
            wanted = ("metadatabase", "scheduler", "triggerer", "dag_processor")
            if all((last.get(part) or {}).get("status") == "healthy" for part in wanted):
                return
        time.sleep(2)
    raise HeadwaterError(
        f"Airflow did not become healthy within {timeout:.0f}s (last health: {last or 'no answer'}); "
        f"see the logs in {home / 'logs'}"
    )


def dag_ids() -> list[str]:
    """The DAG ids the factory makes from dags/*/pipeline.yaml."""
    from headwater import orchestration

    ids: list[str] = []
    for path in sorted(dags_folder().glob(f"*/{orchestration.PIPELINE_FILE}")):
        pipeline = orchestration.load_pipeline(path)
        ids += [pipeline.pipeline_dag_id, pipeline.maintenance_dag_id]
    return ids


def api_token(base_url: str, username: str, password: str) -> str:
    """A JWT from the simple auth manager, for the REST API."""
    body = json.dumps({"username": username, "password": password}).encode()
    request = urllib.request.Request(
        f"{base_url}/auth/token",
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as resp:
        return json.loads(resp.read())["access_token"]


def unpause_dags(
    base_url: str, username: str, password: str, ids: Iterable[str], *, timeout: float = 120.0
) -> list[str]:
    """Unpause each DAG once the dag-processor has registered it."""
    token = api_token(base_url, username, password)
    pending, done = list(ids), []
    deadline = time.monotonic() + timeout
    while pending and time.monotonic() < deadline:
        for dag_id in list(pending):
            request = urllib.request.Request(
                f"{base_url}/api/v2/dags/{dag_id}",
                data=json.dumps({"is_paused": False}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
                method="PATCH",
            )
            try:
                with urllib.request.urlopen(request, timeout=10):
                    pending.remove(dag_id)
                    done.append(dag_id)
            except urllib.error.HTTPError as exc:
                if exc.code != 404:  # 404: not parsed yet
                    raise HeadwaterError(f"could not unpause {dag_id}: HTTP {exc.code}") from None
        if pending:
            time.sleep(3)
    if pending:
        raise HeadwaterError(
            f"DAGs not registered after {timeout:.0f}s: {', '.join(pending)}; check import "
            f"errors in the UI or {airflow_home() / 'logs' / 'dag-processor.log'}"
        )
    return done


def stop(timeout: float = 30.0, echo: Callable[[str], None] = print) -> bool:
    """Stop the components `start()` started (each with its children). False if none ran."""
    home = airflow_home()
    pids = {c: pid for c, pid in _read_pids(home).items() if _is_ours(pid, c)}
    for component, pid in pids.items():
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(os.getpgid(pid), signal.SIGTERM)
        echo(f"stopping {component} (pid {pid})")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(_is_ours(p, c) for c, p in pids.items()):
        time.sleep(0.5)
    for component, pid in pids.items():
        if _is_ours(pid, component):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(os.getpgid(pid), signal.SIGKILL)
            echo(f"killed {component} (pid {pid}) after {timeout:.0f}s")
    _pid_file(home).unlink(missing_ok=True)
    return bool(pids)


def main(argv: list[str] | None = None) -> int:
    """`python -m headwater.airflow_local start|stop|status [--unpause] [--port P]`.

    (`run <component>` is how `start` launches the scheduler; see `run_component`.)
    """
    import argparse

    parser = argparse.ArgumentParser(prog="python -m headwater.airflow_local")
    parser.add_argument("command", choices=["start", "stop", "status", "run"])
    parser.add_argument("component", nargs="?", choices=COMPONENTS, help=argparse.SUPPRESS)
    parser.add_argument("--unpause", action="store_true", help="unpause the headwater DAGs")
    parser.add_argument("--port", type=int, default=None)
    args = parser.parse_args(argv)
    if args.command == "run":  # how start() launches the scheduler
        return run_component(args.component or parser.error("run needs a component"))
    config.disable_telemetry()
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        if args.command == "start":
            start(unpause=args.unpause, port=args.port)
        elif args.command == "stop":
            print("stopped" if stop() else "not running")
        else:
            for component, pid in status().items():
                print(f"{component:14} {'pid ' + str(pid) if pid else 'not running'}")
    except HeadwaterError as exc:
        print(f"error: {db.redact(str(exc))}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
