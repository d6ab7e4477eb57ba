-- Every rate a property's room type was given from an effective date: the inventory's
-- periods (the baseline) and each price update once. The room count comes only from
-- the inventory; a price update carries it forward from the period it falls in.
with inventory as (
    select * from {{ ref('stg_hospitality__room_inventory') }}
),

events as (
    select * from {{ ref('stg_hospitality__room_rate_events') }}
),

events_ranked as (
    select
        *,
        row_number() over (partition by event_id order by ingest_seq) as copy_number
    from events
),

final as (
    select
        property_id,
        room_type,
        effective_from,
        nightly_rate,
        room_count,
        'inventory' as rate_source,
        cast(null as {{ dbt.type_string() }}) as source_event_id,
        cast(null as {{ headwater.type_timestamptz() }}) as source_event_at,
        0 as change_rank,
        _loaded_at
    from inventory
    union all
    select
        property_id,
        room_type,
        effective_date as effective_from,
        nightly_rate,
        cast(null as {{ dbt.type_int() }}) as room_count,
        'price_update' as rate_source,
        event_id as source_event_id,
        event_at as source_event_at,
        1 as change_rank,
        _loaded_at
    from events_ranked
    where copy_number = 1
)

select * from final
