-- Customers as SCD2, from the snapshot: one row per profile version the pipeline saw,
-- valid_from/valid_to in the profile's own updated_at time. No PII in clear: hashes of
-- the name and email, the age band instead of the date of birth.
with snapshot as (
    select * from {{ ref('snap_betting__customers') }}
),

final as (
    select
        {{ headwater.generate_surrogate_key(['customer_id', 'dbt_valid_from']) }} as customer_sk,
        customer_id,
        name_hash,
        email_hash,
        age_band,
        country,
        kyc_status,
        is_self_excluded,
        has_marketing_consent,
        created_at,
        dbt_valid_from as valid_from,
        dbt_valid_to as valid_to,
        dbt_valid_to is null as is_current
    from snapshot
)

select * from final
