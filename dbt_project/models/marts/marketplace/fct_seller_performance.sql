{{
    config(
        materialized='incremental',
        incremental_strategy='merge',
        unique_key='seller_month_sk',
        on_schema_change='fail',
        post_hook="delete from {{ this }} where order_count = 0 and review_count = 0 and tier_changes = 0"
    )
}}
-- One row per seller and UTC month in which the seller sold (GMV orders), received an
-- approved review, or changed tier. GMV is split by the tier the seller held at the time
-- of each sale (SCD2 lookup in int_seller_tiers_historized), and each month carries the
-- tier at its start and end and the moves in between: the tier progression.
--
-- Incremental, merged on seller_month_sk (hash of seller_id and sales_month). A
-- (seller, month) is recomputed when
--   * int_order_items_enriched recomputed one of its items since the lower bound (the
--     item, its order or buyer was reloaded; macros/incremental/incremental_lower_bound.sql),
--     or one of its reviews was loaded since then, or
--   * the seller's tier history differs from the one the rows here were built with:
--     seller_tier_history is a full_refresh_overwrite stream (reloaded in full by every
--     sync, with no change time), so it is compared by a content hash per seller
--     (`_tier_history_hash`) and a changed seller has all its months recomputed.
-- A recomputed (seller, month) without any activity left is written as a zero row and
-- deleted by the post-hook: a real row always has an order, a review or a tier change.
{%- set tiers = ['bronze', 'silver', 'gold', 'platinum'] %}
{%- set epoch = "cast('1970-01-01 00:00:00+00:00' as " ~ headwater.type_timestamptz() ~ ")" %}

with order_items as (
    select * from {{ ref('int_order_items_enriched') }}
),

reviews as (
    select * from {{ ref('int_reviews_enriched') }}
),

seller_tiers as (
    select * from {{ ref('int_seller_tiers_historized') }}
),

tier_hashes as (
    select
        seller_id,
        {{ dbt.hash(dbt.listagg(
            measure=dbt.concat([
                'seller_tier', "'|'",
                headwater.timestamp_to_string('valid_from'), "'|'",
                "coalesce(" ~ headwater.timestamp_to_string('valid_to') ~ ", '')", "'|'",
                "coalesce(change_reason, '')"
            ]),
            delimiter_text="';'",
            order_by_clause="order by valid_from"
        )) }} as tier_history_hash
    from seller_tiers
    group by seller_id
),

{% if is_incremental() %}
existing as (
    select * from {{ this }}
),

changed_keys as (
    select
        seller_id,
        order_month as sales_month
    from order_items
    where
        seller_id is not null
        and order_month is not null
        and _changed_at >= {{ headwater.incremental_lower_bound() }}

    union distinct

    select
        seller_id,
        review_month as sales_month
    from reviews
    where
        seller_id is not null
        and _loaded_at >= {{ headwater.incremental_lower_bound() }}
),

existing_hashes as (
    select distinct
        seller_id,
        _tier_history_hash
    from existing
),

retiered_sellers as (
    select tier_hashes.seller_id
    from tier_hashes
    left join existing_hashes
        on tier_hashes.seller_id = existing_hashes.seller_id
    where existing_hashes._tier_history_hash is distinct from tier_hashes.tier_history_hash

    union distinct

    select existing_hashes.seller_id
    from existing_hashes
    left join tier_hashes
        on existing_hashes.seller_id = tier_hashes.seller_id
    where
        tier_hashes.seller_id is null
        and existing_hashes._tier_history_hash is not null
),

affected_sellers as (
    select seller_id from changed_keys
    union distinct
    select seller_id from retiered_sellers
),

{% endif %}
activity_keys as (
    select
        order_items.seller_id,
        order_items.order_month as sales_month
    from order_items
    {% if is_incremental() %}
    inner join affected_sellers
        on order_items.seller_id = affected_sellers.seller_id
    {% endif %}
    where
        order_items.is_gmv_order
        and order_items.seller_id is not null
        and order_items.order_month is not null

    union distinct

    select
        reviews.seller_id,
        reviews.review_month as sales_month
    from reviews
    {% if is_incremental() %}
    inner join affected_sellers
        on reviews.seller_id = affected_sellers.seller_id
    {% endif %}
    where reviews.is_approved and reviews.seller_id is not null

    union distinct

    select
        seller_tiers.seller_id,
        {{ headwater.month_start('seller_tiers.valid_from') }} as sales_month
    from seller_tiers
    {% if is_incremental() %}
    inner join affected_sellers
        on seller_tiers.seller_id = affected_sellers.seller_id
    {% endif %}
),

