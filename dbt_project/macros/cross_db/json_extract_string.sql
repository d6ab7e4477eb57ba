{#-
    The text value at a path of a JSON object column: a key ('color') or a dotted path
    into nested objects ('dimensions_cm.length'). NULL when absent.
-#}
{% macro json_extract_string(json_column, path) -%}
    {{ return(adapter.dispatch('json_extract_string', 'headwater')(json_column, path)) }}
{%- endmacro %}

{% macro default__json_extract_string(json_column, path) -%}
    json_value({{ json_column }}, '$.{{ path }}')
{%- endmacro %}

{% macro postgres__json_extract_string(json_column, path) -%}
    ({{ json_column }} #>> '{ {{- path.split('.') | join(',') -}} }')
{%- endmacro %}
