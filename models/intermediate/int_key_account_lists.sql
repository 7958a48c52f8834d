-- The key-account list of every year as it stands: the frozen, approved rating where the year
-- was rated (kam rerate), the computed one otherwise.
with status as (
    select * from {{ ref('int_key_account_status') }}
),

frozen as (
    select * from {{ ref('stg_ratings__approved') }}
),

frozen_years as (
    select distinct rating_year from frozen
)

select
    frozen.customer_id,
    frozen.rating_year,
    frozen.list_status,
    frozen.level,
    frozen.final_class,
    frozen.rank,
    'approved' as rating_status
from frozen
where frozen.list_status is not null
union all
select
    status.customer_id,
    status.rating_year,
    status.list_status,
    status.computed_level as level,
    status.final_class,
    status.rank,
    'computed' as rating_status
from status
where
    status.list_status is not null
    and status.rating_year not in (select frozen_years.rating_year from frozen_years)
