{#-
    An instant as text in UTC with microseconds ('2025-01-31 23:59:59.123456'), the same
    whatever the session's time zone: for hashes and keys, where PostgreSQL's own cast
    would follow the session's TimeZone setting.
-#}
{% macro timestamp_to_string(column) -%}
    {{ return(adapter.dispatch('timestamp_to_string', 'headwater')(column)) }}
{%- endmacro %}

{% macro default__timestamp_to_string(column) -%}
    format_timestamp('%Y-%m-%d %H:%M:%E6S', {{ column }}, 'UTC')
{%- endmacro %}

{% macro postgres__timestamp_to_string(column) -%}
    to_char(({{ column }} at time zone 'UTC'), 'YYYY-MM-DD HH24:MI:SS.US')
{%- endmacro %}
