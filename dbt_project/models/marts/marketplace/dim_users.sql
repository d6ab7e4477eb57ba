-- Every user as they are now: soft-deleted users are kept and flagged, never dropped,
-- because their orders, reviews and sales still point at them. Email and names stay in
-- staging (personal data analysts do not need).

with users as (
    select * from {{ ref('stg_marketplace__users') }}
),

country_regions as (
    select * from {{ ref('country_regions') }}
),

seller_tiers as (
    select * from {{ ref('int_seller_tiers_historized') }}
),

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

latest_tiers as (
    select
        seller_id,
        seller_tier,
        valid_from,
        valid_to,
        is_current
    from (
        select
            *,
            row_number() over (partition by seller_id order by valid_from desc) as recency
        from seller_tiers
    ) as ranked
    where recency = 1
),

tier_counts as (
    select
        seller_id,
        sum(case when tier_change = 'promoted' then 1 else 0 end) as tier_promotions,
        sum(case when tier_change = 'demoted' then 1 else 0 end) as tier_demotions
    from seller_tiers
    group by seller_id
),

buyer_orders as (
    select
        buyer_id,
        min(created_at) as first_order_at,
        max(created_at) as last_order_at,
        count(*) as order_count,
        sum(subtotal_amount_usd) as lifetime_gmv_usd
    from orders
    where is_gmv_order
    group by buyer_id
),

final as (
    select
        users.user_id,
        users.username,
        users.user_type,
        users.is_buyer,
        users.is_seller,
        users.country_code,
        coalesce(country_regions.country_name, 'Unknown') as country_name,
        coalesce(country_regions.region, 'Other') as region,
        users.is_country_missing,
        users.seller_tier,
        {{ headwater.seller_tier_rank('users.seller_tier') }} as seller_tier_rank,
        latest_tiers.valid_from as seller_tier_since,
        coalesce(latest_tiers.is_current, false) as has_open_tier_history,
        coalesce(
            users.seller_tier <> latest_tiers.seller_tier
            or (users.seller_tier is null) <> (latest_tiers.seller_tier is null),
            false
        ) as has_tier_history_mismatch,
        coalesce(tier_counts.tier_promotions, 0) as tier_promotions,
        coalesce(tier_counts.tier_demotions, 0) as tier_demotions,
        users.seller_rating,
        users.is_active,
        users.is_deleted,
        users.deleted_at,
        buyer_orders.first_order_at,
        buyer_orders.last_order_at,
        coalesce(buyer_orders.order_count, 0) as lifetime_order_count,
        coalesce(buyer_orders.lifetime_gmv_usd, 0) as lifetime_gmv_usd,
        users.created_at,
        users.updated_at,
        users._loaded_at
    from users
    left join country_regions
        on users.country_code = country_regions.country_code
    left join latest_tiers
        on users.user_id = latest_tiers.seller_id
    left join tier_counts
        on users.user_id = tier_counts.seller_id
    left join buyer_orders
        on users.user_id = buyer_orders.buyer_id
)

select * from final
