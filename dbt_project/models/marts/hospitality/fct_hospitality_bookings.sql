{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='booking_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['booking_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['property_id', 'check_in_date']},
        ],
        partition_by={'field': 'booking_date', 'data_type': 'date'},
        cluster_by=['property_id'],
    )
}}
{%- set lookback = var('hospitality_incremental_lookback_minutes') -%}
-- One row per booking as it stands now: the current version of the booking history
-- (baseline merged with every event, in event-time order). Cancelled bookings stay,
-- with their status, time and reason (a soft delete).
--
-- Incremental, merged on booking_id: the bookings whose history was rebuilt since the
-- lower bound (every version of a rebuilt booking carries its newest load time).
with history as (
    select * from {{ ref('fct_hospitality_booking_history') }}
    {% if is_incremental() %}
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
    {% endif %}
),

current_versions as (
    select * from history
    where is_current
),

final as (
    select
        booking_id,
        guest_id,
        property_id,
        room_type,
        check_in_date,
        check_out_date,
        nights,
        booking_date,
        booked_at,
        {{ dbt.datediff('booking_date', 'check_in_date', 'day') }} as lead_time_days,
        total_amount,
        currency,
        booking_status,
        booking_status in ('Confirmed', 'Checked-In', 'Checked-Out') as is_room_sold,
        booking_status = 'Cancelled' as is_cancelled,
        cancelled_at,
        cancellation_reason,
        number_of_guests,
        booking_source,
        version_number as version_count,
        valid_from as last_changed_at,
        _loaded_at
    from current_versions
)

select * from final
