{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id'], 'unique': True},
            {'columns': ['_changed_at']},
            {'columns': ['buyer_id']},
        ]
    )
}}
-- depends_on: {{ ref('stg_marketplace__orders') }}
-- One row per order with everything the order marts need: USD amounts, the items rolled
-- up, the buyer's country and region, and the payments rolled up.
--
-- `_loaded_at` is the latest load time among the rows the order is built from (the
-- order, its items, its buyer). Payments are compared by `payments_hash` instead: Airbyte
-- re-reads the payments stream in full, so their load time says nothing about a change.
--
-- A table, incremental, merged on order_id: the marts read only the orders changed since
-- their last run (`_changed_at`, indexed) instead of recomputing every order. An order is
-- recomputed when its order row, one of its items or its buyer was loaded at or after
-- the lower bound (macros/incremental/incremental_lower_bound.sql), or when the content
-- hash of its payment events differs from the one stored here. `_changed_at` is when
-- this table last recomputed the row (the warehouse's clock); it is bookkeeping for the
-- models downstream and never reaches a mart.
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

{% if is_incremental() %}
existing as (
    select
        order_id,
        payments_hash
    from {{ this }}
),

changed_orders as (
    select order_id
    from {{ ref('stg_marketplace__orders') }}
    where _loaded_at >= {{ headwater.incremental_lower_bound() }}

    union distinct

    select order_id
    from order_items
    where _loaded_at >= {{ headwater.incremental_lower_bound() }}

    union distinct

    select buyer_orders.order_id
    from {{ ref('stg_marketplace__orders') }} as buyer_orders
    inner join users
        on buyer_orders.buyer_id = users.user_id
    where users._loaded_at >= {{ headwater.incremental_lower_bound() }}

    union distinct

    select order_payments.order_id
    from order_payments
    left join existing
        on order_payments.order_id = existing.order_id
    where order_payments.payments_hash is distinct from existing.payments_hash

    union distinct

    -- Orders whose every payment is gone.
    select existing.order_id
    from existing
    left join order_payments
        on existing.order_id = order_payments.order_id
    where order_payments.order_id is null and existing.payments_hash is not null
),

{% endif %}
selected_orders as (
    select orders.*
    from orders
    {% if is_incremental() %}
    inner join changed_orders
        on orders.order_id = changed_orders.order_id
    {% endif %}
),

items_per_order as (
    select
        order_items.order_id,
        count(*) as item_count,
        sum(order_items.quantity) as units,
        sum(order_items.total_price) as items_total_amount,
        count(distinct order_items.seller_id) as seller_count,
        min(order_items.seller_id) as seller_id,
        max(order_items._loaded_at) as _loaded_at
    from order_items
    {% if is_incremental() %}
    inner join changed_orders
        on order_items.order_id = changed_orders.order_id
    {% endif %}
    group by order_items.order_id
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
        ) as _loaded_at,
        -- A change that came with a load is dated by the load; one found by comparing
        -- (payments) by this run. Rows redone unchanged keep a date the marts have passed.
        {% if is_incremental() %}
        case
            when greatest(
                    orders._loaded_at,
                    coalesce(items_per_order._loaded_at, orders._loaded_at),
                    coalesce(users._loaded_at, orders._loaded_at)
                ) >= {{ headwater.incremental_lower_bound() }}
                then greatest(
                        orders._loaded_at,
                        coalesce(items_per_order._loaded_at, orders._loaded_at),
                        coalesce(users._loaded_at, orders._loaded_at)
                    )
            else {{ dbt.current_timestamp() }}
        end
        {% else %}
        greatest(
            orders._loaded_at,
            coalesce(items_per_order._loaded_at, orders._loaded_at),
            coalesce(users._loaded_at, orders._loaded_at)
        )
        {% endif %} as _changed_at
    from selected_orders as orders
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
