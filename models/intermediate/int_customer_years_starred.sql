-- Loyalty stars (seed 000's carrier example): 3, 4 or 5 stars for star_months consecutive
-- months of the rating year with monthly revenue above each of the three thresholds.
{%- set thresholds = var('star_thresholds') %}

with ranked as (
    select
        customer_id,
        rating_year
    from {{ ref('int_customer_years_ranked') }}
),

monthly_revenue as (
    select
        customer_id,
        {{ fiscal_year('order_month') }} as rating_year,
        {{ months_between(fiscal_year_start(fiscal_year('order_month')), 'order_month') }}
            as month_offset,
        revenue
    from {{ ref('int_customer_months') }}
),

thresholds as (
    {% for threshold in thresholds -%}
        select
            {{ loop.index + 2 }} as stars,
            {{ threshold }} as threshold
        {%- if not loop.last %} union all{% endif %}
    {% endfor %}
),

above as (
    select
        ranked.customer_id,
        ranked.rating_year,
        thresholds.stars,
        monthly_revenue.month_offset
    from ranked
    inner join monthly_revenue
        on
            ranked.customer_id = monthly_revenue.customer_id
            and ranked.rating_year = monthly_revenue.rating_year
    inner join thresholds on monthly_revenue.revenue > thresholds.threshold
),

runs as (
    select
        customer_id,
        rating_year,
        stars,
        month_offset - row_number() over (
            partition by customer_id, rating_year, stars order by month_offset
        ) as run_id
    from above
),

run_lengths as (
    select
        customer_id,
        rating_year,
        stars,
        count(*) as months_in_run
    from runs
    group by customer_id, rating_year, stars, run_id
)

select
    ranked.customer_id,
    ranked.rating_year,
    coalesce(max(run_lengths.stars), 0) as stars
from ranked
left join run_lengths
    on
        ranked.customer_id = run_lengths.customer_id
        and ranked.rating_year = run_lengths.rating_year
        and run_lengths.months_in_run >= {{ var('star_months') }}
group by ranked.customer_id, ranked.rating_year
