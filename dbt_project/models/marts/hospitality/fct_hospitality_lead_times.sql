-- Lead-time distribution per property: bookings by days between booking and arrival.
with bookings as (
    select * from {{ ref('fct_hospitality_bookings') }}
),

bucketed as (
    select
        property_id,
        lead_time_days,
        is_cancelled,
        case
            when lead_time_days <= 1 then '0-1 days'
            when lead_time_days <= 7 then '2-7 days'
            when lead_time_days <= 30 then '8-30 days'
            when lead_time_days <= 90 then '31-90 days'
            else '91+ days'
        end as lead_time_bucket,
        case
            when lead_time_days <= 1 then 1
            when lead_time_days <= 7 then 2
            when lead_time_days <= 30 then 3
            when lead_time_days <= 90 then 4
            else 5
        end as bucket_order,
        last_changed_at
    from bookings
    where property_id is not null and lead_time_days is not null
),

final as (
    select
        property_id,
        lead_time_bucket,
        bucket_order,
        count(*) as bookings,
        count(case when is_cancelled then 1 end) as cancelled_bookings,
        round(avg(lead_time_days * 1.0), 2) as avg_lead_time_days,
        max(last_changed_at) as as_of_event_at
    from bucketed
    group by
        property_id,
        lead_time_bucket,
        bucket_order
)

select * from final
