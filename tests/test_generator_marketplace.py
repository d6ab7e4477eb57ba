"""The marketplace generator: deterministic seeds, the exercise's traps, business rules that
hold after seeding and after batches of changes, and the late commit."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from psycopg import sql

from headwater.errors import HeadwaterError
from headwater.generators import marketplace
from headwater.sources import schema_sql

pytestmark = pytest.mark.integration

AS_OF = datetime(2025, 6, 1, tzinfo=UTC)


@pytest.fixture(scope="module")
def make_db(make_module_database):
    """Throwaway databases on the test server, dropped when the module ends."""
    return lambda label: make_module_database(f"gen_{label}")


@pytest.fixture(scope="module")
def seeded(make_db):
    """Scale 1, the size at which every trap must show."""
    url = make_db("traps")
    counts = marketplace.seed(url, 1, seed=42, as_of=AS_OF)
    return url, counts


def query(url: str, statement: str, params: dict | None = None) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(statement, params).fetchall()


def scalar(url: str, statement: str, params: dict | None = None):
    return query(url, statement, params)[0][0]


def table_hashes(url: str) -> dict[str, str]:
    """One hash of every table's contents, rows in id order."""
    statement = "select md5(coalesce(string_agg(md5(t::text), '' order by t.id), '')) from {} as t"
    with psycopg.connect(url) as conn:
        return {
            table: conn.execute(sql.SQL(statement).format(sql.Identifier(table))).fetchone()[0]
            for table in marketplace.TABLES
        }


# --- business rules: each query returns the rows that break one -----------------------------

