{#-
    A timestamp without time zone, read as wall-clock time in `zone` (an IANA name), as an
    instant (UTC). PostgreSQL: timestamptz; BigQuery: TIMESTAMP.
-#}
{% macro local_to_utc(column, zone) -%}
    {{ return(adapter.dispatch('local_to_utc', 'headwater')(column, zone)) }}
{%- endmacro %}

{% macro default__local_to_utc(column, zone) -%}
    timestamp({{ column }}, '{{ zone }}')
{%- endmacro %}

{% macro postgres__local_to_utc(column, zone) -%}
    ({{ column }} at time zone '{{ zone }}')
{%- endmacro %}
