"""Write-audit-publish on the embedded server: atomic swaps, restore, and what analysts see."""

from __future__ import annotations

import threading
import uuid

import psycopg
import pytest
from psycopg import sql

from headwater import db, publish
from headwater.errors import ConfigError, HeadwaterError

pytestmark = pytest.mark.integration

NAMES = publish.marts_of("marketplace")


class Warehouse:
    """A fresh warehouse database whose `marts` schema holds small stand-ins for the marts."""

    def __init__(self, url: str):
        self.url = url

    def sql(self, query, params=None):
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else None

    def build(self, version: str, rows: int = 5) -> None:
        """What a dbt build leaves in `marts`: every mart tagged with `version`."""
        self.sql("create schema if not exists marts")
        for mart in NAMES:
            table = sql.Identifier("marts", mart)
            self.sql(sql.SQL("drop table if exists {}").format(table))
            self.sql(
                sql.SQL(
                    "create table {} as select g as id, %s::text as version, g * 1.5 as amount "
                    "from generate_series(1, %s) as g"
                ).format(table),
                [version, rows],
            )

    def versions(self, schema: str = "analytics") -> set[str]:
        query = sql.SQL(" union ").join(
            sql.SQL("select version from {}").format(sql.Identifier(schema, m)) for m in NAMES
        )
        return {row[0] for row in self.sql(query)}

    def oids(self, schema: str = "analytics") -> dict[str, int]:
        return dict(
            self.sql(
                "select c.relname, c.oid::bigint from pg_class as c "
                "join pg_namespace as n on n.oid = c.relnamespace "
                "where n.nspname = %s and c.relkind = 'r'",
                [schema],
            )
        )

    def checksums(self, schema: str = "analytics") -> dict[str, str]:
        return publish.analytics_checksums("marketplace", schema=schema, warehouse_url=self.url)

    def log_rows(self) -> int:
        return self.sql("select count(*) from headwater.publish_log")[0][0]


@pytest.fixture
def wh(pg_home):
    admin = db.status().url()
    name = f"publish_{uuid.uuid4().hex[:8]}"
    db.ensure_databases(admin, (name,))
    yield Warehouse(db.status().url(name))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


def _publish(wh: Warehouse, **kwargs) -> publish.PublishResult:
    return publish.publish("marketplace", warehouse_url=wh.url, **kwargs)


def test_publish_copies_the_marts_and_logs_counts_and_checksums(wh):
    wh.build("v1", rows=7)
    result = _publish(wh)

    assert result.action == "publish" and result.marts == NAMES
    assert result.row_counts == dict.fromkeys(NAMES, 7)
    assert wh.versions() == {"v1"}
    assert wh.checksums() == wh.checksums("marts") == result.checksums
    [logged] = publish.history("marketplace", warehouse_url=wh.url)
    assert logged["publish_id"] == result.publish_id and logged["action"] == "publish"
    assert logged["marts"] == NAMES and logged["row_counts"] == result.row_counts
    assert logged["checksum"] == result.checksum
    assert wh.oids("analytics__next") == {}, "staging leaves nothing behind"


def test_second_publish_keeps_the_first_as_previous(wh):
    wh.build("v1")
    first = _publish(wh)
    wh.build("v2")
    second = _publish(wh)

    assert wh.versions() == {"v2"} and wh.versions("analytics__previous") == {"v1"}
    assert wh.checksums("analytics__previous") == first.checksums
    assert second.checksum != first.checksum


def test_restore_brings_back_the_previous_version_and_a_second_restore_undoes_it(wh):
    wh.build("v1")
    first = _publish(wh)
    wh.build("v2")
    second = _publish(wh)

    restored = publish.restore("marketplace", warehouse_url=wh.url)
    assert restored.action == "restore" and restored.checksum == first.checksum
    assert wh.versions() == {"v1"} and wh.checksums() == first.checksums
    assert wh.versions("analytics__previous") == {"v2"}

    again = publish.restore("marketplace", warehouse_url=wh.url)
    assert again.checksum == second.checksum and wh.versions() == {"v2"}
    actions = [h["action"] for h in publish.history("marketplace", warehouse_url=wh.url)]
    assert actions == ["restore", "restore", "publish", "publish"]


def test_restore_with_nothing_to_restore_says_so(wh):
    with pytest.raises(HeadwaterError, match="never published"):
        publish.restore("marketplace", warehouse_url=wh.url)
    wh.build("v1")
    _publish(wh)
    with pytest.raises(HeadwaterError, match="no earlier version"):
        publish.restore("marketplace", warehouse_url=wh.url)
    assert wh.versions() == {"v1"}


def test_publish_failing_midway_leaves_the_old_set(wh, monkeypatch):
    wh.build("v1")
    first = _publish(wh)
    oids, previous_oids, logged = wh.oids(), wh.oids("analytics__previous"), wh.log_rows()
    wh.build("v2")

    original = publish._swap_one

    def failing_swap(conn, mart):
        if mart == NAMES[3]:  # three marts are already swapped in this transaction
            conn.execute("select 1 / 0")
        original(conn, mart)

    monkeypatch.setattr(publish, "_swap_one", failing_swap)
    with pytest.raises(HeadwaterError, match="rolled back, analytics is unchanged"):
        _publish(wh)

    assert wh.versions() == {"v1"} and wh.checksums() == first.checksums
    assert wh.oids() == oids and wh.oids("analytics__previous") == previous_oids
    assert wh.log_rows() == logged

    monkeypatch.setattr(publish, "_swap_one", original)
    assert _publish(wh).row_counts == dict.fromkeys(NAMES, 5)
    assert wh.versions() == {"v2"}


