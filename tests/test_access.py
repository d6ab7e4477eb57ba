"""The analyst role on the embedded server: it reads `analytics`, and is denied everything else."""

from __future__ import annotations

import uuid
from urllib.parse import quote

import psycopg
import pytest
from click.testing import CliRunner
from psycopg import sql

from headwater import access, cli, publish
from headwater.errors import ConfigError

pytestmark = pytest.mark.integration

MARTS = publish.marts_of("marketplace")
# What every other layer looks like: PII in raw, staging and snapshots, state in headwater.
PRIVATE = {
    "raw_marketplace": "customers",
    "staging": "stg_customers",
    "snapshots": "snp_customers",
    "intermediate": "int_orders",
    "marts": MARTS[0],
}


def _sql(url: str, query, params=None):
    with psycopg.connect(url, autocommit=True) as conn:
        cur = conn.execute(query, params)
        return cur.fetchall() if cur.description else None


def _build(url: str, version: str) -> None:
    """The warehouse as a pipeline leaves it: every layer, the marts tagged with `version`."""
    for schema, table in PRIVATE.items():
        _sql(url, sql.SQL("create schema if not exists {}").format(sql.Identifier(schema)))
        _sql(
            url,
            sql.SQL(
                "create table if not exists {} as "
                "select 1 as customer_id, 'Ada Lovelace' as name, 'ada@example.com' as email"
            ).format(sql.Identifier(schema, table)),
        )
    for mart in MARTS:
        _sql(url, sql.SQL("drop table if exists {}").format(sql.Identifier("marts", mart)))
        _sql(
            url,
            sql.SQL(
                "create table {} as select g as id, %s::text as version "
                "from generate_series(1, 3) as g"
            ).format(sql.Identifier("marts", mart)),
            [version],
        )


@pytest.fixture
def warehouse(make_database):
    return make_database("access")


@pytest.fixture
def names(warehouse):
    """A group role and a login of this test's own; dropped afterwards (roles are cluster-wide)."""
    suffix = uuid.uuid4().hex[:6]
    made = {"group": f"analysts_{suffix}", "login": f"ann_{suffix}"}
    yield made
    for role in (made["login"], made["group"]):
        exists = _sql(warehouse, "select 1 from pg_roles where rolname = %s", [role])
        if exists:
            _sql(warehouse, sql.SQL("drop owned by {}").format(sql.Identifier(role)))
            _sql(warehouse, sql.SQL("drop role {}").format(sql.Identifier(role)))


def _as(url: str, user: str) -> str:
    """The same database, logged in as `user` (the embedded server trusts its socket)."""
    assert url.startswith("postgresql://postgres@"), "would not log in as the analyst"
    return url.replace("postgresql://postgres@", f"postgresql://{quote(user, safe='')}@", 1)


def _can_read(url: str, user: str, schema: str, table: str) -> bool:
    with psycopg.connect(_as(url, user), autocommit=True) as conn:
        try:
            conn.execute(sql.SQL("select count(*) from {}").format(sql.Identifier(schema, table)))
        except psycopg.errors.InsufficientPrivilege:
            return False
    return True


def _readable_marts(url: str, user: str) -> set[str]:
    return {mart for mart in MARTS if _can_read(url, user, "analytics", mart)}


def test_analyst_reads_published_marts_and_is_denied_every_other_layer(warehouse, names):
    _build(warehouse, "v1")
    report = access.apply(role=names["group"], login=names["login"], warehouse_url=warehouse)
    assert "analytics" in report.readable
    assert set(PRIVATE) | {"analytics__next"} <= set(report.denied)

    publish.publish("marketplace", warehouse_url=warehouse)
    user = names["login"]
    assert _readable_marts(warehouse, user) == set(MARTS), "first publish after apply"
    for schema, table in PRIVATE.items():
        assert not _can_read(warehouse, user, schema, table), f"{schema}.{table} is readable"
    assert not _can_read(warehouse, user, "headwater", "publish_log")

    _build(warehouse, "v2")
    publish.publish("marketplace", warehouse_url=warehouse)
    assert _readable_marts(warehouse, user) == set(MARTS), "grants travel with the swap"
    assert not _can_read(warehouse, user, "analytics__previous", MARTS[0])
    with psycopg.connect(_as(warehouse, user)) as conn:
        versions = conn.execute(
            sql.SQL("select distinct version from {}").format(sql.Identifier("analytics", MARTS[0]))
        ).fetchall()
    assert versions == [("v2",)]

    publish.restore("marketplace", warehouse_url=warehouse)
    assert _readable_marts(warehouse, user) == set(MARTS), "restore keeps access"


