{#
    `order by` for a model's final select, on PostgreSQL only: a heap table keeps rows in
    the order they were written, so a model whose readers scan a range of one column
    (the restaurant dashboards read the last few minutes of every location) is written in
    that column's order, and the range is a few hundred adjacent pages instead of one page
    per row. Rows merged later are appended, in the order of their own select. BigQuery
    orders storage by its partitioning and clustering instead: nothing to add there.
#}
{% macro stored_in_order(columns) %}
    {{ return(adapter.dispatch('stored_in_order', 'headwater')(columns)) }}
{% endmacro %}

{% macro default__stored_in_order(columns) %}{% endmacro %}

{% macro postgres__stored_in_order(columns) -%}
    order by {{ columns | join(', ') }}
{%- endmacro %}
