-- One row per order item with what the sales marts group by: the order's date, status
-- and buyer region, the category the product had when sold (resolved to its root), the
-- amount in USD, and the seller's tier at the time of the sale (SCD2 lookup).
--
-- `_loaded_at` is the latest load time among the item, its order and its buyer (and the
-- product, when the item carries no category of its own). Categories and seller tiers
-- are full-refresh streams; the marts detect their changes by comparing content.
with order_items as (
    select * from {{ ref('stg_marketplace__order_items') }}
),

orders as (
    select * from {{ ref('int_orders_enriched') }}
),

products as (
    select * from {{ ref('stg_marketplace__products') }}
),

categories as (
    select * from {{ ref('stg_marketplace__categories') }}
),

exchange_rates as (
    select * from {{ ref('int_exchange_rates_ranged') }}
),

seller_tiers as (
    select * from {{ ref('int_seller_tiers_historized') }}
),

joined as (
    select
        order_items.order_item_id,
        order_items.order_id,
        order_items.product_id,
        order_items.seller_id,
        orders.buyer_id,
        orders.order_status,
        orders.is_gmv_order,
        orders.order_date,
        orders.created_at as ordered_at,
        orders.buyer_country_code,
        orders.buyer_region,
        coalesce(order_items.category_id_at_sale, products.category_id) as category_id,
        order_items.category_id_at_sale is null as is_category_from_current_product,
        order_items.quantity,
        order_items.unit_price,
        order_items.total_price,
        order_items.currency_code,
        greatest(
            order_items._loaded_at,
            coalesce(orders._loaded_at, order_items._loaded_at),
            -- The product counts only when the category comes from it.
            coalesce(
                case when order_items.category_id_at_sale is null then products._loaded_at end,
                order_items._loaded_at
            )
        ) as _loaded_at
    from order_items
    left join orders
        on order_items.order_id = orders.order_id
    left join products
        on order_items.product_id = products.product_id
),

enriched as (
    select
        joined.order_item_id,
        joined.order_id,
        joined.product_id,
        joined.seller_id,
        joined.buyer_id,
        joined.order_status,
        coalesce(joined.is_gmv_order, false) as is_gmv_order,
        joined.order_date,
        {{ headwater.month_start('joined.ordered_at') }} as order_month,
        joined.ordered_at,
        coalesce(joined.buyer_country_code, 'ZZ') as buyer_country_code,
        coalesce(joined.buyer_region, 'Unknown') as buyer_region,
        -- -1: an item whose product (and so category) is unknown.
        coalesce(joined.category_id, -1) as category_id,
        coalesce(categories.category_name, 'Uncategorized') as category_name,
        coalesce(categories.root_category_id, -1) as root_category_id,
        coalesce(categories.root_category_name, 'Uncategorized') as root_category_name,
        joined.is_category_from_current_product,
        joined.quantity,
        joined.unit_price,
        joined.total_price,
        joined.currency_code,
        {{ headwater.convert_to_usd('joined.unit_price', 'exchange_rates.units_per_usd') }}
            as unit_price_usd,
        {{ headwater.convert_to_usd('joined.total_price', 'exchange_rates.units_per_usd') }}
            as total_price_usd,
        seller_tiers.seller_tier as seller_tier_at_sale,
        joined._loaded_at
    from joined
    left join categories
        on joined.category_id = categories.category_id
    left join exchange_rates
        on
            joined.currency_code = exchange_rates.currency_code
            and joined.order_date >= exchange_rates.valid_from
            and (exchange_rates.valid_to is null or joined.order_date < exchange_rates.valid_to)
    left join seller_tiers
        on
            joined.seller_id = seller_tiers.seller_id
            and joined.ordered_at >= seller_tiers.valid_from
            and (seller_tiers.valid_to is null or joined.ordered_at < seller_tiers.valid_to)
)

select * from enriched
