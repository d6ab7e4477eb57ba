-- GMV by buyer region: the last 30 days with sales and all time. Compile with
-- `headwater dbt compile --select gmv_by_region` and run the SQL in target/compiled/.
with daily_sales as (
    select * from {{ ref('fct_daily_sales') }}
),

latest as (
    select max(sales_date) as last_sales_date from daily_sales
),

by_region as (
    select
        daily_sales.buyer_region,
        sum(
            case
                when daily_sales.sales_date > cast({{ dbt.dateadd('day', -30, 'latest.last_sales_date') }} as date)
                    then daily_sales.gmv_usd
                else 0
            end
        ) as gmv_usd_last_30_days,
        sum(daily_sales.gmv_usd) as gmv_usd_all_time,
        sum(daily_sales.units_sold) as units_sold_all_time
    from daily_sales
    cross join latest
    group by daily_sales.buyer_region
),

final as (
    select * from by_region
    order by gmv_usd_all_time desc
)

select * from final
