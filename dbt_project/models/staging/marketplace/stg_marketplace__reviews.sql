with source as (
    select * from {{ source('marketplace', 'reviews') }}
),

renamed as (
    select
        id as review_id,
        product_id,
        order_item_id,
        reviewer_id,
        rating,
        title as review_title,
        body as review_body,
        coalesce(is_verified_purchase, false) as is_verified_purchase,
        coalesce(helpful_votes, 0) as helpful_votes,
        status as review_status,
        status = 'approved' as is_approved,
        moderated_at,
        created_at,
        updated_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
