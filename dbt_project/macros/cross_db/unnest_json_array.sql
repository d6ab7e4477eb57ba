{#-
    A join clause that turns each element of a JSON array into a row: `from t {{ unnest_json_array('t.payload', 'items', 'item', 'line_number') }}`
    gives `item` (one element, JSON) and `line_number` (its position, from 1). Rows whose
    array is empty or missing produce no rows, like an inner join.
-#}
{% macro unnest_json_array(json_column, path, element, position) -%}
    {{ return(adapter.dispatch('unnest_json_array', 'headwater')(json_column, path, element, position)) }}
{%- endmacro %}

{% macro default__unnest_json_array(json_column, path, element, position) -%}
    cross join unnest(json_query_array({{ json_column }}, '$.{{ path }}')) as {{ element }} with offset as {{ position }}_offset
{%- endmacro %}

{% macro postgres__unnest_json_array(json_column, path, element, position) -%}
    cross join lateral jsonb_array_elements({{ json_column }} -> '{{ path }}')
        with ordinality as {{ element }}_elements ({{ element }}, {{ position }})
{%- endmacro %}

{#- The position `unnest_json_array` gives, from 1, on every warehouse. -#}
{% macro json_array_position(position) -%}
    {{ return(adapter.dispatch('json_array_position', 'headwater')(position)) }}
{%- endmacro %}

{% macro default__json_array_position(position) -%}
    ({{ position }}_offset + 1)
{%- endmacro %}

{% macro postgres__json_array_position(position) -%}
    {{ position }}
{%- endmacro %}
