-- The "as of" of the hospitality marts: per stream, the latest event time processed and
-- the latest load time. Dashboards show these next to the numbers.
with booking_changes as (
    select * from {{ ref('int_hospitality__booking_changes') }}
),

guest_changes as (
    select * from {{ ref('int_hospitality__guest_changes') }}
),

rate_changes as (
    select * from {{ ref('int_hospitality__room_rate_changes') }}
),

final as (
    select
        'booking_events' as stream_name,
        count(*) as event_count,
        max(change_at) as as_of_event_at,
        max(_loaded_at) as as_of_loaded_at
    from booking_changes
    where change_rank = 1
    union all
    select
        'guest_events' as stream_name,
        count(*) as event_count,
        max(change_at) as as_of_event_at,
        max(_loaded_at) as as_of_loaded_at
    from guest_changes
    where change_rank = 1
    union all
    select
        'room_rate_events' as stream_name,
        count(*) as event_count,
        max(source_event_at) as as_of_event_at,
        max(_loaded_at) as as_of_loaded_at
    from rate_changes
    where change_rank = 1
)

select * from final