RULES = {
    "order total = subtotal + shipping + tax - discount": """
        select id from orders
        where total_amount <> subtotal_amount + shipping_amount + tax_amount - discount_amount
    """,
    "order subtotal = sum of its items": """
        select o.id from orders as o
        left join order_items as i on i.order_id = o.id
        group by o.id, o.subtotal_amount
        having o.subtotal_amount is distinct from sum(i.total_price)
    """,
    "item total = quantity * unit price": """
        select id from order_items where total_price <> quantity * unit_price or quantity < 1
    """,
    "one seller per order, buyer is not the seller": """
        select o.id from orders as o
        inner join order_items as i on i.order_id = o.id
        group by o.id, o.buyer_id
        having count(distinct i.seller_id) <> 1 or bool_or(i.seller_id = o.buyer_id)
    """,
    "item seller owns the product": """
        select i.id from order_items as i
        inner join products as p on p.id = i.product_id
        where p.seller_id <> i.seller_id
    """,
    "order currency = item currency = product currency": """
        select i.id from order_items as i
        inner join orders as o on o.id = i.order_id
        inner join products as p on p.id = i.product_id
        where i.currency <> o.currency or p.price_currency <> o.currency
    """,
    "payout = amount - fee, zero after a refund": """
        select id from payments
        where
            (status = 'refunded' and seller_payout <> 0)
            or (status <> 'refunded' and seller_payout <> amount - platform_fee)
            or platform_fee < 0 or platform_fee > amount
    """,
    "payment amount and currency are the order's": """
        select p.id from payments as p
        inner join orders as o on o.id = p.order_id
        where p.amount <> o.total_amount or p.currency <> o.currency
    """,
    "paid orders have a completed (or later) payment": """
        select o.id from orders as o
        where
            o.status in ('confirmed', 'processing', 'shipped', 'delivered')
            and not exists (
                select 1 from payments as p
                where p.order_id = o.id and p.status in ('completed', 'disputed')
            )
    """,
    "refunded orders have a refunded payment": """
        select o.id from orders as o
        where
            o.status = 'refunded'
            and not exists (
                select 1 from payments as p where p.order_id = o.id and p.status = 'refunded'
            )
    """,
    "order number ORD-YYYYMMDD-XXXXX of its UTC creation day": """
        select id from orders
        where
            order_number !~ '^ORD-[0-9]{8}-[0-9]{5}$'
            or substr(order_number, 5, 8) <> to_char(created_at at time zone 'UTC', 'YYYYMMDD')
    """,
    "status timestamps match the status": """
        select id from orders
        where
            (status = 'pending' and (confirmed_at is not null or shipped_at is not null))
            or (
                status in ('confirmed', 'processing', 'shipped', 'delivered', 'refunded')
                and confirmed_at is null
            )
            or (status in ('confirmed', 'processing') and shipped_at is not null)
            or (status in ('shipped', 'delivered', 'refunded') and shipped_at is null)
            or (status = 'shipped' and delivered_at is not null)
            or (status in ('delivered', 'refunded') and delivered_at is null)
            or (status = 'cancelled' and (shipped_at is not null or delivered_at is not null))
    """,
    "timestamps in order, updated_at is the latest change": """
        select id from orders
        where
            (confirmed_at at time zone 'UTC') < created_at
            or shipped_at < (confirmed_at at time zone 'UTC')
            or delivered_at < shipped_at
            or updated_at < greatest(
                created_at, confirmed_at at time zone 'UTC', shipped_at, delivered_at
            )
    """,
    "user and product timestamps": """
        select id from users
        where updated_at < created_at or deleted_at < created_at
            or (deleted_at is null) <> is_active
        union all
        select id from products
        where updated_at < created_at or published_at < created_at
            or (status = 'draft') <> (published_at is null)
    """,
    "seller tier = current history row, one current row per active seller": """
        select u.id from users as u
        left join seller_tier_history as h on h.user_id = u.id and h.is_current
        where u.user_type <> 'buyer' and u.deleted_at is null
        group by u.id, u.seller_tier
        having count(h.id) <> 1 or max(h.tier) is distinct from u.seller_tier
    """,
    "buyers have no tier and no history": """
        select u.id from users as u
        where
            u.user_type = 'buyer'
            and (
                u.seller_tier is not null
                or exists (select 1 from seller_tier_history as h where h.user_id = u.id)
            )
    """,
    "tier history is contiguous; deleted sellers have no current row": """
        with ordered as (
            select
                h.*,
                lead(effective_from) over (partition by user_id order by effective_from, id)
                    as next_from,
                row_number() over (partition by user_id order by effective_from desc, id desc)
                    as from_end
            from seller_tier_history as h
        )
        select o.id from ordered as o
        inner join users as u on u.id = o.user_id
        where
            (o.next_from is not null and o.effective_to is distinct from o.next_from)
            or (o.from_end = 1 and u.deleted_at is null and (o.effective_to is not null or not o.is_current))
            or (o.from_end = 1 and u.deleted_at is not null
                and (o.is_current or o.effective_to is distinct from u.deleted_at))
            or (o.from_end > 1 and o.is_current)
            or o.effective_to <= o.effective_from
    """,
    "reviews belong to the buyer of the reviewed item": """
        select r.id from reviews as r
        inner join order_items as i on i.id = r.order_item_id
        inner join orders as o on o.id = i.order_id
        where r.product_id <> i.product_id or r.reviewer_id <> o.buyer_id
            or r.created_at < o.delivered_at
    """,
    "events are received after they happen": """
        select id from event_log where received_at < event_timestamp
    """,
}


def broken_rules(url: str) -> dict[str, list]:
    broken = {}
    for name, statement in RULES.items():
        rows = query(url, statement)
        if rows:
            broken[name] = rows[:5]
    return broken


def test_seed_counts_and_sizes(seeded):
    url, counts = seeded
    assert counts["orders"] == 2000
    assert counts["users"] == 500
    assert counts["categories"] == 40
    assert 350 <= counts["products"] <= 450
    assert 1.5 <= counts["order_items"] / counts["orders"] <= 3
    assert 0.9 <= counts["payments"] / counts["orders"] <= 1.1
    assert counts["event_log"] >= 3 * counts["orders"]
    assert counts == {t: scalar(url, f"select count(*) from {t}") for t in marketplace.TABLES}
    shares = dict(query(url, "select user_type, count(*) from users group by 1"))
    assert 0.6 < shares["buyer"] / 500 < 0.8
    assert 0.1 < shares["seller"] / 500 < 0.2
    assert 0.1 < shares["both"] / 500 < 0.2


def test_seed_business_rules(seeded):
    url, _ = seeded
    assert broken_rules(url) == {}


def test_seed_keeps_the_ddl_constraints(seeded):
    url, _ = seeded
    kinds = dict(
        query(
            url,
            """
            select contype, count(*) from pg_constraint
            where conrelid::regclass::text = any(%(tables)s) group by contype
            """,
            {"tables": list(marketplace.TABLES)},
        )
    )
    assert kinds["f"] == schema_sql("marketplace").count(" references ")
    assert kinds["p"] == len(marketplace.TABLES)
    assert kinds["u"] == 3  # users.email, categories.slug, orders.order_number


