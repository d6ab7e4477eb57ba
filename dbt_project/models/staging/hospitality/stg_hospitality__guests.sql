-- The baseline guest profiles, typed.
with source as (
    select * from {{ source('hospitality', 'guests') }}
),

renamed as (
    select
        guest_id,
        name as guest_name,
        email,
        phone,
        country,
        loyalty_tier,
        created_at,
        updated_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
