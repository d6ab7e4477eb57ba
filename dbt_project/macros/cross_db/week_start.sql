{#- The Monday starting a date's ISO week, as a date (BigQuery's `week` starts on Sunday). -#}
{% macro week_start(date_column) -%}
    {{ return(adapter.dispatch('week_start', 'headwater')(date_column)) }}
{%- endmacro %}

{#- Counted from a known Monday: the emulator has no ISOWEEK truncation. -#}
{% macro default__week_start(date_column) -%}
    date_sub({{ date_column }}, interval mod(date_diff({{ date_column }}, date '2001-01-01', day), 7) day)
{%- endmacro %}

{% macro postgres__week_start(date_column) -%}
    cast(date_trunc('week', {{ date_column }}) as date)
{%- endmacro %}
