-- Customer activity per month and per rating year: net revenue (section 3) and whether the
-- customer was active (a completed line with quantity > 0 and amount > 0) in the period.
with lines as (
    select * from {{ ref('int_order_lines_netted') }}
),

monthly as (
    select
        'month' as cohort_grain,
        customer_id,
        cast(order_month as date) as period_start,
        sum(net_revenue) as revenue,
        bool_or(is_active_line) as active
    from lines
    group by customer_id, cast(order_month as date)
),

yearly as (
    select
        'year' as cohort_grain,
        customer_id,
        cast({{ fiscal_year_start('rating_year') }} as date) as period_start,
        sum(net_revenue) as revenue,
        bool_or(is_active_line) as active
    from lines
    group by customer_id, rating_year
)

select * from monthly
union all
select * from yearly
