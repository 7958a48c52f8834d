-- The roll-up of owner_portfolio and region_portfolio (seed 001's regional KA managers, seed
-- 004's 60/30/10 time policy) by one dimension of the portfolio models: rating_year × it.
{% macro portfolio_rollup(dimension) -%}
{%- set targets = var('coverage_targets') -%}
with accounts as (
    select * from {{ ref('int_portfolio_accounts') }}
),

activities as (
    select * from {{ ref('int_portfolio_activities') }}
),

account_totals as (
    select
        rating_year,
        {{ dimension }},
        count(final_class) as customers,
        count(*) filter (where list_status is not null) as listed_accounts,
        count(*) filter (where level = 'strategic') as strategic_accounts,
        count(*) filter (where level = 'key') as key_accounts,
        count(*) filter (where list_status = 'watch') as watch_accounts,
        coalesce(sum(revenue) filter (where list_status is not null), 0) as listed_revenue,
        sum(revenue_share) filter (where list_status is not null) as revenue_share,
        count(*) filter (where uncontacted) as uncontacted_key_accounts
    from accounts
    group by rating_year, {{ dimension }}
),

activity_totals as (
    select
        rating_year,
        {{ dimension }},
        count(*) as activities,
        count(*) filter (where policy_group = 'A') as a_activities,
        count(*) filter (where policy_group = 'B+C') as bc_activities,
        count(*) filter (where policy_group = 'prospects') as prospects_activities
    from activities
    group by rating_year, {{ dimension }}
),

portfolios as (
    select
        rating_year,
        {{ dimension }}
    from account_totals
    union
    select
        rating_year,
        {{ dimension }}
    from activity_totals
)

select
    portfolios.rating_year,
    portfolios.{{ dimension }},
    coalesce(account_totals.customers, 0) as customers,
    coalesce(account_totals.listed_accounts, 0) as listed_accounts,
    coalesce(account_totals.strategic_accounts, 0) as strategic_accounts,
    coalesce(account_totals.key_accounts, 0) as key_accounts,
    coalesce(account_totals.watch_accounts, 0) as watch_accounts,
    coalesce(account_totals.listed_revenue, 0) as listed_revenue,
    case
        when coalesce(account_totals.listed_accounts, 0) = 0 then 0.0
        else cast(account_totals.revenue_share as double)
    end as revenue_share,
    coalesce(activity_totals.activities, 0) as activities,
    cast(activity_totals.a_activities as double) / nullif(activity_totals.activities, 0)
        as a_activity_share,
    cast(activity_totals.bc_activities as double) / nullif(activity_totals.activities, 0)
        as bc_activity_share,
    cast(activity_totals.prospects_activities as double) / nullif(activity_totals.activities, 0)
        as prospects_activity_share,
    cast({{ targets['A'] }} as double) as a_target_share,
    cast({{ targets['BC'] }} as double) as bc_target_share,
    cast({{ targets['prospects'] }} as double) as prospects_target_share,
    coalesce(account_totals.uncontacted_key_accounts, 0) as uncontacted_key_accounts
from portfolios
left join account_totals
    on
        portfolios.rating_year = account_totals.rating_year
        and portfolios.{{ dimension }} is not distinct from account_totals.{{ dimension }}
left join activity_totals
    on
        portfolios.rating_year = activity_totals.rating_year
        and portfolios.{{ dimension }} is not distinct from activity_totals.{{ dimension }}
{%- endmacro %}
