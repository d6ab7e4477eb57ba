-- Lines ingestion refused (malformed JSON, missing fields, wrong types), with the reason.
with source as (
    select * from {{ source('hospitality', 'dead_letters') }}
),

renamed as (
    select
        ingest_seq as dead_letter_id,
        received_at,
        source as input_name,
        line_number,
        reason,
        event_type,
        raw_payload,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
