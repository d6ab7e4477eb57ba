{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='order_id',
        on_schema_change='fail',
        indexes=[{'columns': ['order_id'], 'unique': True}]
    )
}}
-- Finance's reconciliation: per order, what the buyer owes (expected) against what the
-- payment provider captured and refunded, after webhook replays are removed.
--
-- Incremental, merged on order_id, with the same change detection as fct_orders: an
-- order is reprocessed when int_orders_enriched recomputed it since the lower bound (its
-- order row, items or buyer were reloaded, or the content hash of its payment events
-- changed: a late payment, a refund, a replay all change it), or when it is missing here.
--
-- expected_amount: total_amount for orders that must be paid (confirmed through
-- delivered), 0 for pending (nothing due yet), cancelled and refunded orders (anything
-- captured must have gone back). Status, first match wins:
--   missing             something is due and nothing was ever captured
--   under_paid          net captured (captured − refunded) below expected
--   over_paid           net captured above expected (e.g. a cancelled order not refunded)
--   replayed_duplicate  amounts match, but only because replayed webhook events were
--                       dropped: the raw feed would have counted them twice
--   matched             amounts match
{%- set due_statuses = "'confirmed', 'processing', 'shipped', 'delivered'" %}

with orders as (
    select * from {{ ref('int_orders_enriched') }}
),

{% if is_incremental() %}
{% set repair = 'true' if headwater.rows_missing_from_this(ref('int_orders_enriched')) else 'false' %}
{% endif %}
changed as (
    select orders.*
    from orders
    {% if is_incremental() %}
    where
        orders._changed_at >= {{ headwater.incremental_lower_bound() }}
        -- false unless rows are missing here (then the planner keeps the anti-join)
        or ({{ repair }} and orders.order_id not in (select current_rows.order_id from {{ this }} as current_rows))
    {% endif %}
),

amounts as (
    select
        *,
        case
            when order_status in ({{ due_statuses }}) then total_amount
            else 0
        end as expected_amount
    from changed
),

final as (
    select
        order_id,
        order_number,
        buyer_id,
        seller_id,
        order_status,
        payment_status,
        currency_code,
        payment_currency_code,
        coalesce(payment_currency_code <> currency_code, false) as has_currency_mismatch,
        total_amount,
        expected_amount,
        captured_amount,
        refunded_amount,
        net_captured_amount,
        net_captured_amount - expected_amount as difference_amount,
        disputed_amount,
        pending_amount,
        platform_fee_amount,
        seller_payout_amount,
        raw_captured_amount,
        {{ headwater.convert_to_usd('expected_amount', 'units_per_usd') }} as expected_amount_usd,
        {{ headwater.convert_to_usd('net_captured_amount', 'units_per_usd') }}
            as net_captured_amount_usd,
        {{ headwater.convert_to_usd('net_captured_amount - expected_amount', 'units_per_usd') }}
            as difference_amount_usd,
        {{ headwater.convert_to_usd('platform_fee_amount', 'units_per_usd') }}
            as platform_fee_amount_usd,
        payment_count,
        payment_event_count,
        replayed_row_count,
        stale_event_count,
        case
            when expected_amount > 0 and captured_amount = 0 then 'missing'
            when net_captured_amount < expected_amount then 'under_paid'
            when net_captured_amount > expected_amount then 'over_paid'
            when replayed_row_count + stale_event_count > 0 then 'replayed_duplicate'
            else 'matched'
        end as reconciliation_status,
        order_date,
        created_at as ordered_at,
        payments_hash as _payments_hash,
        _loaded_at
    from amounts
)

select * from final