def test_history_lies_in_the_year_before_as_of(seeded):
    url, _ = seeded
    low, high = AS_OF - timedelta(days=365), AS_OF
    for table, column in [
        ("categories", "created_at"),
        ("users", "created_at"),
        ("users", "updated_at"),
        ("orders", "created_at"),
        ("orders", "updated_at"),
        ("payments", "created_at"),
        ("reviews", "updated_at"),
        ("products", "created_at"),
        ("event_log", "received_at"),
        ("seller_tier_history", "effective_from"),
    ]:
        first, last = query(url, f"select min({column}), max({column}) from {table}")[0]
        assert low <= first and last < high, (table, column, first, last)
    assert scalar(url, "select count(*) from products where updated_at > %(t)s", {"t": AS_OF}) > 0


def test_orders_spread_over_every_status(seeded):
    url, _ = seeded
    statuses = dict(query(url, "select status, count(*) from orders group by 1"))
    assert set(statuses) == {
        "pending",
        "confirmed",
        "processing",
        "shipped",
        "delivered",
        "cancelled",
        "refunded",
    }
    assert statuses["delivered"] > 0.6 * sum(statuses.values())


# --- traps -----------------------------------------------------------------------------------


def test_trap_webhook_replays(seeded):
    url, counts = seeded
    replayed = query(
        url,
        """
        select event_id, count(distinct id), count(distinct order_id)
        from payments group by event_id having count(*) > 1
        """,
    )
    assert 0.01 * counts["payments"] <= len(replayed) <= 0.04 * counts["payments"]
    assert all(ids == 2 and orders == 1 for _, ids, orders in replayed)


def test_trap_products_updated_in_the_future(seeded):
    url, counts = seeded
    future = scalar(url, "select count(*) from products where updated_at > %(t)s", {"t": AS_OF})
    assert 1 <= future <= 0.03 * counts["products"]


def test_trap_confirmed_at_is_utc_wall_clock(seeded):
    url, _ = seeded
    column_type = scalar(
        url,
        """
        select data_type from information_schema.columns
        where table_name = 'orders' and column_name = 'confirmed_at'
        """,
    )
    assert column_type == "timestamp without time zone"
    # The event logged at confirmation carries the same instant as a timestamptz.
    mismatched = scalar(
        url,
        """
        select count(*) from orders as o
        inner join event_log as e
            on e.entity_id = o.id and e.event_type = 'order.status_changed'
            and e.event_data ->> 'to' = 'confirmed'
        where o.confirmed_at <> (e.event_timestamp at time zone 'UTC')
        """,
    )
    assert mismatched == 0
    assert scalar(url, "select count(*) from orders where confirmed_at is not null") > 0


def test_trap_soft_deleted_users(seeded):
    url, counts = seeded
    deleted = query(
        url, "select is_active, updated_at >= deleted_at from users where deleted_at is not null"
    )
    assert 0.01 * counts["users"] <= len(deleted) <= 0.04 * counts["users"]
    assert all(active is False and bumped for active, bumped in deleted)
    assert scalar(url, "select count(*) from users where deleted_at is null and not is_active") == 0
    leftover = scalar(
        url,
        """
        select count(*) from products as p inner join users as u on u.id = p.seller_id
        where u.deleted_at is not null and p.status <> 'deleted'
        """,
    )
    assert leftover == 0


def test_trap_users_without_country(seeded):
    url, counts = seeded
    missing = scalar(url, "select count(*) from users where country_code is null")
    assert 0.01 * counts["users"] <= missing <= 0.05 * counts["users"]


def test_trap_currencies(seeded):
    url, _ = seeded
    currencies = {row[0] for row in query(url, "select distinct currency from orders")}
    assert {"USD", "EUR", "GBP"} <= currencies
    assert len(currencies - {"USD", "EUR", "GBP"}) >= 3
    # JPY has no minor unit.
    assert (
        scalar(
            url,
            "select count(*) from orders where currency = 'JPY' and total_amount <> round(total_amount)",
        )
        == 0
    )


