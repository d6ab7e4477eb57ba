{#-
    The age band ('18-24', '25-34', '35-44', '45-54', '55-64', '65+') of someone born on
    `birth_date` at `at_date`: what marts keep instead of a date of birth.
-#}
{% macro age_band(birth_date, at_date) -%}
    {%- set years -%}
        floor({{ dbt.datediff(birth_date, at_date, 'day') }} / 365.25)
    {%- endset -%}
    case
        when {{ birth_date }} is null then null
        when {{ years }} < 25 then '18-24'
        when {{ years }} < 35 then '25-34'
        when {{ years }} < 45 then '35-44'
        when {{ years }} < 55 then '45-54'
        when {{ years }} < 65 then '55-64'
        else '65+'
    end
{%- endmacro %}
