-- The source's own tier history, renamed. Periods are as the application wrote them
-- (closing a row in place, no change timestamp); int_seller_tiers_historized turns them
-- into gap-free, non-overlapping validity ranges.
with source as (
    select * from {{ source('marketplace', 'seller_tier_history') }}
),

renamed as (
    select
        id as tier_history_id,
        user_id as seller_id,
        tier as seller_tier,
        effective_from,
        effective_to,
        coalesce(is_current, false) as is_current,
        change_reason,
        created_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
