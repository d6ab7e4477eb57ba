-- The live booking funnel per property: bookings created, cancelled and checked in
-- during the last hour and the last day before the latest booking event (by event
-- time: late events count in the hour they happened).
with changes as (
    select * from {{ ref('fct_hospitality_booking_history') }}
),

events as (
    select * from changes
    where change_type <> 'baseline' and property_id is not null
),

as_of as (
    select max(valid_from) as as_of_event_at
    from events
),

final as (
    select
        events.property_id,
        count(
            case
                when
                    events.change_type = 'booking.created'
                    and events.valid_from > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -60) }}
                    then 1
            end
        ) as created_last_hour,
        count(
            case
                when
                    events.change_booking_status = 'Cancelled'
                    and events.valid_from > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -60) }}
                    then 1
            end
        ) as cancelled_last_hour,
        count(
            case
                when
                    events.change_booking_status = 'Checked-In'
                    and events.valid_from > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -60) }}
                    then 1
            end
        ) as checked_in_last_hour,
        count(
            case
                when
                    events.change_type = 'booking.created'
                    and events.valid_from > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -1440) }}
                    then 1
            end
        ) as created_last_day,
        count(
            case
                when
                    events.change_booking_status = 'Cancelled'
                    and events.valid_from > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -1440) }}
                    then 1
            end
        ) as cancelled_last_day,
        count(
            case
                when
                    events.change_booking_status = 'Checked-In'
                    and events.valid_from > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -1440) }}
                    then 1
            end
        ) as checked_in_last_day,
        max(as_of.as_of_event_at) as as_of_event_at
    from events
    cross join as_of
    group by events.property_id
)

select * from final
