"""The restaurant models and dashboards on the embedded PostgreSQL.

* After the first hour and after each of two more 20-minute windows (late, resent and
  out-of-order events crossing every boundary), an incremental build equals a full
  refresh row for row, with a lookback of 0 (restaurant_env.py does the rounds).
* Each dashboard query answers what the same question asked of the raw events does:
  right after a build, and with events synced but not yet built (the tail).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import psycopg
import pytest

from headwater import analyses, config
from restaurant_env import FULL, INCREMENTAL, POSTGRES_MARTS, START

pytestmark = [pytest.mark.integration, pytest.mark.slow]


def test_first_build_passes_every_test_and_fills_every_mart(restaurant_built):
    statuses = restaurant_built.first_build.statuses()
    assert set(statuses) <= {"success", "pass"}, statuses
    kinds = {node["unique_id"].split(".")[0] for node in restaurant_built.first_build.results}
    assert kinds == {"model", "test", "unit_test"}
    for mart in POSTGRES_MARTS:
        assert restaurant_built.query(f"select count(*) from marts{INCREMENTAL}.{mart}")[0][0]


def test_the_rounds_were_incremental_and_crossed_late_events(restaurant_built):
    env = restaurant_built
    for report, result in env.rounds:
        assert set(result.statuses()) <= {"success", "pass"}, result.statuses()
        assert report.duplicates > 0 and report.dead_lettered > 0
        merged = {
            node["unique_id"].split(".")[-1]: int(node["adapter_response"]["rows_affected"])
            for node in result.results
            if node["unique_id"].startswith("model.") and node["adapter_response"]
        }
        total = env.query(f"select count(*) from marts{INCREMENTAL}.fct_restaurant_orders")[0][0]
        assert 0 < merged["fct_restaurant_orders"] < total
        assert merged["fct_restaurant_events"] == report.accepted
    # Events that happened before an earlier window's newest event but arrived in a later
    # window: the late window the incremental models must reopen.
    late = env.query(
        f"""
        with loads as (
            select _loaded_at, max(event_at) over (order by _loaded_at
                rows between unbounded preceding and 1 preceding) as seen_before
            from marts{INCREMENTAL}.fct_restaurant_events
        )
        select count(*) from loads where seen_before is not null
            and _loaded_at > (select min(_loaded_at) from marts{INCREMENTAL}.fct_restaurant_events)
        """
    )[0][0]
    assert late > 0


def test_the_comparison_sees_a_wrong_row_and_the_next_run_repairs_it(restaurant_built):
    env = restaurant_built
    table = f"marts{INCREMENTAL}.fct_restaurant_location_minutes"
    with psycopg.connect(env.warehouse_url) as conn:
        conn.execute(
            f"update {table} set revenue = revenue + 1, _loaded_at = _loaded_at - interval '1 day' "
            f"where (location_id, minute_at) in (select location_id, minute_at from {table} "
            "order by minute_at desc limit 1)"
        )
    assert env.differences("fct_restaurant_location_minutes")["only_incremental"]
    with psycopg.connect(env.warehouse_url) as conn:
        conn.execute(
            f"delete from {table} where (location_id, minute_at) in (select location_id, "
            f"minute_at from {table} order by minute_at desc limit 1)"
        )
    env.dbt(["run", "--full-refresh", "--select", "fct_restaurant_location_minutes"])
    env.assert_equal("after the repair")


def test_orders_carry_the_flow_and_link_most_seatings(restaurant_built):
    env = restaurant_built
    placed, seated, completed, paid, mismatched = env.query(
        f"""
        select count(*) filter (where is_placed), count(*) filter (where has_seating),
            count(*) filter (where is_completed), count(*) filter (where is_paid),
            count(*) filter (where is_paid and item_quantity > 0
                and paid_subtotal_amount <> items_amount)
        from marts{INCREMENTAL}.fct_restaurant_orders
        """
    )[0]
    # Lost seatings (0.1% malformed) and parties still at the table leave a few gaps.
    assert seated > 0.95 * placed and completed > 0.5 * placed and paid > 0.3 * placed
    assert mismatched == 0


# --- dashboards equal the same question asked of the raw events ---------------------------------

RAW_EVENTS = """
    create temp table ev on commit drop as
    select distinct on (event_id) *
    from raw_restaurant.events
    order by event_id, ingest_seq;
    create index on ev (location_id, table_id, event_timestamp);
    create temp table names on commit drop as
    select distinct on (location_id) location_id, location_name
    from ev order by location_id, event_timestamp desc, event_id desc;
