-- The key-account list (大客户清单) of the published year: the latest approved year, else
-- (nothing rated yet) the latest closed year as computed. A rated year's metrics, shares and
-- risk flag are the frozen ones it was approved with; name, group and owner are current. An
-- account is a customer, or where the year was rated per group (rate_at) a group, named by
-- its top parent, with the figures of all its customers and that customer's profile.
with ratings as (
    select * from {{ ref('int_customer_ratings') }}
),

published_year as (
    select
        rating_year,
        rate_at
    from {{ ref('int_rating_years') }}
    where is_published
),

profiles as (
    select * from {{ ref('int_customer_profiles_current') }}
)

select
    ratings.customer_id,
    profiles.customer_name,
    profiles.group_id,
    ratings.rating_year,
    ratings.list_status,
    ratings.level,
    ratings.final_class,
    ratings.computed_class,
    ratings.override_id,
    ratings.change,
    ratings.rank,
    ratings.score,
    ratings.revenue,
    ratings.revenue_share,
    ratings.cumulative_share,
    ratings.gross_margin,
    ratings.collections,
    ratings.collection_rate,
    ratings.dso_days,
    ratings.open_receivables,
    ratings.overdue_share,
    ratings.credit_limit,
    ratings.risk_flag,
    profiles.account_owner,
    ratings.run_id,
    ratings.rating_status,
    profiles.relationship_type,
    ratings.credit_support,
    published_year.rate_at
from ratings
inner join published_year on ratings.rating_year = published_year.rating_year
left join profiles on ratings.customer_id = profiles.customer_id
where ratings.list_status is not null
