-- Weekly retention: customers grouped by the week of their first bet (cohort_week, a
-- Monday), and for each later week how many of them bet again.
with bets as (
    select * from {{ ref('fct_bets') }}
),

weeks as (
    select distinct
        customer_id,
        {{ headwater.week_start('bet_date') }} as activity_week
    from bets
),

firsts as (
    select
        customer_id,
        min(activity_week) as cohort_week
    from weeks
    group by customer_id
),

cohort_sizes as (
    select
        cohort_week,
        count(*) as cohort_size
    from firsts
    group by cohort_week
),

activity as (
    select
        firsts.cohort_week,
        cast(floor({{ dbt.datediff('firsts.cohort_week', 'weeks.activity_week', 'day') }} / 7) as {{ dbt.type_int() }})
            as weeks_since_first_bet,
        count(*) as active_customers
    from weeks
    inner join firsts on weeks.customer_id = firsts.customer_id
    group by firsts.cohort_week, weeks.activity_week
),

final as (
    select
        activity.cohort_week,
        activity.weeks_since_first_bet,
        cohort_sizes.cohort_size,
        activity.active_customers,
        round(cast(activity.active_customers as {{ dbt.type_numeric() }}) / cohort_sizes.cohort_size, 4)
            as retention_rate
    from activity
    inner join cohort_sizes on activity.cohort_week = cohort_sizes.cohort_week
)

select * from final
