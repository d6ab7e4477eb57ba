{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='settlement_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['settlement_id'], 'unique': True},
            {'columns': ['bet_id', 'recorded_at']},
            {'columns': ['_loaded_at']},
        ],
        partition_by={'field': 'bet_date', 'data_type': 'date'},
        cluster_by=['bet_id'],
    )
}}
-- The bitemporal settlement history: one row per settlement record of a bet.
--
-- * valid time: settled_at, when the result took effect (a resettlement keeps it);
-- * knowledge time: [recorded_at, superseded_at), when this was what we knew.
--
-- A bet's state as known at moment K is the record with recorded_at <= K < superseded_at
-- (or open when there is none): "Monday's report as known on Monday" and "as known
-- today" are the same query with two values of K (analyses/betting/daily_ggr_as_known.sql,
-- macro betting_bets_as_known). ggr and previous_ggr are the bet's GGR under this record
-- and under what it replaced (0 while open).
--
-- Incremental, merged on settlement_id: every record of a bet that got a new record (or
-- was loaded) since the lower bound is recomputed, since a new record closes the
-- previous one.
with settlements as (
    select * from {{ ref('int_bet_settlements_versioned') }}
),

bets as (
    select * from {{ ref('stg_betting__bets') }}
),

final as (
    select
        settlements.settlement_id,
        settlements.bet_id,
        bets.customer_id,
        bets.bet_date,
        bets.market,
        bets.currency,
        bets.stake,
        settlements.settlement_version,
        settlements.result,
        settlements.payout,
        coalesce(settlements.previous_result, 'open') as previous_result,
        settlements.previous_payout,
        settlements.settled_at,
        settlements.recorded_at,
        settlements.superseded_at,
        settlements.is_current,
        settlements.is_resettlement,
        settlements.supersedes_settlement_id,
        bets.stake - settlements.payout as ggr,
        case
            when settlements.previous_result is null then 0
            else bets.stake - settlements.previous_payout
        end as previous_ggr,
        case
            when bets._loaded_at > settlements._loaded_at then bets._loaded_at
            else settlements._loaded_at
        end as _loaded_at
    from settlements
    inner join bets on settlements.bet_id = bets.bet_id
    {% if is_incremental() %}
    where
        settlements._loaded_at >= {{ headwater.incremental_lower_bound() }}
        or bets._loaded_at >= {{ headwater.incremental_lower_bound() }}
    {% endif %}
)

select * from final
