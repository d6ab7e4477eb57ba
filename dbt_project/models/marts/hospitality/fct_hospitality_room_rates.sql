{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['property_id', 'room_type', 'effective_from'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['property_id', 'room_type', 'effective_from'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
        cluster_by=['property_id'],
    )
}}
{%- set lookback = var('hospitality_incremental_lookback_minutes') -%}
-- Room rates as SCD2 by effective date: one row per property, room type and date a rate
-- took effect, valid until the next one (valid_to exclusive, NULL while current). The
-- inventory's periods are the baseline; a price update for a date replaces the rate
-- from that date (for one date, the latest update by event time wins: a late update
-- sent before a newer one does not undo it). Room counts come from the inventory.
--
-- Incremental, merged on (property_id, room_type, effective_from): each property and
-- room type with a change loaded since the lower bound is rebuilt (a handful of rows);
-- 100 properties changing their rates rebuild those 100 properties' series, no others.
-- `rate_loaded_at` is when this row's own rate was loaded (it changes only with the
-- rate); `_loaded_at`, the newest load of the series (the watermark).
with changes as (
    select * from {{ ref('int_hospitality__room_rate_changes') }}
),

{% if is_incremental() %}
touched as (
    select distinct
        property_id,
        room_type
    from changes
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
),

{% endif %}
scoped as (
    select changes.*
    from changes
    {% if is_incremental() %}
    inner join touched
        on
            changes.property_id = touched.property_id
            and changes.room_type = touched.room_type
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by property_id, room_type, effective_from
            order by change_rank desc, source_event_at desc, source_event_id desc
        ) as pick
    from scoped
),

picked as (
    select
        *,
        count(room_count) over ordered as room_count_run,
        lag(nightly_rate) over ordered as previous_rate,
        lead(effective_from) over ordered as valid_to,
        max(_loaded_at) over (partition by property_id, room_type) as series_loaded_at
    from ranked
    where pick = 1
    window ordered as (partition by property_id, room_type order by effective_from)
),

final as (
    select
        property_id,
        room_type,
        effective_from,
        valid_to,
        nightly_rate,
        previous_rate,
        coalesce(max(room_count) over (partition by property_id, room_type, room_count_run), 0) as room_count,
        rate_source,
        source_event_id,
        source_event_at,
        valid_to is null as is_current,
        _loaded_at as rate_loaded_at,
        series_loaded_at as _loaded_at
    from picked
)

select * from final
