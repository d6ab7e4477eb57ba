-- The guests as they are now (deleted guests are gone), with contact details masked for
-- analysts: the email as its first letter and domain plus a hash of the address (to
-- join or count without reading it), the phone as its last four digits plus a hash.
with guests as (
    select * from {{ ref('int_hospitality__guests_current') }}
),

final as (
    select
        guest_id,
        guest_name,
        case
            when email is not null
                then {{ dbt.concat(["substr(email, 1, 1)", "'***@'", dbt.split_part('email', "'@'", 2)]) }}
        end as email_masked,
        case when email is not null then {{ dbt.hash('lower(email)') }} end as email_hash,
        case when phone is not null then {{ dbt.concat(["'***'", dbt.right('phone', 4)]) }} end as phone_masked,
        case when phone is not null then {{ dbt.hash('phone') }} end as phone_hash,
        country,
        loyalty_tier,
        created_at,
        updated_at
    from guests
)

select * from final
