{#- The order of seller tiers (bronze 1 … platinum 4; NULL for no or unknown tier). -#}
{% macro seller_tier_rank(tier_column) -%}
    {{ return(adapter.dispatch('seller_tier_rank', 'headwater')(tier_column)) }}
{%- endmacro %}

{% macro default__seller_tier_rank(tier_column) -%}
    case {{ tier_column }}
        when 'bronze' then 1
        when 'silver' then 2
        when 'gold' then 3
        when 'platinum' then 4
    end
{%- endmacro %}
