{#-
    An instant plus a number of minutes (negative to go back), keeping the instant type.
    dbt.dateadd turns a BigQuery TIMESTAMP into a DATETIME, which no longer compares with
    TIMESTAMP columns.
-#}
{% macro timestamp_add_minutes(column, minutes) -%}
    {{ return(adapter.dispatch('timestamp_add_minutes', 'headwater')(column, minutes)) }}
{%- endmacro %}

{% macro default__timestamp_add_minutes(column, minutes) -%}
    timestamp_add({{ column }}, interval {{ minutes }} minute)
{%- endmacro %}

{% macro postgres__timestamp_add_minutes(column, minutes) -%}
    ({{ column }} + interval '1 minute' * ({{ minutes }}))
{%- endmacro %}
