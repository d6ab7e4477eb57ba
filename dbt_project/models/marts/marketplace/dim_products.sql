-- Every product as it is now, with its category resolved to parent and root, its price
-- in US dollars at today's rate, its tags as an array and its common attributes as
-- columns. Deleted products (status 'deleted') are kept and flagged.

with products as (
    select * from {{ ref('stg_marketplace__products') }}
),

categories as (
    select * from {{ ref('stg_marketplace__categories') }}
),

exchange_rates as (
    select * from {{ ref('int_exchange_rates_ranged') }}
),

users as (
    select * from {{ ref('stg_marketplace__users') }}
),

reviews as (
    select * from {{ ref('stg_marketplace__reviews') }}
),

product_reviews as (
    select
        product_id,
        count(*) as review_count,
        round(avg(cast(rating as {{ dbt.type_numeric() }})), 2) as average_rating
    from reviews
    where is_approved
    group by product_id
),

final as (
    select
        products.product_id,
        products.seller_id,
        products.product_title,
        products.product_status,
        products.is_deleted,
        coalesce(users.is_deleted, false) as is_seller_deleted,
        products.category_id,
        categories.category_name,
        categories.parent_category_id,
        categories.parent_category_name,
        categories.root_category_id,
        categories.root_category_name,
        categories.category_depth,
        coalesce(categories.is_active, false) as is_category_active,
        products.price_amount,
        products.price_currency,
        {{ headwater.convert_to_usd('products.price_amount', 'exchange_rates.units_per_usd') }}
            as price_usd,
        products.quantity_available,
        products.tags,
        products.tag_count,
        products.attribute_condition,
        products.attribute_color,
        products.attribute_weight_g,
        products.attribute_length_cm,
        products.attribute_width_cm,
        products.attribute_height_cm,
        products.is_made_to_order,
        products.attributes,
        coalesce(product_reviews.review_count, 0) as review_count,
        product_reviews.average_rating,
        products.has_future_updated_at,
        products.created_at,
        products.published_at,
        products.updated_at,
        products.reported_updated_at,
        products._loaded_at
    from products
    left join categories
        on products.category_id = categories.category_id
    left join exchange_rates
        on
            products.price_currency = exchange_rates.currency_code
            and exchange_rates.valid_to is null
    left join users
        on products.seller_id = users.user_id
    left join product_reviews
        on products.product_id = product_reviews.product_id
)

select * from final
