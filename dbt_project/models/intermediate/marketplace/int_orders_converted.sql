-- Orders with their amounts in US dollars, at the rate in force on the order's UTC date.
with orders as (
    select * from {{ ref('stg_marketplace__orders') }}
),

exchange_rates as (
    select * from {{ ref('int_exchange_rates_ranged') }}
),

dated as (
    select
        orders.*,
        {{ headwater.utc_date('created_at') }} as order_date
    from orders
),

converted as (
    select
        dated.*,
        exchange_rates.units_per_usd,
        exchange_rates.units_per_usd is null as is_currency_unknown,
        {{ headwater.convert_to_usd('dated.subtotal_amount', 'exchange_rates.units_per_usd') }}
            as subtotal_amount_usd,
        {{ headwater.convert_to_usd('dated.shipping_amount', 'exchange_rates.units_per_usd') }}
            as shipping_amount_usd,
        {{ headwater.convert_to_usd('dated.tax_amount', 'exchange_rates.units_per_usd') }}
            as tax_amount_usd,
        {{ headwater.convert_to_usd('dated.discount_amount', 'exchange_rates.units_per_usd') }}
            as discount_amount_usd,
        {{ headwater.convert_to_usd('dated.total_amount', 'exchange_rates.units_per_usd') }}
            as total_amount_usd
    from dated
    left join exchange_rates
        on
            dated.currency_code = exchange_rates.currency_code
            and dated.order_date >= exchange_rates.valid_from
            and (exchange_rates.valid_to is null or dated.order_date < exchange_rates.valid_to)
)

select * from converted
