{{
    config(
        materialized='incremental',
        incremental_strategy=('merge' if target.type == 'bigquery' else 'append'),
        unique_key='order_item_sk',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_item_sk'], 'unique': True},
            {'columns': ['ordered_at'], 'type': 'brin'},
            {'columns': ['_loaded_at']},
            {'columns': ['order_id']},
        ],
        partition_by={'field': 'ordered_date', 'data_type': 'date'},
        cluster_by=['item_id'],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
-- One row per item line of an order (the nested `items` of order_placed, flattened by
-- int_restaurant_order_items_flattened). Storage as fct_restaurant_events: BRIN on the
-- event time for the per-minute item rollup, btrees for the order and the load time.
-- Incremental, append only: lines of order_placed events loaded since the newest load
-- time held here that are not here yet (first copy by ingest_seq).
with order_items as (
    select * from {{ ref('int_restaurant_order_items_flattened') }}
    {% if is_incremental() %}
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
    {% endif %}
),

ranked as (
    select
        *,
        row_number() over (partition by order_item_sk order by ingest_seq) as copy_number
    from order_items
),

new_items as (
    select ranked.*
    from ranked
    {% if is_incremental() %}
    left join {{ this }} as already_loaded
        on ranked.order_item_sk = already_loaded.order_item_sk
    {% endif %}
    where
        ranked.copy_number = 1
        {% if is_incremental() %}
        and already_loaded.order_item_sk is null
        {% endif %}
),

final as (
    select
        order_item_sk,
        order_event_id,
        order_id,
        line_number,
        item_id,
        item_name,
        category,
        unit_price,
        quantity,
        line_amount,
        location_id,
        table_id,
        ordered_at,
        {{ headwater.utc_date('ordered_at') }} as ordered_date,
        {{ headwater.utc_trunc('minute', 'ordered_at') }} as ordered_minute_at,
        ingest_seq,
        _loaded_at
    from new_items
)

select * from final
