{{ config(enabled=(target.type == 'postgres')) }}
-- Order funnel by location, last hour: tables seated, orders placed, orders completed
-- and payments, with the conversions seated → order and order → payment.
--
-- `headwater dashboard restaurant order_funnel [--now T] [--limit N]` (default: the 100
-- locations that seated the most tables, as a dashboard page shows them). The window is the
-- 60 whole UTC minutes ending with the minute of `now` (default: the newest event
-- time). A flow funnel: each stage counts its own events in the window, without joining
-- events to each other (the per-order view of the same flow is fct_restaurant_orders).
-- The counts come from fct_restaurant_location_hours, which holds the window ending at
-- every minute: one row per location and one element of each of its arrays. The events
-- landed after that table's high-water mark are added from staging.
{%- set now = var('now', none) %}
{%- set limit = var('limit', none) or 100 %}
{#- The window's element of fct_restaurant_location_hours' arrays: the minute of `now` plus
    one. With a given `now` (UTC ISO 8601 from headwater.analyses.render, its minute at
    [14:16]) a literal, which the planner reads for free; otherwise a scalar subquery over
    `bounds`. A macro would be tidier, but a query that calls one is compiled by dbt,
    which costs seconds. #}
{%- set element = (now[14:16] | int) + 1 if now else '(select window_element.element from bounds as window_element)' %}
with location_minutes as not materialized (
    select * from {{ ref('fct_restaurant_location_minutes') }}
),

location_hours as not materialized (
    select * from {{ ref('fct_restaurant_location_hours') }}
),

events as not materialized (
    select * from {{ ref('stg_restaurant__events') }}
),

locations as not materialized (
    select * from {{ ref('dim_restaurant_locations') }}
),

high_water as (
    select coalesce(max(location_hours._max_ingest_seq), 0) as ingest_seq
    from location_hours
),

tail as (
    select distinct on (events.event_id)
        events.event_id,
        events.ingest_seq,
        events.location_id,
        events.location_name,
        events.event_type,
        events.event_at
    from events
    -- Two bounds, so the planner estimates a narrow range and reads raw's ingest_seq index.
    where
        events.ingest_seq > (select high_water.ingest_seq from high_water)
        and events.ingest_seq < (select high_water.ingest_seq + 1000000000000 as upper_bound from high_water)
    order by events.event_id asc, events.ingest_seq asc
),

-- Not materialized, as `bounds`: with a given `now` the window folds into constants, so the
-- planner sees how many rows of fct_restaurant_location_hours it covers.
clock as not materialized (
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

bounds as not materialized (
    select
        date_trunc('minute', clock.now_at, 'UTC') - interval '59 minutes' as window_start,
        date_trunc('minute', clock.now_at, 'UTC') + interval '1 minute' as window_end,
        date_trunc('hour', clock.now_at, 'UTC') as hour_at,
        cast(extract(minute from clock.now_at at time zone 'UTC') as integer) + 1 as element
    from clock
),

-- One row per location (the index on hour_at, location_id): the hour of `now`, whose
-- arrays hold the window ending in each of its minutes. The hour is matched against
-- `bounds`, which folds into a constant for a given `now`, so the planner sees how many
-- rows it reads.
rolled_up as (
    select
        location_hours.location_id,
        location_hours.tables_seated_trailing_hour[{{ element }}] as tables_seated,
        location_hours.orders_placed_trailing_hour[{{ element }}] as orders_placed,
        location_hours.orders_completed_trailing_hour[{{ element }}] as orders_completed,
        location_hours.payments_trailing_hour[{{ element }}] as payments
    from location_hours
    cross join bounds
    where
        location_hours.hour_at = bounds.hour_at
        -- A location with events in the window: an hour row may have them all outside it.
        -- The counts are never negative, so the greatest is above 0 when any one is.
        and greatest(
            location_hours.tables_seated_trailing_hour[{{ element }}],
            location_hours.orders_placed_trailing_hour[{{ element }}],
            location_hours.orders_completed_trailing_hour[{{ element }}],
            location_hours.payments_trailing_hour[{{ element }}]
        ) > 0
),

not_yet_rolled_up as (
    select
        tail.location_id,
        count(case when tail.event_type = 'table_seated' then 1 end) as tables_seated,
        count(case when tail.event_type = 'order_placed' then 1 end) as orders_placed,
        count(case when tail.event_type = 'order_completed' then 1 end) as orders_completed,
        count(case when tail.event_type = 'payment' then 1 end) as payments
    from tail
    cross join bounds
    where
        tail.event_at >= bounds.window_start
        and tail.event_at < bounds.window_end
    group by tail.location_id
),

by_location as (
    select
        coalesce(rolled_up.location_id, not_yet_rolled_up.location_id) as location_id,
        coalesce(rolled_up.tables_seated, 0) + coalesce(not_yet_rolled_up.tables_seated, 0) as tables_seated,
        coalesce(rolled_up.orders_placed, 0) + coalesce(not_yet_rolled_up.orders_placed, 0) as orders_placed,
        coalesce(rolled_up.orders_completed, 0) + coalesce(not_yet_rolled_up.orders_completed, 0)
            as orders_completed,
        coalesce(rolled_up.payments, 0) + coalesce(not_yet_rolled_up.payments, 0) as payments
    from rolled_up
    full outer join not_yet_rolled_up
        on rolled_up.location_id = not_yet_rolled_up.location_id
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

-- The page first, names after: the names are looked up for its rows only.
ranked as (
    select by_location.*
    from by_location
    order by by_location.tables_seated desc, by_location.location_id asc
    limit {{ limit }}
),

final as (
    select
        ranked.location_id,
        case
            when
                locations.location_id is null
                or (tail_names.event_at, tail_names.event_id) > (locations.last_event_at, locations.last_event_id)
                then tail_names.location_name
            else locations.location_name
        end as location_name,
        ranked.tables_seated,
        ranked.orders_placed,
        ranked.orders_completed,
        ranked.payments,
        round(ranked.orders_placed / nullif(ranked.tables_seated, 0.0), 4) as conversion_rate_seated_to_order,
        round(ranked.payments / nullif(ranked.orders_placed, 0.0), 4) as conversion_rate_order_to_payment
    from ranked
    left join locations
        on ranked.location_id = locations.location_id
    left join tail_names
        on ranked.location_id = tail_names.location_id
    order by ranked.tables_seated desc, ranked.location_id asc
)

select * from final
