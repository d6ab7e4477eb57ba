-- One row per settlement record. settled_at is valid time (when the result took effect),
-- recorded_at knowledge time (when it was booked); a resettlement is a later record of
-- the same bet with the same settled_at and another result.
with source as (
    select * from {{ source('betting', 'bet_settlements') }}
),

renamed as (
    select
        settlement_id,
        bet_id,
        lower(result) as result,
        cast(payout as {{ dbt.type_numeric() }}) as payout,
        settled_at,
        recorded_at,
        is_resettlement,
        supersedes_settlement_id,
        _ab_source_file_url as source_file,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
