-- Every settlement record of a bet, versioned in knowledge time: version 1 is the first
-- record booked, each later one (a resettlement) supersedes the one before. A record is
-- what we knew about the bet from recorded_at until superseded_at (NULL: still current).
-- settled_at is valid time: a resettlement keeps the original settled_at.
with settlements as (
    select * from {{ ref('stg_betting__settlements') }}
),

versioned as (
    select
        settlement_id,
        bet_id,
        result,
        payout,
        settled_at,
        recorded_at,
        is_resettlement,
        supersedes_settlement_id,
        row_number() over (
            partition by bet_id order by recorded_at, settlement_id
        ) as settlement_version,
        lead(recorded_at) over (
            partition by bet_id order by recorded_at, settlement_id
        ) as superseded_at,
        lag(result) over (partition by bet_id order by recorded_at, settlement_id)
            as previous_result,
        lag(payout) over (partition by bet_id order by recorded_at, settlement_id)
            as previous_payout,
        max(_loaded_at) over (partition by bet_id) as _loaded_at
    from settlements
),

final as (
    select
        *,
        superseded_at is null as is_current
    from versioned
)

select * from final
