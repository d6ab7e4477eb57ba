{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key=['property_id', 'stay_date'],
        on_schema_change='fail',
        indexes=[
            {'columns': ['property_id', 'stay_date'], 'unique': True},
            {'columns': ['stay_date']},
            {'columns': ['_loaded_at']},
        ],
        partition_by={'field': 'stay_date', 'data_type': 'date'},
        cluster_by=['property_id'],
    )
}}
{%- set lookback = var('hospitality_incremental_lookback_minutes') -%}
{%- set sold = "('Confirmed', 'Checked-In', 'Checked-Out')" -%}
-- depends_on: {{ ref('int_hospitality__room_rate_changes') }}
-- Per property and night: rooms sold (current bookings Confirmed, Checked-In or
-- Checked-Out staying that night), rooms in inventory (the room rates' room counts in
-- effect that night), room revenue (each sold booking's total spread evenly over its
-- nights), and from them occupancy, ADR (revenue per room sold) and RevPAR (revenue per
-- room available). Cancelled and no-show rooms are counted apart.
--
-- The nights: every night any version of any booking ever covered, so a night keeps
-- its row (with zeros) when the last booking moves away or cancels.
--
-- as_of_event_at: the latest event time among what the row counts (its bookings and the
-- rates in effect); the freshness mart holds the same for the whole domain.
--
-- Incremental, merged on (property_id, stay_date). Recomputed: every night covered by
-- any version, old or new, of a booking rebuilt since the lower bound (a late
-- cancellation, a date change that moves a stay, a late creation), and for each
-- property whose rates changed, its nights from the earliest changed effective date
-- on. Nothing else is read: a rate change at 100 properties recomputes those
-- properties' nights and no others.
with history as (
    select * from {{ ref('fct_hospitality_booking_history') }}
),

rates as (
    select * from {{ ref('fct_hospitality_room_rates') }}
),

digits as (
    select 0 as digit
    union all
    select 1 as digit
    union all
    select 2 as digit
    union all
    select 3 as digit
    union all
    select 4 as digit
    union all
    select 5 as digit
    union all
    select 6 as digit
    union all
    select 7 as digit
    union all
    select 8 as digit
    union all
    select 9 as digit
),

offsets as (
    select ones.digit + 10 * tens.digit + 100 * hundreds.digit as night_offset
    from digits as ones
    cross join digits as tens
    cross join digits as hundreds
),

{% if is_incremental() %}
{%- set lower_bound = headwater.incremental_lower_bound(lookback_minutes=lookback) %}
rate_changes as (
    select * from {{ ref('int_hospitality__room_rate_changes') }}
),

rate_touched as (
    select
        property_id,
        min(effective_from) as changed_from
    from rate_changes
    where _loaded_at >= {{ lower_bound }}
    group by property_id
),

scoped_versions as (
    select
        history.property_id,
        history.check_in_date,
        history.check_out_date,
        cast(null as date) as changed_from
    from history
    where history._loaded_at >= {{ lower_bound }}
    union all
    select
        history.property_id,
        history.check_in_date,
        history.check_out_date,
        rate_touched.changed_from
    from history
    inner join rate_touched
        on history.property_id = rate_touched.property_id
    where history.check_out_date > rate_touched.changed_from
),

{% else %}
scoped_versions as (
    select
        property_id,
        check_in_date,
        check_out_date,
        cast(null as date) as changed_from
    from history
),

{% endif %}
night_keys as (
    select distinct
        scoped_versions.property_id,
        cast({{ dbt.dateadd('day', 'offsets.night_offset', 'scoped_versions.check_in_date') }} as date) as stay_date
    from scoped_versions
    inner join offsets
        on offsets.night_offset
            < {{ dbt.datediff('scoped_versions.check_in_date', 'scoped_versions.check_out_date', 'day') }}
    where
        scoped_versions.property_id is not null
        and scoped_versions.check_in_date is not null
        and scoped_versions.check_out_date is not null
        and (
            scoped_versions.changed_from is null
            or cast({{ dbt.dateadd('day', 'offsets.night_offset', 'scoped_versions.check_in_date') }} as date)
            >= scoped_versions.changed_from
        )
),

key_properties as (
    select
        property_id,
        min(stay_date) as first_night,
        max(stay_date) as last_night
    from night_keys
    group by property_id
),

