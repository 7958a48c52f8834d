{#- The metrics of PRODUCT.md section 3 derived from a year's sums, for a customer-year
    (int_customer_years_measured) and a rating unit-year (int_rating_unit_years_measured) alike:
    every column of `relation` (one row per customer_id and rating_year, with revenue,
    collections, invoiced, open_receivables, overdue_amount and days_in_year), the revenue of
    the year before and the ratios. The final select of both models. A ratio of decimals is a
    double on every engine (DuckDB's own rule; Spark would keep a rounded decimal). -#}
{% macro select_with_derived_metrics(relation) -%}
select
    {{ relation }}.*,
    previous.revenue as previous_revenue,
    case when {{ relation }}.invoiced <> 0 then cast({{ relation }}.collections as double) / cast({{ relation }}.invoiced as double) end
        as collection_rate,
    case
        when {{ relation }}.invoiced <> 0
            then cast({{ relation }}.open_receivables as double) / cast({{ relation }}.invoiced as double)
                * {{ relation }}.days_in_year
    end as dso_days,
    case
        when {{ relation }}.open_receivables <> 0
            then cast({{ relation }}.overdue_amount as double) / cast({{ relation }}.open_receivables as double)
    end as overdue_share,
    -- (revenue − previous) / previous: exactly 0.2 for +20%, where revenue / previous − 1 is not.
    case
        when previous.revenue <> 0 then cast({{ relation }}.revenue - previous.revenue as double) / cast(previous.revenue as double)
    end as revenue_growth
from {{ relation }}
left join {{ relation }} as previous
    on {{ relation }}.customer_id = previous.customer_id
        and {{ relation }}.rating_year = previous.rating_year + 1
{%- endmacro %}
