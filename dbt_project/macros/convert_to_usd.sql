{#-
    An amount in US dollars, to the cent, from a rate in units of the currency per dollar
    (seed exchange_rates). NULL when the rate is unknown, never a guess. The amount may be
    an expression (`a - b`): it is parenthesised before dividing.
-#}
{% macro convert_to_usd(amount_column, units_per_usd_column) -%}
    {{ return(adapter.dispatch('convert_to_usd', 'headwater')(amount_column, units_per_usd_column)) }}
{%- endmacro %}

{% macro default__convert_to_usd(amount_column, units_per_usd_column) -%}
    round(({{ amount_column }}) / nullif({{ units_per_usd_column }}, 0), 2)
{%- endmacro %}