{% if is_incremental() %}
affected_keys as (
    select
        seller_id,
        sales_month
    from changed_keys

    union distinct

    select
        activity_keys.seller_id,
        activity_keys.sales_month
    from activity_keys
    inner join retiered_sellers
        on activity_keys.seller_id = retiered_sellers.seller_id

    union distinct

    select
        existing.seller_id,
        existing.sales_month
    from existing
    inner join retiered_sellers
        on existing.seller_id = retiered_sellers.seller_id
),

{% endif %}
seller_months as (
    select
        activity_keys.seller_id,
        activity_keys.sales_month,
        cast({{ dbt.dateadd('month', 1, 'activity_keys.sales_month') }} as date) as next_month
    from activity_keys
    {% if is_incremental() %}
    inner join affected_keys
        on
            activity_keys.seller_id = affected_keys.seller_id
            and activity_keys.sales_month = affected_keys.sales_month
    {% endif %}
),

sales as (
    select
        seller_months.seller_id,
        seller_months.sales_month,
        sum(order_items.total_price_usd) as gmv_usd,
        {%- for tier in tiers %}
        sum(case when order_items.seller_tier_at_sale = '{{ tier }}' then order_items.total_price_usd else 0 end)
            as gmv_usd_{{ tier }}_tier,
        {%- endfor %}
        sum(case when order_items.seller_tier_at_sale is null then order_items.total_price_usd else 0 end)
            as gmv_usd_no_tier,
        count(distinct order_items.order_id) as order_count,
        sum(order_items.quantity) as units_sold,
        count(distinct order_items.buyer_id) as buyer_count,
        max(order_items._loaded_at) as _loaded_at
    from seller_months
    inner join order_items
        on
            seller_months.seller_id = order_items.seller_id
            and seller_months.sales_month = order_items.order_month
    where order_items.is_gmv_order
    group by
        seller_months.seller_id,
        seller_months.sales_month
),

review_stats as (
    select
        seller_months.seller_id,
        seller_months.sales_month,
        count(*) as review_count,
        round(avg(cast(reviews.rating as {{ dbt.type_numeric() }})), 2) as average_rating,
        max(reviews._loaded_at) as _loaded_at
    from seller_months
    inner join reviews
        on
            seller_months.seller_id = reviews.seller_id
            and seller_months.sales_month = reviews.review_month
    where reviews.is_approved
    group by
        seller_months.seller_id,
        seller_months.sales_month
),

tier_moves as (
    select
        seller_months.seller_id,
        seller_months.sales_month,
        count(*) as tier_changes,
        sum(case when seller_tiers.tier_change = 'promoted' then 1 else 0 end) as promotions,
        sum(case when seller_tiers.tier_change = 'demoted' then 1 else 0 end) as demotions
    from seller_months
    inner join seller_tiers
        on
            seller_months.seller_id = seller_tiers.seller_id
            and seller_tiers.valid_from >= {{ headwater.utc_midnight('seller_months.sales_month') }}
            and seller_tiers.valid_from < {{ headwater.utc_midnight('seller_months.next_month') }}
    group by
        seller_months.seller_id,
        seller_months.sales_month
),

tier_bounds as (
    select
        seller_months.seller_id,
        seller_months.sales_month,
        month_start_tier.seller_tier as tier_at_month_start,
        month_end_tier.seller_tier as tier_at_month_end
    from seller_months
    left join seller_tiers as month_start_tier
        on
            seller_months.seller_id = month_start_tier.seller_id
            and month_start_tier.valid_from <= {{ headwater.utc_midnight('seller_months.sales_month') }}
            and (
                month_start_tier.valid_to is null
                or month_start_tier.valid_to > {{ headwater.utc_midnight('seller_months.sales_month') }}
            )
    left join seller_tiers as month_end_tier
        on
            seller_months.seller_id = month_end_tier.seller_id
            and month_end_tier.valid_from <= {{ headwater.utc_midnight('seller_months.next_month') }}
            and (
                month_end_tier.valid_to is null
                or month_end_tier.valid_to > {{ headwater.utc_midnight('seller_months.next_month') }}
            )
),

