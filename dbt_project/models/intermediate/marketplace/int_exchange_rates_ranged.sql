-- Each rate of the exchange_rates seed with the day it stops applying: the next
-- valid_from of the same currency (exclusive), NULL for the rate in force today.
with exchange_rates as (
    select * from {{ ref('exchange_rates') }}
),

ranged as (
    select
        currency_code,
        valid_from,
        lead(valid_from) over (
            partition by currency_code order by valid_from
        ) as valid_to,
        units_per_usd
    from exchange_rates
)

select * from ranged
