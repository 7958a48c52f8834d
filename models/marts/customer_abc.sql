-- ABC tiers per active rating unit and year, with the growth segment and loyalty stars. The
-- unit is the customer (rate_at customer) or the group named by its top parent (rate_at
-- group), with the figures of its members (int_rating_unit_years_measured).
with ranked as (
    select * from {{ ref('int_customer_years_ranked') }}
),

measured as (
    select * from {{ ref('int_rating_unit_years_measured') }}
),

stars as (
    select * from {{ ref('int_customer_years_starred') }}
),

medians as (
    select rating_year, {{ kam.median('revenue') }} as median_revenue
    from measured
    where active
    group by rating_year
),

classed as (
    select
        ranked.*,
        measured.revenue,
        measured.revenue_growth,
        measured.previous_revenue,
        measured.member_customers
    from ranked
    inner join measured
        on ranked.customer_id = measured.customer_id and ranked.rating_year = measured.rating_year
)

select
    classed.customer_id,
    classed.rating_year,
    classed.score,
    classed.rank,
    classed.cumulative_share,
    classed.class_collections,
    classed.class_margin,
    classed.abc_class,
    classed.composite_class,
    classed.value_share_class,
    case
        when classed.abc_class = 'A' then 'VIP'
        when classed.revenue >= medians.median_revenue
            -- compared on exact decimals: growth of exactly +20% qualifies
            and classed.previous_revenue <> 0
            and classed.revenue - classed.previous_revenue
            >= {{ var('mgc_min_growth') }} * classed.previous_revenue then 'MGC'
        when classed.previous_revenue <> 0 and classed.revenue < classed.previous_revenue then 'MZ'
    end as growth_segment,
    stars.stars,
    classed.active_customers,
    classed.a_count,
    classed.b_count,
    classed.member_customers
from classed
inner join medians on classed.rating_year = medians.rating_year
left join stars
    on classed.customer_id = stars.customer_id and classed.rating_year = stars.rating_year
