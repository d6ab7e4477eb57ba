-- Rolling 7-night ADR and RevPAR per property: for each night, the seven nights ending
-- with it. A table rebuilt from the nightly mart on every run (properties × nights
-- rows): a changed night moves seven rolling windows, and the rebuild is a scan of the
-- small nightly table, not of the events.
with nightly as (
    select * from {{ ref('fct_hospitality_occupancy_nightly') }}
),

windowed as (
    select
        target_nights.property_id,
        target_nights.stay_date,
        count(*) as nights_in_window,
        sum(source_nights.rooms_sold) as rooms_sold_7d,
        sum(source_nights.rooms_available) as rooms_available_7d,
        sum(source_nights.room_revenue) as room_revenue_7d,
        max(source_nights.as_of_event_at) as as_of_event_at
    from nightly as target_nights
    inner join nightly as source_nights
        on
            target_nights.property_id = source_nights.property_id
            and target_nights.stay_date >= source_nights.stay_date
            and source_nights.stay_date > cast({{ dbt.dateadd('day', -7, 'target_nights.stay_date') }} as date)
    group by
        target_nights.property_id,
        target_nights.stay_date
),

final as (
    select
        property_id,
        stay_date,
        nights_in_window,
        rooms_sold_7d,
        rooms_available_7d,
        room_revenue_7d,
        round(room_revenue_7d / nullif(rooms_sold_7d, 0), 2) as adr_7d,
        round(room_revenue_7d / nullif(rooms_available_7d, 0), 2) as revpar_7d,
        round(rooms_sold_7d * 1.0 / nullif(rooms_available_7d, 0), 4) as occupancy_rate_7d,
        as_of_event_at
    from windowed
)

select * from final
