-- Coverage (seed 003: key accounts ~10% of customers get ~60% of the time): per rating year
-- and class, the rated accounts (rating units: customers, or groups under rate_at group), their
-- share of CRM activities against the policy target (A / B+C / prospects: customers contacted
-- outside any rated unit), and listed key accounts not contacted for more than
-- uncontacted_days by year end.
{%- set targets = var('coverage_targets') %}

with classes as (
    select
        customer_id,
        rating_year,
        abc_class
    from {{ ref('customer_abc') }}
),

-- An activity counts for its customer's rating unit (the customer itself under rate_at
-- customer, its group under rate_at group; a customer without a profile is its own unit).
activities as (
    select
        activities.customer_id,
        coalesce(profiles.rating_unit_id, activities.customer_id) as rating_unit_id,
        activities.activity_date,
        {{ fiscal_year('activities.activity_date') }} as rating_year
    from {{ ref('stg_raw__crm_activities') }} as activities
    left join {{ ref('int_customer_profiles_current') }} as profiles
        on activities.customer_id = profiles.customer_id
),

classified_activities as (
    select
        activities.rating_year,
        coalesce(classes.abc_class, 'prospects') as class
    from activities
    left join classes
        on activities.rating_unit_id = classes.customer_id and activities.rating_year = classes.rating_year
),

activity_counts as (
    select
        rating_year,
        class,
        count(*) as activities
    from classified_activities
    group by rating_year, class
),

class_sizes as (
    select
        rating_year,
        abc_class as class,
        count(*) as customers
    from classes
    group by rating_year, abc_class
),

prospect_sizes as (
    select
        rating_year,
        'prospects' as class,
        count(distinct customer_id) as customers
    from activities
    where not exists (
            select 1 from classes
            where classes.customer_id = activities.rating_unit_id
                and classes.rating_year = activities.rating_year
        )
    group by rating_year
),

sizes as (
    select * from class_sizes
    union all
    select * from prospect_sizes
),

-- Listed accounts without contact for more than uncontacted_days by the year's end, by their
-- final class (int_portfolio_accounts decides who is uncontacted, for the portfolios too).
uncontacted as (
    select
        rating_year,
        coalesce(final_class, 'A') as class,
        count(*) as uncontacted_key_accounts
    from {{ ref('int_portfolio_accounts') }}
    where uncontacted
    group by rating_year, coalesce(final_class, 'A')
),

totals as (
    select
        rating_year,
        sum(activities) as total_activities
    from activity_counts
    group by rating_year
),

combined as (
    select
        sizes.rating_year,
        sizes.class,
        case when sizes.class in ('B', 'C') then 'B+C' else sizes.class end as policy_group,
        sizes.customers,
        coalesce(activity_counts.activities, 0) as activities,
        totals.total_activities,
        coalesce(uncontacted.uncontacted_key_accounts, 0) as uncontacted_key_accounts
    from sizes
    left join activity_counts
        on sizes.rating_year = activity_counts.rating_year and sizes.class = activity_counts.class
    left join totals on sizes.rating_year = totals.rating_year
    left join uncontacted
        on sizes.rating_year = uncontacted.rating_year and sizes.class = uncontacted.class
)

select
    rating_year,
    class,
    policy_group,
    customers,
    activities,
    case when total_activities > 0 then cast(activities as double) / total_activities end
        as activity_share,
    case when total_activities > 0 then cast(sum(activities) over (
                partition by rating_year, policy_group
            ) as double) / total_activities
    end as policy_group_share,
    cast(case policy_group
        when 'A' then {{ targets['A'] }}
        when 'B+C' then {{ targets['BC'] }}
        else {{ targets['prospects'] }}
    end as double) as target_share,
    uncontacted_key_accounts
from combined
