{#- Lower-case hex SHA-256 of a string expression; NULL stays NULL. -#}
{% macro sha256_hex(expression) -%}
    {{ return(adapter.dispatch('sha256_hex', 'headwater')(expression)) }}
{%- endmacro %}

{% macro default__sha256_hex(expression) -%}
    to_hex(sha256({{ expression }}))
{%- endmacro %}

{% macro postgres__sha256_hex(expression) -%}
    encode(sha256(convert_to({{ expression }}, 'UTF8')), 'hex')
{%- endmacro %}
