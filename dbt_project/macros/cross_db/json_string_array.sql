{#-
    A JSON array of strings as the warehouse's native array type (PostgreSQL text[],
    BigQuery ARRAY<STRING>), so analysts filter with `'x' = any(tags)` or
    `'x' in unnest(tags)` instead of JSON functions.
-#}
{% macro json_string_array(json_column) -%}
    {{ return(adapter.dispatch('json_string_array', 'headwater')(json_column)) }}
{%- endmacro %}

{% macro default__json_string_array(json_column) -%}
    json_value_array({{ json_column }})
{%- endmacro %}

{% macro postgres__json_string_array(json_column) -%}
    array(select jsonb_array_elements_text({{ json_column }}))
{%- endmacro %}
