-- Guest segmentation: guests, bookings and booked value by loyalty tier, country and
-- booking frequency (1, 2-3, 4+ bookings; guests without a booking are '0').
with guests as (
    select * from {{ ref('dim_hospitality_guests') }}
),

bookings as (
    select * from {{ ref('fct_hospitality_bookings') }}
),

per_guest as (
    select
        guest_id,
        count(*) as bookings,
        sum(case when is_room_sold then total_amount else 0 end) as booked_amount
    from bookings
    group by guest_id
),

segmented as (
    select
        guests.loyalty_tier,
        coalesce(guests.country, 'unknown') as country,
        case
            when coalesce(per_guest.bookings, 0) = 0 then '0'
            when per_guest.bookings = 1 then '1'
            when per_guest.bookings <= 3 then '2-3'
            else '4+'
        end as frequency_bucket,
        coalesce(per_guest.bookings, 0) as bookings,
        coalesce(per_guest.booked_amount, 0) as booked_amount
    from guests
    left join per_guest
        on guests.guest_id = per_guest.guest_id
),

final as (
    select
        loyalty_tier,
        country,
        frequency_bucket,
        count(*) as guests,
        sum(bookings) as bookings,
        sum(booked_amount) as booked_amount
    from segmented
    group by
        loyalty_tier,
        country,
        frequency_bucket
)

select * from final
