{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='location_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['location_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
-- One row per restaurant, as its events describe it: the name on its latest event (by
-- event time, then event id, so a late event with an old name never wins), the city
-- before " - ", and when it was first and last seen.
--
-- Incremental, merged on location_id: the locations of events loaded since the lower
-- bound are recomputed from those events and the row already here, which holds the
-- latest event of everything before. Latest, first and last are associative, so that
-- equals recomputing from all events.
with events as (
    select * from {{ ref('fct_restaurant_events') }}
),

changed as (
    select
        location_id,
        location_name,
        event_at,
        event_id,
        _loaded_at
    from events
    {% if is_incremental() %}
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
    {% endif %}
),

candidates as (
    select
        location_id,
        location_name,
        event_at as first_event_at,
        event_at as last_event_at,
        event_id as last_event_id,
        _loaded_at
    from changed
    {% if is_incremental() %}
    union all
    select
        held.location_id,
        held.location_name,
        held.first_event_at,
        held.last_event_at,
        held.last_event_id,
        held._loaded_at
    from {{ this }} as held
    where held.location_id in (select changed.location_id from changed)
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by location_id
            order by last_event_at desc, last_event_id desc
        ) as recency,
        min(first_event_at) over (partition by location_id) as location_first_event_at,
        max(_loaded_at) over (partition by location_id) as location_loaded_at
    from candidates
),

final as (
    select
        location_id,
        location_name,
        {{ dbt.split_part('location_name', "' - '", 1) }} as city,
        location_first_event_at as first_event_at,
        last_event_at,
        last_event_id,
        location_loaded_at as _loaded_at
    from ranked
    where recency = 1
)

select * from final
