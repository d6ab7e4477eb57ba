{#-
    Views on PostgreSQL, replaced in place.

    dbt's own view materialization renames the old view away and drops it with CASCADE,
    which drops every view built on it (dbt-core #2185, closed as wontfix). With staging
    and intermediate as views that means: rebuilding one staging view silently removes the
    intermediate views above it until they are rebuilt, and two staging views replaced in
    parallel threads cascade into the same dependants and can deadlock.

    Here the new definition is first created under a temporary name, its columns are
    compared with the live view's, and when the live columns are an unchanged prefix of
    the new ones (the usual case: same columns, or columns added at the end) the live view
    is changed with CREATE OR REPLACE VIEW, which keeps every dependant. Otherwise (a
    column renamed, removed or retyped, or a table in the way) it falls
    back to dbt's rename-and-drop, and the dependants are rebuilt later in the same run.
    --full-refresh changes nothing for a view (as with dbt's own materialization).
    BigQuery replaces views in place already and is not affected.
-#}
{% materialization view, adapter='postgres' -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set target_relation = this.incorporate(type='view') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set preexisting_intermediate_relation = load_cached_relation(intermediate_relation) -%}
    {%- set backup_relation_type = 'view' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_relation_type) -%}
    {%- set preexisting_backup_relation = load_cached_relation(backup_relation) -%}
    {%- set grant_config = config.get('grants') -%}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ drop_relation_if_exists(preexisting_intermediate_relation) }}
    {{ drop_relation_if_exists(preexisting_backup_relation) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {#- The new definition under a temporary name: it must compile, and it shows the columns. -#}
    {% call statement('probe') -%}
        {{ get_create_view_as_sql(intermediate_relation, sql) }}
    {%- endcall %}

    {#- A namespace: a plain `set` inside the loop would not outlive the loop. -#}
    {%- set decision = namespace(replace_in_place=false) -%}
    {%- if existing_relation is not none and existing_relation.is_view -%}
        {%- set live_columns = adapter.get_columns_in_relation(existing_relation) -%}
        {%- set new_columns = adapter.get_columns_in_relation(intermediate_relation) -%}
        {%- if live_columns | length <= new_columns | length -%}
            {%- set decision.replace_in_place = true -%}
            {%- for column in live_columns -%}
                {%- set candidate = new_columns[loop.index0] -%}
                {%- if candidate.name != column.name or candidate.data_type != column.data_type -%}
                    {%- set decision.replace_in_place = false -%}
                {%- endif -%}
            {%- endfor -%}
        {%- endif -%}
    {%- endif -%}
    {%- set replace_in_place = decision.replace_in_place -%}

    {% if replace_in_place %}
        {% call statement('main') -%}
            create or replace view {{ target_relation }} as (
                {{ sql }}
            )
        {%- endcall %}
        {% do adapter.drop_relation(intermediate_relation) %}
    {% else %}
        {% if existing_relation is not none %}
            {{ adapter.rename_relation(existing_relation, backup_relation) }}
        {% endif %}
        {{ adapter.rename_relation(intermediate_relation, target_relation) }}
        {% call statement('main') -%}
            select 1
        {%- endcall %}
    {% endif %}

    {% set should_revoke = should_revoke(existing_relation, full_refresh_mode=True) %}
    {% do apply_grants(target_relation, grant_config, should_revoke=should_revoke) %}
    {% do persist_docs(target_relation, model) %}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {{ adapter.commit() }}

    {% if not replace_in_place %}
        {{ drop_relation_if_exists(backup_relation) }}
    {% endif %}
    {{ run_hooks(post_hooks, inside_transaction=False) }}

    {{ return({'relations': [target_relation]}) }}

{%- endmaterialization %}
