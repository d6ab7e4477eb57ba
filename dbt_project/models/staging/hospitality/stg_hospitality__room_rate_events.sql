-- Room price updates: a new nightly rate for a property's room type from a date on.
with source as (
    select * from {{ source('hospitality', 'room_rate_events') }}
),

renamed as (
    select
        event_id,
        event_type,
        event_timestamp as event_at,
        property_id,
        room_type,
        cast(nightly_rate as numeric) as nightly_rate,
        cast(effective_date as date) as effective_date,
        cast(previous_rate as numeric) as previous_rate,
        {{ headwater.json_extract_string('payload', 'data.reason') }} as reason,
        ingest_seq,
        received_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
