-- Payment events, one row per webhook event: replays are removed here.
--
-- A webhook replay stores an event that was already stored (same `event_id`) as a new row
-- with a new `id`. Per event_id the EARLIEST row wins: the lowest event_timestamp, then
-- the lowest created_at (a replay is stored after the original), then the lowest id, so
-- the choice never depends on scan order. `replayed_row_count` keeps how many rows were
-- dropped for the event, for the reconciliation mart. A payment without event_id is its
-- own event.
with source as (
    select * from {{ source('marketplace', 'payments') }}
),

renamed as (
    select
        id as payment_id,
        order_id,
        payment_provider,
        payment_provider_id,
        coalesce(event_id, id) as event_id,
        event_id is null as is_missing_event_id,
        status as payment_status,
        amount,
        upper(trim(currency)) as currency_code,
        coalesce(platform_fee, 0) as platform_fee,
        coalesce(seller_payout, 0) as seller_payout,
        created_at,
        processed_at,
        event_timestamp,
        _airbyte_extracted_at as _loaded_at
    from source
),

ranked as (
    select
        *,
        row_number() over (
            partition by event_id
            order by event_timestamp asc nulls last, created_at asc nulls last, payment_id asc
        ) as event_row_number,
        count(*) over (partition by event_id) as event_row_count
    from renamed
),

deduplicated as (
    select
        payment_id,
        order_id,
        payment_provider,
        payment_provider_id,
        event_id,
        is_missing_event_id,
        payment_status,
        amount,
        currency_code,
        platform_fee,
        seller_payout,
        created_at,
        processed_at,
        event_timestamp,
        event_row_count - 1 as replayed_row_count,
        _loaded_at
    from ranked
    where event_row_number = 1
)

select * from deduplicated
