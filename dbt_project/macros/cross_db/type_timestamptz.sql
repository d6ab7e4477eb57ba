{#-
    The type of an instant in time: PostgreSQL `timestamptz`, BigQuery `timestamp`.
    dbt.type_timestamp() is `timestamp` on both, which on PostgreSQL has no time zone.
-#}
{% macro type_timestamptz() -%}
    {{ return(adapter.dispatch('type_timestamptz', 'headwater')()) }}
{%- endmacro %}

{% macro default__type_timestamptz() -%}
    timestamp
{%- endmacro %}

{% macro postgres__type_timestamptz() -%}
    timestamptz
{%- endmacro %}
