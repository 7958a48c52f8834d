-- Retention cohorts: a customer's cohort is its first active month (or rating year). For every
-- cohort and offset up to the last period with data: cohort size, active customers, logo
-- retention, revenue of the cohort's customers and revenue retention against offset 0.
-- Segments: all customers; the class of the customer's rating unit in the unit's first rated
-- year; and the key-account list of a year (year grain: the customers of its listed accounts,
-- every customer of a listed group where the year was rated per group), where
-- `listed_customers` counts those still on the list.
with periods as (
    select * from {{ ref('int_customer_periods') }}
),

last_period as (
    select
        cohort_grain,
        max(period_start) as last_start
    from periods
    group by cohort_grain
),

-- A customer's rating unit under the rules in force (itself under rate_at customer, its group
-- under rate_at group; a customer without a profile is its own unit), and its group.
profiles as (
    select
        customer_id,
        group_id,
        rating_unit_id
    from {{ ref('int_customer_profiles_current') }}
),

-- The class of each rating unit in its first rated year.
first_class as (
    select
        customer_id,
        abc_class
    from (
        select
            customer_id,
            abc_class,
            row_number() over (partition by customer_id order by rating_year) as year_order
        from {{ ref('customer_abc') }}
    ) as classes
    where year_order = 1
),

-- The accounts on each year's list, with the unit the year was rated at.
listed_accounts as (
    select
        ratings.customer_id,
        ratings.rating_year,
        rating_years.rate_at
    from {{ ref('int_customer_ratings') }} as ratings
    left join {{ ref('int_rating_years') }} as rating_years
        on ratings.rating_year = rating_years.rating_year
    where ratings.list_status is not null
),

-- Their customers: the account itself where the year was rated per customer, every customer
-- of the group where it was rated per group.
listed_customers as (
    select
        customer_id,
        rating_year
    from listed_accounts
    where coalesce(rate_at, 'customer') <> 'group'
    union
    select
        profiles.customer_id,
        listed_accounts.rating_year
    from listed_accounts
    inner join profiles on listed_accounts.customer_id = profiles.group_id
    where listed_accounts.rate_at = 'group'
),

members as (
    select
        periods.cohort_grain,
        periods.customer_id,
        min(periods.period_start) as cohort,
        'all' as segment
    from periods
    where periods.active
    group by periods.cohort_grain, periods.customer_id
),

segmented as (
    select
        cohort_grain,
        customer_id,
        cohort,
        segment,
        cast(null as boolean) as tracks_listing
    from members
    union all
    select
        members.cohort_grain,
        members.customer_id,
        members.cohort,
        first_class.abc_class as segment,
        null as tracks_listing
    from members
    left join profiles on members.customer_id = profiles.customer_id
    inner join first_class
        on coalesce(profiles.rating_unit_id, members.customer_id) = first_class.customer_id
    union all
    select
        'year' as cohort_grain,
        customer_id,
        cast({{ fiscal_year_start('rating_year') }} as date) as cohort,
        'key_accounts' as segment,
        true as tracks_listing
    from listed_customers
),

cohort_sizes as (
    select
        cohort_grain,
        cohort,
        segment,
        count(*) as cohort_size,
        bool_or(tracks_listing) as tracks_listing
    from segmented
    group by cohort_grain, cohort, segment
),

-- Every cohort's offsets, up to the last period with data.
grid as (
    select
        cohort_sizes.*,
        series.period_offset
    from cohort_sizes
    inner join last_period on cohort_sizes.cohort_grain = last_period.cohort_grain
    cross join ({{ kam.integer_series(1200) }}) as series
    where
        series.period_offset <= case
            when cohort_sizes.cohort_grain = 'month'
                then {{ months_between('cohort_sizes.cohort', 'last_period.last_start') }}
            else {{ months_between('cohort_sizes.cohort', 'last_period.last_start') }} / 12
        end
),

-- Each member's periods from its cohort on, summed per cohort and offset.
activity as (
    select
        segmented.cohort_grain,
        segmented.cohort,
        segmented.segment,
        case
            when segmented.cohort_grain = 'month'
                then {{ months_between('segmented.cohort', 'periods.period_start') }}
            else cast({{ months_between('segmented.cohort', 'periods.period_start') }} / 12 as integer)
        end as period_offset,
        count(case when periods.active then 1 end) as active_customers,
        sum(periods.revenue) as revenue
    from segmented
    inner join periods
        on
            segmented.cohort_grain = periods.cohort_grain
            and segmented.customer_id = periods.customer_id
            and segmented.cohort <= periods.period_start
    group by all
),

-- Key-account cohorts: members still on the list in each later year.
listing as (
    select
        segmented.cohort_grain,
        segmented.cohort,
        segmented.segment,
        cast({{ months_between('segmented.cohort', fiscal_year_start('status.rating_year')) }} / 12 as integer)
            as period_offset,
        count(*) as listed_customers
    from segmented
    inner join listed_customers as status
        on
            segmented.tracks_listing
            and segmented.customer_id = status.customer_id
            and segmented.cohort <= cast({{ fiscal_year_start('status.rating_year') }} as date)
    group by all
),

measured as (
    select
        grid.cohort_grain,
        grid.cohort,
        grid.segment,
        grid.period_offset,
        grid.cohort_size,
        coalesce(activity.active_customers, 0) as active_customers,
        coalesce(listing.listed_customers, 0) as listed_customers,
        coalesce(activity.revenue, 0) as revenue,
        grid.tracks_listing
    from grid
    left join activity
        on
            grid.cohort_grain = activity.cohort_grain
            and grid.cohort = activity.cohort
            and grid.segment = activity.segment
            and grid.period_offset = activity.period_offset
    left join listing
        on
            grid.cohort_grain = listing.cohort_grain
            and grid.cohort = listing.cohort
            and grid.segment = listing.segment
            and grid.period_offset = listing.period_offset
),

with_base as (
    select
        measured.*,
        first_value(measured.revenue) over (
            partition by measured.cohort_grain, measured.cohort, measured.segment order by measured.period_offset
        ) as base_revenue
    from measured
)

select
    cohort_grain,
    cohort,
    period_offset,
    segment,
    cohort_size,
    active_customers,
    cast(active_customers as double) / cohort_size as logo_retention,
    revenue,
    case when base_revenue <> 0 then cast(revenue as double) / cast(base_revenue as double) end
        as revenue_retention,
    case when tracks_listing then cast(listed_customers as bigint) end as listed_customers,
    case when tracks_listing then cast(listed_customers as double) / cohort_size end
        as listed_retention
from with_base
