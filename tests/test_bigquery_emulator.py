"""The BigQuery emulator: lifecycle, the raw-layer copy with Airbyte's types, and dbt on it.

One embedded PostgreSQL server and one emulator serve the module, both in a temporary home;
the lifecycle tests start their own emulators in homes of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import uuid
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import psutil
import psycopg
import pytest
import yaml

from headwater import bigquery, config, db
from headwater.errors import HeadwaterError

pytestmark = [pytest.mark.bigquery, pytest.mark.integration, pytest.mark.slow]

RAW = "raw_bqtest"
UTC = dt.UTC
ITEM_IDS = [uuid.UUID(int=n) for n in range(1, 5)]

RAW_DDL = f"""
create schema {RAW};
create table {RAW}.items (
    id uuid,
    name varchar(50),
    description text,
    currency char(3),
    quantity integer,
    views bigint,
    price_amount numeric(12, 2),
    ratio numeric,
    is_active boolean,
    created_at timestamptz,
    confirmed_at timestamp without time zone,
    launch_date date,
    tags jsonb,
    attributes jsonb,
    _airbyte_raw_id text,
    _airbyte_extracted_at timestamptz,
    _airbyte_meta jsonb,
    _airbyte_generation_id bigint
);
create table {RAW}.measurements (id integer, reading numeric(30, 12), codes text[], payload json);
create table {RAW}.empty_things (id integer, note text);
create view {RAW}.items_view as select id from {RAW}.items;
"""

META = {"sync_id": 7, "changes": []}


def _item(n: int, **overrides) -> dict:
    row = {
        "id": ITEM_IDS[n - 1],
        "name": f"item {n}",
        "description": None,
        "currency": "EUR",
        "quantity": n,
        "views": 10**12 + n,
        "price_amount": Decimal("10.50") * n,
        "ratio": None,
        "is_active": True,
        "created_at": dt.datetime(2024, 3, 10, n, 30, tzinfo=UTC),
        "confirmed_at": dt.datetime(2024, 3, 10, n, 30),
        "launch_date": dt.date(2024, 3, n),
        "tags": ["new"],
        "attributes": {"color": "red"},
        "_airbyte_raw_id": f"raw-{n}",
        "_airbyte_extracted_at": dt.datetime(2024, 3, 11, tzinfo=UTC),
        "_airbyte_meta": META,
        "_airbyte_generation_id": 1,
    }
    row.update(overrides)
    return row


ITEMS = [
    _item(
        1,
        description='quote " backslash \\ newline\nunicode é ✓',
        ratio=Decimal("12345678901234567890.123456789"),
        created_at=dt.datetime(
            2024, 3, 10, 1, 30, 0, 123456, tzinfo=dt.timezone(dt.timedelta(hours=-5))
        ),
        confirmed_at=dt.datetime(2024, 3, 10, 1, 30, 0, 500000),
        tags=["a", "b"],
        attributes={"color": "red", "size": {"w": 2, "h": 3.5}, "labels": [1, None]},
    ),
    _item(2, currency="US", is_active=False),
    # Every typed column NULL, as Airbyte writes a record whose values are missing.
    {
        **dict.fromkeys(_item(3), None),
        "id": ITEM_IDS[2],
        "_airbyte_raw_id": "raw-3",
        "_airbyte_meta": META,
        "_airbyte_generation_id": 1,
    },
]

EXPECTED_TYPES = {
    "id": "STRING",
    "name": "STRING",
    "description": "STRING",
    "currency": "STRING",
    "quantity": "INTEGER",
    "views": "INTEGER",
    "price_amount": "NUMERIC",
    "ratio": "NUMERIC",
    "is_active": "BOOLEAN",
    "created_at": "TIMESTAMP",
    "confirmed_at": "DATETIME",
    "launch_date": "DATE",
    "tags": "JSON",
    "attributes": "JSON",
    "_airbyte_raw_id": "STRING",
    "_airbyte_extracted_at": "TIMESTAMP",
    "_airbyte_meta": "JSON",
    "_airbyte_generation_id": "INTEGER",
}


def _insert_items(conn: psycopg.Connection, rows: list[dict]) -> None:
    columns = list(EXPECTED_TYPES)
    placeholders = ", ".join(["%s"] * len(columns))
    with conn.cursor() as cur:
        for row in rows:
            values = [
                psycopg.types.json.Jsonb(row[c])
                if c in ("tags", "attributes", "_airbyte_meta") and row[c] is not None
                else row[c]
                for c in columns
            ]
            cur.execute(
                f"insert into {RAW}.items ({', '.join(columns)}) values ({placeholders})", values
            )


@dataclass
class Stack:
    home: Path
    warehouse_url: str
    status: bigquery.EmulatorStatus


@pytest.fixture(scope="module")
def stack():
    # Not one of pytest's numbered temp dirs: a concurrent pytest session may prune those.
    home = Path(tempfile.mkdtemp(prefix="headwater-bqtest-"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HEADWATER_HOME", str(home))
        mp.delenv("HEADWATER_WAREHOUSE_URL", raising=False)
        for key, value in config.TELEMETRY_OFF.items():
            mp.setenv(key, value)
        server = db.start()
        try:
            warehouse_url = server.url(config.WAREHOUSE_DB)
            with psycopg.connect(warehouse_url) as conn:
                conn.execute(RAW_DDL)
                _insert_items(conn, ITEMS)
                conn.execute(
                    f"insert into {RAW}.measurements values (%s, %s, %s, %s::json), (2, null, null, null)",
                    (1, Decimal("12345678.123456789012"), ["x", "y z"], '{\n  "k": [1, 2]\n}'),
                )
            status = bigquery.start_emulator()
            try:
                yield Stack(home, warehouse_url, status)
            finally:
                bigquery.stop_emulator()
        finally:
            db.stop()
    shutil.rmtree(home, ignore_errors=True)


@pytest.fixture(scope="module")
def loaded(stack):
    counts = bigquery.load_raw_from_warehouse(stack.warehouse_url, RAW, status=stack.status)
    return counts


@pytest.fixture
def other_home(monkeypatch):
    """A second home, for emulators beside the module's one."""
    home = Path(tempfile.mkdtemp(prefix="headwater-bqtest-"))
    monkeypatch.setenv("HEADWATER_HOME", str(home))
    yield home
    bigquery.stop_emulator()
    shutil.rmtree(home, ignore_errors=True)


