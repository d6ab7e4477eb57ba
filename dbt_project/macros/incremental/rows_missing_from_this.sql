{#-
    Whether {{ this }} lacks rows that `upstream` has, for an incremental model that holds
    one row per upstream row (the same key): true when the row counts differ. The model
    then also merges the missing rows (an anti-join over both tables), which repairs a row
    lost by hand or by a failed run; otherwise that full comparison is skipped, so an
    incremental run reads only what changed. Counting is one pass over each key, no join.
-#}
{% macro rows_missing_from_this(upstream) -%}
    {{ return(adapter.dispatch('rows_missing_from_this', 'headwater')(upstream)) }}
{%- endmacro %}

{% macro default__rows_missing_from_this(upstream) -%}
    {%- if not execute -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set query -%}
        select (select count(*) from {{ upstream }}) - (select count(*) from {{ this }}) as missing
    {%- endset -%}
    {%- set result = run_query(query) -%}
    {{ return(result.columns[0].values()[0] | int != 0) }}
{%- endmacro %}
