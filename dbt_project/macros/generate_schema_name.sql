{#-
    Folder schemas are used as they are (`staging`, `intermediate`, `snapshots`, `marts`),
    not prefixed with the target's schema as dbt does by default: the publish step and the
    Soda contracts name them directly, on PostgreSQL and BigQuery alike.

    A suffix (var `schema_suffix`, else $HEADWATER_DBT_SCHEMA_SUFFIX) builds a second copy
    of the whole project beside the first: `marts_dev` for a sandbox, `marts_fr` for the
    full-refresh copy the incremental test compares against.
-#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- set suffix = var('schema_suffix', env_var('HEADWATER_DBT_SCHEMA_SUFFIX', '')) or '' -%}
    {%- set base = custom_schema_name | trim if custom_schema_name is not none else target.schema -%}
    {{ base }}{{ suffix | trim }}
{%- endmacro %}
