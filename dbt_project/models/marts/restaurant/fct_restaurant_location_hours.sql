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
-- Per location and UTC hour, the funnel's measures of the minute rollup (tables seated,
-- orders placed and completed, payments) as 60 running totals each: element k (1 to 60)
-- sums the hour's first k minutes. The sum over any whole minutes a..b of the hour is then
-- `through[b + 1] - through[a]` (element 0 reads as null: 0), so the order funnel's hour
-- ending at any minute reads two rows per location, one from each hour it overlaps. From
-- fct_restaurant_location_minutes it read up to 60 (about 840,000 rows at the lunch peak
-- of a spec-scale day). Live revenue's 5 minutes stay on the minute rollup: fewer rows
-- there than one per location and hour.
--
-- PostgreSQL only: it serves the dashboards (analyses/restaurant/), which run there. On
-- BigQuery the minute rollup, partitioned by day and clustered by location, is the table
-- to query.
--
-- Incremental, merged on (location_id, hour_at): an hour is recomputed from its minute
-- rows when any of them counts an event landed since the last run (`_max_ingest_seq`
-- above this table's own maximum), so a late event reopens its own hour, however late.
-- `_max_ingest_seq` is the order funnel's high-water mark, as in the minute rollup.
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

{% endif %}
scoped as (
    select
        location_minutes.*,
        date_trunc('hour', location_minutes.minute_at, 'UTC') as hour_at,
        cast(extract(minute from location_minutes.minute_at at time zone 'UTC') as integer) as minute_of_hour
    from location_minutes
    {% if is_incremental() %}
    inner join changed_hours
        on
            location_minutes.location_id = changed_hours.location_id
            and location_minutes.minute_at >= changed_hours.hour_at
            and location_minutes.minute_at < changed_hours.hour_at + interval '1 hour'
    {% endif %}
),

hours as (
    select distinct
        location_id,
        hour_at
    from scoped
),

-- Every minute of every hour that has a row, so the running totals have 60 elements.
dense as (
    select
        hours.location_id,
        hours.hour_at,
        minute_of_hour.minute_of_hour,
        coalesce(scoped.tables_seated, 0) as tables_seated,
        coalesce(scoped.orders_placed, 0) as orders_placed,
        coalesce(scoped.orders_completed, 0) as orders_completed,
        coalesce(scoped.payments, 0) as payments
    from hours
    cross join generate_series(0, 59) as minute_of_hour (minute_of_hour)
    left join scoped
        on
            hours.location_id = scoped.location_id
            and hours.hour_at = scoped.hour_at
            and minute_of_hour.minute_of_hour = scoped.minute_of_hour
),

running as (
    select
        location_id,
        hour_at,
        minute_of_hour,
        sum(tables_seated) over through_minute as tables_seated,
        sum(orders_placed) over through_minute as orders_placed,
        sum(orders_completed) over through_minute as orders_completed,
        sum(payments) over through_minute as payments
    from dense
    window through_minute as (
        partition by location_id, hour_at
        order by minute_of_hour
        rows between unbounded preceding and current row
    )
),

totals as (
    select
        location_id,
        hour_at,
        array_agg(cast(tables_seated as integer) order by minute_of_hour) as tables_seated_through,
        array_agg(cast(orders_placed as integer) order by minute_of_hour) as orders_placed_through,
        array_agg(cast(orders_completed as integer) order by minute_of_hour) as orders_completed_through,
        array_agg(cast(payments as integer) order by minute_of_hour) as payments_through
    from running
    group by
        location_id,
        hour_at
),

marks as (
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

final as (
    select
        totals.location_id,
        totals.hour_at,
        totals.tables_seated_through,
        totals.orders_placed_through,
        totals.orders_completed_through,
        totals.payments_through,
        marks.last_event_at,
        marks._max_ingest_seq,
        marks._loaded_at
    from totals
    inner join marks
        on
            totals.location_id = marks.location_id
            and totals.hour_at = marks.hour_at
)

select * from final
{{ headwater.stored_in_order(['hour_at', 'location_id']) }}
