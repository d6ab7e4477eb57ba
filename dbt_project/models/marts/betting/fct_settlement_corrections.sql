-- What late settlements and resettlements changed in days already reported: one row per
-- settlement record booked after its bet's day closed (midnight UTC after bet_date).
-- ggr_change is what the record moved the day's GGR by. For every day,
-- ggr_as_reported + sum(ggr_change) = ggr in fct_daily_ggr.
{%- set day_closes_at = headwater.utc_midnight(dbt.dateadd('day', 1, 'bet_date')) %}
with history as (
    select * from {{ ref('fct_bet_settlement_history') }}
),

final as (
    select
        settlement_id,
        bet_id,
        bet_date,
        currency,
        case when settlement_version = 1 then 'late_settlement' else 'resettlement' end
            as correction_kind,
        recorded_at,
        {{ headwater.utc_date('recorded_at') }} as recorded_date,
        {{ dbt.datediff('bet_date', headwater.utc_date('recorded_at'), 'day') }}
            as days_after_bet_date,
        previous_result as result_before,
        result as result_after,
        previous_ggr as ggr_before,
        ggr as ggr_after,
        ggr - previous_ggr as ggr_change
    from history
    where recorded_at >= {{ day_closes_at }}
)

select * from final
