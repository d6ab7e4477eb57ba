-- Every seller that exists today with the tier the users table says they hold: what the
-- snapshot snap_marketplace__seller_tiers records over time. Soft-deleted sellers are
-- left out on purpose, so the snapshot closes their history with a deletion record
-- (hard_deletes: new_record).
with users as (
    select * from {{ ref('stg_marketplace__users') }}
),

sellers as (
    select
        user_id as seller_id,
        seller_tier
    from users
    where is_seller and not is_deleted
)

select * from sellers
