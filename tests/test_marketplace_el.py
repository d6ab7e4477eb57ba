"""Marketplace extract-load end to end: seed, sync, rounds of mutate + sync, raw equals source."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from headwater import config, db, sync
from headwater.connection import load_connection
from headwater.generators import marketplace

pytestmark = [pytest.mark.integration, pytest.mark.slow]


@pytest.fixture(scope="module")
def urls(pg_home):
    """Fresh source and warehouse databases for this module."""
    admin = db.status().url()
    names = ("el_marketplace", "el_warehouse")
    with psycopg.connect(admin, autocommit=True) as conn:
        for name in names:
            conn.execute(
                sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
            )
    db.ensure_databases(admin, names)
    return db.status().url(names[0]), db.status().url(names[1])


def source_snapshot(source_url: str, connection) -> dict[str, list[tuple]]:
    """Every source table as the engine maps it, ordered by primary key."""
    tables = {}
    with psycopg.connect(source_url) as conn:
        for stream in connection.streams:
            columns = conn.execute(
                """
                select a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typcategory
                from pg_attribute as a
                inner join pg_type as t on t.oid = a.atttypid
                where a.attrelid = %s::regclass and a.attnum > 0 and not a.attisdropped
                order by a.attnum
                """,
                [stream.name],
            ).fetchall()
            mapped = [sync._map_column(*c) for c in columns]
            fields = sql.SQL(", ").join(
                sql.SQL(c.select_expr).format(sql.Identifier(c.name)) for c in mapped
            )
            order = sql.SQL(", ").join(sql.Identifier(k) for k in stream.primary_key)
            query = sql.SQL("select {} from {} order by {}").format(
                fields, sql.Identifier(stream.name), order
            )
            tables[stream.name] = (
                [c.name for c in mapped],
                conn.execute(query).fetchall(),
            )
    return tables


def assert_raw_equals_source(source_url: str, warehouse_url: str, connection) -> None:
    expected = source_snapshot(source_url, connection)
    with psycopg.connect(warehouse_url) as conn:
        for stream in connection.streams:
            columns, rows = expected[stream.name]
            fields = sql.SQL(", ").join(sql.Identifier(c) for c in columns)
            order = sql.SQL(", ").join(sql.Identifier(k) for k in stream.primary_key)
            raw = conn.execute(
                sql.SQL("select {} from {} order by {}").format(
                    fields, sql.Identifier(connection.namespace, stream.name), order
                )
            ).fetchall()
            assert len(raw) == len(rows), stream.name
            assert raw == rows, stream.name


def test_seed_sync_and_mutation_rounds_keep_raw_equal_to_source(urls):
    source_url, warehouse_url = urls
    connection = load_connection("marketplace")
    marketplace.seed(source_url, 0.5)

    first = sync.sync(connection, source_url=source_url, warehouse_url=warehouse_url)

    assert_raw_equals_source(source_url, warehouse_url, connection)
    first_rows = {s.stream: s.rows_read for s in first.streams}
    for round_ in range(3):
        changes = marketplace.mutate(source_url, 60, seed=round_)
        report = sync.sync(connection, source_url=source_url, warehouse_url=warehouse_url)
        assert_raw_equals_source(source_url, warehouse_url, connection)
        moved = {s.stream: s.rows_read for s in report.streams}
        # Incremental streams move a small fraction of the table, not all of it.
        for stream in ("orders", "users", "order_items", "event_log"):
            assert 0 < moved[stream] < first_rows[stream] / 5, (round_, stream, moved[stream])
        assert moved["orders"] >= changes["orders_created"]


def test_state_lives_in_the_warehouse(urls):
    _, warehouse_url = urls
    with psycopg.connect(warehouse_url) as conn:
        rows = conn.execute(
            "select stream, cursor_value is not null from headwater.sync_state where connection = 'marketplace'"
        ).fetchall()
    state = dict(rows)
    assert state["orders"] is True and state["payments"] is False
    assert set(state) == {s.name for s in load_connection("marketplace").streams}


def test_default_urls_point_at_the_embedded_server(pg_home):
    assert db.is_embedded_url(config.warehouse_url())
    assert db.describe(config.source_url("marketplace")).startswith("marketplace@")
