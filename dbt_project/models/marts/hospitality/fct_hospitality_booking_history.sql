{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='booking_version_id',
        on_schema_change='fail',
        indexes=[
            {'columns': ['booking_version_id'], 'unique': True},
            {'columns': ['_loaded_at']},
            {'columns': ['booking_id']},
            {'columns': ['property_id', 'check_in_date']},
        ],
        partition_by={'field': 'valid_from_date', 'data_type': 'date'},
        cluster_by=['property_id'],
    )
}}
{%- set lookback = var('hospitality_incremental_lookback_minutes') -%}
-- One row per version of a booking: the baseline row and every booking event, applied
-- in event-time order (event_timestamp, then the baseline before an event at the same
-- instant, then event id), each version valid from its change until the next one.
--
-- Partial updates merge field by field: a version's field is the value of the latest
-- change up to it that set the field. count(field) over the ordered changes numbers the
-- runs of versions since the field was last set; within a run, max(field) is that value.
-- Duplicates never reach this model twice (one row per event_id upstream). A late event
-- just takes its place in the order: every version after it is recomputed.
--
-- Cancellations are soft deletes: the booking stays, with status Cancelled from the
-- cancellation on, and the versions before it stay as history.
--
-- Incremental, merged on booking_version_id (booking and change: stable whatever the
-- order): every booking with a change loaded since the lower bound (the newest load
-- here minus `hospitality_incremental_lookback_minutes`) is rebuilt from all its
-- changes. Events are never deleted, so a booking's versions only ever grow.
with changes as (
    select * from {{ ref('int_hospitality__booking_changes') }}
),

{% if is_incremental() %}
touched as (
    select distinct booking_id
    from changes
    where _loaded_at >= {{ headwater.incremental_lower_bound(lookback_minutes=lookback) }}
),

{% endif %}
scoped as (
    select changes.*
    from changes
    {% if is_incremental() %}
    inner join touched
        on changes.booking_id = touched.booking_id
    {% endif %}
),

numbered as (
    select
        *,
        count(guest_id) over ordered as guest_id_run,
        count(property_id) over ordered as property_id_run,
        count(room_type) over ordered as room_type_run,
        count(check_in_date) over ordered as check_in_date_run,
        count(check_out_date) over ordered as check_out_date_run,
        count(booking_date) over ordered as booking_date_run,
        count(total_amount) over ordered as total_amount_run,
        count(currency) over ordered as currency_run,
        count(booking_status) over ordered as booking_status_run,
        count(number_of_guests) over ordered as number_of_guests_run,
        count(booking_source) over ordered as booking_source_run,
        count(cancellation_reason) over ordered as cancellation_reason_run,
        row_number() over ordered as version_number,
        lead(change_at) over ordered as next_change_at,
        min(change_at) over (partition by booking_id) as booked_at,
        max(_loaded_at) over (partition by booking_id) as booking_loaded_at
    from scoped
    window ordered as (partition by booking_id order by change_at, change_rank, change_id)
),

merged as (
    select
        booking_id,
        change_id,
        change_type,
        change_at,
        version_number,
        next_change_at,
        booked_at,
        booking_status as change_booking_status,
        max(guest_id) over (partition by booking_id, guest_id_run) as guest_id,
        max(property_id) over (partition by booking_id, property_id_run) as property_id,
        max(room_type) over (partition by booking_id, room_type_run) as room_type,
        max(check_in_date) over (partition by booking_id, check_in_date_run) as check_in_date,
        max(check_out_date) over (partition by booking_id, check_out_date_run) as check_out_date,
        max(booking_date) over (partition by booking_id, booking_date_run) as booking_date,
        max(total_amount) over (partition by booking_id, total_amount_run) as total_amount,
        max(currency) over (partition by booking_id, currency_run) as currency,
        max(booking_status) over (partition by booking_id, booking_status_run) as booking_status,
        min(change_at) over (partition by booking_id, booking_status_run) as status_since,
        max(number_of_guests) over (partition by booking_id, number_of_guests_run) as number_of_guests,
        max(booking_source) over (partition by booking_id, booking_source_run) as booking_source,
        max(cancellation_reason) over (partition by booking_id, cancellation_reason_run) as cancellation_reason,
        _loaded_at as change_loaded_at,
        booking_loaded_at
    from numbered
),

final as (
    select
        {{ dbt.concat(['booking_id', "':'", 'change_id']) }} as booking_version_id,
        booking_id,
        version_number,
        change_id,
        change_type,
        change_booking_status,
        change_at as valid_from,
        next_change_at as valid_to,
        next_change_at is null as is_current,
        {{ headwater.utc_date('change_at') }} as valid_from_date,
        booked_at,
        guest_id,
        property_id,
        room_type,
        check_in_date,
        check_out_date,
        {{ dbt.datediff('check_in_date', 'check_out_date', 'day') }} as nights,
        coalesce(booking_date, {{ headwater.utc_date('booked_at') }}) as booking_date,
        total_amount,
        currency,
        booking_status,
        case when booking_status = 'Cancelled' then status_since end as cancelled_at,
        case when booking_status = 'Cancelled' then cancellation_reason end as cancellation_reason,
        number_of_guests,
        booking_source,
        change_loaded_at,
        booking_loaded_at as _loaded_at
    from merged
)

select * from final
