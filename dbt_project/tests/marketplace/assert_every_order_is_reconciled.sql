-- Finance reconciles every order: fct_payment_reconciliation has exactly the orders of
-- fct_orders (the relationships test covers the other direction).
with orders as (
    select order_id from {{ ref('fct_orders') }}
),

reconciliation as (
    select order_id from {{ ref('fct_payment_reconciliation') }}
),

missing as (
    select orders.order_id
    from orders
    left join reconciliation
        on orders.order_id = reconciliation.order_id
    where reconciliation.order_id is null
)

select * from missing
