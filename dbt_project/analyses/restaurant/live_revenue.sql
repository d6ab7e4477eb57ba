{{ config(enabled=(target.type == 'postgres')) }}
-- Live revenue by location: revenue and orders paid in the last 5 minutes.
--
-- `headwater dashboard restaurant live_revenue [--now T] [--limit N]` (default: the 100
-- locations with the most revenue, as a dashboard page shows them). The window is
-- the five whole UTC minutes ending with the minute of `now` (default: the newest
-- event time), so a query at 12:03:20 covers 11:59:00-12:03:59.999.
--
-- The sums come from fct_restaurant_location_hours, which holds the 5 minutes ending at
-- every minute: one row per location and one element of two of its arrays. Fresh within
-- seconds of ingestion: that table holds every event up to its high-water mark (max
-- _max_ingest_seq), and the events landed after it are added here straight from staging,
-- so the answer equals the same query over all raw events whether or not dbt has run
-- since the last sync.
{%- set now = var('now', none) %}
{%- set limit = var('limit', none) or 100 %}
{#- The window's element of the arrays, as in order_funnel.sql. #}
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
    -- Events landed after the rollup's high-water mark (one copy each).
    select distinct on (events.event_id)
        events.event_id,
        events.ingest_seq,
        events.location_id,
        events.location_name,
        events.event_type,
        events.event_at,
        events.total_amount
    from events
    -- Two bounds, so the planner estimates a narrow range and reads raw's ingest_seq index.
    where
        events.ingest_seq > (select high_water.ingest_seq from high_water)
        and events.ingest_seq < (select high_water.ingest_seq + 1000000000000 as upper_bound from high_water)
    order by events.event_id asc, events.ingest_seq asc
),

-- Not materialized, as `bounds`: with a given `now` the window folds into constants.
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
        date_trunc('minute', clock.now_at, 'UTC') - interval '4 minutes' as window_start,
        date_trunc('minute', clock.now_at, 'UTC') + interval '1 minute' as window_end,
        date_trunc('hour', clock.now_at, 'UTC') as hour_at,
        cast(extract(minute from clock.now_at at time zone 'UTC') as integer) + 1 as element
    from clock
),

-- One row per location with a payment in the window (the index on hour_at, location_id).
rolled_up as (
    select
        location_hours.location_id,
        location_hours.revenue_trailing_5_minutes[{{ element }}] as revenue,
        location_hours.payments_trailing_5_minutes[{{ element }}] as payments
    from location_hours
    cross join bounds
    where
        location_hours.hour_at = bounds.hour_at
        and location_hours.payments_trailing_5_minutes[{{ element }}] > 0
),

not_yet_rolled_up as (
    select
        tail.location_id,
        sum(tail.total_amount) as revenue,
        count(*) as payments
    from tail
    cross join bounds
    where
        tail.event_type = 'payment'
        and tail.event_at >= bounds.window_start
        and tail.event_at < bounds.window_end
    group by tail.location_id
),

-- A join, not a union and a group by: the rolled-up rows come one per location in
-- location order, so the planner merges them with the few tail locations.
by_location as (
    select
        coalesce(rolled_up.location_id, not_yet_rolled_up.location_id) as location_id,
        coalesce(rolled_up.revenue, 0) + coalesce(not_yet_rolled_up.revenue, 0) as revenue,
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
    order by by_location.revenue desc, by_location.location_id asc
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
        ranked.revenue as revenue_last_5_min,
        ranked.payments as order_count_last_5_min
    from ranked
    left join locations
        on ranked.location_id = locations.location_id
    left join tail_names
        on ranked.location_id = tail_names.location_id
    order by revenue_last_5_min desc, ranked.location_id asc
)

select * from final
