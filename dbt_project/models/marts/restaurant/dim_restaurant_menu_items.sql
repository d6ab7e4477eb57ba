{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='item_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['item_id'], 'unique': True},
            {'columns': ['_loaded_at']},
        ],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
-- One row per menu item, as the orders describe it: name, category and price on its
-- latest order line (by time ordered, then the order event and line), and when it was
-- first and last ordered. Incremental like dim_restaurant_locations.
with order_items as (
    select * from {{ ref('fct_restaurant_order_items') }}
),

changed as (
    select
        item_id,
        item_name,
        category,
        unit_price,
        ordered_at,
        order_item_sk,
        _loaded_at
    from order_items
    {% if is_incremental() %}
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
    {% endif %}
),

candidates as (
    select
        item_id,
        item_name,
        category,
        unit_price,
        ordered_at as first_ordered_at,
        ordered_at as last_ordered_at,
        order_item_sk as last_order_item_sk,
        _loaded_at
    from changed
    {% if is_incremental() %}
    union all
    select
        held.item_id,
        held.item_name,
        held.category,
        held.unit_price,
        held.first_ordered_at,
        held.last_ordered_at,
        held.last_order_item_sk,
        held._loaded_at
    from {{ this }} as held
    where held.item_id in (select changed.item_id from changed)
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (
            partition by item_id
            order by last_ordered_at desc, last_order_item_sk desc
        ) as recency,
        min(first_ordered_at) over (partition by item_id) as item_first_ordered_at,
        max(_loaded_at) over (partition by item_id) as item_loaded_at
    from candidates
),

final as (
    select
        item_id,
        item_name,
        category,
        unit_price,
        item_first_ordered_at as first_ordered_at,
        last_ordered_at,
        last_order_item_sk,
        item_loaded_at as _loaded_at
    from ranked
    where recency = 1
)

select * from final
