-- Every rated account-year (a rating unit: the customer, or the group named by its top parent
-- where the year is rated per group, with that customer's profile) with the current CRM
-- profile's owner and region (PRODUCT.md: owners are the current account_owner; a NULL owner or
-- region is its own portfolio), the rating in force (frozen figures for a rated year) and, for
-- a listed account, whether it went without contact for more than uncontacted_days by the
-- year's end (as in account_coverage; for a group, a contact with any of its customers).
with ratings as (
    select
        customer_id,
        rating_year,
        final_class,
        list_status,
        level,
        revenue,
        revenue_share
    from {{ ref('int_customer_ratings') }}
),

profiles as (
    select
        customer_id,
        group_id,
        account_owner,
        region
    from {{ ref('int_customer_profiles_current') }}
),

activities as (
    select
        customer_id,
        activity_date
    from {{ ref('stg_raw__crm_activities') }}
),

-- Every contact with the account it counts for, for either rating unit: the customer itself
-- (rated per customer), or its group (rated per group: a contact with any of the group's
-- customers is a contact with the account).
contacts as (
    select
        'customer' as rate_at,
        customer_id as account_id,
        activity_date
    from activities
    union all
    select
        'group' as rate_at,
        profiles.group_id as account_id,
        activities.activity_date
    from activities
    inner join profiles on activities.customer_id = profiles.customer_id
),

last_contacts as (
    select
        ratings.customer_id,
        ratings.rating_year,
        max(contacts.activity_date) as last_activity_date
    from ratings
    left join {{ ref('int_rating_years') }} as rating_years
        on ratings.rating_year = rating_years.rating_year
    inner join contacts
        on
            coalesce(rating_years.rate_at, 'customer') = contacts.rate_at
            and ratings.customer_id = contacts.account_id
            and contacts.activity_date <= {{ fiscal_year_end('ratings.rating_year') }}
    where ratings.list_status is not null
    group by ratings.customer_id, ratings.rating_year
)

select
    ratings.customer_id,
    ratings.rating_year,
    profiles.account_owner,
    profiles.region,
    ratings.final_class,
    ratings.list_status,
    ratings.level,
    ratings.revenue,
    ratings.revenue_share,
    ratings.list_status is not null
    and (
        last_contacts.last_activity_date is null
        or {{ days_between('last_contacts.last_activity_date', fiscal_year_end('ratings.rating_year')) }}
        > {{ var('uncontacted_days') }}
    ) as uncontacted
from ratings
left join profiles on ratings.customer_id = profiles.customer_id
left join last_contacts
    on ratings.customer_id = last_contacts.customer_id and ratings.rating_year = last_contacts.rating_year
