{{
    config(
        materialized='incremental',
        incremental_strategy=('merge' if target.type == 'bigquery' else 'append'),
        unique_key='event_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['event_id'], 'unique': True},
            {'columns': ['event_at'], 'type': 'brin'},
            {'columns': ['_loaded_at']},
            {'columns': ['order_id']},
            {'columns': ['location_id', 'table_id', 'event_at']},
        ],
        partition_by={'field': 'event_date', 'data_type': 'date'},
        cluster_by=['location_id', 'event_type'],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
-- The typed event table: every restaurant event once, the four types together (common
-- columns, the type-specific ones NULL where a type has none, and the whole event as
-- `payload`). About 9M rows a day; everything else is built from here.
--
-- Storage, chosen for how the models read it:
--   * PostgreSQL: rows are appended in arrival order, which is event-time order give or
--     take the 5-minute late window, so a BRIN index on event_at (a few pages a day)
--     turns every "events of these minutes" read into a scan of just those blocks,
--     without the cost of a btree on 9M rows a day. The rollups re-read the minutes
--     that new events touch that way. Lookups by order (order_id) and by table
--     (location_id, table_id, event_at: linking a seating to its order) are btrees;
--     `_loaded_at` finds what the last sync brought; `event_id` is unique (dedup).
--     Daily partitions would also work, but dbt would have to manage them by hand and
--     BRIN gives the same pruning for append-mostly data.
--   * BigQuery: partitioned by the UTC event date (queries name a time window),
--     clustered by location and event type (the dashboards group by location).
--
-- Incremental, append only (BigQuery has no append strategy: merge on event_id, which
-- here only ever inserts): the events loaded since the newest load time held here
-- (macros/incremental/incremental_lower_bound.sql, with the restaurant lookback) that
-- are not here yet. A connector re-reading its last cursor value could load a row
-- twice, so the first copy by ingest_seq wins. Events never change once sent, so
-- appending new ones keeps the table equal to a full rebuild.
with events as (
    select * from {{ ref('stg_restaurant__events') }}
    {% if is_incremental() %}
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (partition by event_id order by ingest_seq) as copy_number
    from events
),

new_events as (
    select ranked.*
    from ranked
    {% if is_incremental() %}
    left join {{ this }} as already_loaded
        on ranked.event_id = already_loaded.event_id
    {% endif %}
    where
        ranked.copy_number = 1
        {% if is_incremental() %}
        and already_loaded.event_id is null
        {% endif %}
),

final as (
    select
        event_id,
        event_type,
        event_at,
        {{ headwater.utc_date('event_at') }} as event_date,
        {{ headwater.utc_trunc('minute', 'event_at') }} as event_minute_at,
        location_id,
        location_name,
        table_id,
        server_id,
        order_id,
        party_size,
        subtotal_amount,
        tax_amount,
        tip_amount,
        total_amount,
        payment_method,
        kitchen_time_minutes,
        payload,
        ingest_seq,
        received_at,
        _loaded_at
    from new_events
)

select * from final
