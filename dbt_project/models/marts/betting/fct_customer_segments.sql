-- Segmentation for marketing and risk: customers, stakes and GGR per value segment, age
-- band and country (no individual in it).
with lifetime as (
    select * from {{ ref('fct_customer_lifetime_value') }}
),

final as (
    select
        value_segment,
        coalesce(age_band, 'unknown') as age_band,
        coalesce(country, 'unknown') as country,
        count(*) as customer_count,
        sum(bet_count) as bet_count,
        sum(stake_total) as stake_total,
        sum(lifetime_ggr) as lifetime_ggr
    from lifetime
    group by value_segment, coalesce(age_band, 'unknown'), coalesce(country, 'unknown')
)

select * from final
