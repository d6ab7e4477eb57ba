-- The historical bookings, typed. booking_source is NULL in every historical row: the
-- field only exists in events that arrived after it was introduced.
with source as (
    select * from {{ source('hospitality', 'bookings') }}
),

renamed as (
    select
        booking_id,
        guest_id,
        property_id,
        room_type,
        cast(check_in_date as date) as check_in_date,
        cast(check_out_date as date) as check_out_date,
        cast(booking_date as date) as booking_date,
        cast(total_amount as numeric) as total_amount,
        currency,
        booking_status,
        cast(number_of_guests as {{ dbt.type_int() }}) as number_of_guests,
        booking_source,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
