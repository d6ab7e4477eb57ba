-- Reviews with the seller they are about and the UTC month they were written in.
-- The seller is the order item's (who actually sold it), else the product's.
with reviews as (
    select * from {{ ref('stg_marketplace__reviews') }}
),

order_items as (
    select * from {{ ref('stg_marketplace__order_items') }}
),

products as (
    select * from {{ ref('stg_marketplace__products') }}
),

enriched as (
    select
        reviews.review_id,
        reviews.product_id,
        reviews.order_item_id,
        reviews.reviewer_id,
        coalesce(order_items.seller_id, products.seller_id) as seller_id,
        reviews.rating,
        reviews.review_status,
        reviews.is_approved,
        reviews.created_at,
        {{ headwater.month_start('reviews.created_at') }} as review_month,
        greatest(
            reviews._loaded_at,
            coalesce(order_items._loaded_at, products._loaded_at, reviews._loaded_at)
        ) as _loaded_at
    from reviews
    left join order_items
        on reviews.order_item_id = order_items.order_item_id
    left join products
        on reviews.product_id = products.product_id
)

select * from enriched
