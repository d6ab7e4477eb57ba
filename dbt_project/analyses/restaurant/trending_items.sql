-- Trending menu items: the 10 items ordered most (by quantity) in the last 30 minutes,
-- with the number of orders containing them.
--
-- `headwater dashboard restaurant trending_items [--now T] [--limit N]` (default 10).
-- The window is the 30 whole UTC minutes ending with the minute of `now` (default: the
-- newest event time). Item lines landed after the item rollup's high-water mark are
-- added from staging; an order is placed in one minute, so order counts add up.
{%- set now = var('now', none) %}
{%- set limit = var('limit', none) or 10 %}
with item_minutes as not materialized (
    select * from {{ ref('fct_restaurant_item_minutes') }}
),

order_items as not materialized (
    select * from {{ ref('int_restaurant_order_items_flattened') }}
),

location_minutes as not materialized (
    select * from {{ ref('fct_restaurant_location_minutes') }}
),

events as not materialized (
    select * from {{ ref('stg_restaurant__events') }}
),

menu_items as not materialized (
    select * from {{ ref('dim_restaurant_menu_items') }}
),

high_water as (
    select coalesce(max(item_minutes._max_ingest_seq), 0) as ingest_seq
    from item_minutes
),

tail as (
    select distinct on (order_items.order_item_sk) order_items.*
    from order_items
    -- Two bounds, so the planner estimates a narrow range and reads raw's ingest_seq index.
    where
        order_items.ingest_seq > (select high_water.ingest_seq from high_water)
        and order_items.ingest_seq < (select high_water.ingest_seq + 1000000000000 as upper_bound from high_water)
    order by order_items.order_item_sk asc, order_items.ingest_seq asc
),

clock as (
    select
        coalesce(
            cast({{ "'" ~ now ~ "'" if now else 'null' }} as timestamptz),
            greatest(
                (
                    select max(location_minutes.last_event_at) as last_event_at
                    from location_minutes
                    where location_minutes.minute_at = (
                            select max(latest.minute_at) as minute_at from location_minutes as latest
                        )
                ),
                (
                    select max(events.event_at) as event_at
                    from events
                    where
                        events.ingest_seq > (
                            select coalesce(max(seen._max_ingest_seq), 0) as ingest_seq
                            from location_minutes as seen
                        )
                        and events.ingest_seq < (
                            select coalesce(max(seen._max_ingest_seq), 0) + 1000000000000 as ingest_seq
                            from location_minutes as seen
                        )
                )
            )
        ) as now_at
),

bounds as (
    select
        date_trunc('minute', clock.now_at, 'UTC') - interval '29 minutes' as window_start,
        date_trunc('minute', clock.now_at, 'UTC') + interval '1 minute' as window_end
    from clock
),

rolled_up as (
    select
        item_minutes.item_id,
        item_minutes.quantity,
        item_minutes.order_count
    from item_minutes
    where
        item_minutes.minute_at >= (select bounds.window_start from bounds)
        and item_minutes.minute_at < (select bounds.window_end from bounds)
),

not_yet_rolled_up as (
    select
        tail.item_id,
        sum(tail.quantity) as quantity,
        count(distinct tail.order_id) as order_count
    from tail
    cross join bounds
    where
        tail.ordered_at >= bounds.window_start
        and tail.ordered_at < bounds.window_end
    group by tail.item_id
),

by_item as (
    select
        item_id,
        sum(quantity) as total_quantity,
        sum(order_count) as order_count
    from (
        select * from rolled_up
        union all
        select * from not_yet_rolled_up
    ) as ordered
    group by item_id
),

tail_names as (
    select distinct on (tail.item_id)
        tail.item_id,
        tail.item_name,
        tail.category,
        tail.ordered_at,
        tail.order_item_sk
    from tail
    order by tail.item_id asc, tail.ordered_at desc, tail.order_item_sk desc
),

final as (
    select
        by_item.item_id,
        case
            when
                menu_items.item_id is null
                or (tail_names.ordered_at, tail_names.order_item_sk)
                > (menu_items.last_ordered_at, menu_items.last_order_item_sk)
                then tail_names.item_name
            else menu_items.item_name
        end as item_name,
        case
            when
                menu_items.item_id is null
                or (tail_names.ordered_at, tail_names.order_item_sk)
                > (menu_items.last_ordered_at, menu_items.last_order_item_sk)
                then tail_names.category
            else menu_items.category
        end as category,
        by_item.total_quantity,
        by_item.order_count
    from by_item
    left join menu_items
        on by_item.item_id = menu_items.item_id
    left join tail_names
        on by_item.item_id = tail_names.item_id
    order by by_item.total_quantity desc, by_item.order_count desc, by_item.item_id asc
    limit {{ limit }}
)

select * from final
