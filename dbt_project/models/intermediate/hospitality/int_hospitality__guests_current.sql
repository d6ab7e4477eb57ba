-- Each guest as the changes leave them: changes applied in event-time order, each field
-- taking the value of the latest change that set it (a flat update carries only what
-- changed). A guest whose latest change is a DELETE is gone: the snapshot built on this
-- model closes their record (hard_deletes: new_record).
--
-- The field-by-field merge: count(field) over the ordered changes numbers the runs of
-- rows since the field was last set; within a run, max(field) is that value.
with changes as (
    select * from {{ ref('int_hospitality__guest_changes') }}
),

numbered as (
    select
        *,
        count(guest_name) over ordered as guest_name_run,
        count(email) over ordered as email_run,
        count(phone) over ordered as phone_run,
        count(country) over ordered as country_run,
        count(loyalty_tier) over ordered as loyalty_tier_run,
        count(created_at) over ordered as created_at_run,
        row_number() over (
            partition by guest_id order by change_at desc, change_rank desc, change_id desc
        ) as newest_first
    from changes
    window ordered as (
        partition by guest_id
        order by change_at, change_rank, change_id
        rows between unbounded preceding and current row
    )
),

merged as (
    select
        guest_id,
        cdc_operation,
        change_at,
        newest_first,
        max(guest_name) over (partition by guest_id, guest_name_run) as guest_name,
        max(email) over (partition by guest_id, email_run) as email,
        max(phone) over (partition by guest_id, phone_run) as phone,
        max(country) over (partition by guest_id, country_run) as country,
        max(loyalty_tier) over (partition by guest_id, loyalty_tier_run) as loyalty_tier,
        max(created_at) over (partition by guest_id, created_at_run) as created_at,
        max(_loaded_at) over (partition by guest_id) as _loaded_at
    from numbered
),

final as (
    select
        guest_id,
        guest_name,
        email,
        phone,
        country,
        coalesce(loyalty_tier, 'None') as loyalty_tier,
        created_at,
        change_at as updated_at,
        _loaded_at
    from merged
    where newest_first = 1 and cdc_operation <> 'DELETE'
)

select * from final