current_nights as (
    select
        history.booking_id,
        history.property_id,
        cast({{ dbt.dateadd('day', 'offsets.night_offset', 'history.check_in_date') }} as date) as stay_date,
        history.booking_status,
        history.total_amount / nullif(history.nights, 0) as night_amount,
        history.number_of_guests,
        history.valid_from,
        history._loaded_at
    from history
    inner join key_properties
        on history.property_id = key_properties.property_id
    inner join offsets
        on history.nights > offsets.night_offset
    where
        history.is_current
        and history.check_out_date > key_properties.first_night
        and history.check_in_date <= key_properties.last_night
),

bookings_per_night as (
    select
        current_nights.property_id,
        current_nights.stay_date,
        count(case when current_nights.booking_status in {{ sold }} then 1 end) as rooms_sold,
        count(case when current_nights.booking_status = 'Cancelled' then 1 end) as rooms_cancelled,
        count(case when current_nights.booking_status = 'No-Show' then 1 end) as rooms_no_show,
        sum(case when current_nights.booking_status in {{ sold }} then current_nights.night_amount end) as room_revenue,
        sum(case when current_nights.booking_status in {{ sold }} then current_nights.number_of_guests end) as guests,
        max(current_nights.valid_from) as last_booking_event_at,
        max(current_nights._loaded_at) as bookings_loaded_at
    from current_nights
    inner join night_keys
        on
            current_nights.property_id = night_keys.property_id
            and current_nights.stay_date = night_keys.stay_date
    group by
        current_nights.property_id,
        current_nights.stay_date
),

inventory_per_night as (
    select
        night_keys.property_id,
        night_keys.stay_date,
        sum(rates.room_count) as rooms_available,
        sum(rates.room_count * rates.nightly_rate) as rack_revenue_potential,
        max(rates.source_event_at) as last_rate_event_at,
        max(rates.rate_loaded_at) as rates_loaded_at
    from night_keys
    inner join rates
        on
            night_keys.property_id = rates.property_id
            and night_keys.stay_date >= rates.effective_from
            and (rates.valid_to is null or night_keys.stay_date < rates.valid_to)
    group by
        night_keys.property_id,
        night_keys.stay_date
),

joined as (
    select
        night_keys.property_id,
        night_keys.stay_date,
        coalesce(inventory_per_night.rooms_available, 0) as rooms_available,
        coalesce(bookings_per_night.rooms_sold, 0) as rooms_sold,
        coalesce(bookings_per_night.rooms_cancelled, 0) as rooms_cancelled,
        coalesce(bookings_per_night.rooms_no_show, 0) as rooms_no_show,
        coalesce(bookings_per_night.guests, 0) as guests,
        round(coalesce(bookings_per_night.room_revenue, 0), 2) as room_revenue,
        round(inventory_per_night.rack_revenue_potential, 2) as rack_revenue_potential,
        bookings_per_night.last_booking_event_at,
        inventory_per_night.last_rate_event_at,
        bookings_per_night.bookings_loaded_at,
        inventory_per_night.rates_loaded_at
    from night_keys
    left join bookings_per_night
        on
            night_keys.property_id = bookings_per_night.property_id
            and night_keys.stay_date = bookings_per_night.stay_date
    left join inventory_per_night
        on
            night_keys.property_id = inventory_per_night.property_id
            and night_keys.stay_date = inventory_per_night.stay_date
),

final as (
    select
        property_id,
        stay_date,
        rooms_available,
        rooms_sold,
        rooms_cancelled,
        rooms_no_show,
        guests,
        room_revenue,
        rack_revenue_potential,
        round(rooms_sold * 1.0 / nullif(rooms_available, 0), 4) as occupancy_rate,
        round(room_revenue / nullif(rooms_sold, 0), 2) as adr,
        round(room_revenue / nullif(rooms_available, 0), 2) as revpar,
        case
            when last_rate_event_at is null or last_booking_event_at >= last_rate_event_at then last_booking_event_at
            else last_rate_event_at
        end as as_of_event_at,
        case
            when rates_loaded_at is null or bookings_loaded_at >= rates_loaded_at then bookings_loaded_at
            else rates_loaded_at
        end as _loaded_at
    from joined
)

select * from final
