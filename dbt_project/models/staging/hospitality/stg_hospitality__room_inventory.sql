-- Rooms and rates per property and room type, one row per effective period.
with source as (
    select * from {{ source('hospitality', 'room_inventory') }}
),

renamed as (
    select
        property_id,
        room_type,
        cast(room_count as {{ dbt.type_int() }}) as room_count,
        cast(nightly_rate as numeric) as nightly_rate,
        cast(effective_from as date) as effective_from,
        cast(effective_to as date) as effective_to,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
