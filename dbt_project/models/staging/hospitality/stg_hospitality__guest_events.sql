-- Guest CDC events in one shape, whichever form they arrived in: the flat events carry
-- the changed fields in `data`, a Debezium envelope the whole row in `payload.after`
-- (or, for a delete, `payload.before`). Fields an event does not set are NULL.
with source as (
    select * from {{ source('hospitality', 'guest_events') }}
),

renamed as (
    select
        event_id,
        event_type,
        cdc_format,
        operation,
        event_timestamp as event_at,
        guest_id,
        case when cdc_format = 'flat' then {{ headwater.json_extract_string('payload', 'data.name') }}
            else {{ headwater.json_extract_string('payload', 'payload.after.name') }}
        end as guest_name,
        case when cdc_format = 'flat' then {{ headwater.json_extract_string('payload', 'data.email') }}
            else {{ headwater.json_extract_string('payload', 'payload.after.email') }}
        end as email,
        case when cdc_format = 'flat' then {{ headwater.json_extract_string('payload', 'data.phone') }}
            else {{ headwater.json_extract_string('payload', 'payload.after.phone') }}
        end as phone,
        case when cdc_format = 'flat' then {{ headwater.json_extract_string('payload', 'data.country') }}
            else {{ headwater.json_extract_string('payload', 'payload.after.country') }}
        end as country,
        case when cdc_format = 'flat' then {{ headwater.json_extract_string('payload', 'data.loyalty_tier') }}
            else {{ headwater.json_extract_string('payload', 'payload.after.loyalty_tier') }}
        end as loyalty_tier,
        ingest_seq,
        received_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
