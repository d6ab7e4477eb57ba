{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['location_id', 'minute_at'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['location_id', 'minute_at'], 'unique': True},
            {'columns': ['minute_at']},
            {'columns': ['_max_ingest_seq']},
            {'columns': ['_loaded_at']},
        ],
        partition_by={'field': 'minute_date', 'data_type': 'date'},
        cluster_by=['location_id'],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
-- Per location and UTC minute: tables seated, orders placed and completed, payments and
-- revenue (payment totals). The live dashboards read it for "the last N minutes"
-- (an index on minute_at: the newest minutes are a short range scan).
--
-- Incremental, merged on (location_id, minute_at). A minute is recomputed in full from
-- the event table when any event loaded since the lower bound falls in it, however late
-- that event arrived: a late event reopens its own minute, five minutes back or five
-- hours. The event-table read is bounded by the event times of those minutes (BRIN), so
-- it costs what the late window spans, not the day. Events are never deleted, so a
-- minute never loses its row.
--
-- `_max_ingest_seq` is the newest landed event a row counts: the dashboards add the
-- events above max(_max_ingest_seq) straight from staging (see analyses/restaurant/).
--
-- Written in minute order on PostgreSQL (macros/stored_in_order.sql): the last five
-- minutes at the lunch peak of a spec-scale day are about 67,000 rows; in location order
-- the dashboard read 20,609 pages for them, in minute order 1,259 (index included).
with events as (
    select * from {{ ref('fct_restaurant_events') }}
),

{% if is_incremental() %}
changed_minutes as (
    select distinct
        location_id,
        event_minute_at
    from events
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
),

changed_range as (
    select
        min(event_minute_at) as first_minute_at,
        max(event_minute_at) as last_minute_at
    from changed_minutes
),

{% endif %}
scoped as (
    select events.*
    from events
    {% if is_incremental() %}
    inner join changed_minutes
        on
            events.location_id = changed_minutes.location_id
            and events.event_minute_at = changed_minutes.event_minute_at
    where
        events.event_at >= (select changed_range.first_minute_at from changed_range)
        and events.event_at < (
            select {{ headwater.timestamp_add_minutes('changed_range.last_minute_at', 1) }}
            from changed_range
        )
    {% endif %}
),

aggregated as (
    select
        location_id,
        event_minute_at as minute_at,
        count(case when event_type = 'table_seated' then 1 end) as tables_seated,
        coalesce(sum(case when event_type = 'table_seated' then party_size end), 0) as guests_seated,
        count(case when event_type = 'order_placed' then 1 end) as orders_placed,
        count(case when event_type = 'order_completed' then 1 end) as orders_completed,
        count(case when event_type = 'payment' then 1 end) as payments,
        coalesce(sum(case when event_type = 'payment' then total_amount end), 0) as revenue,
        coalesce(sum(case when event_type = 'payment' then subtotal_amount end), 0) as subtotal_amount,
        coalesce(sum(case when event_type = 'payment' then tax_amount end), 0) as tax_amount,
        coalesce(sum(case when event_type = 'payment' then tip_amount end), 0) as tip_amount,
        max(event_at) as last_event_at,
        max(ingest_seq) as _max_ingest_seq,
        max(_loaded_at) as _loaded_at
    from scoped
    group by
        location_id,
        event_minute_at
),

final as (
    select
        location_id,
        minute_at,
        {{ headwater.utc_date('minute_at') }} as minute_date,
        tables_seated,
        guests_seated,
        orders_placed,
        orders_completed,
        payments,
        revenue,
        subtotal_amount,
        tax_amount,
        tip_amount,
        last_event_at,
        _max_ingest_seq,
        _loaded_at
    from aggregated
)

select * from final
{{ headwater.stored_in_order(['minute_at', 'location_id']) }}
