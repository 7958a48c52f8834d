-- Every CRM activity with the salesperson whose time it took (the activity's owner, else the
-- current owner of the customer's account), the customer's current region, and the policy
-- group of the class of the customer's rating unit in the activity's year (as in
-- account_coverage: A, B+C, or prospects for a customer without a class that year).
with activities as (
    select
        customer_id,
        owner,
        {{ fiscal_year('activity_date') }} as rating_year
    from {{ ref('stg_raw__crm_activities') }}
),

classes as (
    select
        customer_id,
        rating_year,
        abc_class
    from {{ ref('customer_abc') }}
),

profiles as (
    select
        customer_id,
        account_owner,
        region,
        rating_unit_id
    from {{ ref('int_customer_profiles_current') }}
)

select
    activities.rating_year,
    activities.customer_id,
    coalesce(activities.owner, profiles.account_owner) as account_owner,
    profiles.region,
    case
        when classes.abc_class = 'A' then 'A'
        when classes.abc_class in ('B', 'C') then 'B+C'
        else 'prospects'
    end as policy_group
from activities
left join profiles on activities.customer_id = profiles.customer_id
left join classes
    on
        coalesce(profiles.rating_unit_id, activities.customer_id) = classes.customer_id
        and activities.rating_year = classes.rating_year
