{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_id',
        on_schema_change='fail'
    )
}}
-- One row per order. Incremental, merged on order_id: orders are never deleted, so an
-- upsert of the changed ones keeps the table equal to a full rebuild.
--
-- An order is reprocessed when
--   * its order row, one of its items or its buyer was loaded at or after the lower bound
--     (macros/incremental/incremental_lower_bound.sql: the newest `_loaded_at` held here,
--     or the Airflow interval start, minus a lookback), or
--   * the content hash of its payment events differs from the one stored here. Payments
--     are a full_refresh_overwrite stream: every sync reloads every row with a new
--     `_airbyte_extracted_at`, so selecting by load time would reprocess every order on
--     every run. Comparing hashes finds late payments, refunds and replays exactly, or
--   * it is not here yet.
-- Changing the exchange_rates or country_regions seed changes old rows: run with
-- --full-refresh after editing them.

with orders as (
    select * from {{ ref('int_orders_enriched') }}
),

{% if is_incremental() %}
existing as (
    select
        order_id,
        _payments_hash
    from {{ this }}
),

{% endif %}
changed as (
    select orders.*
    from orders
    {% if is_incremental() %}
    left join existing
        on orders.order_id = existing.order_id
    where
        orders._loaded_at >= {{ headwater.incremental_lower_bound() }}
        or existing.order_id is null
        or orders.payments_hash is distinct from existing._payments_hash
    {% endif %}
),

final as (
    select
        order_id,
        order_number,
        buyer_id,
        seller_id,
        order_status,
        payment_status,
        is_gmv_order,
        currency_code,
        subtotal_amount,
        shipping_amount,
        tax_amount,
        discount_amount,
        total_amount,
        case when is_gmv_order then subtotal_amount_usd else 0 end as gmv_usd,
        subtotal_amount_usd,
        shipping_amount_usd,
        tax_amount_usd,
        discount_amount_usd,
        total_amount_usd,
        units_per_usd,
        item_count,
        units,
        buyer_country_code,
        buyer_region,
        is_buyer_country_missing,
        is_buyer_deleted,
        shipping_country_code,
        has_items_subtotal_mismatch,
        is_currency_unknown,
        order_date,
        created_at,
        confirmed_at,
        shipped_at,
        delivered_at,
        updated_at,
        payments_hash as _payments_hash,
        _loaded_at
    from changed
)

select * from final
