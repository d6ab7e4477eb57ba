{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='cancellation_event_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['cancellation_event_id'], 'unique': True},
            {'columns': ['detected_at']},
            {'columns': ['_loaded_at']},
        ],
        cluster_by=['property_id'],
    )
}}
{%- set lookback = var('hospitality_incremental_lookback_minutes') -%}
-- The alerts table: one row per cancellation event, with the booking as it stood at
-- the cancellation. `detected_at` is when the pipeline loaded the cancellation: the
-- new cancellations since a consumer last looked are the rows with detected_at after
-- its previous look (runbooks/hospitality-cancellations.md). `minutes_late` says how
-- long after it happened the cancellation arrived.
--
-- Incremental, merged on the cancellation's event id: the cancellations of the
-- bookings rebuilt since the lower bound.
with history as (
    select * from {{ ref('fct_hospitality_booking_history') }}
    {% if is_incremental() %}
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
    {% endif %}
),

final as (
    select
        change_id as cancellation_event_id,
        booking_id,
        property_id,
        room_type,
        check_in_date,
        check_out_date,
        nights,
        total_amount,
        cancellation_reason,
        valid_from as cancelled_at,
        change_loaded_at as detected_at,
        round({{ headwater.seconds_between('valid_from', 'change_loaded_at') }} / 60.0, 1) as minutes_late,
        _loaded_at
    from history
    where change_type <> 'baseline' and change_booking_status = 'Cancelled'
)

select * from final
