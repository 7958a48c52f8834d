-- Concentration and the base (seed 000: "10% of customers give 38% of revenue"; seed 004: "at
-- least 60% of revenue from existing customers"), one row per rating year. The top shares run
-- over the year's active customers by revenue (ties customer_id ascending); the existing/new
-- split runs over the year's revenue of every customer, active or not.
with customer_years as (
    select
        customer_id,
        rating_year,
        revenue,
        active
    from {{ ref('customer_value') }}
),

first_active_years as (
    select
        customer_id,
        min(rating_year) as first_active_year
    from customer_years
    where active
    group by customer_id
),

ranked as (
    select
        rating_year,
        revenue,
        row_number() over (
            partition by rating_year
            order by revenue desc, customer_id asc
        ) as revenue_rank,
        count(*) over (partition by rating_year) as active_customers
    from customer_years
    where active
),

-- round half up of n/10 and n/5 in integers, and at least one customer.
top_counts as (
    select distinct
        rating_year,
        active_customers,
        greatest(1, {{ kam.integer_divide('active_customers + 5', 10) }}) as top_decile_customers,
        greatest(1, {{ kam.integer_divide('2 * active_customers + 5', 10) }}) as top_quintile_customers
    from ranked
),

active_totals as (
    select
        top_counts.rating_year,
        top_counts.active_customers,
        top_counts.top_decile_customers,
        top_counts.top_quintile_customers,
        sum(ranked.revenue) as active_revenue,
        sum(ranked.revenue) filter (
            where ranked.revenue_rank <= top_counts.top_decile_customers
        ) as top_decile_revenue,
        sum(ranked.revenue) filter (
            where ranked.revenue_rank <= top_counts.top_quintile_customers
        ) as top_quintile_revenue
    from top_counts
    inner join ranked on top_counts.rating_year = ranked.rating_year
    group by
        top_counts.rating_year,
        top_counts.active_customers,
        top_counts.top_decile_customers,
        top_counts.top_quintile_customers
),

base as (
    select
        customer_years.rating_year,
        sum(customer_years.revenue) as revenue,
        coalesce(sum(customer_years.revenue) filter (
            where first_active_years.first_active_year < customer_years.rating_year
        ), 0) as existing_customer_revenue,
        count(*) filter (
            where customer_years.active
            and first_active_years.first_active_year < customer_years.rating_year
        ) as existing_customers
    from customer_years
    left join first_active_years on customer_years.customer_id = first_active_years.customer_id
    group by customer_years.rating_year
)

select
    base.rating_year,
    coalesce(active_totals.active_customers, 0) as active_customers,
    base.existing_customers,
    coalesce(active_totals.active_customers, 0) - base.existing_customers as new_customers,
    base.revenue,
    active_totals.active_revenue,
    active_totals.top_decile_customers,
    active_totals.top_decile_revenue,
    case when active_totals.active_revenue > 0
            then cast(active_totals.top_decile_revenue as double) / cast(active_totals.active_revenue as double)
    end as top_decile_share,
    active_totals.top_quintile_customers,
    active_totals.top_quintile_revenue,
    case when active_totals.active_revenue > 0
            then cast(active_totals.top_quintile_revenue as double) / cast(active_totals.active_revenue as double)
    end as top_quintile_share,
    base.existing_customer_revenue,
    case when base.revenue > 0
            then cast(base.existing_customer_revenue as double) / cast(base.revenue as double)
    end as existing_customer_share,
    base.revenue - base.existing_customer_revenue as new_customer_revenue
from base
left join active_totals on base.rating_year = active_totals.rating_year
