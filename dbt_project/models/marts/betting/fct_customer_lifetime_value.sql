-- One row per customer who placed a bet: lifetime stakes, GGR (what the customer is worth
-- to the house so far, from settled bets), activity span, and a value segment.
-- Amounts are in the bets' currencies (one per customer: bets follow the country).
--
-- Segments (by lifetime stake and recency, relative to the newest bet in the data so
-- the result does not depend on when the model runs):
-- vip (stake >= 1000), regular (>= 5 active days), casual, and lapsed (no bet in the
-- last 7 days of data), in that order of precedence after lapsed.
with bets as (
    select * from {{ ref('fct_bets') }}
),

customers as (
    select * from {{ ref('dim_customers') }}
    where is_current
),

per_customer as (
    select
        customer_id,
        min(currency) as currency,
        min(bet_date) as first_bet_date,
        max(bet_date) as last_bet_date,
        count(*) as bet_count,
        count(distinct bet_date) as active_days,
        sum(stake) as stake_total,
        sum(coalesce(payout, 0)) as payout_total,
        sum(ggr) as lifetime_ggr,
        sum(case when is_open then 1 else 0 end) as open_bet_count
    from bets
    group by customer_id
),

data_end as (
    select max(bet_date) as last_date from bets
),

final as (
    select
        per_customer.customer_id,
        customers.age_band,
        customers.country,
        customers.kyc_status,
        per_customer.currency,
        per_customer.first_bet_date,
        per_customer.last_bet_date,
        per_customer.bet_count,
        per_customer.active_days,
        per_customer.stake_total,
        per_customer.payout_total,
        per_customer.lifetime_ggr,
        per_customer.open_bet_count,
        case
            when {{ dbt.datediff('per_customer.last_bet_date', 'data_end.last_date', 'day') }} >= 7
                then 'lapsed'
            when per_customer.stake_total >= 1000 then 'vip'
            when per_customer.active_days >= 5 then 'regular'
            else 'casual'
        end as value_segment
    from per_customer
    cross join data_end
    left join customers on per_customer.customer_id = customers.customer_id
)

select * from final
