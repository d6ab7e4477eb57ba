{#- The UTC hour of day (0-23) of an instant, whatever the session's time zone. -#}
{% macro utc_hour(column) -%}
    {{ return(adapter.dispatch('utc_hour', 'headwater')(column)) }}
{%- endmacro %}

{% macro default__utc_hour(column) -%}
    extract(hour from {{ column }} at time zone 'UTC')
{%- endmacro %}

{% macro postgres__utc_hour(column) -%}
    cast(extract(hour from ({{ column }} at time zone 'UTC')) as integer)
{%- endmacro %}
