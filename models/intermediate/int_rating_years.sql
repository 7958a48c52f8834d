-- Which rating of each year is in force, decided here once for every model: the approved,
-- frozen rating where the year was rated (kam rerate), else the rating the rules compute now.
-- The published year (key_accounts) is the latest approved year; before any year is approved,
-- the latest closed year (ended before the run's as-of date), as computed. rate_at: the rating
-- unit the year's rating in force is made at (customer or group), which says whether two
-- years' lists can be compared.
with years as (
    select distinct rating_year from {{ ref('int_customer_years') }}
    union
    select distinct rating_year from {{ ref('int_customer_ratings_frozen') }}
),

frozen_runs as (
    select distinct
        rating_year,
        run_id,
        rate_at
    from {{ ref('int_customer_ratings_frozen') }}
),

statused as (
    select
        years.rating_year,
        {{ fiscal_year_end('years.rating_year') }} as year_end,
        {{ fiscal_year_end('years.rating_year') }} < {{ as_of_date() }} as is_closed,
        case when frozen_runs.run_id is not null then 'approved' else 'computed' end as rating_status,
        frozen_runs.run_id as approved_run_id,
        case
            when frozen_runs.run_id is not null then frozen_runs.rate_at else '{{ var("rate_at") }}'
        end as rate_at
    from years
    left join frozen_runs on years.rating_year = frozen_runs.rating_year
),

published as (
    select
        coalesce(
            max(case when rating_status = 'approved' then rating_year end),
            max(case when is_closed then rating_year end)
        ) as rating_year
    from statused
)

select
    statused.rating_year,
    statused.year_end,
    statused.is_closed,
    statused.rating_status,
    statused.approved_run_id,
    statused.rate_at,
    coalesce(statused.rating_year = published.rating_year, false) as is_published
from statused
cross join published