def test_trap_users_who_changed_type(seeded):
    url, _ = seeded
    changed = query(
        url,
        """
        select u.user_type, u.updated_at > u.created_at, e.event_data
        from users as u
        inner join event_log as e on e.entity_id = u.id and e.event_type = 'user.type_changed'
        """,
    )
    assert changed
    assert all(kind == "both" and later for kind, later, _ in changed)
    assert all(data == {"from": "buyer", "to": "both"} for _, _, data in changed)


def test_trap_tags_array_and_attributes_json(seeded):
    url, _ = seeded
    types = dict(
        query(
            url,
            """
            select column_name, udt_name from information_schema.columns
            where table_name = 'products' and column_name in ('tags', 'attributes')
            """,
        )
    )
    assert types == {"tags": "_text", "attributes": "jsonb"}
    assert scalar(url, "select count(*) from products where cardinality(tags) >= 2") > 0
    assert scalar(url, "select count(*) from products where tags = '{}'") > 0
    assert scalar(url, "select count(*) from products where tags is null") > 0
    assert scalar(url, "select count(*) from products where attributes ? 'dimensions_cm'") > 0
    assert scalar(url, "select count(*) from products where not attributes ? 'color'") > 0


def test_trap_tier_skipped_and_tier_ended_by_deletion(seeded):
    url, _ = seeded
    skipped = scalar(
        url,
        """
        select count(*) from seller_tier_history as a
        inner join seller_tier_history as b on b.user_id = a.user_id and b.effective_from = a.effective_to
        where a.tier = 'bronze' and b.tier = 'gold'
        """,
    )
    assert skipped >= 1
    ended = scalar(
        url,
        """
        select count(*) from users as u
        inner join seller_tier_history as h on h.user_id = u.id and h.effective_to = u.deleted_at
        where u.deleted_at is not null and not h.is_current
        """,
    )
    assert ended >= 1
    progressions = scalar(
        url, "select count(distinct user_id) from seller_tier_history where tier = 'platinum'"
    )
    assert progressions >= 1


def test_trap_events_arrive_out_of_order(seeded):
    url, _ = seeded
    out_of_order = scalar(
        url,
        """
        select count(*) from (
            select event_timestamp < max(event_timestamp) over (
                order by received_at, id rows between unbounded preceding and 1 preceding
            ) as early
            from event_log
        ) as x
        where early
        """,
    )
    assert out_of_order >= 1
    # ids follow arrival
    assert (
        scalar(
            url,
            "select count(*) from (select received_at < lag(received_at) over (order by id) as back from event_log) x where back",
        )
        == 0
    )


# --- determinism and scale -------------------------------------------------------------------


def test_seed_is_deterministic(make_db, seeded):
    url = make_db("determinism")
    marketplace.seed(url, 0.25, seed=42, as_of=AS_OF)
    first = table_hashes(url)
    marketplace.seed(url, 0.25, seed=42, as_of=AS_OF)
    assert table_hashes(url) == first
    marketplace.seed(url, 0.25, seed=43, as_of=AS_OF)
    other = table_hashes(url)
    assert other["categories"] == first["categories"]
    assert all(other[t] != first[t] for t in ("users", "products", "orders", "event_log"))


def test_counts_scale_with_scale(make_db, seeded):
    _, big = seeded
    url = make_db("scale")
    small = marketplace.seed(url, 0.25, seed=42, as_of=AS_OF)
    assert small["orders"] == big["orders"] // 4
    assert small["users"] == big["users"] // 4
    for table in ("products", "order_items", "payments", "reviews", "event_log"):
        assert 0.15 < small[table] / big[table] < 0.35, table
    assert small["categories"] == big["categories"]


def test_seed_rejects_a_non_positive_scale():
    with pytest.raises(HeadwaterError, match="scale"):
        marketplace.seed("postgresql://unused", 0)


# --- mutate ----------------------------------------------------------------------------------

# The column that says when a row last changed (payments have no updated_at: a refund or a
# capture moves event_timestamp, a replayed webhook is a new row).
CHANGE_COLUMNS = {
    "users": "updated_at",
    "products": "updated_at",
    "orders": "updated_at",
    "order_items": "created_at",
    "payments": "greatest(created_at, event_timestamp)",
    "seller_tier_history": "coalesce(effective_to, created_at)",
}


def row_versions(url: str, table: str) -> dict:
    return dict(query(url, f"select id, md5(t::text) from {table} as t"))


