{#-
    Seconds from one instant to a later one, with the milliseconds kept (events carry
    milliseconds; dbt.datediff counts whole units).
-#}
{% macro seconds_between(start_column, end_column) -%}
    {{ return(adapter.dispatch('seconds_between', 'headwater')(start_column, end_column)) }}
{%- endmacro %}

{% macro default__seconds_between(start_column, end_column) -%}
    (timestamp_diff({{ end_column }}, {{ start_column }}, millisecond) / 1000)
{%- endmacro %}

{% macro postgres__seconds_between(start_column, end_column) -%}
    extract(epoch from ({{ end_column }} - {{ start_column }}))
{%- endmacro %}
