-- One row per bet: typed, the UTC placement date, the potential payout.
with source as (
    select * from {{ source('betting', 'bets_placed') }}
),

renamed as (
    select
        bet_id,
        customer_id,
        sport_event_id,
        market,
        selection,
        cast(odds as {{ dbt.type_numeric() }}) as odds,
        cast(stake as {{ dbt.type_numeric() }}) as stake,
        upper(currency) as currency,
        placed_at,
        {{ headwater.utc_date('placed_at') }} as bet_date,
        channel,
        upper(country) as country,
        round(cast(stake as {{ dbt.type_numeric() }}) * cast(odds as {{ dbt.type_numeric() }}), 2)
            as potential_payout,
        _ab_source_file_url as source_file,
        _airbyte_extracted_at as _loaded_at
    from source
)

select * from renamed