def _rows(status: bigquery.EmulatorStatus, query: str) -> list[dict]:
    return [dict(row) for row in bigquery.client(status).query(query).result()]


# --- lifecycle --------------------------------------------------------------------------------


def test_start_is_idempotent_and_records_the_process(stack):
    again = bigquery.start_emulator()
    assert again == stack.status == bigquery.emulator_status()
    assert again.running and again.rest_port and again.grpc_port
    state = json.loads((stack.home / "bqemulator" / "emulator.json").read_text())
    assert state["pid"] == again.pid
    assert (state["rest_port"], state["grpc_port"]) == (again.rest_port, again.grpc_port)
    assert again.log_file == stack.home / "bqemulator" / "emulator.log"
    assert again.log_file.stat().st_size > 0
    assert _rows(again, "select 1 + 1 as two") == [{"two": 2}]


def test_start_refuses_other_ports_while_running(stack):
    with pytest.raises(
        HeadwaterError, match=rf"already runs .* REST port {stack.status.rest_port}"
    ):
        bigquery.start_emulator(rest_port=stack.status.rest_port + 1)


def test_start_and_stop_in_a_second_home(stack, other_home):
    assert not bigquery.emulator_status().running
    assert bigquery.stop_emulator() is False

    second = bigquery.start_emulator()
    # The module's emulator holds its ports, so this one picked others.
    assert second.running and second.pid != stack.status.pid
    assert {second.rest_port, second.grpc_port}.isdisjoint(
        {stack.status.rest_port, stack.status.grpc_port}
    )
    assert bigquery.start_emulator().pid == second.pid

    assert bigquery.stop_emulator() is True
    assert not psutil.pid_exists(second.pid)
    assert not bigquery.emulator_status().running
    assert not (other_home / "bqemulator" / "emulator.json").exists()
    assert bigquery.stop_emulator() is False
    # The module's emulator is untouched.
    assert _rows(stack.status, "select 'still here' as s") == [{"s": "still here"}]


def test_a_stale_state_file_is_not_a_running_emulator(other_home):
    # The recorded pid now belongs to another program (here: this test run).
    state = other_home / "bqemulator" / "emulator.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"pid": os.getpid(), "rest_port": 1, "grpc_port": 2}))
    assert not bigquery.emulator_status().running
    assert bigquery.stop_emulator() is False
    assert psutil.pid_exists(os.getpid()) and not state.exists()


def test_start_rejects_a_port_in_use(other_home):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(HeadwaterError, match=f"REST port {port} on 127.0.0.1 is in use"):
            bigquery.start_emulator(rest_port=port)
    assert not bigquery.emulator_status().running


