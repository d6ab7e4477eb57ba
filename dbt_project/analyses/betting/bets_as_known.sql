-- One bet's settlement state as known at a moment (known_at, default now): open, or the record then current.
{%- set known_at = var('known_at', none) %}
{%- set known = "cast('" ~ known_at ~ "' as timestamptz)" if known_at else "now()" %}
with bets as (
    select * from {{ ref('fct_bets') }}
),

history as (
    select * from {{ ref('fct_bet_settlement_history') }}
),

final as (
    select
        bets.bet_id,
        bets.bet_date,
        bets.stake,
        coalesce(history.result, 'open') as settlement_status,
        history.payout,
        history.settlement_id,
        history.recorded_at
    from bets
    left join history
        on
            bets.bet_id = history.bet_id
            and history.recorded_at <= {{ known }}
            and (history.superseded_at is null or history.superseded_at > {{ known }})
    where bets.bet_id = '{{ var("bet_id", "") }}'
)

select * from final
