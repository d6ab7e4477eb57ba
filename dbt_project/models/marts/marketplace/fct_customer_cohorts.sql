-- Buyer retention by cohort: buyers grouped by the UTC month of their first GMV order,
-- followed month by month. One row per cohort month and activity month from the cohort's
-- start to the last month with orders, including months in which nobody came back.
--
-- A table rebuilt in full on every run: one new order can move a buyer's first order
-- and with it every cell of two cohorts, and the table is small (months², not orders).
-- Soft-deleted buyers stay in their cohort: they were customers when they ordered.

with orders as (
    select * from {{ ref('int_orders_enriched') }}
),

buyer_orders as (
    select
        buyer_id,
        order_id,
        subtotal_amount_usd as gmv_usd,
        {{ headwater.month_start('created_at') }} as activity_month
    from orders
    where is_gmv_order and buyer_id is not null
),

first_orders as (
    select
        buyer_id,
        min(activity_month) as cohort_month
    from buyer_orders
    group by buyer_id
),

cohort_sizes as (
    select
        cohort_month,
        count(*) as cohort_size
    from first_orders
    group by cohort_month
),

months as (
    select distinct activity_month
    from buyer_orders
),

grid as (
    select
        cohort_sizes.cohort_month,
        cohort_sizes.cohort_size,
        months.activity_month
    from cohort_sizes
    inner join months
        on cohort_sizes.cohort_month <= months.activity_month
),

activity as (
    select
        first_orders.cohort_month,
        buyer_orders.activity_month,
        count(distinct buyer_orders.buyer_id) as active_buyers,
        count(*) as order_count,
        sum(buyer_orders.gmv_usd) as gmv_usd
    from buyer_orders
    inner join first_orders
        on buyer_orders.buyer_id = first_orders.buyer_id
    group by
        first_orders.cohort_month,
        buyer_orders.activity_month
),

final as (
    select
        {{ headwater.generate_surrogate_key(['grid.cohort_month', 'grid.activity_month']) }}
            as cohort_month_sk,
        grid.cohort_month,
        grid.activity_month,
        cast({{ dbt.datediff('grid.cohort_month', 'grid.activity_month', 'month') }} as {{ dbt.type_int() }})
            as months_since_first_order,
        grid.cohort_size,
        coalesce(activity.active_buyers, 0) as active_buyers,
        round(
            100 * cast(coalesce(activity.active_buyers, 0) as {{ dbt.type_numeric() }})
            / grid.cohort_size,
            2
        ) as retention_pct,
        coalesce(activity.order_count, 0) as order_count,
        coalesce(activity.gmv_usd, 0) as gmv_usd,
        sum(coalesce(activity.gmv_usd, 0)) over (
            partition by grid.cohort_month
            order by grid.activity_month
            rows between unbounded preceding and current row
        ) as cumulative_gmv_usd,
        round(
            sum(coalesce(activity.gmv_usd, 0)) over (
                partition by grid.cohort_month
                order by grid.activity_month
                rows between unbounded preceding and current row
            ) / grid.cohort_size,
            2
        ) as cumulative_gmv_usd_per_buyer
    from grid
    left join activity
        on
            grid.cohort_month = activity.cohort_month
            and grid.activity_month = activity.activity_month
)

select * from final
