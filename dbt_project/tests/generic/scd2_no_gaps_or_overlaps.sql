{#-
    SCD2 validity ranges per entity: each range is non-empty (valid_from < valid_to), the
    next range starts exactly where the previous one ends (no gap, no overlap), and only
    the last range may be open (valid_to NULL). A closed last range is allowed: the entity
    ended (a deleted seller).
-#}
{% test scd2_no_gaps_or_overlaps(model, partition_by, valid_from='valid_from', valid_to='valid_to') %}

with ordered as (
    select
        {{ partition_by }} as entity_key,
        {{ valid_from }} as range_start,
        {{ valid_to }} as range_end,
        lead({{ valid_from }}) over (
            partition by {{ partition_by }} order by {{ valid_from }}
        ) as next_range_start
    from {{ model }}
),

problems as (
    select
        entity_key,
        range_start,
        range_end,
        next_range_start,
        case
            when range_start is null then 'no start'
            when range_end is not null and range_end <= range_start then 'empty or inverted range'
            when next_range_start is not null and range_end is null then 'open range before another'
            when next_range_start is not null and range_end < next_range_start then 'gap'
            when next_range_start is not null and range_end > next_range_start then 'overlap'
        end as problem
    from ordered
)

select * from problems
where problem is not null

{% endtest %}
