{#- The columns of a frozen rating (ratings.customer_ratings, written by `kam rerate`): the
    rating and the metrics it was made from, so that a frozen year never reads live metrics.
    kam.warehouse.FROZEN_RATING_COLUMNS declares the same columns with their types. -#}
{% macro frozen_rating_column_names() -%}
    {{ return([
        'customer_id', 'rating_year', 'computed_class', 'eligible', 'computed_level',
        'final_class', 'list_status', 'level', 'override_id', 'change', 'rank', 'a_count',
        'active_customers', 'score', 'cumulative_share', 'revenue', 'revenue_share',
        'gross_margin', 'collections', 'collection_rate', 'dso_days', 'open_receivables',
        'overdue_share', 'credit_limit', 'risk_flag', 'previous_list_status', 'previous_level',
        'previous_class', 'previous_rank', 'previous_revenue', 'driver', 'credit_support'
    ]) }}
{%- endmacro %}

{#- Those columns of `relation`, comma-separated. -#}
{% macro frozen_rating_columns(relation) -%}
    {%- for column in frozen_rating_column_names() -%}
        {{ relation }}.{{ column }}{%- if not loop.last %},
    {% endif -%}
    {%- endfor -%}
{%- endmacro %}
