-- Gross gaming revenue per placement day and currency, as known now, next to what the
-- day's report said when it closed (midnight UTC after the day).
--
-- * ggr: stakes of settled bets minus their payouts (open bets count when they settle);
-- * ggr_as_reported: the same, with each bet as known at the day's close;
-- * ggr_corrections: ggr - ggr_as_reported, what late settlements and resettlements
--   changed since (itemised in fct_settlement_corrections).
{%- set day_closes_at = headwater.utc_midnight(dbt.dateadd('day', 1, 'bet_date')) %}
with bets as (
    select * from {{ ref('fct_bets') }}
),

history as (
    select * from {{ ref('fct_bet_settlement_history') }}
),

as_reported as (
    select
        bet_id,
        ggr
    from history
    where recorded_at < {{ day_closes_at }}
        and (
            superseded_at is null
            or superseded_at >= {{ day_closes_at }}
        )
),

final as (
    select
        bets.bet_date,
        bets.currency,
        count(*) as bet_count,
        sum(bets.stake) as stake_total,
        sum(case when bets.is_open then 0 else 1 end) as settled_bet_count,
        sum(case when bets.is_open then 0 else bets.stake end) as settled_stake,
        sum(coalesce(bets.payout, 0)) as payout_total,
        sum(bets.ggr) as ggr,
        sum(case when bets.is_open then 1 else 0 end) as open_bet_count,
        sum(case when bets.is_open then bets.stake else 0 end) as open_stake,
        sum(coalesce(as_reported.ggr, 0)) as ggr_as_reported,
        sum(bets.ggr) - sum(coalesce(as_reported.ggr, 0)) as ggr_corrections
    from bets
    left join as_reported on bets.bet_id = as_reported.bet_id
    group by bets.bet_date, bets.currency
)

select * from final
