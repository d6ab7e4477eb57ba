{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['location_id', 'seated_hour_at'],
        on_schema_change='fail',
        post_hook="delete from {{ this }} where order_count = 0",
        indexes=[
            {'columns': ['location_id', 'seated_hour_at'], 'unique': True},
            {'columns': ['seated_date', 'p90_wait_minutes']},
            {'columns': ['_loaded_at']},
        ],
        partition_by={'field': 'seated_date', 'data_type': 'date'},
        cluster_by=['location_id'],
    )
}}
{%- set lookback = var('restaurant_incremental_lookback_minutes') -%}
{%- set seating_window = var('restaurant_seating_window_minutes') | int -%}
{%- set percentiles = [('p50', 0.5), ('p90', 0.9), ('p99', 0.99)] -%}
-- Wait from seating to order completed, per location and UTC hour seated: P50, P90 and
-- P99 over the orders seated in that hour and completed, with their count.
--
-- Percentiles are continuous (interpolated between the two nearest orders), computed
-- with window functions in double precision exactly as PostgreSQL's percentile_cont
-- does, so the same SQL gives the same numbers on BigQuery (whose percentile_cont is
-- only analytic).
--
-- Incremental, merged on (location_id, seated_hour_at). An order whose row changed
-- since the lower bound was seated within the seating window before its placement,
-- before and after the change (fct_restaurant_orders), so every location-hour in that
-- span is recomputed. A group left with no order (its only seating was re-linked) is
-- written as a zero row and removed by the post-hook.
with orders as (
    select * from {{ ref('fct_restaurant_orders') }}
),

{% if is_incremental() %}
hours_back as (
    {% for n in range(0, (seating_window // 60) + 2) -%}
    select {{ n }} as hours_back
    {% if not loop.last %}union all
    {% endif %}
    {%- endfor %}
),

changed_groups as (
    select distinct
        orders.location_id,
        {{ headwater.timestamp_add_minutes(
            headwater.utc_trunc('hour', 'orders.placed_at'), '-60 * hours_back.hours_back'
        ) }} as seated_hour_at
    from orders
    cross join hours_back
    where
        orders.placed_at is not null
        and orders._loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
),

{% endif %}
waits as (
    select
        orders.location_id,
        orders.seated_hour_at,
        cast(orders.seated_to_completed_minutes as {{ dbt.type_float() }}) as wait_minutes,
        orders._loaded_at
    from orders
    {% if is_incremental() %}
    inner join changed_groups
        on
            orders.location_id = changed_groups.location_id
            and orders.seated_hour_at = changed_groups.seated_hour_at
    {% endif %}
    where orders.seated_to_completed_minutes is not null
),

ranked as (
    select
        location_id,
        seated_hour_at,
        wait_minutes,
        _loaded_at,
        row_number() over (
            partition by location_id, seated_hour_at
            order by wait_minutes
        ) - 1 as wait_rank,
        count(*) over (partition by location_id, seated_hour_at) as order_count
    from waits
),

bounds as (
    select
        location_id,
        seated_hour_at,
        max(order_count) as order_count,
        {% for name, fraction in percentiles -%}
        {%- set position = 'cast(' ~ fraction ~ ' as ' ~ dbt.type_float() ~ ') * (order_count - 1)' -%}
        max(case when wait_rank = floor({{ position }}) then wait_minutes end) as {{ name }}_low,
        max(case when wait_rank = ceil({{ position }}) then wait_minutes end) as {{ name }}_high,
        {% endfor -%}
        avg(wait_minutes) as mean_wait_minutes,
        max(_loaded_at) as _loaded_at
    from ranked
    group by
        location_id,
        seated_hour_at
),

recomputed as (
    select
        location_id,
        seated_hour_at,
        {{ headwater.utc_date('seated_hour_at') }} as seated_date,
        {{ headwater.utc_hour('seated_hour_at') }} as hour_of_day,
        order_count,
        {% for name, fraction in percentiles -%}
        round(
            cast(
                {{ name }}_low + ({{ name }}_high - {{ name }}_low) * (
                    cast({{ fraction }} as {{ dbt.type_float() }}) * (order_count - 1)
                    - floor(cast({{ fraction }} as {{ dbt.type_float() }}) * (order_count - 1))
                ) as {{ dbt.type_numeric() }}
            ),
            2
        ) as {{ name }}_wait_minutes,
        {% endfor -%}
        round(cast(mean_wait_minutes as {{ dbt.type_numeric() }}), 2) as mean_wait_minutes,
        _loaded_at
    from bounds
),

{% if is_incremental() %}
vanished as (
    -- Groups of a recomputed span that have no order any more: zeroed here, deleted by
    -- the post-hook.
    select
        held.location_id,
        held.seated_hour_at,
        held.seated_date,
        held.hour_of_day,
        0 as order_count,
        cast(null as {{ dbt.type_numeric() }}) as p50_wait_minutes,
        cast(null as {{ dbt.type_numeric() }}) as p90_wait_minutes,
        cast(null as {{ dbt.type_numeric() }}) as p99_wait_minutes,
        cast(null as {{ dbt.type_numeric() }}) as mean_wait_minutes,
        held._loaded_at
    from {{ this }} as held
    inner join changed_groups
        on
            held.location_id = changed_groups.location_id
            and held.seated_hour_at = changed_groups.seated_hour_at
    left join recomputed
        on
            held.location_id = recomputed.location_id
            and held.seated_hour_at = recomputed.seated_hour_at
    where recomputed.location_id is null
),

final as (
    select * from recomputed
    union all
    select * from vanished
)

{% else %}
final as (
    select * from recomputed
)

{% endif %}
select * from final
