-- Who is in the house now, per property: bookings Checked-In, their rooms and guests,
-- against the rooms in inventory on the day of the latest event.
with bookings as (
    select * from {{ ref('fct_hospitality_bookings') }}
),

rates as (
    select * from {{ ref('fct_hospitality_room_rates') }}
),

as_of as (
    select max(last_changed_at) as as_of_event_at
    from bookings
),

in_house as (
    select
        property_id,
        count(*) as rooms_occupied,
        sum(number_of_guests) as guests_in_house
    from bookings
    where booking_status = 'Checked-In'
    group by property_id
),

inventory as (
    select
        rates.property_id,
        sum(rates.room_count) as rooms_available
    from rates
    cross join as_of
    where
        rates.effective_from <= {{ headwater.utc_date('as_of.as_of_event_at') }}
        and (rates.valid_to is null or {{ headwater.utc_date('as_of.as_of_event_at') }} < rates.valid_to)
    group by rates.property_id
),

final as (
    select
        inventory.property_id,
        inventory.rooms_available,
        coalesce(in_house.rooms_occupied, 0) as rooms_occupied,
        coalesce(in_house.guests_in_house, 0) as guests_in_house,
        round(coalesce(in_house.rooms_occupied, 0) * 1.0 / nullif(inventory.rooms_available, 0), 4) as occupancy_now,
        as_of.as_of_event_at
    from inventory
    cross join as_of
    left join in_house
        on inventory.property_id = in_house.property_id
)

select * from final
