-- Booking events, one row per landed row, with the fields of `data` typed. An update
-- carries only what changed: every field is NULL unless the event sets it, and the
-- models merge them field by field in event-time order. booking_source is read from
-- the payload, so events sent before the field existed simply have none. The status an
-- event type implies (booking.cancelled → Cancelled, ...) fills a status the data omits.
with source as (
    select * from {{ source('hospitality', 'booking_events') }}
),

renamed as (
    select
        event_id,
        event_type,
        event_timestamp as event_at,
        processing_timestamp as processed_at,
        operation,
        source_system,
        booking_id,
        {{ headwater.json_extract_string('payload', 'data.guest_id') }} as guest_id,
        {{ headwater.json_extract_string('payload', 'data.property_id') }} as property_id,
        {{ headwater.json_extract_string('payload', 'data.room_type') }} as room_type,
        cast({{ headwater.json_extract_string('payload', 'data.check_in_date') }} as date) as check_in_date,
        cast({{ headwater.json_extract_string('payload', 'data.check_out_date') }} as date) as check_out_date,
        cast({{ headwater.json_extract_string('payload', 'data.booking_date') }} as date) as booking_date,
        cast({{ headwater.json_extract_string('payload', 'data.total_amount') }} as numeric) as total_amount,
        {{ headwater.json_extract_string('payload', 'data.currency') }} as currency,
        coalesce(
            {{ headwater.json_extract_string('payload', 'data.booking_status') }},
            case event_type
                when 'booking.cancelled' then 'Cancelled'
                when 'booking.checked_in' then 'Checked-In'
                when 'booking.checked_out' then 'Checked-Out'
                when 'booking.no_show' then 'No-Show'
                when 'booking.confirmed' then 'Confirmed'
            end
        ) as booking_status,
        cast({{ headwater.json_extract_string('payload', 'data.number_of_guests') }} as {{ dbt.type_int() }})
            as number_of_guests,
        {{ headwater.json_extract_string('payload', 'data.booking_source') }} as booking_source,
        {{ headwater.json_extract_string('payload', 'data.cancellation_reason') }} as cancellation_reason,
        ingest_seq,
        received_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
