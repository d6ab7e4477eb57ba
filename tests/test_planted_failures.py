"""Every Soda check, planted to fail: the gate stops the pipeline and `analytics` is unchanged.

For each domain with a demo (a small source, built and published once), and for each gate
(raw, marts), every check of every contract gets a planted failure: bad data written into a
copy of the warehouse (`create database … template …`) that the check exists to catch. The
standard checks are planted from their definition (row_count: empty the table; freshness:
age the column; schema: drop a listed column; missing: a NULL; duplicate: a copied row;
invalid: a value outside the valid values or range); custom `failed_rows` and `metric`
checks take their SQL from `soda/<domain>/<layer>/planted_failures.yaml`. Plants that cannot
mask each other share a round.

Each round then runs the real pipeline from that gate on the copy (`pipeline.run(start=…)`):
it must raise `GateFailed` naming every planted check, dbt must not have run after a raw
failure (the marts are unchanged), and the published `analytics` must be unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import yaml
from psycopg import sql

from headwater import config, demo, gates, pipeline, publish, sync

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

SCALE = 0.1
DOMAINS = [
    d
    for d in demo.demo_domains()
    if all((gates.soda_dir() / d / layer).is_dir() for layer in gates.LAYERS)
]
STANDARD = ("row_count", "freshness", "schema", "missing", "duplicate", "invalid")


@dataclass
class Plant:
    table: str  # schema.table
    check: str  # the check's name as the gate reports it
    sql: list[str]
    columns: frozenset[str] = field(default_factory=frozenset)  # empty: the whole table
    order: int = 1  # within a round: whole-column rewrites, then single values, then copies


def _check_name(kind: str, body: dict, column: str | None) -> str:
    name = body.get("name") or kind
    return f"{column}: {name}" if column and column not in name else name


def _one_row(table: sql.Composable, column: sql.Composable | None = None) -> sql.Composable:
    where = sql.SQL(" where {} is not null").format(column) if column else sql.SQL("")
    return sql.SQL("ctid = (select ctid from {}{} limit 1)").format(table, where)


def _standard_plant(
    conn, schema: str, table: str, kind: str, body: dict, column: str | None, listed: list[str]
) -> tuple[list[sql.Composable], frozenset[str], int] | None:
    t = sql.Identifier(schema, table)
    if kind == "row_count":
        return [sql.SQL("delete from {}").format(t)], frozenset(), 1
    if kind == "schema":
        first = next(c for c in listed if not c.startswith("_airbyte"))
        return (
            [sql.SQL("alter table {} drop column {} cascade").format(t, sql.Identifier(first))],
            frozenset(),
            1,
        )
    if kind == "freshness":
        c = sql.Identifier(body["column"])
        return (
            [sql.SQL("update {} set {} = {} - interval '3650 days'").format(t, c, c)],
            frozenset({body["column"]}),
            0,
        )
    if kind == "missing" and column:
        c = sql.Identifier(column)
        return (
            [
                sql.SQL("alter table {} alter column {} drop not null").format(t, c),
                sql.SQL("update {} set {} = null where {}").format(t, c, _one_row(t, c)),
            ],
            frozenset({column}),
            1,
        )
    if kind == "duplicate":
        columns = [column] if column else list(body.get("columns") or [])
        if not columns:
            return None
        not_null = sql.SQL(" and ").join(
            sql.SQL("{} is not null").format(sql.Identifier(c)) for c in columns
        )
        drop_unique = sql.SQL(
            "do $$ declare i record; begin for i in select indexrelid::regclass as name "
            "from pg_index where indrelid = {}::regclass and indisunique loop "
            "execute 'drop index ' || i.name; end loop; end $$"
        ).format(sql.Literal(f'"{schema}"."{table}"'))
        return (
            [
                drop_unique,
                sql.SQL("insert into {} select * from {} where {} limit 1").format(t, t, not_null),
            ],
            frozenset(columns),
            2,
        )
    if kind == "invalid" and column:
        c = sql.Identifier(column)
        data_type = conn.execute(
            "select data_type from information_schema.columns "
            "where table_schema = %s and table_name = %s and column_name = %s",
            [schema, table, column],
        ).fetchone()[0]
        if "valid_values" in body:
            values = body["valid_values"]
            numeric = all(isinstance(v, int | float) for v in values)
            bad = sql.Literal(max(values) + 12345) if numeric else sql.Literal("zz_planted")
        elif "valid_min" in body:
            bad = sql.Literal(body["valid_min"] - 1)
        elif "valid_max" in body:
            bad = sql.Literal(body["valid_max"] + 1)
        else:
            return None
        cast = sql.SQL(data_type)
        return (
            [sql.SQL("update {} set {} = {}::{} where {}").format(t, c, bad, cast, _one_row(t, c))],
            frozenset({column}),
            1,
        )
    return None


def plants_for(conn, domain: str, layer: str) -> list[Plant]:
    """A planted failure for every check of every contract of the layer."""
    folder = gates.soda_dir() / domain / layer
    custom_file = folder / "planted_failures.yaml"
    custom = yaml.safe_load(custom_file.read_text()) if custom_file.exists() else {}
    plants, missing = [], []
    for path in gates.contract_paths(domain, layer):
        contract = yaml.safe_load(path.read_text())
        schema, table = contract["dataset"].split("/")[-2:]
        listed = [c["name"] for c in contract.get("columns") or []]
        entries = [(check, None) for check in contract.get("checks") or []]
        entries += [
            (check, c["name"])
            for c in contract.get("columns") or []
            for check in c.get("checks") or []
        ]
        for check, column in entries:
            ((kind, body),) = check.items()
            body = body or {}
            name = _check_name(kind, body, column)
            explicit = (custom.get(table) or {}).get(body.get("name") or kind)
            if explicit:
                plants.append(Plant(f"{schema}.{table}", name, [explicit]))
                continue
            planted = (
                _standard_plant(conn, schema, table, kind, body, column, listed)
                if kind in STANDARD
                else None
            )
            if planted is None:
                missing.append(f"{path.relative_to(config.project_dir())}: {name} ({kind})")
                continue
            statements, columns, order = planted
            plants.append(
                Plant(
                    f"{schema}.{table}",
                    name,
                    [s.as_string(conn) for s in statements],
                    columns,
                    order,
                )
            )
    assert not missing, (
        f"no way to plant a failure for these checks; add them to {custom_file}: {missing}"
    )
    return plants


def rounds(plants: list[Plant]) -> list[list[Plant]]:
    """Group plants so that none in a round can mask another: per table, either one plant
    on the whole table or plants on distinct columns."""
    remaining = list(plants)
    grouped = []
    while remaining:
        taken: dict[str, set[str] | None] = {}  # table -> columns used (None: whole table)
        this_round = []
        for plant in list(remaining):
            used = taken.get(plant.table, set())
            if used is None:
                continue
            if not plant.columns:
                if plant.table in taken:
                    continue
                taken[plant.table] = None
            elif used & plant.columns:
                continue
            else:
                taken[plant.table] = used | plant.columns
            this_round.append(plant)
            remaining.remove(plant)
        grouped.append(sorted(this_round, key=lambda p: p.order))
    return grouped


@pytest.fixture(scope="module", params=DOMAINS)
def built(request, make_module_database):
    """The domain seeded small, synced, built, gated and published in its own warehouse."""
    domain = request.param
    url = make_module_database(f"planted_{domain}")
    name = urlsplit(url).path.lstrip("/")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("HEADWATER_WAREHOUSE_URL", url)
        demo.demo_module(domain).demo_seed(SCALE)
        sync.reset(domain, warehouse_url=url)
        pipeline.run(domain, full_refresh=True)
        yield {"domain": domain, "name": name, "url": url}


@pytest.fixture
def clone(built, make_database):
    """`clone()` makes a fresh copy of the built warehouse, dropped after the test."""
    return lambda: make_database(built["name"], template=built["name"])


@pytest.mark.parametrize("layer", gates.LAYERS)
def test_every_planted_check_failure_stops_the_pipeline(built, clone, layer, monkeypatch, figures):
    domain = built["domain"]
    with psycopg.connect(built["url"]) as conn:
        plants = plants_for(conn, domain, layer)
    analytics = publish.analytics_checksums(domain, warehouse_url=built["url"])
    marts = publish.analytics_checksums(domain, schema="marts", warehouse_url=built["url"])
    assert analytics and marts
    covered = set()
    for planted in rounds(plants):
        url = clone()
        with psycopg.connect(url, autocommit=True) as conn:
            for plant in planted:
                for statement in plant.sql:
                    conn.execute(statement)
        monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", url)
        with pytest.raises(gates.GateFailed) as failed:
            pipeline.run(domain, start=f"{layer}_gate")
        result = failed.value.result
        assert result.layer == layer
        failing = {(f.contract, f.check) for f in result.failures}
        for plant in planted:
            assert (plant.table, plant.check) in failing, (plant, sorted(failing))
            covered.add((plant.table, plant.check))
        assert publish.analytics_checksums(domain, warehouse_url=url) == analytics
        if layer == "raw":  # dbt did not run: the marts are as they were
            assert publish.analytics_checksums(domain, schema="marts", warehouse_url=url) == marts
    assert len(covered) == len(plants)
    total_checks = len(gates.run_gate(domain, layer, warehouse_url=built["url"]).checks)
    assert len(covered) == total_checks, "every check of the gate was planted"
    figures.add("Soda checks planted to fail, pipeline stopped, analytics unchanged", len(covered))


def test_plants_file_names_only_checks_that_exist():
    for domain in DOMAINS:
        for layer in gates.LAYERS:
            path = Path(gates.soda_dir() / domain / layer / "planted_failures.yaml")
            if not path.exists():
                continue
            names = {}
            for contract_path in gates.contract_paths(domain, layer):
                contract = yaml.safe_load(contract_path.read_text())
                table = contract["dataset"].split("/")[-1]
                names.setdefault(table, set()).update(
                    (body or {}).get("name") or kind
                    for check in contract.get("checks") or []
                    for kind, body in check.items()
                )
            for table, checks in (yaml.safe_load(path.read_text()) or {}).items():
                assert set(checks) <= names.get(table, set()), (path, table)


def test_the_demo_report_reads_the_published_marts(built):
    """`make demo` ends with each domain's report (DEMO_REPORT) on `analytics`: every query
    runs on what the pipeline published, and returns rows."""
    queries = demo.demo_module(built["domain"]).DEMO_REPORT
    assert queries
    with psycopg.connect(built["url"]) as conn:
        for title, query in queries.items():
            rows = conn.execute(query).fetchall()
            assert rows, f"{built['domain']} demo report {title!r} returned no rows"
