with source as (
    select * from {{ source('marketplace', 'users') }}
),

renamed as (
    select
        id as user_id,
        email,
        username,
        user_type,
        first_name,
        last_name,
        -- About 3% of buyers have no country. 'ZZ' (ISO 3166 "unknown") keeps them in every
        -- group-by and join instead of silently dropping out; the flag says it was missing.
        coalesce(nullif(upper(trim(country_code)), ''), 'ZZ') as country_code,
        nullif(trim(country_code), '') is null as is_country_missing,
        seller_tier,
        seller_rating,
        user_type in ('seller', 'both') as is_seller,
        user_type in ('buyer', 'both') as is_buyer,
        coalesce(is_active, false) as is_active,
        -- Soft delete: the row stays (orders and reviews keep their buyer and seller).
        deleted_at,
        deleted_at is not null as is_deleted,
        created_at,
        updated_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