"""

RAW_QUERIES = {
    "live_revenue": """
        select e.location_id, n.location_name, sum(e.total_amount), count(*)
        from ev as e inner join names as n using (location_id)
        where e.event_type = 'payment'
            and e.event_timestamp >= date_trunc('minute', %(now)s::timestamptz, 'UTC') - interval '4 minutes'
            and e.event_timestamp < date_trunc('minute', %(now)s::timestamptz, 'UTC') + interval '1 minute'
        group by 1, 2
    """,
    "order_funnel": """
        select e.location_id, n.location_name,
            count(*) filter (where event_type = 'table_seated') as s,
            count(*) filter (where event_type = 'order_placed') as p,
            count(*) filter (where event_type = 'order_completed') as c,
            count(*) filter (where event_type = 'payment') as y,
            round(count(*) filter (where event_type = 'order_placed')
                / nullif(count(*) filter (where event_type = 'table_seated'), 0.0), 4),
            round(count(*) filter (where event_type = 'payment')
                / nullif(count(*) filter (where event_type = 'order_placed'), 0.0), 4)
        from ev as e inner join names as n using (location_id)
        where e.event_timestamp >= date_trunc('minute', %(now)s::timestamptz, 'UTC') - interval '59 minutes'
            and e.event_timestamp < date_trunc('minute', %(now)s::timestamptz, 'UTC') + interval '1 minute'
        group by 1, 2
    """,
    "trending_items": """
        with lines as (
            select e.order_id, e.event_timestamp, e.event_id, i.n, i.item ->> 'item_id' as item_id,
                i.item ->> 'item_name' as item_name, i.item ->> 'category' as category,
                (i.item ->> 'quantity')::int as quantity
            from ev as e, jsonb_array_elements(e.payload -> 'items') with ordinality as i (item, n)
            where e.event_type = 'order_placed'
        ),
        latest as (
            select distinct on (item_id) item_id, item_name, category from lines
            order by item_id, event_timestamp desc, md5(event_id || '-' || n) desc
        )
        select l.item_id, latest.item_name, latest.category, sum(quantity), count(distinct order_id)
        from lines as l inner join latest using (item_id)
        where l.event_timestamp >= date_trunc('minute', %(now)s::timestamptz, 'UTC') - interval '29 minutes'
            and l.event_timestamp < date_trunc('minute', %(now)s::timestamptz, 'UTC') + interval '1 minute'
        group by 1, 2, 3
        order by 4 desc, 5 desc, 1
        limit 10
    """,
    # The seating of an order, asked directly: the latest seating or placement at the
    # table before the placement, if it is a seating of the last 240 minutes.
    "wait_times": """
        with placed as (
            select distinct on (order_id) order_id, location_id, table_id,
                event_timestamp as placed_at, event_id
            from ev where event_type = 'order_placed' order by order_id, event_timestamp, event_id
        ),
        completed as (
            select distinct on (order_id) order_id, event_timestamp as completed_at
            from ev where event_type = 'order_completed' order by order_id, event_timestamp, event_id
        ),
        seated as (
            select p.order_id, p.location_id, before.event_timestamp as seated_at
            from placed as p
            cross join lateral (
                select e.event_type, e.event_timestamp from ev as e
                where e.location_id = p.location_id and e.table_id = p.table_id
                    and e.event_type in ('table_seated', 'order_placed')
                    and (e.event_timestamp, case when e.event_type = 'table_seated' then 0 else 1 end, e.event_id)
                        < (p.placed_at, 1, p.event_id)
                order by e.event_timestamp desc, case when e.event_type = 'table_seated' then 0 else 1 end desc,
                    e.event_id desc
                limit 1
            ) as before
            where before.event_type = 'table_seated'
                and before.event_timestamp >= p.placed_at - interval '240 minutes'
        ),
        waits as (
            select s.location_id, date_trunc('hour', s.seated_at, 'UTC') as hour_at,
                round(extract(epoch from c.completed_at - s.seated_at) / 60.0, 2) as wait
            from seated as s inner join completed as c using (order_id)
        )
        select w.location_id, n.location_name, extract(hour from w.hour_at)::int, count(*),
            round(percentile_cont(0.5) within group (order by wait)::numeric, 2),
            round(percentile_cont(0.9) within group (order by wait)::numeric, 2),
            round(percentile_cont(0.99) within group (order by wait)::numeric, 2)
        from waits as w inner join names as n using (location_id)
        where w.hour_at::date = (%(now)s::timestamptz at time zone 'UTC')::date
        group by 1, 2, 3
    """,
}


def raw_answer(env, name: str, now) -> list[tuple]:
    with psycopg.connect(env.warehouse_url) as conn, conn.transaction():
        conn.execute("set local time zone 'UTC'")
        conn.execute(RAW_EVENTS)
        return [
            tuple(_plain(v) for v in row) for row in conn.execute(RAW_QUERIES[name], {"now": now})
        ]


def dashboard(monkeypatch, name: str, now=None, limit=None) -> list[tuple]:
    monkeypatch.setenv("HEADWATER_DBT_SCHEMA_SUFFIX", INCREMENTAL)
    parameters = {"now": now.isoformat() if now else None, "limit": limit}
    result = analyses.run("restaurant", name, parameters, url=config.warehouse_url())
    return [tuple(_plain(v) for v in row) for row in result.rows]


def _plain(value):
    return value.normalize() + 0 if isinstance(value, Decimal) else value


def newest_event(env):
    return env.query("select max(event_timestamp) from raw_restaurant.events")[0][0]


@pytest.mark.parametrize("name", ["live_revenue", "order_funnel", "trending_items", "wait_times"])
def test_dashboards_equal_the_raw_events_after_a_build(restaurant_built, monkeypatch, name):
    env = restaurant_built
    newest = newest_event(env)
    # Windows inside one hour of fct_restaurant_location_hours, exactly one hour, and
    # crossing an hour by one minute or by a few.
    noon = START + timedelta(hours=1)
    nows = (
        newest,
        newest - timedelta(minutes=17, seconds=31),
        noon - timedelta(seconds=30),
        noon + timedelta(seconds=10),
        noon + timedelta(minutes=2, seconds=30),
    )
    for now in nows:
        ours = dashboard(monkeypatch, name, now, limit=None if name == "trending_items" else 10**6)
        raw = raw_answer(env, name, now)
        assert ours, (name, now)
        if name == "trending_items":  # the top 10, in order
            assert ours == raw, (name, now)
        else:
            assert sorted(ours) == sorted(raw), (name, now)


def test_dashboard_defaults_to_the_newest_event(restaurant_built, monkeypatch):
    env = restaurant_built
    assert dashboard(monkeypatch, "live_revenue") == dashboard(
        monkeypatch, "live_revenue", newest_event(env)
    )
    top = dashboard(monkeypatch, "live_revenue", limit=3)
    assert len(top) == 3 and top[0][2] >= top[1][2] >= top[2][2]


# At 12:30 the test day's 150 locations fill more than a page of the funnel's hour, and
# more than 7 rows of live revenue's 5 minutes.
@pytest.mark.parametrize(("name", "at_least"), [("live_revenue", 7), ("order_funnel", 100)])
def test_a_page_is_the_top_of_the_whole_answer(restaurant_built, monkeypatch, name, at_least):
    """The default page (100 locations) and a --limit page are the whole answer's first rows."""
    now = START + timedelta(hours=1, minutes=30)
    whole = dashboard(monkeypatch, name, now, limit=10**6)
    assert len(whole) > at_least, name
    assert dashboard(monkeypatch, name, now) == whole[:100]
    assert dashboard(monkeypatch, name, now, limit=7) == whole[:7]


