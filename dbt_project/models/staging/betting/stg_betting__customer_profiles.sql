-- One row per customer, the newest profile. Holds PII (name, email, date of birth):
-- staging is not published; intermediate hashes and bands it before anything downstream.
with source as (
    select * from {{ source('betting', 'customer_profiles') }}
),

renamed as (
    select
        customer_id,
        name as customer_name,
        lower(trim(email)) as email,
        date_of_birth,
        upper(country) as country,
        kyc_status,
        self_exclusion as is_self_excluded,
        marketing_consent as has_marketing_consent,
        created_at,
        updated_at,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
