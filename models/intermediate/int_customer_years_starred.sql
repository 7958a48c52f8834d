-- Loyalty stars (seed 000's carrier example) of every ranked unit (rate_at: a customer, or a
-- group with its members' months summed): 3, 4 or 5 stars for star_months consecutive
-- months of the rating year with monthly revenue above each of the three thresholds. The
-- thresholds are star_thresholds when set (absolute, every year alike), else the year's
-- star_percentiles of the monthly revenues of its unit-months with revenue > 0, by the
-- nearest-rank method: in ascending order, the value at position ceil(p × n).
{%- set thresholds = var('star_thresholds') %}
{%- set percentiles = var('star_percentiles') %}

with ranked as (
    select
        customer_id,
        rating_year
    from {{ ref('int_customer_years_ranked') }}
),

-- Monthly revenue per rating unit (its members' months summed; a customer without a
-- profile is its own unit).
monthly_revenue as (
    select
        coalesce(profiles.rating_unit_id, months.customer_id) as customer_id,
        {{ fiscal_year('months.order_month') }} as rating_year,
        {{ months_between(fiscal_year_start(fiscal_year('months.order_month')), 'months.order_month') }}
            as month_offset,
        sum(months.revenue) as revenue
    from {{ ref('int_customer_months') }} as months
    left join {{ ref('int_customer_profiles_current') }} as profiles
        on months.customer_id = profiles.customer_id
    group by coalesce(profiles.rating_unit_id, months.customer_id), months.order_month
),

levels as (
    select
        level_values.stars,
        level_values.percentile,
        level_values.absolute_threshold
    from (
        values
        {%- for percentile in percentiles %}
            (
                {{ loop.index + 2 }},
                {{ percentile }},
                {{ thresholds[loop.index0] if thresholds is not none else 'null' }}
            ){{ ',' if not loop.last }}
        {%- endfor %}
    ) as level_values (stars, percentile, absolute_threshold)
),

positive_months as (
    select
        rating_year,
        revenue,
        row_number() over (partition by rating_year order by revenue) as position,
        count(*) over (partition by rating_year) as months
    from monthly_revenue
    where revenue > 0
),

percentile_values as (
    select
        positive_months.rating_year,
        levels.stars,
        positive_months.revenue as threshold
    from positive_months
    inner join levels
        on
            positive_months.position
            = cast(ceil(cast(levels.percentile as decimal(9, 6)) * positive_months.months) as bigint)
),

thresholds as (
    select
        years.rating_year,
        levels.stars,
        coalesce(cast(levels.absolute_threshold as decimal(38, 6)), percentile_values.threshold)
            as threshold
    from (select distinct rating_year from ranked) as years
    cross join levels
    left join percentile_values
        on years.rating_year = percentile_values.rating_year and levels.stars = percentile_values.stars
),

-- The months of the rating year above each threshold, as bits of a mask (bit k = month k).
above as (
    select
        ranked.customer_id,
        ranked.rating_year,
        thresholds.stars,
        bit_or(cast(1 as bigint) << monthly_revenue.month_offset) as months
    from ranked
    inner join monthly_revenue
        on
            ranked.customer_id = monthly_revenue.customer_id
            and ranked.rating_year = monthly_revenue.rating_year
    inner join thresholds
        on
            monthly_revenue.rating_year = thresholds.rating_year
            and monthly_revenue.revenue > thresholds.threshold
    group by ranked.customer_id, ranked.rating_year, thresholds.stars
),

-- star_months consecutive months: the mask and-ed with itself shifted by 1 .. star_months - 1
-- keeps a bit exactly where such a run starts.
earned as (
    select
        customer_id,
        rating_year,
        max(stars) as stars
    from above
    where
        months
        {%- for shift in range(1, var('star_months') | int) %}
            & (months >> {{ shift }})
        {%- endfor %} <> 0
    group by customer_id, rating_year
)

select
    ranked.customer_id,
    ranked.rating_year,
    coalesce(earned.stars, 0) as stars
from ranked
left join earned
    on
        ranked.customer_id = earned.customer_id
        and ranked.rating_year = earned.rating_year
