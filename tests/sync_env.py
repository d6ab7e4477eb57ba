"""A throwaway source and warehouse per test, with a connection file for the sync engine."""

from __future__ import annotations

import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from headwater import db, sync
from headwater.connection import load_connection

SOURCE_DDL = """
create table items (
    id uuid primary key,
    name varchar(50),
    amount numeric(12, 2),
    currency char(3),
    tags text[],
    attributes jsonb,
    local_time timestamp without time zone,
    updated_at timestamptz not null
);
create table ledger (
    id bigserial primary key,
    note text,
    created_at timestamptz not null default now()
);
create table tiers (id serial primary key, tier text, is_current boolean);
"""

CONNECTION = """
name: {name}
namespace: raw_test
schedule:
  type: manual
source:
  name: test-source
  definition: postgres
  url_env: TEST_SOURCE_URL
  schema: public
  replication_method: standard
  airbyte_config_env:
    host: TEST_PG_HOST
    port: TEST_PG_PORT
    database: TEST_PG_DATABASE
    username: TEST_PG_USER
    password: TEST_PG_PASSWORD
destination:
  production:
    name: test-bigquery
    definition: bigquery
    airbyte_config_env:
      project_id: TEST_BQ_PROJECT
      dataset_location: TEST_BQ_LOCATION
      credentials_json: TEST_BQ_CREDENTIALS
  local:
    name: test-warehouse
    definition: postgres
    url_env: TEST_WAREHOUSE_URL
safety_lag: 15m
streams:
  - name: items
    sync_mode: incremental_append_deduped
    cursor_field: updated_at
    primary_key: [id]
    reason: test
  - name: ledger
    sync_mode: incremental_append
    cursor_field: created_at
    primary_key: [id]
    reason: test
  - name: tiers
    sync_mode: full_refresh_overwrite
    primary_key: [id]
    reason: test
"""


@pytest.fixture
def env(pg_home, tmp_path: Path):
    """A fresh source and warehouse database, and a connection file pointing at them."""
    suffix = uuid.uuid4().hex[:8]
    admin = db.status().url()
    source_db, warehouse_db = f"src_{suffix}", f"wh_{suffix}"
    db.ensure_databases(admin, (source_db, warehouse_db))
    source_url, warehouse_url = db.status().url(source_db), db.status().url(warehouse_db)
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(SOURCE_DDL)
    path = tmp_path / "test.yaml"
    path.write_text(CONNECTION.format(name=f"test_{suffix}"))

    class Env:
        connection = load_connection(path)
        source = source_url
        warehouse = warehouse_url

        def run(self, **kwargs):
            return sync.sync(
                self.connection, source_url=self.source, warehouse_url=self.warehouse, **kwargs
            )

        def src(self, query, params=None):
            with psycopg.connect(self.source, autocommit=True) as conn:
                cur = conn.execute(query, params)
                return cur.fetchall() if cur.description else None

        def wh(self, query, params=None):
            with psycopg.connect(self.warehouse, autocommit=True) as conn:
                cur = conn.execute(query, params)
                return cur.fetchall() if cur.description else None

    yield Env()
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in (source_db, warehouse_db):
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )


def add_items(env, n: int, *, updated_at: str = "now()") -> None:
    env.src(
        f"""
        insert into items
        select gen_random_uuid(), 'item ' || i, i * 1.25, 'EUR', array['a', 'b' || i],
               jsonb_build_object('size', i), '2026-01-01 12:00'::timestamp, {updated_at}
        from generate_series(1, %s) as i
        """,
        [n],
    )


def assert_raw_equals_source(env, table: str = "items") -> None:
    """Every source row is in raw exactly once, with the same values."""
    key = "id"
    source_rows = env.src(
        f"select id::text, name, amount, currency::text, to_jsonb(tags), attributes, "
        f"local_time, updated_at from {table} order by {key}"
    )
    raw_rows = env.wh(
        f"select id, name, amount, currency, tags, attributes, local_time, updated_at "
        f"from raw_test.{table} order by {key}"
    )
    assert raw_rows == source_rows
    dupes = env.wh(f"select count(*) - count(distinct {key}) from raw_test.{table}")[0][0]
    assert dupes == 0
