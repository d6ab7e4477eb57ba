-- Every change to every guest profile: the baseline row, then each CDC event once
-- (flat or Debezium), in one shape. Fields a change does not set are NULL.
with baseline as (
    select * from {{ ref('stg_hospitality__guests') }}
),

events as (
    select * from {{ ref('stg_hospitality__guest_events') }}
),

events_ranked as (
    select
        *,
        row_number() over (partition by event_id order by ingest_seq) as copy_number
    from events
),

final as (
    select
        guest_id,
        {{ dbt.concat(["'baseline:'", 'guest_id']) }} as change_id,
        'INSERT' as cdc_operation,
        updated_at as change_at,
        0 as change_rank,
        guest_name,
        email,
        phone,
        country,
        loyalty_tier,
        created_at,
        _loaded_at
    from baseline
    union all
    select
        guest_id,
        event_id as change_id,
        operation as cdc_operation,
        event_at as change_at,
        1 as change_rank,
        guest_name,
        email,
        phone,
        country,
        loyalty_tier,
        case when operation = 'INSERT' then event_at end as created_at,
        _loaded_at
    from events_ranked
    where copy_number = 1
)

select * from final
