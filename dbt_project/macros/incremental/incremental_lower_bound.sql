{#-
    The load time from which an incremental model reprocesses its inputs: every input row
    loaded at or after it is treated as changed.

    Without vars it is the newest `_loaded_at` the model already holds ({{ this }}), minus
    var `incremental_lookback_minutes`. That is self-healing: a failed or skipped run leaves
    the watermark where it was, so the next run picks up everything since.

    With a data interval start it is the EARLIER of that start and the watermark above,
    minus the lookback: a backfill of an old interval reprocesses from its start, and a run
    after a failed one still reaches back to what the mart holds. The start comes from var
    `data_interval_start` (`dbt build --vars`) or, failing that, from the environment
    variable HEADWATER_DATA_INTERVAL_START, which the Airflow DAGs set. The variable is read
    only when the model executes, never while dbt parses, so a new interval each run does
    not make dbt re-parse the project (new `--vars` would).

    `lookback_minutes` overrides the var for one model (a domain whose loads commit in
    order and whose late events are handled by recomputing what they touch needs less
    margin than the default hour).

    `data_interval_end` is deliberately not an upper bound: the sync that feeds a run
    executes after the interval ends, so its rows carry load times later than the
    interval's end. Reprocessing rows loaded "too late" is harmless (merge recomputes
    from current inputs); skipping them would lose changes.
-#}
{% macro incremental_lower_bound(loaded_at_column='_loaded_at', lookback_minutes=none) -%}
    {%- set lookback = (var('incremental_lookback_minutes', 60) if lookback_minutes is none else lookback_minutes) | int -%}
    {%- set epoch = "cast('1970-01-01 00:00:00+00:00' as " ~ headwater.type_timestamptz() ~ ")" -%}
    {%- set watermark -%}
        coalesce((select max({{ loaded_at_column }}) from {{ this }}), {{ epoch }})
    {%- endset -%}
    {%- set interval_start = var('data_interval_start', none) -%}
    {%- if not interval_start and execute -%}
        {%- set interval_start = env_var('HEADWATER_DATA_INTERVAL_START', '') or none -%}
    {%- endif -%}
    {%- if interval_start -%}
        {%- set start_literal = "cast('" ~ (interval_start | string | replace("'", "''")) ~ "' as " ~ headwater.type_timestamptz() ~ ")" -%}
        {%- set watermark = "least(" ~ start_literal ~ ", " ~ watermark ~ ")" -%}
    {%- endif -%}
    {{ headwater.timestamp_add_minutes(watermark, -lookback) }}
{%- endmacro %}
