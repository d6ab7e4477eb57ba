-- The application event log. Mobile clients buffer events, so arrival order
-- (received_at, and id) differs from occurrence order (occurred_at).
with source as (
    select * from {{ source('marketplace', 'event_log') }}
),

renamed as (
    select
        id as event_id,
        event_type,
        entity_type,
        entity_id,
        event_data,
        event_timestamp as occurred_at,
        received_at,
        cast({{ dbt.datediff('event_timestamp', 'received_at', 'second') }} as {{ dbt.type_bigint() }})
            as arrival_delay_seconds,
        -- Delivered more than an hour after it happened (buffered on a device).
        coalesce(received_at > {{ headwater.timestamp_add_minutes('event_timestamp', 60) }}, false)
            as is_late_arrival,
        coalesce(processed, false) as is_processed,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
