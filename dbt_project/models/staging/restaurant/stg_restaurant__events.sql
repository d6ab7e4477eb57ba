-- The restaurant events, one row per landed row, renamed and typed. No deduplication
-- here: ingestion refuses a repeated event_id, and the event mart removes what a
-- connector re-reading its cursor could still append twice. Dashboards read the rows
-- not yet in the marts (`ingest_seq` above the marts' high-water mark) through this
-- view, so it stays a plain projection the planner sees through to raw's indexes.
with source as (
    select * from {{ source('restaurant', 'events') }}
),

renamed as (
    select
        event_id,
        event_type,
        event_timestamp as event_at,
        location_id,
        location_name,
        table_id,
        server_id,
        order_id,
        party_size,
        subtotal as subtotal_amount,
        tax as tax_amount,
        tip as tip_amount,
        total_amount,
        payment_method,
        kitchen_time_minutes,
        payload,
        ingest_seq,
        received_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
