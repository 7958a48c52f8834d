-- Customer ratings (客户评级) of every closed year: the frozen, approved rating where the year
-- was rated (kam rerate, 年度重新评级), else the rating this run computes (rating_status
-- 'computed', no approver), with the metrics it was made from. A row rates an account: a
-- customer, or under rate_at group (the year's rate_at) a group named by its top parent.
with ratings as (
    select * from {{ ref('int_customer_ratings') }}
),

rating_years as (
    select * from {{ ref('int_rating_years') }}
)

select
    ratings.customer_id,
    ratings.rating_year,
    ratings.computed_class,
    ratings.eligible,
    ratings.computed_level,
    ratings.final_class,
    ratings.list_status,
    ratings.level,
    ratings.override_id,
    ratings.change,
    ratings.rank,
    ratings.score,
    ratings.revenue,
    ratings.collections,
    ratings.gross_margin,
    ratings.driver,
    ratings.run_id,
    ratings.rules_hash,
    ratings.approved_by,
    ratings.approved_at,
    ratings.rating_status,
    rating_years.rate_at
from ratings
inner join rating_years
    on
        ratings.rating_year = rating_years.rating_year
        and (rating_years.is_closed or rating_years.rating_status = 'approved')
