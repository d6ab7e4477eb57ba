{#-
    The UTC calendar date of an instant. On PostgreSQL a plain cast would use the session's
    time zone, so two sessions could disagree on which day an order belongs to.
-#}
{% macro utc_date(column) -%}
    {{ return(adapter.dispatch('utc_date', 'headwater')(column)) }}
{%- endmacro %}

{% macro default__utc_date(column) -%}
    date({{ column }})
{%- endmacro %}

{% macro postgres__utc_date(column) -%}
    cast(({{ column }} at time zone 'UTC') as date)
{%- endmacro %}
