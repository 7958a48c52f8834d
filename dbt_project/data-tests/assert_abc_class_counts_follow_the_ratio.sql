-- For every rating year the composite classes split the n active customers exactly:
-- A = round(n·1/5), B = round(n·2/5) (each rounded half up on its own), C = the rest.
with counts as (
    select
        rating_year,
        max(active_customers) as active_customers,
        count(case when composite_class = 'A' then 1 end) as a_customers,
        count(case when composite_class = 'B' then 1 end) as b_customers,
        count(case when composite_class = 'C' then 1 end) as c_customers,
        count(*) as customers
    from {{ ref('customer_abc') }}
    group by rating_year
)

select *
from counts
where
    customers <> active_customers
    or a_customers <> {{ abc_count('active_customers', 0) }}
    or b_customers <> {{ abc_count('active_customers', 1) }}
    or c_customers <> active_customers - a_customers - b_customers
