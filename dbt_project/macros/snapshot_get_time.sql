{#-
    dbt-postgres stamps snapshots with now()::timestamp, the wall-clock time of the
    session's time zone. Stamp them in UTC whatever the session says, as every other
    time in the warehouse is. (dbt looks for postgres__snapshot_get_time in the root
    project first.)
-#}
{% macro postgres__snapshot_get_time() -%}
    (now() at time zone 'UTC')
{%- endmacro %}