def test_start_without_the_binary(other_home, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.executable", str(tmp_path / "python"))
    with pytest.raises(HeadwaterError, match="bqemulator is not installed"):
        bigquery.start_emulator()


def test_start_gives_up_after_the_timeout_and_cleans_up(other_home):
    with pytest.raises(HeadwaterError) as caught:
        bigquery.start_emulator(timeout=0.05)
    message = str(caught.value)
    assert "did not become ready within 0.05 s" in message
    assert str(other_home / "bqemulator" / "emulator.log") in message
    assert "\n" not in message
    assert not bigquery.emulator_status().running
    assert not (other_home / "bqemulator" / "emulator.json").exists()


def test_spatial_extension_installs_from_the_wheel(tmp_path):
    # DuckDB keeps extensions under ~/.duckdb: a fresh HOME has none and no network to fetch.
    script = textwrap.dedent(
        """
        import duckdb
        from headwater import bigquery
        bigquery.ensure_spatial_extension()
        bigquery.ensure_spatial_extension()
        con = duckdb.connect()
        con.execute("load spatial")
        print(con.execute("select st_astext(st_point(1, 2))").fetchone()[0])
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        env={**os.environ, "HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "POINT (1 2)"
    assert list(tmp_path.glob(".duckdb/extensions/*/*/spatial.duckdb_extension"))


def test_clients_need_a_running_emulator(other_home):
    with pytest.raises(HeadwaterError, match="emulator is not running"):
        bigquery.client()
    with pytest.raises(HeadwaterError, match="emulator is not running"):
        bigquery.emulator_env()


# --- the raw layer ----------------------------------------------------------------------------


def test_type_mapping_follows_airbytes_bigquery_destination():
    cases = {
        ("name", "character varying", None): "STRING",
        ("currency", "character", None): "STRING",
        ("id", "uuid", None): "STRING",
        ("price", "numeric", 2): "NUMERIC",
        ("ratio", "numeric", None): "NUMERIC",
        ("reading", "numeric", 12): "BIGNUMERIC",
        ("n", "integer", 0): "INT64",
        ("n", "bigint", 0): "INT64",
        ("flag", "boolean", None): "BOOL",
        ("at", "timestamp with time zone", None): "TIMESTAMP",
        ("at", "timestamp without time zone", None): "DATETIME",
        ("day", "date", None): "DATE",
        ("doc", "jsonb", None): "JSON",
        ("doc", "json", None): "JSON",
        ("tags", "ARRAY", None): "JSON",
        ("_airbyte_meta", "text", None): "JSON",
        ("_airbyte_generation_id", "integer", 0): "INT64",
    }
    for (column, data_type, scale), expected in cases.items():
        assert bigquery.bigquery_type(column, data_type, scale) == expected, (column, data_type)


def test_load_copies_every_table_with_row_counts(stack, loaded):
    assert loaded == {"items": 3, "measurements": 2, "empty_things": 0}
    bq = bigquery.client(stack.status)
    assert {t.table_id for t in bq.list_tables(RAW)} == {"items", "measurements", "empty_things"}
    assert bq.get_table(f"{RAW}.items").num_rows == 3


def test_load_types_columns_like_airbyte(stack, loaded):
    table = bigquery.client(stack.status).get_table(f"{RAW}.items")
    assert {f.name: f.field_type for f in table.schema} == EXPECTED_TYPES
    assert [f.name for f in table.schema] == list(EXPECTED_TYPES)


def test_load_keeps_exact_values(stack, loaded):
    rows = _rows(stack.status, f"select * from {RAW}.items order by name, _airbyte_raw_id")
    by_raw_id = {row["_airbyte_raw_id"]: row for row in rows}
    first = by_raw_id["raw-1"]
    assert first["id"] == str(ITEM_IDS[0])
    assert first["description"] == 'quote " backslash \\ newline\nunicode é ✓'
    assert first["currency"] == "EUR"
    assert first["views"] == 10**12 + 1
    assert first["price_amount"] == Decimal("10.50")
    assert first["ratio"] == Decimal("12345678901234567890.123456789")
    assert first["created_at"] == dt.datetime(2024, 3, 10, 6, 30, 0, 123456, tzinfo=UTC)
    assert first["confirmed_at"] == dt.datetime(2024, 3, 10, 1, 30, 0, 500000)
    assert first["confirmed_at"].tzinfo is None
    assert first["launch_date"] == dt.date(2024, 3, 1)
    assert first["tags"] == ["a", "b"]
    assert first["attributes"] == {"color": "red", "size": {"w": 2, "h": 3.5}, "labels": [1, None]}
    assert first["_airbyte_meta"] == META
    assert first["_airbyte_generation_id"] == 1
    assert first["_airbyte_extracted_at"] == dt.datetime(2024, 3, 11, tzinfo=UTC)

    second = by_raw_id["raw-2"]
    assert second["currency"] == "US "  # char(3) keeps its padding, as Airbyte reads it
    assert second["is_active"] is False

    empty = by_raw_id["raw-3"]
    typed = set(EXPECTED_TYPES) - {
        "id",
        "_airbyte_raw_id",
        "_airbyte_meta",
        "_airbyte_generation_id",
    }
    assert {column: empty[column] for column in typed} == dict.fromkeys(typed, None)


def test_loaded_json_is_queryable_as_json(stack, loaded):
    rows = _rows(
        stack.status,
        f"""
        select
            json_value(attributes, '$.color') as color,
            json_value(attributes, '$.size.w') as width,
            json_value(_airbyte_meta, '$.sync_id') as sync_id,
            array_length(json_query_array(tags)) as tag_count
        from {RAW}.items
        where _airbyte_raw_id = 'raw-1'
        """,
    )
    assert rows == [{"color": "red", "width": "2", "sync_id": "7", "tag_count": 2}]


def test_bignumeric_columns_hold_the_exact_text(stack, loaded):
    # bqemulator cannot store BIGNUMERIC (see bigquery._load_type); the exact digits survive.
    table = bigquery.client(stack.status).get_table(f"{RAW}.measurements")
    assert {f.name: f.field_type for f in table.schema}["reading"] == "STRING"
    rows = _rows(stack.status, f"select id, reading from {RAW}.measurements order by id")
    assert rows == [{"id": 1, "reading": "12345678.123456789012"}, {"id": 2, "reading": None}]


def test_native_arrays_and_json_become_json(stack, loaded):
    table = bigquery.client(stack.status).get_table(f"{RAW}.measurements")
    types = {f.name: f.field_type for f in table.schema}
    assert (types["codes"], types["payload"]) == ("JSON", "JSON")
    rows = _rows(stack.status, f"select codes, payload from {RAW}.measurements order by id")
    assert rows == [
        {"codes": ["x", "y z"], "payload": {"k": [1, 2]}},
        {"codes": None, "payload": None},
    ]


def test_load_of_a_missing_schema_fails_clearly(stack):
    with pytest.raises(HeadwaterError, match="has no tables in schema raw_nothing"):
        bigquery.load_raw_from_warehouse(stack.warehouse_url, "raw_nothing", status=stack.status)


def test_load_into_another_dataset(stack, loaded):
    counts = bigquery.load_raw_from_warehouse(
        stack.warehouse_url, RAW, dataset="raw_copy", status=stack.status
    )
    assert counts == loaded
    assert _rows(stack.status, "select count(*) as n from raw_copy.items") == [{"n": 3}]


# --- dbt on the emulator ---------------------------------------------------------------------

DBT_PROJECT = {
    "name": "emulator_check",
    "version": "1.0.0",
    "config-version": 2,
    "profile": "emulator_check",
    "model-paths": ["models"],
}

SOURCES = {
    "version": 2,
    "sources": [{"name": "raw", "schema": RAW, "tables": [{"name": "items"}]}],
    "models": [
        {
            "name": "items_current",
            "columns": [{"name": "item_id", "data_tests": ["unique", "not_null"]}],
        },
        {
            "name": "items_latest",
            "columns": [{"name": "item_id", "data_tests": ["unique", "not_null"]}],
        },
    ],
}

TABLE_MODEL = """
{{ config(materialized='table') }}

with items as (
    select * from {{ source('raw', 'items') }}
)

select
    id as item_id,
    name,
    price_amount,
    cast(json_value(attributes, '$.color') as string) as color,
    confirmed_at,
    created_at
from items
where id is not null
"""

INCREMENTAL_MODEL = """
-- merge on item_id: a reloaded raw row replaces the previous version of the item.
{{ config(materialized='incremental', incremental_strategy='merge', unique_key='item_id') }}

with items as (
    select * from {{ source('raw', 'items') }}
)

select
    id as item_id,
    name,
    price_amount,
    _airbyte_extracted_at as extracted_at
from items
{% if is_incremental() %}
where _airbyte_extracted_at > (select max(extracted_at) from {{ this }})
{% endif %}
"""


def _dbt_project(path: Path, status: bigquery.EmulatorStatus) -> Path:
    (path / "models").mkdir(parents=True)
    (path / "dbt_project.yml").write_text(yaml.safe_dump(DBT_PROJECT))
    (path / "models" / "_models.yml").write_text(yaml.safe_dump(SOURCES))
    (path / "models" / "items_current.sql").write_text(TABLE_MODEL)
    (path / "models" / "items_latest.sql").write_text(INCREMENTAL_MODEL)
    target = bigquery.dbt_profile_target(status, "dbt_check")
    # As the project's profiles.yml does: the endpoint and project come from the environment.
    target["api_endpoint"] = "{{ env_var('HEADWATER_BQ_API_ENDPOINT') }}"
    target["project"] = "{{ env_var('HEADWATER_BQ_PROJECT') }}"
    profiles = {
        "emulator_check": {"target": "bigquery_emulator", "outputs": {"bigquery_emulator": target}}
    }
    (path / "profiles.yml").write_text(yaml.safe_dump(profiles))
    return path


def _dbt_build(project: Path, status: bigquery.EmulatorStatus) -> subprocess.CompletedProcess:
    env = {**os.environ, **config.TELEMETRY_OFF, **bigquery.emulator_env(status)}
    dbt = Path(sys.executable).parent / "dbt"
    result = subprocess.run(
        [
            str(dbt),
            "build",
            "--project-dir",
            str(project),
            "--profiles-dir",
            str(project),
            "--no-version-check",
            "--no-use-colors",
        ],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    return result


def test_dbt_build_with_table_and_merge_models(stack, loaded, tmp_path):
    project = _dbt_project(tmp_path / "dbt", stack.status)

    first = _dbt_build(project, stack.status)
    assert "PASS=6" in first.stdout, first.stdout[-3000:]
    current = _rows(stack.status, "select * from dbt_check.items_current order by name")
    assert [(r["name"], r["price_amount"], r["color"]) for r in current] == [
        (None, None, None),
        ("item 1", Decimal("10.50"), "red"),
        ("item 2", Decimal("21.00"), "red"),
    ]
    assert current[1]["confirmed_at"] == dt.datetime(2024, 3, 10, 1, 30, 0, 500000)
    assert _rows(stack.status, "select count(*) as n from dbt_check.items_latest") == [{"n": 3}]

    # A later sync: item 1 changed, item 4 is new, both extracted after the first run.
    later = dt.datetime(2024, 3, 12, tzinfo=UTC)
    with psycopg.connect(stack.warehouse_url) as conn:
        conn.execute(
            f"update {RAW}.items set name = 'item 1 renamed', price_amount = 99.99, "
            "_airbyte_extracted_at = %s where _airbyte_raw_id = 'raw-1'",
            (later,),
        )
        _insert_items(conn, [_item(4, _airbyte_extracted_at=later)])
    assert (
        bigquery.load_raw_from_warehouse(stack.warehouse_url, RAW, status=stack.status)["items"]
        == 4
    )

    _dbt_build(project, stack.status)
    compiled = next((project / "target" / "run").rglob("items_latest.sql")).read_text()
    assert "merge into" in compiled.lower()
    latest = _rows(
        stack.status, "select item_id, name, price_amount from dbt_check.items_latest order by name"
    )
    assert [(r["name"], r["price_amount"]) for r in latest] == [
        (None, None),
        ("item 1 renamed", Decimal("99.99")),
        ("item 2", Decimal("21.00")),
        ("item 4", Decimal("42.00")),
    ]
    assert len({r["item_id"] for r in latest}) == 4
    assert _rows(stack.status, "select count(*) as n from dbt_check.items_current") == [{"n": 4}]


def test_dbt_profile_and_env(stack):
    target = bigquery.dbt_profile_target(stack.status, "marts", threads=2)
    assert target == {
        "type": "bigquery",
        "method": "oauth-secrets",
        "token": bigquery.STATIC_TOKEN,
        "project": "local",
        "dataset": "marts",
        "api_endpoint": f"http://127.0.0.1:{stack.status.rest_port}",
        "location": "US",
        "threads": 2,
        "job_retries": 0,
        "priority": "interactive",
    }
    assert bigquery.emulator_env(stack.status) == {
        "HEADWATER_BQ_API_ENDPOINT": f"http://127.0.0.1:{stack.status.rest_port}",
        "HEADWATER_BQ_PROJECT": "local",
    }
    with pytest.raises(HeadwaterError, match="threads"):
        bigquery.dbt_profile_target(stack.status, "marts", threads=8)