def test_a_reader_never_sees_a_half_swapped_set(wh, monkeypatch):
    wh.build("v1")
    _publish(wh)
    wh.build("v2")
    midway, resume = threading.Event(), threading.Event()
    original = publish._swap_one

    def paused_swap(conn, mart):
        original(conn, mart)
        if mart == NAMES[2]:
            midway.set()
            assert resume.wait(30)

    monkeypatch.setattr(publish, "_swap_one", paused_swap)
    published: list = []
    writer = threading.Thread(target=lambda: published.append(_publish(wh)))
    writer.start()
    assert midway.wait(30), "the swap reached its middle"

    seen: list[set[str]] = []
    reader = threading.Thread(target=lambda: seen.append(wh.versions()))
    reader.start()
    reader.join(1.0)
    assert reader.is_alive(), "a reader waits while the swap is under way"
    resume.set()
    writer.join(30)
    reader.join(30)

    assert published and seen == [{"v2"}]
    assert wh.versions() == {"v2"}


def test_readers_holding_the_tables_make_publish_retry_then_give_up_cleanly(wh, monkeypatch):
    wh.build("v1")
    first = _publish(wh)
    wh.build("v2")
    monkeypatch.setattr(publish, "LOCK_TIMEOUT", "100ms")
    monkeypatch.setattr(publish, "SWAP_ATTEMPTS", 2)

    with psycopg.connect(wh.url) as analyst:  # a long transaction that read a mart
        analyst.execute("select count(*) from analytics.fct_orders").fetchone()
        with pytest.raises(HeadwaterError, match="gave up after 2 attempts"):
            _publish(wh)
        assert analyst.execute("select distinct version from analytics.fct_orders").fetchall() == [
            ("v1",)
        ]
    assert wh.checksums() == first.checksums

    _publish(wh)  # the reader is gone
    assert wh.versions() == {"v2"}


def test_grants_on_analytics_tables_survive_publish_and_restore(wh):
    role = f"analyst_{uuid.uuid4().hex[:6]}"
    wh.build("v1")
    _publish(wh)
    wh.sql(sql.SQL("create role {}").format(sql.Identifier(role)))
    try:
        wh.sql(sql.SQL("grant usage on schema analytics to {}").format(sql.Identifier(role)))
        wh.sql(sql.SQL("grant select on analytics.fct_orders to {}").format(sql.Identifier(role)))
        wh.build("v2")
        _publish(wh)
        allowed = "select has_table_privilege(%s, 'analytics.fct_orders', 'select')"
        assert wh.sql(allowed, [role]) == [(True,)]
        assert wh.sql(
            "select has_table_privilege(%s, 'analytics.dim_users', 'select')", [role]
        ) == [(False,)]
        publish.restore("marketplace", warehouse_url=wh.url)
        assert wh.sql(allowed, [role]) == [(True,)]
    finally:
        wh.sql(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        wh.sql(sql.SQL("drop role {}").format(sql.Identifier(role)))


def test_a_view_on_analytics_blocks_the_swap_by_name(wh):
    wh.build("v1")
    first = _publish(wh)
    wh.sql("create schema sandbox")
    wh.sql("create view sandbox.big_orders as select * from analytics.fct_orders where id > 2")
    wh.build("v2")

    with pytest.raises(HeadwaterError, match=r"sandbox\.big_orders \(on analytics\.fct_orders\)"):
        _publish(wh)
    assert wh.checksums() == first.checksums


def test_missing_mart_refuses_before_touching_anything(wh):
    wh.build("v1")
    first = _publish(wh)
    wh.build("v2")
    wh.sql("drop table marts.fct_daily_sales")

    with pytest.raises(HeadwaterError, match="fct_daily_sales not found in schema marts"):
        _publish(wh)
    assert wh.checksums() == first.checksums


def test_publish_touches_only_the_domains_marts(wh):
    wh.build("v1")
    _publish(wh)
    wh.sql("create table analytics.other_domain_bookings as select 1 as id")
    wh.build("v2")
    _publish(wh, marts=["fct_orders", "fct_orders"])

    assert wh.sql("select distinct version from analytics.fct_orders") == [("v2",)]
    assert wh.sql("select distinct version from analytics.dim_users") == [("v1",)]
    assert wh.sql("select id from analytics.other_domain_bookings") == [(1,)]
    [last, _] = publish.history("marketplace", warehouse_url=wh.url)
    assert last["marts"] == ["fct_orders"]

    publish.restore("marketplace", warehouse_url=wh.url)  # restores what that publish changed
    assert wh.versions() == {"v1"}
    assert wh.sql("select id from analytics.other_domain_bookings") == [(1,)]


def test_one_publish_at_a_time(wh):
    wh.build("v1")
    with psycopg.connect(wh.url, autocommit=True) as other:
        other.execute("select pg_advisory_lock(hashtext('headwater.publish'))")
        with pytest.raises(HeadwaterError, match="another publish or restore is running"):
            _publish(wh)
    _publish(wh)


def test_unknown_domain_and_empty_list_are_config_errors(wh):
    with pytest.raises(ConfigError, match="no pipeline for domain .nowhere."):
        publish.publish("nowhere", warehouse_url=wh.url)
    with pytest.raises(ConfigError, match="empty"):
        _publish(wh, marts=[])


def test_checksum_sees_values_and_ignores_row_order(wh):
    wh.build("v1")
    before = wh.checksums("marts")["fct_orders"]
    wh.sql(
        "create table marts.shuffled as select * from marts.fct_orders order by id desc;"
        "drop table marts.fct_orders; alter table marts.shuffled rename to fct_orders"
    )
    assert wh.checksums("marts")["fct_orders"] == before
    wh.sql("update marts.fct_orders set amount = amount + 0.01 where id = 3")
    assert wh.checksums("marts")["fct_orders"] != before
