{{ config(enabled=(target.type == 'postgres')) }}
-- Order funnel by location, last hour: tables seated, orders placed, orders completed
-- and payments, with the conversions seated → order and order → payment.
--
-- `headwater dashboard restaurant order_funnel [--now T] [--limit N]`. The window is the
-- 60 whole UTC minutes ending with the minute of `now` (default: the newest event
-- time). A flow funnel: each stage counts its own events in the window, without joining
-- events to each other (the per-order view of the same flow is fct_restaurant_orders).
-- The counts come from fct_restaurant_location_hours, whose running totals answer the
-- window from at most two rows per location (the hour it starts in and the hour it ends
-- in). The events landed after that table's high-water mark are added from staging.
{%- set now = var('now', none) %}
{%- set limit = var('limit', none) %}
{#- The window's minutes in the (at most two) hours of fct_restaurant_location_hours it
    covers: [first_from, first_to) of the first hour, [0, second_to) of the next. With a
    given `now` they are literals, which the planner reads for free; otherwise scalar
    subqueries over `window_minutes`. #}
{%- set length = 60 %}
{%- if now %}
{#- `now` arrives in UTC ISO 8601 (headwater.analyses.render): its minute is [14:16]. #}
{%- set first_from = ((now[14:16] | int) - (length - 1)) % 60 %}
{%- set first_to = [60, first_from + length] | min %}
{%- set second_to = first_from + length - 60 %}
{%- else %}
{%- set first_from = '(select minutes_of.first_from from window_minutes as minutes_of)' %}
{%- set first_to = '(select minutes_of.first_to from window_minutes as minutes_of)' %}
{%- set second_to = '(select minutes_of.second_to from window_minutes as minutes_of)' %}
{%- endif %}
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
    select distinct on (events.event_id) events.*
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
        date_trunc('minute', clock.now_at, 'UTC') + interval '1 minute' as window_end
    from clock
),

-- The window in the hours of fct_restaurant_location_hours (see first_from above).
window_minutes as not materialized (
    select
        bounds.window_start,
        bounds.window_end,
        date_trunc('hour', bounds.window_start, 'UTC') as first_hour_at,
        date_trunc('hour', bounds.window_start, 'UTC') + interval '1 hour' as second_hour_at,
        cast(extract(minute from bounds.window_start at time zone 'UTC') as integer) as first_from,
        least(60, cast(extract(minute from bounds.window_start at time zone 'UTC') as integer) + 60)
            as first_to,
        cast(extract(minute from bounds.window_start at time zone 'UTC') as integer) as second_to
    from bounds
),

-- Each hour's rows in location order (the index on hour_at, location_id), their minutes in
-- the window as two reads of each running total (element 0 is null, that is 0). The hour
-- is matched against the window's columns, which fold into constants for a given `now`,
-- so the planner sees how many rows it reads; the array positions are scalar subqueries,
-- computed once rather than for every row.
first_hour as (
    select
        location_hours.location_id,
        location_hours.tables_seated_through[{{ first_to }}]
        - coalesce(location_hours.tables_seated_through[{{ first_from }}], 0)
            as tables_seated,
        location_hours.orders_placed_through[{{ first_to }}]
        - coalesce(location_hours.orders_placed_through[{{ first_from }}], 0)
            as orders_placed,
        location_hours.orders_completed_through[{{ first_to }}]
        - coalesce(location_hours.orders_completed_through[{{ first_from }}], 0)
            as orders_completed,
        location_hours.payments_through[{{ first_to }}]
        - coalesce(location_hours.payments_through[{{ first_from }}], 0)
            as payments
    from location_hours
    cross join window_minutes
    where location_hours.hour_at = window_minutes.first_hour_at
),

second_hour as (
    select
        location_hours.location_id,
        location_hours.tables_seated_through[{{ second_to }}] as tables_seated,
        location_hours.orders_placed_through[{{ second_to }}] as orders_placed,
        location_hours.orders_completed_through[{{ second_to }}] as orders_completed,
        location_hours.payments_through[{{ second_to }}] as payments
    from location_hours
    cross join window_minutes
    where
        location_hours.hour_at = window_minutes.second_hour_at
        and {{ second_to }} > 0
),

-- The two hours side by side, merged on location_id: no sort, no hash of the wide rows.
rolled_up as (
    select
        coalesce(first_hour.location_id, second_hour.location_id) as location_id,
        coalesce(first_hour.tables_seated, 0) + coalesce(second_hour.tables_seated, 0) as tables_seated,
        coalesce(first_hour.orders_placed, 0) + coalesce(second_hour.orders_placed, 0) as orders_placed,
        coalesce(first_hour.orders_completed, 0) + coalesce(second_hour.orders_completed, 0) as orders_completed,
        coalesce(first_hour.payments, 0) + coalesce(second_hour.payments, 0) as payments
    from first_hour
    full outer join second_hour
        on first_hour.location_id = second_hour.location_id
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
    -- A location with events in the window: an hour row may have them all outside it.
    where
        not_yet_rolled_up.location_id is not null
        or rolled_up.tables_seated + rolled_up.orders_placed + rolled_up.orders_completed + rolled_up.payments > 0
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
