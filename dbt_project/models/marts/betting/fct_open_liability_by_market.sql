-- What the open (unsettled) bets could cost: per sport event, market and currency, the
-- open stakes, their potential payouts and the liability (potential payouts - stakes:
-- what the house loses if every open bet wins).
with bets as (
    select * from {{ ref('fct_bets') }}
    where is_open
),

final as (
    select
        sport_event_id,
        market,
        currency,
        count(*) as open_bet_count,
        sum(stake) as open_stake,
        sum(potential_payout) as potential_payout,
        sum(potential_payout) - sum(stake) as liability,
        max(placed_at) as last_placed_at
    from bets
    group by sport_event_id, market, currency
)

select * from final
