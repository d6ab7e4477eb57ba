{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='daily_sales_sk',
        on_schema_change='fail',
        post_hook="delete from {{ this }} where order_count = 0"
    )
}}
-- Sales per UTC day × buyer region × category (the category the product had when sold),
-- GMV orders only (see var marketplace_gmv_statuses).
--
-- Incremental, merged on daily_sales_sk (the hash of the grain). A day is recomputed in
-- full when int_order_items_enriched recomputed one of its items since the lower bound:
-- an item, its order or its buyer was reloaded (any status: an order that is cancelled
-- leaves its day), or a category's name or place in the tree changed (that table
-- compares categories, which are re-synced in full, and stamps the items it redid with
-- `_changed_at`, indexed).
-- A group that no longer has sales on a recomputed day (its only order was cancelled,
-- its buyer moved region) is written as a zero row and removed by the post-hook, so no
-- stale group survives the merge. A real group always has order_count >= 1.
-- Changing a seed (exchange_rates, country_regions) needs --full-refresh.

with order_items as (
    select * from {{ ref('int_order_items_enriched') }}
),

{% if is_incremental() %}
existing as (
    select * from {{ this }}
),

affected_dates as (
    select distinct order_date as sales_date
    from order_items
    where
        order_date is not null
        and _changed_at >= {{ headwater.incremental_lower_bound() }}
),

{% endif %}
gmv_items as (
    select order_items.*
    from order_items
    {% if is_incremental() %}
    inner join affected_dates
        on order_items.order_date = affected_dates.sales_date
    {% endif %}
    where order_items.is_gmv_order
),

aggregated as (
    select
        order_date as sales_date,
        buyer_region,
        category_id,
        max(category_name) as category_name,
        max(root_category_id) as root_category_id,
        max(root_category_name) as root_category_name,
        sum(total_price_usd) as gmv_usd,
        count(distinct order_id) as order_count,
        sum(quantity) as units_sold,
        count(distinct buyer_id) as buyer_count,
        max(_loaded_at) as _loaded_at
    from gmv_items
    group by
        order_date,
        buyer_region,
        category_id
),

recomputed as (
    select
        {{ headwater.generate_surrogate_key(['sales_date', 'buyer_region', 'category_id']) }}
            as daily_sales_sk,
        sales_date,
        buyer_region,
        category_id,
        category_name,
        root_category_id,
        root_category_name,
        gmv_usd,
        order_count,
        units_sold,
        buyer_count,
        round(gmv_usd / nullif(order_count, 0), 2) as average_order_value_usd,
        _loaded_at
    from aggregated
),

{% if is_incremental() %}
vanished as (
    -- Groups of a recomputed day that have no sales any more: zeroed here, deleted by
    -- the post-hook.
    select
        existing.daily_sales_sk,
        existing.sales_date,
        existing.buyer_region,
        existing.category_id,
        existing.category_name,
        existing.root_category_id,
        existing.root_category_name,
        0 as gmv_usd,
        0 as order_count,
        0 as units_sold,
        0 as buyer_count,
        cast(null as {{ dbt.type_numeric() }}) as average_order_value_usd,
        existing._loaded_at
    from existing
    inner join affected_dates
        on existing.sales_date = affected_dates.sales_date
    left join recomputed
        on existing.daily_sales_sk = recomputed.daily_sales_sk
    where recomputed.daily_sales_sk is null
),

final as (
    select * from recomputed
    union all
    select * from vanished
)

{% else %}
final as (
    select * from recomputed
)

{% endif %}
select * from final