@pytest.mark.parametrize("name", ["live_revenue", "order_funnel", "trending_items"])
def test_dashboards_count_events_synced_but_not_yet_built(restaurant_tail, monkeypatch, name):
    env = restaurant_tail
    now = newest_event(env)
    limit = None if name == "trending_items" else 10**6
    assert sorted(dashboard(monkeypatch, name, now, limit=limit)) == sorted(
        raw_answer(env, name, now)
    )


@pytest.fixture(scope="module")
def restaurant_tail(restaurant_built):
    """Ten more minutes landed and synced, not built: the marts are behind raw."""
    env = restaurant_built
    if not getattr(env, "tail_landed", False):
        env.land(env.end, 1 / 6)
        env.sync()
        env.tail_landed = True
    behind = env.query(
        f"select count(*) from raw_restaurant.events where ingest_seq > "
        f"(select max(_max_ingest_seq) from marts{INCREMENTAL}.fct_restaurant_location_minutes)"
    )[0][0]
    assert behind > 100
    return env


def test_an_unknown_query_or_parameter_is_one_clear_error():
    from headwater.errors import ConfigError

    with pytest.raises(ConfigError, match="no dashboard query 'nope' for restaurant"):
        analyses.render("restaurant", "nope")
    with pytest.raises(ConfigError, match="only timestamps, numbers and identifiers"):
        analyses.render("restaurant", "live_revenue", {"now": "2025-01-01'; drop table x; --"})
    with pytest.raises(
        ConfigError, match=r"parameter now='2025-13-45T10:00': not an ISO 8601 time"
    ):
        analyses.render("restaurant", "order_funnel", {"now": "2025-13-45T10:00"})


