-- A day's GGR as it was known at a moment: its bets in the state their records said at known_at.
--
-- `headwater dashboard betting daily_ggr_as_known --var report_date=2025-01-13
-- --var known_at=2025-01-14T00:00:00+00:00` is Monday's report as known at Monday's
-- close; known_at = now (the default) is the same report as known today; report_date
-- defaults to yesterday (UTC). Bitemporal: bets are known from placed_at, a settlement
-- record from recorded_at until the next record of the bet (superseded_at), whatever
-- its settled_at.
{%- set report_date = var('report_date', none) %}
{%- set day = "cast('" ~ report_date ~ "' as date)" if report_date else "(current_date - 1)" %}
{%- set known_at = var('known_at', none) %}
{%- set known = "cast('" ~ known_at ~ "' as timestamptz)" if known_at else "now()" %}
with bets as (
    select * from {{ ref('fct_bets') }}
),

history as (
    select * from {{ ref('fct_bet_settlement_history') }}
),

known_bets as (
    select
        bets.bet_id,
        bets.currency,
        bets.stake,
        history.settlement_id,
        history.payout
    from bets
    left join history
        on
            bets.bet_id = history.bet_id
            and history.recorded_at <= {{ known }}
            and (history.superseded_at is null or history.superseded_at > {{ known }})
    where
        bets.bet_date = {{ day }}
        and bets.placed_at <= {{ known }}
),

final as (
    select
        {{ day }} as bet_date,
        currency,
        count(*) as bet_count,
        sum(stake) as stake_total,
        count(settlement_id) as settled_bet_count,
        sum(case when settlement_id is null then 0 else stake end) as settled_stake,
        sum(coalesce(payout, 0)) as payout_total,
        sum(case when settlement_id is null then 0 else stake - payout end) as ggr,
        count(*) - count(settlement_id) as open_bet_count,
        sum(case when settlement_id is null then stake else 0 end) as open_stake
    from known_bets
    group by currency
)

select * from final
order by currency
