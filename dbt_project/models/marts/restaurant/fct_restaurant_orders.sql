{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['order_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['location_id', 'seated_at']},
        ],
        partition_by={'field': 'order_date', 'data_type': 'date'},
        cluster_by=['location_id'],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
{%- set seating_window = var('restaurant_seating_window_minutes') | int -%}
-- One row per order (every order_id any event names): when the party was seated, the
-- order placed, completed and paid, the waits between, amounts and item counts.
--
-- The seating. table_seated carries no order id, so a seating belongs to the order
-- placed next at the same location and table: in the table's timeline of seatings and
-- placements (by event time; a seating first on a tie), the event just before an
-- order's placement, if it is a seating at most `restaurant_seating_window_minutes`
-- before it. A seating whose party left without ordering is followed by another
-- seating, and an order whose seating event was lost (dead-lettered) is preceded by the
-- previous party's placement: both give no seating rather than a wrong one.
--
-- Incremental, merged on order_id. An order is recomputed when an event loaded since
-- the lower bound names it, or when a seating or placement loaded since then, at the
-- same table, happened up to the seating window before its placement (it may now be
-- the event just before it, or stand between it and its old seating). Only those
-- tables' timelines are re-read, from the window before their first affected placement
-- to their last; the window condition makes that give the same link as the whole
-- timeline (an older event the stretch leaves out could only have been too old).
with events as (
    select * from {{ ref('fct_restaurant_events') }}
),

order_items as (
    select * from {{ ref('fct_restaurant_order_items') }}
),

{% if is_incremental() %}
changed as (
    select
        order_id,
        event_type,
        location_id,
        table_id,
        event_at
    from events
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
),

changed_tables as (
    select
        location_id,
        table_id,
        min(event_at) as changed_from
    from changed
    where event_type in ('table_seated', 'order_placed')
    group by
        location_id,
        table_id
),

affected_orders as (
    select changed.order_id
    from changed
    where changed.order_id is not null
    union distinct
    select events.order_id
    from events
    inner join changed_tables
        on
            events.location_id = changed_tables.location_id
            and events.table_id = changed_tables.table_id
    where
        events.event_type = 'order_placed'
        and events.event_at >= changed_tables.changed_from
        and events.event_at <= {{ headwater.timestamp_add_minutes('changed_tables.changed_from', seating_window) }}
),

{% endif %}
order_events as (
    select events.*
    from events
    {% if is_incremental() %}
    inner join affected_orders
        on events.order_id = affected_orders.order_id
    {% else %}
    where events.order_id is not null
    {% endif %}
),

first_events as (
    select
        order_id,
        location_id,
        table_id,
        row_number() over (partition by order_id order by event_at, event_id) as event_number,
        min(event_at) over (partition by order_id) as first_event_at,
        max(_loaded_at) over (partition by order_id) as events_loaded_at,
        max(ingest_seq) over (partition by order_id) as max_ingest_seq
    from order_events
),

placements as (
    select
        order_id,
        event_id,
        event_at as placed_at,
        location_id,
        table_id,
        server_id,
        subtotal_amount as placed_subtotal_amount,
        row_number() over (partition by order_id order by event_at, event_id) as placement_number
    from order_events
    where event_type = 'order_placed'
),

first_placements as (
    select * from placements
    where placement_number = 1
),

{% if is_incremental() %}
timeline_scope as (
    -- The stretch of each affected table's timeline the links need: the seating window
    -- before its first affected placement up to its last one.
    select
        location_id,
        table_id,
        min({{ headwater.timestamp_add_minutes('placed_at', -seating_window) }}) as scope_start,
        max(placed_at) as scope_end
    from first_placements
    group by
        location_id,
        table_id
),

{% endif %}
table_timeline as (
    select
        events.event_id,
        events.event_type,
        events.event_at,
        lag(events.event_type) over timeline as previous_event_type,
        lag(events.event_at) over timeline as previous_event_at,
        lag(events.event_id) over timeline as previous_event_id,
        lag(events.party_size) over timeline as previous_party_size,
        lag(events._loaded_at) over timeline as previous_loaded_at
    from events
    {% if is_incremental() %}
    inner join timeline_scope
        on
            events.location_id = timeline_scope.location_id
            and events.table_id = timeline_scope.table_id
            and events.event_at >= timeline_scope.scope_start
            and events.event_at <= timeline_scope.scope_end
    {% endif %}
    where events.event_type in ('table_seated', 'order_placed')
    window timeline as (
        partition by events.location_id, events.table_id
        order by
            events.event_at,
            case when events.event_type = 'table_seated' then 0 else 1 end,
            events.event_id
    )
),

seatings as (
    -- The event just before the placement, when it lies inside the window: the seating
    -- if it is one, and in any case a change that may have moved the link.
    select
        first_placements.order_id,
        case
            when table_timeline.previous_event_type = 'table_seated' then table_timeline.previous_event_at
        end as seated_at,
        case
            when table_timeline.previous_event_type = 'table_seated' then table_timeline.previous_event_id
        end as seating_event_id,
        case
            when table_timeline.previous_event_type = 'table_seated' then table_timeline.previous_party_size
        end as party_size,
        table_timeline.previous_loaded_at
    from first_placements
    inner join table_timeline
        on first_placements.event_id = table_timeline.event_id
    where
        table_timeline.previous_event_at
        >= {{ headwater.timestamp_add_minutes('first_placements.placed_at', -seating_window) }}
),

completions as (
    select
        order_id,
        event_at as completed_at,
        kitchen_time_minutes,
        row_number() over (partition by order_id order by event_at, event_id) as completion_number
    from order_events
    where event_type = 'order_completed'
),

payments as (
    select
        order_id,
        event_at,
        payment_method,
        subtotal_amount,
        tax_amount,
        tip_amount,
        total_amount,
        row_number() over (partition by order_id order by event_at, event_id) as payment_number
    from order_events
    where event_type = 'payment'
),

payments_aggregated as (
    select
        order_id,
        min(event_at) as paid_at,
        count(*) as payment_count,
        max(case when payment_number = 1 then payment_method end) as payment_method,
        sum(subtotal_amount) as paid_subtotal_amount,
        sum(tax_amount) as tax_amount,
        sum(tip_amount) as tip_amount,
        sum(total_amount) as total_amount
    from payments
    group by order_id
),

items_aggregated as (
    select
        order_items.order_id,
        count(*) as item_line_count,
        sum(order_items.quantity) as item_quantity,
        count(distinct order_items.item_id) as distinct_item_count,
        sum(order_items.line_amount) as items_amount
    from order_items
    inner join first_placements
        on
            order_items.order_id = first_placements.order_id
            and order_items.order_event_id = first_placements.event_id
    group by order_items.order_id
),

joined as (
    select
        first_events.order_id,
        first_events.location_id,
        coalesce(first_placements.table_id, first_events.table_id) as table_id,
        first_placements.server_id,
        seatings.seating_event_id,
        seatings.party_size,
        seatings.seated_at,
        first_placements.placed_at,
        completions.completed_at,
        payments_aggregated.paid_at,
        completions.kitchen_time_minutes,
        coalesce(items_aggregated.item_line_count, 0) as item_line_count,
        coalesce(items_aggregated.item_quantity, 0) as item_quantity,
        coalesce(items_aggregated.distinct_item_count, 0) as distinct_item_count,
        items_aggregated.items_amount,
        first_placements.placed_subtotal_amount,
        payments_aggregated.paid_subtotal_amount,
        payments_aggregated.tax_amount,
        payments_aggregated.tip_amount,
        payments_aggregated.total_amount,
        payments_aggregated.payment_method,
        coalesce(payments_aggregated.payment_count, 0) as payment_count,
        first_events.first_event_at,
        first_events.max_ingest_seq,
        case
            when seatings.previous_loaded_at > first_events.events_loaded_at then seatings.previous_loaded_at
            else first_events.events_loaded_at
        end as loaded_at
    from first_events
    left join first_placements
        on first_events.order_id = first_placements.order_id
    left join seatings
        on first_events.order_id = seatings.order_id
    left join completions
        on
            first_events.order_id = completions.order_id
            and completions.completion_number = 1
    left join payments_aggregated
        on first_events.order_id = payments_aggregated.order_id
    left join items_aggregated
        on first_events.order_id = items_aggregated.order_id
    where first_events.event_number = 1
),

final as (
    select
        order_id,
        location_id,
        table_id,
        server_id,
        seating_event_id,
        party_size,
        seated_at,
        placed_at,
        completed_at,
        paid_at,
        {{ headwater.utc_date('coalesce(placed_at, first_event_at)') }} as order_date,
        {{ headwater.utc_trunc('hour', 'seated_at') }} as seated_hour_at,
        round({{ headwater.seconds_between('seated_at', 'placed_at') }} / 60.0, 2) as seated_to_placed_minutes,
        round({{ headwater.seconds_between('placed_at', 'completed_at') }} / 60.0, 2) as kitchen_minutes,
        round({{ headwater.seconds_between('seated_at', 'completed_at') }} / 60.0, 2) as seated_to_completed_minutes,
        round({{ headwater.seconds_between('completed_at', 'paid_at') }} / 60.0, 2) as completed_to_paid_minutes,
        round({{ headwater.seconds_between('seated_at', 'paid_at') }} / 60.0, 2) as seated_to_paid_minutes,
        kitchen_time_minutes,
        item_line_count,
        item_quantity,
        distinct_item_count,
        items_amount,
        placed_subtotal_amount,
        paid_subtotal_amount,
        tax_amount,
        tip_amount,
        total_amount,
        payment_method,
        payment_count,
        seated_at is not null as has_seating,
        placed_at is not null as is_placed,
        completed_at is not null as is_completed,
        paid_at is not null as is_paid,
        max_ingest_seq as _max_ingest_seq,
        loaded_at as _loaded_at
    from joined
)

select * from final
