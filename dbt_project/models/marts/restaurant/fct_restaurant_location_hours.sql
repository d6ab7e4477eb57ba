{{
    config(
        enabled=(target.type == 'postgres'),
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['location_id', 'hour_at'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['hour_at', 'location_id'], 'unique': True},
            {'columns': ['_max_ingest_seq']},
        ],
    )
}}
-- Per location and UTC hour, the live dashboards' windows ending in each of the hour's
-- minutes: element k (1 to 60) of an array covers the whole minutes up to the hour's
-- minute k - 1. The order funnel's measures (tables seated, orders placed and completed,
-- payments) over the trailing hour, and live revenue's revenue and payments over the
-- trailing 5 minutes. A dashboard then reads one row per location and one element of each
-- array: from fct_restaurant_location_minutes the funnel read up to 60 rows per location
-- (about 840,000 at the lunch peak of a spec-scale day) and live revenue up to 5 (about
-- 70,000), summed in the query.
--
-- The counts are smallint: a location's trailing hour stays far below 32,767 events of a
-- type (one every 0.1 s), and a count above it fails the build rather than wrapping. The
-- narrow arrays keep a row under PostgreSQL's 2 kB threshold, so it is stored
-- uncompressed and its elements are read without decompressing it.
--
-- A row for every hour with events and for the hour after it, whose first 59 windows
-- reach back into it. PostgreSQL only: it serves the dashboards (analyses/restaurant/),
-- which run there. On BigQuery the minute rollup, partitioned by day and clustered by
-- location, is the table to query.
--
-- Incremental, merged on (location_id, hour_at): when a minute row counts an event landed
-- since the last run (`_max_ingest_seq` above this table's own maximum), its hour and the
-- next are recomputed from the minute rows of those hours and the hour before, so a late
-- event reopens its own windows, however late. `_max_ingest_seq` is the order funnel's
-- high-water mark, as in the minute rollup.
with location_minutes as (
    select * from {{ ref('fct_restaurant_location_minutes') }}
),

{% if is_incremental() %}
changed_hours as (
    select distinct
        location_id,
        date_trunc('hour', minute_at, 'UTC') as hour_at
    from location_minutes
    where _max_ingest_seq > (
            select coalesce(max(previous._max_ingest_seq), 0) as high_water from {{ this }} as previous
        )
),

-- The rows to recompute: the changed hours and the hours after them.
target_hours as (
    select
        location_id,
        hour_at
    from changed_hours
    union
    select
        location_id,
        hour_at + interval '1 hour' as hour_at
    from changed_hours
),

-- The minutes they read: their own and the hour before each.
source_hours as (
    select
        location_id,
        hour_at
    from target_hours
    union
    select
        location_id,
        hour_at - interval '1 hour' as hour_at
    from target_hours
),

{% endif %}
scoped as (
    select
        location_minutes.location_id,
        location_minutes.minute_at,
        date_trunc('hour', location_minutes.minute_at, 'UTC') as hour_at,
        location_minutes.tables_seated,
        location_minutes.orders_placed,
        location_minutes.orders_completed,
        location_minutes.payments,
        location_minutes.revenue,
        location_minutes.last_event_at,
        location_minutes._max_ingest_seq,
        location_minutes._loaded_at
    from location_minutes
    {% if is_incremental() %}
    inner join source_hours
        on
            location_minutes.location_id = source_hours.location_id
            and location_minutes.minute_at >= source_hours.hour_at
            and location_minutes.minute_at < source_hours.hour_at + interval '1 hour'
    {% endif %}
),

hours as (
    select
        location_id,
        hour_at,
        max(last_event_at) as last_event_at,
        max(_max_ingest_seq) as _max_ingest_seq,
        max(_loaded_at) as _loaded_at
    from scoped
    group by
        location_id,
        hour_at
),

-- The hours that get a row: those with events and the hours after them.
row_hours as (
    select
        location_id,
        hour_at
    from hours
    union
    select
        location_id,
        hour_at + interval '1 hour' as hour_at
    from hours
),

-- Every minute of every such hour, so each array has 60 elements. An hour before a row's
-- hour without events has no minutes here, and counts 0 in the trailing sums.
dense as (
    select
        row_hours.location_id,
        row_hours.hour_at,
        row_hours.hour_at + make_interval(mins => minute_of_hour.minute_of_hour) as minute_at,
        coalesce(scoped.tables_seated, 0) as tables_seated,
        coalesce(scoped.orders_placed, 0) as orders_placed,
        coalesce(scoped.orders_completed, 0) as orders_completed,
        coalesce(scoped.payments, 0) as payments,
        coalesce(scoped.revenue, 0) as revenue
    from row_hours
    cross join generate_series(0, 59) as minute_of_hour (minute_of_hour)
    left join scoped
        on
            row_hours.location_id = scoped.location_id
            and row_hours.hour_at + make_interval(mins => minute_of_hour.minute_of_hour) = scoped.minute_at
),

trailing_sums as (
    select
        location_id,
        hour_at,
        minute_at,
        sum(tables_seated) over trailing_hour as tables_seated,
        sum(orders_placed) over trailing_hour as orders_placed,
        sum(orders_completed) over trailing_hour as orders_completed,
        sum(payments) over trailing_hour as payments,
        sum(revenue) over trailing_5_minutes as revenue_5_minutes,
        sum(payments) over trailing_5_minutes as payments_5_minutes
    from dense
    window
        trailing_hour as (
            partition by location_id
            order by minute_at
            range between interval '59 minutes' preceding and current row
        ),
        trailing_5_minutes as (
            partition by location_id
            order by minute_at
            range between interval '4 minutes' preceding and current row
        )
),

totals as (
    select
        location_id,
        hour_at,
        array_agg(cast(tables_seated as smallint) order by minute_at) as tables_seated_trailing_hour,
        array_agg(cast(orders_placed as smallint) order by minute_at) as orders_placed_trailing_hour,
        array_agg(cast(orders_completed as smallint) order by minute_at) as orders_completed_trailing_hour,
        array_agg(cast(payments as smallint) order by minute_at) as payments_trailing_hour,
        array_agg(revenue_5_minutes order by minute_at) as revenue_trailing_5_minutes,
        array_agg(cast(payments_5_minutes as smallint) order by minute_at) as payments_trailing_5_minutes
    from trailing_sums
    {% if is_incremental() %}
    where exists (
            select 1 as is_target
            from target_hours
            where
                target_hours.location_id = trailing_sums.location_id
                and target_hours.hour_at = trailing_sums.hour_at
        )
    {% endif %}
    group by
        location_id,
        hour_at
),

final as (
    select
        totals.location_id,
        totals.hour_at,
        totals.tables_seated_trailing_hour,
        totals.orders_placed_trailing_hour,
        totals.orders_completed_trailing_hour,
        totals.payments_trailing_hour,
        totals.revenue_trailing_5_minutes,
        totals.payments_trailing_5_minutes,
        greatest(this_hour.last_event_at, last_hour.last_event_at) as last_event_at,
        greatest(this_hour._max_ingest_seq, last_hour._max_ingest_seq) as _max_ingest_seq,
        greatest(this_hour._loaded_at, last_hour._loaded_at) as _loaded_at
    from totals
    left join hours as this_hour
        on
            totals.location_id = this_hour.location_id
            and totals.hour_at = this_hour.hour_at
    left join hours as last_hour
        on
            totals.location_id = last_hour.location_id
            and totals.hour_at = last_hour.hour_at + interval '1 hour'
)

select * from final
{{ headwater.stored_in_order(['hour_at', 'location_id']) }}
