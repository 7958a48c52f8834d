-- The rating of every customer in every year as the rules compute it now: every customer with
-- a customer-value row, plus last year's listed customers that left (they may have no row).
-- `kam rerate` freezes one year of these rows into ratings.customer_ratings.
with status as (
    select * from {{ ref('int_key_account_status') }}
),

changes as (
    select * from {{ ref('int_key_account_changes') }}
),

measured as (
    select * from {{ ref('int_customer_years_measured') }}
),

left_the_list as (
    select
        changes.customer_id,
        changes.rating_year
    from changes
    where
        changes.change = 'left'
        and not exists (
            select 1 from status
            where
                status.customer_id = changes.customer_id
                and status.rating_year = changes.rating_year
        )
),

all_rated as (
    select
        customer_id,
        rating_year,
        computed_class,
        eligible,
        computed_level,
        final_class,
        list_status,
        override_id,
        rank
    from status
    union all
    select
        customer_id,
        rating_year,
        null as computed_class,
        null as eligible,
        null as computed_level,
        null as final_class,
        null as list_status,
        null as override_id,
        null as rank
    from left_the_list
)

select
    all_rated.customer_id,
    all_rated.rating_year,
    all_rated.computed_class,
    all_rated.eligible,
    all_rated.computed_level,
    all_rated.final_class,
    all_rated.list_status,
    case when all_rated.list_status is not null then all_rated.computed_level end as level,
    all_rated.override_id,
    changes.change,
    all_rated.rank,
    measured.revenue,
    measured.gross_margin,
    measured.collections,
    measured.collection_rate,
    changes.driver
from all_rated
left join changes
    on all_rated.customer_id = changes.customer_id and all_rated.rating_year = changes.rating_year
left join measured
    on all_rated.customer_id = measured.customer_id and all_rated.rating_year = measured.rating_year
