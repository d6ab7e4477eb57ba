{#- The number of elements of a JSON array column; 0 for an empty array, NULL for NULL. -#}
{% macro json_array_length(json_column) -%}
    {{ return(adapter.dispatch('json_array_length', 'headwater')(json_column)) }}
{%- endmacro %}

{% macro default__json_array_length(json_column) -%}
    array_length(json_query_array({{ json_column }}))
{%- endmacro %}

{% macro postgres__json_array_length(json_column) -%}
    jsonb_array_length({{ json_column }})
{%- endmacro %}
