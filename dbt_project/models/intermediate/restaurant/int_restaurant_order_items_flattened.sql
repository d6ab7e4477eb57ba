-- One row per line of an order_placed event's nested `items` array, in the order the
-- point of sale sent them (line_number from 1). The event's own columns come along so
-- the item mart can be selected by load time and grouped by the minute ordered.
with events as (
    select * from {{ ref('stg_restaurant__events') }}
),

placed as (
    select
        event_id,
        order_id,
        location_id,
        table_id,
        event_at,
        payload,
        ingest_seq,
        _loaded_at
    from events
    where event_type = 'order_placed'
),

flattened as (
    select
        placed.event_id as order_event_id,
        placed.order_id,
        cast({{ headwater.json_array_position('line') }} as {{ dbt.type_bigint() }}) as line_number,
        {{ headwater.json_extract_string('item', 'item_id') }} as item_id,
        {{ headwater.json_extract_string('item', 'item_name') }} as item_name,
        {{ headwater.json_extract_string('item', 'category') }} as category,
        cast({{ headwater.json_extract_string('item', 'price') }} as {{ dbt.type_numeric() }}) as unit_price,
        cast({{ headwater.json_extract_string('item', 'quantity') }} as {{ dbt.type_bigint() }}) as quantity,
        placed.location_id,
        placed.table_id,
        placed.event_at as ordered_at,
        placed.ingest_seq,
        placed._loaded_at
    from placed
    {{ headwater.unnest_json_array('placed.payload', 'items', 'item', 'line') }}
),

final as (
    select
        {{ headwater.generate_surrogate_key(['order_event_id', 'line_number']) }} as order_item_sk,
        order_event_id,
        order_id,
        line_number,
        item_id,
        item_name,
        category,
        unit_price,
        quantity,
        round(unit_price * quantity, 2) as line_amount,
        location_id,
        table_id,
        ordered_at,
        ingest_seq,
        _loaded_at
    from flattened
)

select * from final