def test_the_funnel_reads_the_element_of_its_minute():
    """`now` in any offset is the same UTC minute; the window is that minute's element."""
    at_utc = analyses.render("restaurant", "order_funnel", {"now": "2025-01-15T13:45:20+00:00"})
    at_cet = analyses.render("restaurant", "order_funnel", {"now": "2025-01-15T14:45:20+01:00"})
    assert at_utc == at_cet
    # 12:46-13:45: the 13:00 row, element 46 (the hour ending with minute 45).
    assert "tables_seated_trailing_hour[46]" in at_utc
    assert "'2025-01-15T13:45:20+00:00'" in at_utc
    on_the_hour = analyses.render("restaurant", "order_funnel", {"now": "2025-01-15T13:59:00Z"})
    assert "payments_trailing_hour[60]" in on_the_hour  # 13:00-13:59: all of one hour
    at_the_hour = analyses.render("restaurant", "order_funnel", {"now": "2025-01-15T14:00:59Z"})
    assert "payments_trailing_hour[1]" in at_the_hour  # 13:01-14:00, from the 14:00 row
    revenue = analyses.render("restaurant", "live_revenue", {"now": "2025-01-15T14:45:20+01:00"})
    assert "revenue_trailing_5_minutes[46]" in revenue  # 13:41-13:45


def test_full_refresh_copy_is_separate(restaurant_built):
    # Guard for the comparisons above: the two copies really are two sets of tables.
    rows = restaurant_built.query(
        "select count(*) from information_schema.tables where table_schema in (%s, %s) "
        "and table_name = 'fct_restaurant_orders'",
        [f"marts{INCREMENTAL}", f"marts{FULL}"],
    )
    assert rows[0][0] == 2


def test_the_minute_rollup_is_stored_in_minute_order(restaurant_built):
    """The dashboards read a few minutes of every location: a full build writes the rollup
    in minute order (macros/stored_in_order.sql), so those minutes sit on adjacent pages.
    The heap's physical order is ctid order; its ranks must follow the minute's."""
    table = f"marts{FULL}.fct_restaurant_location_minutes"
    (rows, correlation), *_ = restaurant_built.query(
        f"""
        select count(*), corr(physical, by_minute)
        from (
            select
                row_number() over (order by ctid) as physical,
                dense_rank() over (order by minute_at) as by_minute
            from {table}
        ) as ranked
        """
    )
    assert rows > 1_000
    assert correlation > 0.99, f"{table} is not stored in minute order: {correlation:.3f}"
