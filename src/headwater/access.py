"""Who may read what in the warehouse: analysts read `analytics`, and nothing else.

`apply` makes (or repairs) a group role, `headwater_analyst` by default, that holds exactly:

* CONNECT on the warehouse database;
* USAGE on the schema `analytics` and SELECT on every table in it;
* SELECT on the tables publishing will bring into `analytics` later: default privileges in
  `analytics__next`, where publish stages each copy before moving it (privileges travel
  with a table; without USAGE on `analytics__next` the role cannot read a staged copy);
* nothing on any other schema: raw layers, staging, intermediate, snapshots, marts, the
  previous publish and headwater's own state are revoked explicitly, so a grant made by
  hand earlier does not linger.

People log in as their own roles, members of the group (`--login NAME`, with the password
read from an environment variable, never from the command line). Default privileges apply
to tables created by the role that runs `apply`: run it as the role publish runs as.

Running it again is harmless: every statement is idempotent, in one transaction.

BigQuery has no roles inside a dataset; the same split is made with IAM, see
docs/security.md: `roles/bigquery.dataViewer` on the `analytics` dataset only (or
authorized views in it over a private dataset), and policy tags on PII columns.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

READER = "headwater_analyst"
READABLE = "analytics"
STAGED = "analytics__next"
SYSTEM_SCHEMAS = ("pg_catalog", "information_schema", "pg_toast")


@dataclass
class AccessReport:
    role: str
    login: str | None
    readable: list[str] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)

    def summary(self) -> str:
        who = f"{self.login} (member of {self.role})" if self.login else self.role
        return (
            f"{who} reads {', '.join(self.readable) or 'nothing'}; "
            f"denied {len(self.denied)} other schema(s): {', '.join(self.denied) or '-'}"
        )

    def as_dict(self) -> dict:
        return {
            "role": self.role,
            "login": self.login,
            "readable": self.readable,
            "denied": self.denied,
        }


def apply(
    *,
    role: str = READER,
    login: str | None = None,
    password_env: str | None = None,
    warehouse_url: str | None = None,
) -> AccessReport:
    """Create or repair the reader role (and a login in it); return what it can read."""
    _check_name(role, "role")
    password = None
    if login is not None:
        _check_name(login, "login")
        if password_env:
            password = os.environ.get(password_env)
            if not password:
                raise ConfigError(f"--password-env {password_env}: the variable is not set")
    url = warehouse_url or config.warehouse_url()
    with db.connect(url, what="warehouse") as conn:
        try:
            with conn.transaction():
                _apply(conn, role, login, password)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise HeadwaterError(
                f"grants: the warehouse user may not manage roles ({_first_line(exc)}); "
                "run as a role with CREATEROLE that owns the schemas"
            ) from None
        return _report(conn, role, login)


def show(*, role: str = READER, warehouse_url: str | None = None) -> AccessReport:
    """What `role` can read now, schema by schema (its effective privileges)."""
    _check_name(role, "role")
    url = warehouse_url or config.warehouse_url()
    with db.connect(url, what="warehouse") as conn:
        if not _role_exists(conn, role):
            raise ConfigError(f"role {role} does not exist: run `headwater grants apply`")
        return _report(conn, role, None)


def _apply(conn: psycopg.Connection, role: str, login: str | None, password: str | None) -> None:
    group = sql.Identifier(role)
    if not _role_exists(conn, role):
        conn.execute(sql.SQL("create role {} nologin").format(group))
        log.info("created role %s", role)
    if login is not None:
        user = sql.Identifier(login)
        if not _role_exists(conn, login):
            conn.execute(sql.SQL("create role {} login").format(user))
            log.info("created login %s", login)
        if password is not None:
            conn.execute(sql.SQL("alter role {} password {}").format(user, sql.Literal(password)))
        conn.execute(sql.SQL("grant {} to {}").format(group, user))
    database = conn.execute("select current_database()").fetchone()[0]
    conn.execute(
        sql.SQL("grant connect on database {} to {}").format(sql.Identifier(database), group)
    )
    for schema in (READABLE, STAGED):
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
    for schema in _schemas(conn):
        name = sql.Identifier(schema)
        conn.execute(sql.SQL("revoke all on schema {} from {}").format(name, group))
        conn.execute(sql.SQL("revoke all on all tables in schema {} from {}").format(name, group))
        conn.execute(
            sql.SQL("alter default privileges in schema {} revoke all on tables from {}").format(
                name, group
            )
        )
    readable = sql.Identifier(READABLE)
    conn.execute(sql.SQL("grant usage on schema {} to {}").format(readable, group))
    conn.execute(sql.SQL("grant select on all tables in schema {} to {}").format(readable, group))
    for schema in (READABLE, STAGED):
        conn.execute(
            sql.SQL("alter default privileges in schema {} grant select on tables to {}").format(
                sql.Identifier(schema), group
            )
        )


def _report(conn: psycopg.Connection, role: str, login: str | None) -> AccessReport:
    report = AccessReport(role=role, login=login)
    who = login or role
    for schema in _schemas(conn):
        usage = conn.execute(
            "select has_schema_privilege(%s, %s, 'usage')", [who, schema]
        ).fetchone()[0]
        (report.readable if usage else report.denied).append(schema)
    return report


def _schemas(conn: psycopg.Connection) -> list[str]:
    rows = conn.execute(
        "select nspname from pg_namespace where nspname <> all(%s) and nspname not like 'pg\\_%%' "
        "order by nspname",
        [list(SYSTEM_SCHEMAS)],
    ).fetchall()
    return [name for (name,) in rows]


def _role_exists(conn: psycopg.Connection, role: str) -> bool:
    return conn.execute("select 1 from pg_roles where rolname = %s", [role]).fetchone() is not None


def _check_name(name: str, what: str) -> None:
    if not name or len(name) > 63 or "\x00" in name:
        raise ConfigError(f"{what} {name!r}: not a PostgreSQL role name (1–63 characters)")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return db.redact(text.splitlines()[0] if text else type(exc).__name__)
