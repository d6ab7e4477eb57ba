{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='bet_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['bet_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['bet_date']},
        ],
        partition_by={'field': 'bet_date', 'data_type': 'date'},
        cluster_by=['market'],
    )
}}
-- One row per bet with its current settlement state: open, or the result, payout and
-- time of its newest settlement record (a resettlement replaces the first result).
-- ggr is what the bet earned the house so far: stake - payout once settled, 0 while open.
--
-- Incremental, merged on bet_id: a bet is recomputed when it or any of its settlement
-- records was loaded since the lower bound, so a late settlement or a resettlement of a
-- bet placed days ago updates that bet's row (and the days built on it).
with bets as (
    select * from {{ ref('stg_betting__bets') }}
),

settlements as (
    select * from {{ ref('int_bet_settlements_versioned') }}
),

{% if is_incremental() %}
changed as (
    select bet_id from bets
    where _loaded_at >= {{ headwater.incremental_lower_bound() }}
    union distinct
    select bet_id from settlements
    where _loaded_at >= {{ headwater.incremental_lower_bound() }}
),
{% endif %}

settlement_counts as (
    select
        bet_id,
        count(*) as settlement_count,
        max(_loaded_at) as _loaded_at
    from settlements
    group by bet_id
),

current_settlements as (
    select * from settlements
    where is_current
),

final as (
    select
        bets.bet_id,
        bets.customer_id,
        bets.sport_event_id,
        bets.market,
        bets.selection,
        bets.odds,
        bets.stake,
        bets.currency,
        bets.potential_payout,
        bets.placed_at,
        bets.bet_date,
        bets.channel,
        bets.country,
        coalesce(current_settlements.result, 'open') as settlement_status,
        current_settlements.settlement_id is null as is_open,
        current_settlements.payout,
        current_settlements.settled_at,
        current_settlements.recorded_at as settlement_recorded_at,
        coalesce(settlement_counts.settlement_count, 0) as settlement_count,
        coalesce(settlement_counts.settlement_count, 0) > 1 as is_resettled,
        case
            when current_settlements.settlement_id is null then 0
            else bets.stake - current_settlements.payout
        end as ggr,
        case
            when settlement_counts._loaded_at > bets._loaded_at then settlement_counts._loaded_at
            else bets._loaded_at
        end as _loaded_at
    from bets
    left join current_settlements on bets.bet_id = current_settlements.bet_id
    left join settlement_counts on bets.bet_id = settlement_counts.bet_id
    {% if is_incremental() %}
    where bets.bet_id in (select changed.bet_id from changed)
    {% endif %}
)

select * from final
