{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_item_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_item_id'], 'unique': True},
            {'columns': ['_changed_at']},
            {'columns': ['order_date']},
            {'columns': ['seller_id', 'order_month']},
        ]
    )
}}
-- depends_on: {{ ref('stg_marketplace__seller_tier_history') }}
-- One row per order item with what the sales marts group by: the order's date, status
-- and buyer region, the category the product had when sold (resolved to its root), the
-- amount in USD, and the seller's tier at the time of the sale (SCD2 lookup).
--
-- `_loaded_at` is the latest load time among the item, its order and its buyer (and the
-- product, when the item carries no category of its own).
--
-- A table, incremental, merged on order_item_id, so the sales marts read only the items
-- changed since their last run (`_changed_at`, indexed). An item is recomputed when
--   * it was loaded at or after the lower bound, or its order was recomputed by
--     int_orders_enriched since this table last changed, or
--   * its product was loaded since the lower bound and the item takes its category from
--     the product, or
--   * the category names or tree it carries differ from stg_marketplace__categories
--     (categories are re-synced in full, so they are compared, not dated), or
--   * its seller's tier history was loaded since the lower bound (a change of any tier
--     row can move the seller's ranges; a full re-sync of the stream reloads every row
--     and so recomputes every item).
-- `_changed_at` is when this table last recomputed the row (the warehouse's clock).
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

{% if is_incremental() %}
existing as (
    select
        order_item_id,
        category_id,
        category_name,
        root_category_id,
        root_category_name,
        _changed_at
    from {{ this }}
),

last_change as (
    select
        coalesce(
            max(_changed_at), cast('1970-01-01 00:00:00+00:00' as {{ headwater.type_timestamptz() }})
        ) as changed_at
    from existing
),

changed_items as (
    select order_item_id
    from order_items
    where _loaded_at >= {{ headwater.incremental_lower_bound() }}

    union distinct

    select order_items.order_item_id
    from order_items
    inner join orders
        on order_items.order_id = orders.order_id
    inner join last_change
        on orders._changed_at >= last_change.changed_at

    union distinct

    select order_items.order_item_id
    from order_items
    inner join products
        on order_items.product_id = products.product_id
    where
        order_items.category_id_at_sale is null
        and products._loaded_at >= {{ headwater.incremental_lower_bound() }}

    union distinct

    select existing.order_item_id
    from existing
    left join categories
        on existing.category_id = categories.category_id
    where
        existing.category_name <> coalesce(categories.category_name, 'Uncategorized')
        or existing.root_category_id <> coalesce(categories.root_category_id, -1)
        or existing.root_category_name <> coalesce(categories.root_category_name, 'Uncategorized')

    union distinct

    select order_items.order_item_id
    from order_items
    inner join {{ ref('stg_marketplace__seller_tier_history') }} as tier_history
        on order_items.seller_id = tier_history.seller_id
    where tier_history._loaded_at >= {{ headwater.incremental_lower_bound() }}
),

{% endif %}
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
    {% if is_incremental() %}
    inner join changed_items
        on order_items.order_item_id = changed_items.order_item_id
    {% endif %}
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
        joined._loaded_at,
        {{ dbt.current_timestamp() }} as _changed_at
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
