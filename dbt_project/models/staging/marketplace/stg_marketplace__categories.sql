-- The category tree resolved in one pass over the one source table: every category with
-- its parent and its root (top-level) category and its depth, so marts group by any level
-- without walking the tree. Categories that never reach a root (a cycle or a missing
-- parent) are their own root and flagged.
with recursive source as (
    select * from {{ source('marketplace', 'categories') }}
),

categories as (
    select
        id as category_id,
        name as category_name,
        slug as category_slug,
        parent_id as parent_category_id,
        level as category_level,
        coalesce(is_active, false) as is_active,
        created_at,
        _airbyte_extracted_at as _loaded_at
    from source
),

ancestry as (
    select
        category_id,
        category_id as root_category_id,
        0 as tree_depth
    from categories
    where parent_category_id is null

    union all

    select
        child.category_id,
        ancestry.root_category_id,
        ancestry.tree_depth + 1 as tree_depth
    from categories as child
    inner join ancestry
        on child.parent_category_id = ancestry.category_id
    -- A guard against cycles; the tree is two levels deep.
    where ancestry.tree_depth < 10
),

final as (
    select
        categories.category_id,
        categories.category_name,
        categories.category_slug,
        categories.parent_category_id,
        parents.category_name as parent_category_name,
        coalesce(ancestry.root_category_id, categories.category_id) as root_category_id,
        coalesce(roots.category_name, categories.category_name) as root_category_name,
        coalesce(ancestry.tree_depth, 0) + 1 as category_depth,
        categories.category_level,
        categories.is_active,
        ancestry.category_id is null as is_orphaned,
        categories.created_at,
        categories._loaded_at
    from categories
    left join ancestry
        on categories.category_id = ancestry.category_id
    left join categories as parents
        on categories.parent_category_id = parents.category_id
    left join categories as roots
        on ancestry.root_category_id = roots.category_id
)

select * from final
