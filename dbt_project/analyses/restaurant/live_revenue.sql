-- Live revenue by location: revenue and orders paid in the last 5 minutes.
--
-- `headwater dashboard restaurant live_revenue [--now T] [--limit N]`. The window is
-- the five whole UTC minutes ending with the minute of `now` (default: the newest
-- event time), so a query at 12:03:20 covers 11:59:00-12:03:59.999.
--
-- Fresh within seconds of ingestion: the per-minute rollup holds every event up to its
-- high-water mark (max _max_ingest_seq), and the events landed after it are added here
-- straight from staging, so the answer equals the same query over all raw events
-- whether or not dbt has run since the last sync.
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
    -- Events landed after the rollup's high-water mark (one copy each).
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
        date_trunc('minute', clock.now_at, 'UTC') - interval '4 minutes' as window_start,
        date_trunc('minute', clock.now_at, 'UTC') + interval '1 minute' as window_end
    from clock
),

rolled_up as (
    select
        location_minutes.location_id,
        location_minutes.revenue,
        location_minutes.payments
    from location_minutes
    where
        location_minutes.minute_at >= (select bounds.window_start from bounds)
        and location_minutes.minute_at < (select bounds.window_end from bounds)
        and location_minutes.payments > 0
),

not_yet_rolled_up as (
    select
        tail.location_id,
        tail.total_amount as revenue,
        1 as payments
    from tail
    cross join bounds
    where
        tail.event_type = 'payment'
        and tail.event_at >= bounds.window_start
        and tail.event_at < bounds.window_end
),

by_location as (
    select
        location_id,
        sum(revenue) as revenue,
        sum(payments) as payments
    from (
        select * from rolled_up
        union all
        select * from not_yet_rolled_up
    ) as paid
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
        by_location.revenue as revenue_last_5_min,
        by_location.payments as order_count_last_5_min
    from by_location
    left join locations
        on by_location.location_id = locations.location_id
    left join tail_names
        on by_location.location_id = tail_names.location_id
    order by revenue_last_5_min desc, by_location.location_id asc
    {% if limit %}limit {{ limit }}{% endif %}
)

select * from final
