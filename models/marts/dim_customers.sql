-- Every known customer: current CRM profile, group, rating unit (the customer itself under
-- rate_at customer, its group under rate_at group), first/last order, its unit's latest class,
-- and its status and level on the published list (as itself, or as its group where the
-- published year was rated per group).
with profiles as (
    select * from {{ ref('int_customer_profiles_current') }}
),

order_span as (
    select
        customer_id,
        min(first_order_date) as first_order_date,
        max(last_order_date) as last_order_date
    from {{ ref('int_customer_months') }}
    group by customer_id
),

classes_by_recency as (
    select
        customer_id,
        abc_class,
        rating_year,
        row_number() over (partition by customer_id order by rating_year desc) as recency
    from {{ ref('customer_abc') }}
),

latest_class as (
    select
        customer_id,
        abc_class,
        rating_year
    from classes_by_recency
    where recency = 1
),

-- The list status and level on the published list (key_accounts' year), of the account the
-- customer is on it as: itself, or its group where that year was rated per group.
published_year as (
    select rate_at from {{ ref('int_rating_years') }}
    where is_published
),

ratings as (
    select ratings.*
    from {{ ref('int_customer_ratings') }} as ratings
    inner join {{ ref('int_rating_years') }} as rating_years
        on ratings.rating_year = rating_years.rating_year and rating_years.is_published
)

select
    profiles.customer_id,
    profiles.customer_name,
    profiles.parent_customer_id,
    profiles.group_id,
    profiles.industry,
    profiles.region,
    profiles.city,
    profiles.account_owner,
    profiles.created_date,
    profiles.relationship_type,
    profiles.credit_rating,
    profiles.credit_limit,
    profiles.account_status,
    profiles.strategic_flag,
    profiles.in_crm,
    order_span.first_order_date,
    order_span.last_order_date,
    latest_class.abc_class as current_class,
    latest_class.rating_year as current_class_year,
    ratings.list_status as current_list_status,
    ratings.level as current_level,
    profiles.rating_unit_id
from profiles
left join order_span on profiles.customer_id = order_span.customer_id
left join latest_class on profiles.rating_unit_id = latest_class.customer_id
left join published_year on true
left join ratings
    on case when published_year.rate_at = 'group' then profiles.group_id else profiles.customer_id end
        = ratings.customer_id
