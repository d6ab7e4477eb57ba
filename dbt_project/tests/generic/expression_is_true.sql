{#-
    Every row satisfies a boolean SQL expression. With a column, the expression continues
    it: `column_name: total_amount, expression: ">= 0"`. Rows where the expression is NULL
    pass, as with dbt_utils; add `is not null` to the expression when that matters.
-#}
{% test expression_is_true(model, expression, column_name=none) %}

select *
from {{ model }}
where not ({{ column_name ~ ' ' if column_name }}{{ expression }})

{% endtest %}
