-- Booking revenue per property, UTC day and hour, with the day's running total: the
-- value of bookings made in the hour, minus the value of bookings cancelled in it (at
-- the cancellation's event time, however late it arrived: a cancellation for 10:05 that
-- arrives at 14:00 lowers the 10:00 hour and every running total after it). "Today's
-- revenue" is the running total of today's latest hour.
with bookings as (
    select * from {{ ref('fct_hospitality_bookings') }}
),

movements as (
    select
        property_id,
        {{ headwater.utc_trunc('hour', 'booked_at') }} as hour_at,
        total_amount as booked_amount,
        0 as cancelled_amount,
        1 as bookings_made,
        0 as bookings_cancelled,
        last_changed_at
    from bookings
    where property_id is not null and total_amount is not null
    union all
    select
        property_id,
        {{ headwater.utc_trunc('hour', 'cancelled_at') }} as hour_at,
        0 as booked_amount,
        total_amount as cancelled_amount,
        0 as bookings_made,
        1 as bookings_cancelled,
        last_changed_at
    from bookings
    where is_cancelled and cancelled_at is not null and property_id is not null and total_amount is not null
),

hourly as (
    select
        property_id,
        hour_at,
        sum(booked_amount) as booked_amount,
        sum(cancelled_amount) as cancelled_amount,
        sum(bookings_made) as bookings_made,
        sum(bookings_cancelled) as bookings_cancelled,
        max(last_changed_at) as as_of_event_at
    from movements
    group by
        property_id,
        hour_at
),

final as (
    select
        property_id,
        {{ headwater.utc_date('hour_at') }} as revenue_date,
        hour_at,
        bookings_made,
        bookings_cancelled,
        booked_amount,
        cancelled_amount,
        booked_amount - cancelled_amount as net_amount,
        sum(booked_amount - cancelled_amount) over (
            partition by property_id, {{ headwater.utc_date('hour_at') }}
            order by hour_at
            rows between unbounded preceding and current row
        ) as running_net_amount,
        as_of_event_at
    from hourly
)

select * from final
