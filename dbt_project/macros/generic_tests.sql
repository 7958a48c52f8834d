{#- A combination of columns that identifies a row (the grain of a model). -#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as occurrences
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

{#- Exactly one row: a model that others cross join (two rows would double every row joined
    to it, none would drop them all). -#}
{% test single_row(model) %}
select count(*) as row_count
from {{ model }}
having count(*) <> 1
{% endtest %}
