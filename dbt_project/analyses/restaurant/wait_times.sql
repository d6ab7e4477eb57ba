-- Wait times: P50, P90 and P99 minutes from table_seated to order_completed, by
-- location and UTC hour of day, for the UTC day of `now`; the slowest first.
--
-- `headwater dashboard restaurant wait_times [--now T] [--limit N] [--var location=loc_00142]`
-- (default: the newest event time's day, 50 rows). Percentiles do not add up, so this
-- reads fct_restaurant_wait_times as of the last dbt run (every micro-batch tick);
-- orders whose events landed since are counted from the next tick.
{%- set now = var('now', none) %}
{%- set limit = var('limit', none) or 50 %}
{%- set location = var('location', none) %}
with wait_times as not materialized (
    select * from {{ ref('fct_restaurant_wait_times') }}
),

location_minutes as not materialized (
    select * from {{ ref('fct_restaurant_location_minutes') }}
),

locations as not materialized (
    select * from {{ ref('dim_restaurant_locations') }}
),

clock as (
    select
        coalesce(
            cast({{ "'" ~ now ~ "'" if now else 'null' }} as timestamptz),
            (
                select max(location_minutes.last_event_at) as last_event_at
                from location_minutes
                where location_minutes.minute_at = (
                        select max(latest.minute_at) as minute_at from location_minutes as latest
                    )
            )
        ) as now_at
),

final as (
    select
        wait_times.location_id,
        locations.location_name,
        wait_times.hour_of_day,
        wait_times.order_count,
        wait_times.p50_wait_minutes,
        wait_times.p90_wait_minutes,
        wait_times.p99_wait_minutes
    from wait_times
    cross join clock
    inner join locations
        on wait_times.location_id = locations.location_id
    where
        wait_times.seated_date = cast((clock.now_at at time zone 'UTC') as date)
        {% if location %}and wait_times.location_id = '{{ location }}'{% endif %}
    order by
        wait_times.p90_wait_minutes desc,
        wait_times.location_id asc,
        wait_times.hour_of_day asc
    limit {{ limit }}
)

select * from final
