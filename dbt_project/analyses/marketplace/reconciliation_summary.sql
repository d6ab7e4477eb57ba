-- Payment reconciliation at a glance: orders and amounts per status, in USD.
with reconciliation as (
    select * from {{ ref('fct_payment_reconciliation') }}
),

summary as (
    select
        reconciliation_status,
        count(*) as order_count,
        sum(expected_amount_usd) as expected_amount_usd,
        sum(net_captured_amount_usd) as net_captured_amount_usd,
        sum(difference_amount_usd) as difference_amount_usd,
        sum(replayed_row_count) as replayed_rows_dropped
    from reconciliation
    group by reconciliation_status
),

final as (
    select * from summary
    order by order_count desc
)

select * from final
