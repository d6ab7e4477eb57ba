{#- An empty array of strings, typed as json_string_array() returns it. -#}
{% macro empty_string_array() -%}
    {{ return(adapter.dispatch('empty_string_array', 'headwater')()) }}
{%- endmacro %}

{% macro default__empty_string_array() -%}
    cast([] as array<string>)
{%- endmacro %}

{% macro postgres__empty_string_array() -%}
    cast(array[] as text [])
{%- endmacro %}
