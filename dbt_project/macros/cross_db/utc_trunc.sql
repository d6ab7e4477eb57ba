{#-
    An instant truncated to the start of its UTC minute, hour or day, still an instant.
    PostgreSQL's two-argument date_trunc follows the session's time zone (an hour in
    India starts at :30 UTC); this never does.
-#}
{% macro utc_trunc(datepart, column) -%}
    {{ return(adapter.dispatch('utc_trunc', 'headwater')(datepart, column)) }}
{%- endmacro %}

{% macro default__utc_trunc(datepart, column) -%}
    timestamp_trunc({{ column }}, {{ datepart }})
{%- endmacro %}

{% macro postgres__utc_trunc(datepart, column) -%}
    date_trunc('{{ datepart }}', {{ column }}, 'UTC')
{%- endmacro %}
