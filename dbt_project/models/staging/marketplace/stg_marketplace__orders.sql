with source as (
    select * from {{ source('marketplace', 'orders') }}
),

renamed as (
    select
        id as order_id,
        order_number,
        buyer_id,
        status as order_status,
        upper(trim(currency)) as currency_code,
        -- Amounts in the order's currency. A missing component counts as zero, so the
        -- total stays comparable with its parts.
        coalesce(subtotal_amount, 0) as subtotal_amount,
        coalesce(shipping_amount, 0) as shipping_amount,
        coalesce(tax_amount, 0) as tax_amount,
        coalesce(discount_amount, 0) as discount_amount,
        total_amount,
        coalesce(nullif(upper(trim(shipping_country)), ''), 'ZZ') as shipping_country_code,
        shipping_city,
        shipping_postal_code,
        created_at,
        updated_at,
        -- confirmed_at has no time zone in the source: wall-clock time in the zone of var
        -- `marketplace_confirmed_at_timezone` (UTC, as the application writes it).
        {{ headwater.local_to_utc('confirmed_at', var('marketplace_confirmed_at_timezone', 'UTC')) }}
            as confirmed_at,
        shipped_at,
        delivered_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
