-- Every customer's rating of every year as it stands, before the comparison with the year
-- before: the frozen rating where the year is rated, else the computed one (int_rating_years).
-- The previous year of int_key_account_changes.
with rating_years as (
    select * from {{ ref('int_rating_years') }}
),

frozen as (
    select * from {{ ref('int_customer_ratings_frozen') }}
),

computed as (
    select * from {{ ref('int_key_account_status') }}
)

select
    frozen.customer_id,
    frozen.rating_year,
    frozen.list_status,
    frozen.level,
    frozen.final_class,
    frozen.rank,
    frozen.revenue
from frozen
union all
select
    computed.customer_id,
    computed.rating_year,
    computed.list_status,
    case when computed.list_status is not null then computed.computed_level end as level,
    computed.final_class,
    computed.rank,
    computed.revenue
from computed
inner join rating_years
    on computed.rating_year = rating_years.rating_year and rating_years.rating_status = 'computed'
