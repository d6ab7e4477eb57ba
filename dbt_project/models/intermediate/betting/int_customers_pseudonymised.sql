-- The customer profile with no PII in clear: name and email as SHA-256 hashes (stable
-- join keys for other systems that hash the same way), the date of birth as the age band
-- at the profile's last update. The snapshot (snap_betting__customers) and every mart
-- read this, never the staging model.
with profiles as (
    select * from {{ ref('stg_betting__customer_profiles') }}
),

final as (
    select
        customer_id,
        {{ headwater.sha256_hex('customer_name') }} as name_hash,
        {{ headwater.sha256_hex('email') }} as email_hash,
        {{ headwater.age_band('date_of_birth', headwater.utc_date('updated_at')) }} as age_band,
        country,
        kyc_status,
        is_self_excluded,
        has_marketing_consent,
        created_at,
        updated_at,
        _loaded_at
    from profiles
)

select * from final
