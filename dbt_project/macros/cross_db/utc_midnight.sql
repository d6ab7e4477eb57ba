{#- The instant a UTC calendar day starts: a date as a timestamp at 00:00 UTC. -#}
{% macro utc_midnight(date_column) -%}
    {{ return(adapter.dispatch('utc_midnight', 'headwater')(date_column)) }}
{%- endmacro %}

{% macro default__utc_midnight(date_column) -%}
    timestamp({{ date_column }}, 'UTC')
{%- endmacro %}

{% macro postgres__utc_midnight(date_column) -%}
    (cast({{ date_column }} as timestamp) at time zone 'UTC')
{%- endmacro %}
