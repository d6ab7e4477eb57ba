-- Seller tier as a type 2 slowly changing dimension, built from the application's own
-- history table (seller_tier_history): one row per tier a seller held, with a validity
-- range [valid_from, valid_to) that never overlaps the next and leaves no gap.
--
-- The application closes the previous row in place when a tier changes, with no change
-- timestamp of its own; its effective_to may disagree with the next row's
-- effective_from. The next row's start is taken as the end of the previous one, so the
-- ranges tile time; the source's effective_to only ends the LAST range (a deleted
-- seller's tier ends at deleted_at). Two rows starting at the same instant: the one
-- written last wins. `has_source_range_mismatch` flags where the source disagreed.
with tier_history as (
    select * from {{ ref('stg_marketplace__seller_tier_history') }}
),

deduplicated as (
    select
        *,
        row_number() over (
            partition by seller_id, effective_from
            order by created_at desc, tier_history_id desc
        ) as start_rank
    from tier_history
    where effective_from is not null and seller_id is not null
),

ranged as (
    select
        seller_id,
        seller_tier,
        change_reason,
        tier_history_id,
        effective_from as valid_from,
        coalesce(
            lead(effective_from) over (partition by seller_id order by effective_from),
            effective_to
        ) as valid_to,
        lag(seller_tier) over (partition by seller_id order by effective_from) as previous_tier,
        effective_to as source_effective_to,
        is_current as source_is_current
    from deduplicated
    where start_rank = 1
),

final as (
    select
        {{ headwater.generate_surrogate_key(['seller_id', headwater.timestamp_to_string('valid_from')]) }}
            as seller_tier_sk,
        seller_id,
        seller_tier,
        {{ headwater.seller_tier_rank('seller_tier') }} as tier_rank,
        previous_tier,
        case
            when previous_tier is null then 'initial'
            when
                {{ headwater.seller_tier_rank('seller_tier') }}
                > {{ headwater.seller_tier_rank('previous_tier') }}
                then 'promoted'
            when
                {{ headwater.seller_tier_rank('seller_tier') }}
                < {{ headwater.seller_tier_rank('previous_tier') }}
                then 'demoted'
            else 'unchanged'
        end as tier_change,
        change_reason,
        valid_from,
        valid_to,
        valid_to is null as is_current,
        coalesce(
            source_effective_to <> valid_to
            or (source_effective_to is null) <> (valid_to is null),
            false
        ) as has_source_range_mismatch,
        source_is_current,
        tier_history_id
    from ranged
)

select * from final
