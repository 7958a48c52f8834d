-- Every rated customer-year with the current CRM profile's owner and region (PRODUCT.md:
-- owners are the current account_owner; a NULL owner or region is its own portfolio), the
-- rating in force (frozen figures for a rated year) and, for a listed account, whether it went
-- without contact for more than uncontacted_days by the year's end (as in account_coverage).
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
        account_owner,
        region
    from {{ ref('int_customer_profiles_current') }}
),

last_contacts as (
    select
        ratings.customer_id,
        ratings.rating_year,
        max(activities.activity_date) as last_activity_date
    from ratings
    inner join {{ ref('stg_raw__crm_activities') }} as activities
        on
            ratings.customer_id = activities.customer_id
            and activities.activity_date <= {{ fiscal_year_end('ratings.rating_year') }}
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