def test_apply_again_revokes_a_grant_made_by_hand_and_changes_nothing_else(warehouse, names):
    _build(warehouse, "v1")
    access.apply(role=names["group"], login=names["login"], warehouse_url=warehouse)
    publish.publish("marketplace", warehouse_url=warehouse)
    raw = sql.Identifier("raw_marketplace", "customers")
    group = sql.Identifier(names["group"])
    _sql(warehouse, sql.SQL("grant usage on schema raw_marketplace to {}").format(group))
    _sql(warehouse, sql.SQL("grant select on {} to {}").format(raw, group))
    assert _can_read(warehouse, names["login"], "raw_marketplace", "customers")

    first = access.show(role=names["group"], warehouse_url=warehouse)
    again = access.apply(role=names["group"], login=names["login"], warehouse_url=warehouse)

    assert "raw_marketplace" in first.readable and "raw_marketplace" in again.denied
    assert not _can_read(warehouse, names["login"], "raw_marketplace", "customers")
    assert _readable_marts(warehouse, names["login"]) == set(MARTS)


def test_role_names_are_quoted_not_executed(warehouse, names):
    hostile = f'{names["group"]}"; drop table marts.{MARTS[0]}; --'
    names["group"] = hostile
    _build(warehouse, "v1")

    access.apply(role=hostile, warehouse_url=warehouse)

    assert _sql(warehouse, "select 1 from pg_roles where rolname = %s", [hostile])
    assert _sql(
        warehouse, sql.SQL("select count(*) from {}").format(sql.Identifier("marts", MARTS[0]))
    ) == [(3,)]


def test_cli_sets_the_password_from_the_environment_and_never_prints_it(
    warehouse, names, monkeypatch
):
    secret = f"s3cret-{uuid.uuid4().hex}"
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", warehouse)
    monkeypatch.setenv("ANALYST_PASSWORD", secret)
    args = ["grants", "apply", "--role", names["group"], "--login", names["login"]]

    result = CliRunner().invoke(cli.main, [*args, "--password-env", "ANALYST_PASSWORD"])

    assert result.exit_code == 0, result.output
    assert names["login"] in result.output and "analytics" in result.output
    assert secret not in result.output
    [(has_password,)] = _sql(
        warehouse,
        "select rolpassword is not null from pg_authid where rolname = %s",
        [names["login"]],
    )
    assert has_password


def test_missing_password_variable_is_one_line_and_creates_nothing(warehouse, names, monkeypatch):
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", warehouse)
    monkeypatch.delenv("NO_SUCH_PASSWORD", raising=False)
    args = ["grants", "apply", "--role", names["group"], "--login", names["login"]]

    result = CliRunner().invoke(cli.main, [*args, "--password-env", "NO_SUCH_PASSWORD"])

    assert result.exit_code != 0
    assert result.output.strip().splitlines() == [
        "error: --password-env NO_SUCH_PASSWORD: the variable is not set"
    ]
    assert not _sql(warehouse, "select 1 from pg_roles where rolname = %s", [names["group"]])


def test_show_of_an_unknown_role_says_how_to_make_it(warehouse):
    with pytest.raises(ConfigError, match=r"role nobody_\w+ does not exist: run `headwater grants"):
        access.show(role=f"nobody_{uuid.uuid4().hex[:6]}", warehouse_url=warehouse)
