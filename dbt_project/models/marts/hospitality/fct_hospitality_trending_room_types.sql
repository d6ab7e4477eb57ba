-- Trending room types: bookings created in the last 24 hours before the latest booking
-- event against the 24 hours before that, per room type, ranked by the change.
with bookings as (
    select * from {{ ref('fct_hospitality_bookings') }}
),

as_of as (
    select max(last_changed_at) as as_of_event_at
    from bookings
),

counted as (
    select
        bookings.room_type,
        count(
            case
                when bookings.booked_at > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -1440) }} then 1
            end
        )
            as bookings_last_24h,
        count(case when bookings.booked_at <= {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -1440) }}
                and bookings.booked_at > {{ headwater.timestamp_add_minutes('as_of.as_of_event_at', -2880) }} then 1
        end) as bookings_prior_24h,
        max(as_of.as_of_event_at) as as_of_event_at
    from bookings
    cross join as_of
    where bookings.room_type is not null
    group by bookings.room_type
),

final as (
    select
        room_type,
        bookings_last_24h,
        bookings_prior_24h,
        bookings_last_24h - bookings_prior_24h as change_in_bookings,
        round((bookings_last_24h - bookings_prior_24h) * 100.0 / nullif(bookings_prior_24h, 0), 1) as change_pct,
        rank() over (order by bookings_last_24h - bookings_prior_24h desc) as trend_rank,
        as_of_event_at
    from counted
)

select * from final
