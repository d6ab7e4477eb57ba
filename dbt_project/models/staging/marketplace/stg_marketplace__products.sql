with source as (
    select * from {{ source('marketplace', 'products') }}
),

renamed as (
    select
        id as product_id,
        seller_id,
        category_id,
        title as product_title,
        description as product_description,
        price_amount,
        upper(trim(price_currency)) as price_currency,
        quantity_available,
        status as product_status,
        status = 'deleted' as is_deleted,
        -- tags: a JSON array in raw; here the warehouse's own array type, so analysts
        -- filter with `'vintage' = any(tags)` (PostgreSQL) or `'vintage' in unnest(tags)`.
        coalesce({{ headwater.json_string_array('tags') }}, {{ headwater.empty_string_array() }}) as tags,
        coalesce({{ headwater.json_array_length('tags') }}, 0) as tag_count,
        -- attributes: keys vary by product. The common ones as columns, the rest in the JSON.
        {{ headwater.json_extract_string('attributes', 'condition') }} as attribute_condition,
        {{ headwater.json_extract_string('attributes', 'color') }} as attribute_color,
        {{ dbt.safe_cast(headwater.json_extract_string('attributes', 'weight_g'), dbt.type_numeric()) }}
            as attribute_weight_g,
        {{ dbt.safe_cast(headwater.json_extract_string('attributes', 'dimensions_cm.length'), dbt.type_numeric()) }}
            as attribute_length_cm,
        {{ dbt.safe_cast(headwater.json_extract_string('attributes', 'dimensions_cm.width'), dbt.type_numeric()) }}
            as attribute_width_cm,
        {{ dbt.safe_cast(headwater.json_extract_string('attributes', 'dimensions_cm.height'), dbt.type_numeric()) }}
            as attribute_height_cm,
        coalesce(
            {{ dbt.safe_cast(headwater.json_extract_string('attributes', 'made_to_order'), dbt.type_boolean()) }},
            false
        ) as is_made_to_order,
        attributes,
        created_at,
        published_at,
        -- A skewed client clock writes updated_at in the future. Such a value is kept as
        -- reported but not trusted: the change happened no later than the sync read it.
        updated_at as reported_updated_at,
        coalesce(updated_at > _airbyte_extracted_at, false) as has_future_updated_at,
        case
            when updated_at > _airbyte_extracted_at then _airbyte_extracted_at
            else updated_at
        end as updated_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
