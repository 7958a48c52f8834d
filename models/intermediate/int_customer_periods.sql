-- Customer activity per month and per rating year: net revenue (section 3) and whether the
-- customer was active (a completed line with quantity > 0 and amount > 0) in the period.
-- A view: retention_cohorts alone reads it, and a table copied every customer-month again.
{{ config(materialized="view") }}

with months as (
    select * from {{ ref('int_customer_months') }}
),

monthly as (
    select
        'month' as cohort_grain,
        customer_id,
        order_month as period_start,
        revenue,
        active
    from months
),

yearly as (
    select
        'year' as cohort_grain,
        customer_id,
        cast({{ fiscal_year_start(fiscal_year('order_month')) }} as date) as period_start,
        sum(revenue) as revenue,
        bool_or(active) as active
    from months
    group by customer_id, {{ fiscal_year('order_month') }}
)

select * from monthly
union all
select * from yearly