recomputed as (
    select
        {{ headwater.generate_surrogate_key(['seller_months.seller_id', 'seller_months.sales_month']) }}
            as seller_month_sk,
        seller_months.seller_id,
        seller_months.sales_month,
        coalesce(sales.gmv_usd, 0) as gmv_usd,
        {%- for tier in tiers %}
        coalesce(sales.gmv_usd_{{ tier }}_tier, 0) as gmv_usd_{{ tier }}_tier,
        {%- endfor %}
        coalesce(sales.gmv_usd_no_tier, 0) as gmv_usd_no_tier,
        coalesce(sales.order_count, 0) as order_count,
        coalesce(sales.units_sold, 0) as units_sold,
        coalesce(sales.buyer_count, 0) as buyer_count,
        round(sales.gmv_usd / nullif(sales.order_count, 0), 2) as average_order_value_usd,
        coalesce(review_stats.review_count, 0) as review_count,
        review_stats.average_rating,
        tier_bounds.tier_at_month_start,
        tier_bounds.tier_at_month_end,
        coalesce(tier_moves.tier_changes, 0) as tier_changes,
        coalesce(tier_moves.promotions, 0) as promotions,
        coalesce(tier_moves.demotions, 0) as demotions,
        case
            when tier_bounds.tier_at_month_start is null and tier_bounds.tier_at_month_end is null
                then 'none'
            when tier_bounds.tier_at_month_start is null then 'onboarded'
            when tier_bounds.tier_at_month_end is null then 'offboarded'
            when
                {{ headwater.seller_tier_rank('tier_bounds.tier_at_month_end') }}
                > {{ headwater.seller_tier_rank('tier_bounds.tier_at_month_start') }}
                then 'promoted'
            when
                {{ headwater.seller_tier_rank('tier_bounds.tier_at_month_end') }}
                < {{ headwater.seller_tier_rank('tier_bounds.tier_at_month_start') }}
                then 'demoted'
            else 'unchanged'
        end as tier_movement,
        tier_hashes.tier_history_hash as _tier_history_hash,
        case
            when sales._loaded_at is null then review_stats._loaded_at
            when review_stats._loaded_at is null then sales._loaded_at
            when sales._loaded_at > review_stats._loaded_at then sales._loaded_at
            else review_stats._loaded_at
        end as _loaded_at
    from seller_months
    left join sales
        on
            seller_months.seller_id = sales.seller_id
            and seller_months.sales_month = sales.sales_month
    left join review_stats
        on
            seller_months.seller_id = review_stats.seller_id
            and seller_months.sales_month = review_stats.sales_month
    left join tier_moves
        on
            seller_months.seller_id = tier_moves.seller_id
            and seller_months.sales_month = tier_moves.sales_month
    left join tier_bounds
        on
            seller_months.seller_id = tier_bounds.seller_id
            and seller_months.sales_month = tier_bounds.sales_month
    left join tier_hashes
        on seller_months.seller_id = tier_hashes.seller_id
),

{% if is_incremental() %}
vanished as (
    select
        existing.seller_month_sk,
        existing.seller_id,
        existing.sales_month,
        0 as gmv_usd,
        {%- for tier in tiers %}
        0 as gmv_usd_{{ tier }}_tier,
        {%- endfor %}
        0 as gmv_usd_no_tier,
        0 as order_count,
        0 as units_sold,
        0 as buyer_count,
        cast(null as {{ dbt.type_numeric() }}) as average_order_value_usd,
        0 as review_count,
        cast(null as {{ dbt.type_numeric() }}) as average_rating,
        existing.tier_at_month_start,
        existing.tier_at_month_end,
        0 as tier_changes,
        0 as promotions,
        0 as demotions,
        existing.tier_movement,
        existing._tier_history_hash,
        existing._loaded_at
    from existing
    inner join affected_keys
        on
            existing.seller_id = affected_keys.seller_id
            and existing.sales_month = affected_keys.sales_month
    left join recomputed
        on existing.seller_month_sk = recomputed.seller_month_sk
    where recomputed.seller_month_sk is null
),

final as (
    select * from recomputed
    union all
    select * from vanished
)

{% else %}
final as (
    select * from recomputed
)

{% endif %}
select * from final
