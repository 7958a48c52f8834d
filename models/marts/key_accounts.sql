-- The key-account list (大客户清单) of the latest rated year, with its metrics and risk flag.
with ratings as (
    select * from {{ ref('customer_ratings') }}
    where
        list_status is not null
        and rating_year = (
            select max(latest.rating_year) from {{ ref('customer_ratings') }} as latest
        )
),

measured as (
    select * from {{ ref('int_customer_years_measured') }}
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
    measured.revenue,
    measured.gross_margin,
    measured.collections,
    measured.collection_rate,
    measured.dso_days,
    measured.open_receivables,
    measured.overdue_share,
    profiles.credit_limit,
    coalesce(measured.overdue_share > {{ var('risk_overdue_share') }}, false)
    or coalesce(measured.open_receivables > profiles.credit_limit, false) as risk_flag,
    profiles.account_owner,
    ratings.run_id
from ratings
left join measured
    on ratings.customer_id = measured.customer_id and ratings.rating_year = measured.rating_year
left join profiles on ratings.customer_id = profiles.customer_id
