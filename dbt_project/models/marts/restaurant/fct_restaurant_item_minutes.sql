{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['item_id', 'minute_at'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['item_id', 'minute_at'], 'unique': True},
            {'columns': ['minute_at']},
            {'columns': ['_max_ingest_seq']},
            {'columns': ['_loaded_at']},
        ],
        partition_by={'field': 'minute_date', 'data_type': 'date'},
        cluster_by=['item_id'],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
-- Per menu item and UTC minute ordered: quantity, orders containing the item, lines and
-- line revenue. "Trending items, last 30 minutes" reads a few thousand of these rows.
-- An order is placed in one minute, so order counts add up across minutes exactly.
--
-- Incremental, merged on (item_id, minute_at): a minute is recomputed from the item
-- lines when a line loaded since the lower bound falls in it (however late), the read
-- bounded by those minutes' times (BRIN on ordered_at).
with order_items as (
    select * from {{ ref('fct_restaurant_order_items') }}
),

{% if is_incremental() %}
changed_minutes as (
    select distinct
        item_id,
        ordered_minute_at
    from order_items
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
),

changed_range as (
    select
        min(ordered_minute_at) as first_minute_at,
        max(ordered_minute_at) as last_minute_at
    from changed_minutes
),

{% endif %}
scoped as (
    select order_items.*
    from order_items
    {% if is_incremental() %}
    inner join changed_minutes
        on
            order_items.item_id = changed_minutes.item_id
            and order_items.ordered_minute_at = changed_minutes.ordered_minute_at
    where
        order_items.ordered_at >= (select changed_range.first_minute_at from changed_range)
        and order_items.ordered_at < (
            select {{ headwater.timestamp_add_minutes('changed_range.last_minute_at', 1) }}
            from changed_range
        )
    {% endif %}
),

aggregated as (
    select
        item_id,
        ordered_minute_at as minute_at,
        sum(quantity) as quantity,
        count(distinct order_id) as order_count,
        count(*) as line_count,
        sum(line_amount) as revenue,
        max(ordered_at) as last_ordered_at,
        max(ingest_seq) as _max_ingest_seq,
        max(_loaded_at) as _loaded_at
    from scoped
    group by
        item_id,
        ordered_minute_at
),

final as (
    select
        item_id,
        minute_at,
        {{ headwater.utc_date('minute_at') }} as minute_date,
        quantity,
        order_count,
        line_count,
        revenue,
        last_ordered_at,
        _max_ingest_seq,
        _loaded_at
    from aggregated
)

select * from final
