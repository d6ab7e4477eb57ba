-- Every change to every booking, one row each, in one shape: the historical row (the
-- first version of a booking from the baseline, at its booking_date) and each booking
-- event once (the first copy by ingest_seq: a connector re-reading its cursor could
-- append a row twice). Fields a change does not set are NULL. change_rank orders a
-- baseline row before any event at the same instant.
with baseline as (
    select * from {{ ref('stg_hospitality__bookings') }}
),

events as (
    select * from {{ ref('stg_hospitality__booking_events') }}
),

events_ranked as (
    select
        *,
        row_number() over (partition by event_id order by ingest_seq) as copy_number
    from events
),

baseline_changes as (
    select
        booking_id,
        {{ dbt.concat(["'baseline:'", 'booking_id']) }} as change_id,
        'baseline' as change_type,
        {{ headwater.utc_midnight('booking_date') }} as change_at,
        0 as change_rank,
        guest_id,
        property_id,
        room_type,
        check_in_date,
        check_out_date,
        booking_date,
        total_amount,
        currency,
        booking_status,
        number_of_guests,
        booking_source,
        cast(null as {{ dbt.type_string() }}) as cancellation_reason,
        cast(null as {{ dbt.type_bigint() }}) as ingest_seq,
        _loaded_at
    from baseline
),

event_changes as (
    select
        booking_id,
        event_id as change_id,
        event_type as change_type,
        event_at as change_at,
        1 as change_rank,
        guest_id,
        property_id,
        room_type,
        check_in_date,
        check_out_date,
        booking_date,
        total_amount,
        currency,
        booking_status,
        number_of_guests,
        booking_source,
        cancellation_reason,
        ingest_seq,
        _loaded_at
    from events_ranked
    where copy_number = 1
),

final as (
    select * from baseline_changes
    union all
    select * from event_changes
)

select * from final