def test_mutate_changes_a_little_and_bumps_what_it_changes(make_db):
    url = make_db("mutate")
    marketplace.seed(url, 1, seed=11, as_of=AS_OF)
    for round_ in range(2):
        before = {table: row_versions(url, table) for table in CHANGE_COLUMNS}
        start = scalar(url, "select now()")
        last_event = scalar(url, "select max(id) from event_log")
        counts = marketplace.mutate(url, 60, seed=round_)
        assert counts["orders_created"] >= 5 and counts["late_commits"] == 1
        for kind in marketplace.MUTATION_KINDS:
            assert counts[kind] >= 1, kind
        for table, column in CHANGE_COLUMNS.items():
            after = dict(query(url, f"select id, {column} from {table}"))
            versions = row_versions(url, table)
            touched = {i for i, v in versions.items() if before[table].get(i) != v}
            assert touched, table
            assert len(touched) < 0.1 * len(versions), (table, len(touched))
            stale = [i for i in touched if after[i] < start]
            assert stale == [], (table, stale[:3])
        new_events = query(
            url, "select received_at from event_log where id > %(id)s", {"id": last_event}
        )
        assert len(new_events) == counts["events_logged"]
        assert all(received >= start for (received,) in new_events)
        assert broken_rules(url) == {}


def test_mutate_traps(make_db):
    url = make_db("mutate_traps")
    marketplace.seed(url, 0.25, seed=5, as_of=AS_OF)
    before_replays = scalar(
        url, "select count(*) from (select event_id from payments group by 1 having count(*) > 1) x"
    )
    start = scalar(url, "select now()")
    marketplace.mutate(url, 30, seed=3)
    assert (
        scalar(
            url,
            "select count(*) from (select event_id from payments group by 1 having count(*) > 1) x",
        )
        > before_replays
    )
    assert (
        scalar(url, "select count(*) from products where updated_at > now() + interval '12 hours'")
        >= 1
    )
    assert (
        scalar(
            url,
            "select count(*) from users where deleted_at >= %(s)s and not is_active",
            {"s": start},
        )
        >= 1
    )
    assert (
        scalar(
            url,
            "select count(*) from seller_tier_history where created_at >= %(s)s and is_current",
            {"s": start},
        )
        >= 1
    )
    refunded = scalar(
        url,
        """
        select count(*) from payments as p inner join orders as o on o.id = p.order_id
        where o.status = 'refunded' and o.updated_at >= %(s)s and p.status = 'refunded' and p.seller_payout = 0
        """,
        {"s": start},
    )
    assert refunded >= 1
    late_events = scalar(
        url,
        "select count(*) from event_log where received_at >= %(s)s and event_timestamp < %(s)s",
        {"s": start},
    )
    assert late_events >= 1


def test_mutate_late_commit_lands_behind_committed_rows(make_db):
    url = make_db("late")
    marketplace.seed(url, 0.25, seed=9, as_of=AS_OF)
    start = scalar(url, "select now()")
    seen = {}

    def watch(step: str) -> None:
        if step == "late commit":  # everything else has committed; the late transaction has not
            seen.update(
                query(
                    url, "select id, updated_at from orders where updated_at >= %(s)s", {"s": start}
                )
            )

    marketplace.mutate(url, 60, seed=1, progress=watch)
    after = dict(
        query(url, "select id, updated_at from orders where updated_at >= %(s)s", {"s": start})
    )
    late = {i: at for i, at in after.items() if seen.get(i) != at}
    assert len(late) == 1
    (late_at,) = late.values()
    assert seen and late_at < max(seen.values())
    assert late_at >= start


def test_mutate_is_deterministic_with_seed_and_clock(make_db):
    url = make_db("mutate_det")
    now = AS_OF + timedelta(hours=2)
    hashes = []
    for _ in range(2):
        marketplace.seed(url, 0.25, seed=3, as_of=AS_OF)
        marketplace.mutate(url, 120, seed=8, now=now)
        marketplace.mutate(url, 120, seed=8, now=now + timedelta(hours=2))
        hashes.append(table_hashes(url))
    assert hashes[0] == hashes[1]
    assert broken_rules(url) == {}


def test_mutate_needs_a_seeded_source(make_db):
    url = make_db("empty")
    with pytest.raises(HeadwaterError, match="seed it first"):
        marketplace.mutate(url, 60)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(schema_sql("marketplace"))
    with pytest.raises(HeadwaterError, match="seed it first"):
        marketplace.mutate(url, 60)
