{#- The first day of the UTC month of an instant, as a date. -#}
{% macro month_start(column) -%}
    {{ return(adapter.dispatch('month_start', 'headwater')(column)) }}
{%- endmacro %}

{% macro default__month_start(column) -%}
    cast({{ dbt.date_trunc('month', headwater.utc_date(column)) }} as date)
{%- endmacro %}
