with source as (
    select * from {{ source('marketplace', 'order_items') }}
),

renamed as (
    select
        id as order_item_id,
        order_id,
        product_id,
        seller_id,
        quantity,
        unit_price,
        total_price,
        upper(trim(currency)) as currency_code,
        product_title,
        -- The category the product had when it was sold; NULL for items written before
        -- the application stored it.
        {{ dbt.safe_cast(headwater.json_extract_string('product_snapshot', 'category_id'), dbt.type_bigint()) }}
            as category_id_at_sale,
        product_snapshot,
        created_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
