-- Payments rolled up to their order: what was captured, refunded, disputed, the fees and
-- payouts, and how many webhook replays were dropped on the way.
--
-- Staging already removed exact replays (same event_id). A payment at the provider
-- (payment_provider_id) can still appear as several events when a replay of an OLD event
-- arrives after the payment moved on (a capture replayed after the refund rewrote the
-- row). The latest event of each provider payment is its state; older ones are counted as
-- `stale_event_count` and otherwise ignored.
--
-- `payments_hash` is a content hash of every payment event of the order. The payments
-- stream is re-synced in full on every sync, so its load time says nothing about what
-- changed; incremental marts compare this hash with the one they stored instead.
{%- set captured = "('completed', 'refunded', 'disputed')" %}
{%- set kept = "('completed', 'disputed')" %}

with payments as (
    select * from {{ ref('stg_marketplace__payments') }}
),

ranked as (
    select
        *,
        row_number() over (
            partition by order_id, coalesce(payment_provider_id, payment_id)
            order by
                event_timestamp desc nulls last,
                created_at desc nulls last,
                payment_id desc
        ) as state_rank
    from payments
    where order_id is not null
),

aggregated as (
    select
        order_id,
        max(currency_code) as payment_currency_code,
        count(distinct coalesce(payment_provider_id, payment_id)) as payment_count,
        count(*) as payment_event_count,
        sum(replayed_row_count) as replayed_row_count,
        sum(case when state_rank > 1 then 1 else 0 end) as stale_event_count,
        sum(case when state_rank = 1 and payment_status in {{ captured }} then amount else 0 end)
            as captured_amount,
        sum(case when state_rank = 1 and payment_status = 'refunded' then amount else 0 end)
            as refunded_amount,
        sum(case when state_rank = 1 and payment_status = 'disputed' then amount else 0 end)
            as disputed_amount,
        sum(
            case when state_rank = 1 and payment_status in ('pending', 'processing') then amount else 0 end
        ) as pending_amount,
        sum(case when state_rank = 1 and payment_status in {{ kept }} then platform_fee else 0 end)
            as platform_fee_amount,
        sum(case when state_rank = 1 and payment_status in {{ kept }} then seller_payout else 0 end)
            as seller_payout_amount,
        -- What summing the raw table naively would have called captured: every stored row,
        -- replays and stale events included.
        sum(case when payment_status in {{ captured }} then amount * (1 + replayed_row_count) else 0 end)
            as raw_captured_amount,
        max(case when state_rank = 1 and payment_status = 'disputed' then 1 else 0 end) as has_disputed,
        max(case when state_rank = 1 and payment_status = 'completed' then 1 else 0 end) as has_completed,
        max(case when state_rank = 1 and payment_status = 'refunded' then 1 else 0 end) as has_refunded,
        max(case when state_rank = 1 and payment_status = 'processing' then 1 else 0 end) as has_processing,
        max(case when state_rank = 1 and payment_status = 'pending' then 1 else 0 end) as has_pending,
        max(case when state_rank = 1 and payment_status = 'failed' then 1 else 0 end) as has_failed,
        min(created_at) as first_payment_at,
        max(event_timestamp) as last_payment_event_at,
        {{ dbt.hash(dbt.listagg(
            measure=dbt.concat([
                'payment_id', "'|'",
                "coalesce(payment_provider_id, '')", "'|'",
                'event_id', "'|'",
                "coalesce(payment_status, '')", "'|'",
                "coalesce(cast(amount as " ~ dbt.type_string() ~ "), '')", "'|'",
                "coalesce(currency_code, '')", "'|'",
                "cast(platform_fee as " ~ dbt.type_string() ~ ")", "'|'",
                "cast(seller_payout as " ~ dbt.type_string() ~ ")", "'|'",
                "coalesce(" ~ headwater.timestamp_to_string('created_at') ~ ", '')", "'|'",
                "coalesce(" ~ headwater.timestamp_to_string('processed_at') ~ ", '')", "'|'",
                "coalesce(" ~ headwater.timestamp_to_string('event_timestamp') ~ ", '')", "'|'",
                "cast(replayed_row_count as " ~ dbt.type_string() ~ ")"
            ]),
            delimiter_text="';'",
            order_by_clause="order by payment_id"
        )) }} as payments_hash
    from ranked
    group by order_id
),

final as (
    select
        order_id,
        payment_currency_code,
        payment_count,
        payment_event_count,
        replayed_row_count,
        stale_event_count,
        captured_amount,
        refunded_amount,
        disputed_amount,
        pending_amount,
        captured_amount - refunded_amount as net_captured_amount,
        platform_fee_amount,
        seller_payout_amount,
        raw_captured_amount,
        case
            when has_disputed = 1 then 'disputed'
            when has_completed = 1 then 'completed'
            when has_refunded = 1 then 'refunded'
            when has_processing = 1 then 'processing'
            when has_pending = 1 then 'pending'
            when has_failed = 1 then 'failed'
            else 'unknown'
        end as payment_status,
        first_payment_at,
        last_payment_event_at,
        payments_hash
    from aggregated
)

select * from final
