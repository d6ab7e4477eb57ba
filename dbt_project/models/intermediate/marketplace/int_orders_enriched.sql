-- One row per order with everything the order marts need: USD amounts, the items rolled
-- up, the buyer's country and region, and the payments rolled up.
--
-- `_loaded_at` is the latest load time among the rows the order is built from (the
-- order, its items, its buyer): incremental marts reprocess an order when any of them was
-- reloaded. Payments are full-refresh and are compared by `payments_hash` instead.
{%- set gmv_statuses = "'" ~ var('marketplace_gmv_statuses') | join("', '") ~ "'" %}
with orders as (
    select * from {{ ref('int_orders_converted') }}
),

order_items as (
    select * from {{ ref('stg_marketplace__order_items') }}
),

users as (
    select * from {{ ref('stg_marketplace__users') }}
),

country_regions as (
    select * from {{ ref('country_regions') }}
),

order_payments as (
    select * from {{ ref('int_order_payments_aggregated') }}
),

items_per_order as (
    select
        order_id,
        count(*) as item_count,
        sum(quantity) as units,
        sum(total_price) as items_total_amount,
        count(distinct seller_id) as seller_count,
        min(seller_id) as seller_id,
        max(_loaded_at) as _loaded_at
    from order_items
    group by order_id
),

enriched as (
    select
        orders.order_id,
        orders.order_number,
        orders.buyer_id,
        items_per_order.seller_id,
        orders.order_status,
        orders.order_status in ({{ gmv_statuses }}) as is_gmv_order,
        orders.currency_code,
        orders.units_per_usd,
        orders.is_currency_unknown,
        orders.subtotal_amount,
        orders.shipping_amount,
        orders.tax_amount,
        orders.discount_amount,
        orders.total_amount,
        orders.subtotal_amount_usd,
        orders.shipping_amount_usd,
        orders.tax_amount_usd,
        orders.discount_amount_usd,
        orders.total_amount_usd,
        coalesce(items_per_order.item_count, 0) as item_count,
        coalesce(items_per_order.units, 0) as units,
        coalesce(items_per_order.seller_count, 0) as seller_count,
        coalesce(items_per_order.items_total_amount, 0) <> orders.subtotal_amount
            as has_items_subtotal_mismatch,
        coalesce(users.country_code, 'ZZ') as buyer_country_code,
        coalesce(country_regions.region, 'Other') as buyer_region,
        coalesce(users.is_country_missing, true) as is_buyer_country_missing,
        coalesce(users.is_deleted, false) as is_buyer_deleted,
        orders.shipping_country_code,
        coalesce(order_payments.payment_status, 'none') as payment_status,
        coalesce(order_payments.payment_count, 0) as payment_count,
        coalesce(order_payments.payment_event_count, 0) as payment_event_count,
        coalesce(order_payments.replayed_row_count, 0) as replayed_row_count,
        coalesce(order_payments.stale_event_count, 0) as stale_event_count,
        coalesce(order_payments.captured_amount, 0) as captured_amount,
        coalesce(order_payments.refunded_amount, 0) as refunded_amount,
        coalesce(order_payments.disputed_amount, 0) as disputed_amount,
        coalesce(order_payments.pending_amount, 0) as pending_amount,
        coalesce(order_payments.net_captured_amount, 0) as net_captured_amount,
        coalesce(order_payments.platform_fee_amount, 0) as platform_fee_amount,
        coalesce(order_payments.seller_payout_amount, 0) as seller_payout_amount,
        coalesce(order_payments.raw_captured_amount, 0) as raw_captured_amount,
        order_payments.payment_currency_code,
        order_payments.payments_hash,
        orders.order_date,
        orders.created_at,
        orders.updated_at,
        orders.confirmed_at,
        orders.shipped_at,
        orders.delivered_at,
        -- BigQuery's greatest() is NULL when any argument is: fall back to the order's own.
        greatest(
            orders._loaded_at,
            coalesce(items_per_order._loaded_at, orders._loaded_at),
            coalesce(users._loaded_at, orders._loaded_at)
        ) as _loaded_at
    from orders
    left join items_per_order
        on orders.order_id = items_per_order.order_id
    left join users
        on orders.buyer_id = users.user_id
    left join country_regions
        on coalesce(users.country_code, 'ZZ') = country_regions.country_code
    left join order_payments
        on orders.order_id = order_payments.order_id
)

select * from enriched
