{#
    Post-hook of every table and incremental model: on PostgreSQL, refresh the planner's
    statistics of what was just written. dbt does not, and autovacuum's analyze comes
    seconds to minutes later: a model built right after an incremental merge was planned
    with the row counts from before it, and on the restaurant order timeline that turned
    sub-second hash joins into nested loops over rescanned CTEs that ran for many minutes.
    ANALYZE samples at most 30,000 rows per table, so it costs well under a second even on
    the full-day tables. Other warehouses keep their own statistics: nothing to do there.
#}
{% macro analyze_after_build() %}
    {{ return(adapter.dispatch('analyze_after_build', 'headwater')()) }}
{% endmacro %}

{% macro default__analyze_after_build() %}{% endmacro %}

{% macro postgres__analyze_after_build() %}
    {%- if config.get('materialized') in ('table', 'incremental') -%}
        analyze {{ this }}
    {%- endif -%}
{% endmacro %}
