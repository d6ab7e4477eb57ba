-- fct_daily_sales and fct_orders tell the same GMV per day. They convert at different
-- grains (each line vs each order's subtotal), so rounding may differ by up to a cent per
-- line; anything more is a join or filter that lost or doubled sales.
with daily_sales as (
    select
        sales_date,
        sum(gmv_usd) as gmv_usd
    from {{ ref('fct_daily_sales') }}
    group by sales_date
),

orders as (
    select
        order_date,
        sum(gmv_usd) as gmv_usd,
        sum(item_count) as item_count
    from {{ ref('fct_orders') }}
    where is_gmv_order
    group by order_date
),

compared as (
    select
        coalesce(daily_sales.sales_date, orders.order_date) as sales_date,
        coalesce(daily_sales.gmv_usd, 0) as daily_sales_gmv_usd,
        coalesce(orders.gmv_usd, 0) as orders_gmv_usd,
        coalesce(orders.item_count, 0) as item_count
    from daily_sales
    full outer join orders
        on daily_sales.sales_date = orders.order_date
)

select * from compared
where abs(daily_sales_gmv_usd - orders_gmv_usd) > 0.01 * item_count
