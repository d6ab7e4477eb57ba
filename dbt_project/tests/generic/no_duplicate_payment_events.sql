{#-
    No payment event is counted twice. Fails on rows that share the event id (column_name)
    and on rows that carry the same event under different ids: same order, provider
    payment, status, amount and event time (a replay that was given a new event id).
-#}
{% test no_duplicate_payment_events(
    model,
    column_name,
    fingerprint_columns=['order_id', 'payment_provider_id', 'payment_status', 'amount', 'event_timestamp']
) %}

with by_event_id as (
    select
        'event_id' as duplicated_by,
        cast({{ column_name }} as {{ dbt.type_string() }}) as duplicate_key,
        count(*) as row_count
    from {{ model }}
    group by {{ column_name }}
    having count(*) > 1
),

by_fingerprint as (
    select
        'fingerprint' as duplicated_by,
        {{ headwater.generate_surrogate_key(fingerprint_columns) }} as duplicate_key,
        count(*) as row_count
    from {{ model }}
    group by {{ headwater.generate_surrogate_key(fingerprint_columns) }}
    having count(*) > 1
)

select * from by_event_id
union all
select * from by_fingerprint

{% endtest %}
