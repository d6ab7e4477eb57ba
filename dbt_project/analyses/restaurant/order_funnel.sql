-- Order funnel by location, last hour: tables seated, orders placed, orders completed
-- and payments, with the conversions seated → order and order → payment.
--
-- `headwater dashboard restaurant order_funnel [--now T] [--limit N]`. The window is the
-- 60 whole UTC minutes ending with the minute of `now` (default: the newest event
-- time). A flow funnel: each stage counts its own events in the window, which the
-- per-minute rollup adds up without joining events to each other (the per-order view
-- of the same flow is fct_restaurant_orders). As live_revenue, the events landed after
-- the rollup's high-water mark are added from staging.
{%- set now = var('now', none) %}
{%- set limit = var('limit', none) %}
with location_minutes as not materialized (
    select * from {{ ref('fct_restaurant_location_minutes') }}
),

events as not materialized (
    select * from {{ ref('stg_restaurant__events') }}
),

locations as not materialized (
    select * from {{ ref('dim_restaurant_locations') }}
),

high_water as (
    select coalesce(max(location_minutes._max_ingest_seq), 0) as ingest_seq
    from location_minutes
),

tail as (
    select distinct on (events.event_id) events.*
    from events
    -- Two bounds, so the planner estimates a narrow range and reads raw's ingest_seq index.
    where
        events.ingest_seq > (select high_water.ingest_seq from high_water)
        and events.ingest_seq < (select high_water.ingest_seq + 1000000000000 as upper_bound from high_water)
    order by events.event_id asc, events.ingest_seq asc
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
                (select max(tail.event_at) as event_at from tail)
            )
        ) as now_at
),

bounds as (
    select
        date_trunc('minute', clock.now_at, 'UTC') - interval '59 minutes' as window_start,
        date_trunc('minute', clock.now_at, 'UTC') + interval '1 minute' as window_end
    from clock
),

rolled_up as (
    select
        location_minutes.location_id,
        location_minutes.tables_seated,
        location_minutes.orders_placed,
        location_minutes.orders_completed,
        location_minutes.payments
    from location_minutes
    where
        location_minutes.minute_at >= (select bounds.window_start from bounds)
        and location_minutes.minute_at < (select bounds.window_end from bounds)
),

not_yet_rolled_up as (
    select
        tail.location_id,
        case when tail.event_type = 'table_seated' then 1 else 0 end as tables_seated,
        case when tail.event_type = 'order_placed' then 1 else 0 end as orders_placed,
        case when tail.event_type = 'order_completed' then 1 else 0 end as orders_completed,
        case when tail.event_type = 'payment' then 1 else 0 end as payments
    from tail
    cross join bounds
    where
        tail.event_at >= bounds.window_start
        and tail.event_at < bounds.window_end
),

by_location as (
    select
        location_id,
        sum(tables_seated) as tables_seated,
        sum(orders_placed) as orders_placed,
        sum(orders_completed) as orders_completed,
        sum(payments) as payments
    from (
        select * from rolled_up
        union all
        select * from not_yet_rolled_up
    ) as stage_counts
    group by location_id
),

tail_names as (
    select distinct on (tail.location_id)
        tail.location_id,
        tail.location_name,
        tail.event_at,
        tail.event_id
    from tail
    order by tail.location_id asc, tail.event_at desc, tail.event_id desc
),

final as (
    select
        by_location.location_id,
        case
            when
                locations.location_id is null
                or (tail_names.event_at, tail_names.event_id) > (locations.last_event_at, locations.last_event_id)
                then tail_names.location_name
            else locations.location_name
        end as location_name,
        by_location.tables_seated,
        by_location.orders_placed,
        by_location.orders_completed,
        by_location.payments,
        round(by_location.orders_placed / nullif(by_location.tables_seated, 0.0), 4)
            as conversion_rate_seated_to_order,
        round(by_location.payments / nullif(by_location.orders_placed, 0.0), 4)
            as conversion_rate_order_to_payment
    from by_location
    left join locations
        on by_location.location_id = locations.location_id
    left join tail_names
        on by_location.location_id = tail_names.location_id
    order by by_location.tables_seated desc, by_location.location_id asc
    {% if limit %}limit {{ limit }}{% endif %}
)

select * from final
