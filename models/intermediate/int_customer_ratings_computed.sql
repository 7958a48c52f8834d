-- The rating of every customer in every year as the rules compute it now, with the metrics it
-- is made from and its change against last year's list in force: every customer with a
-- customer-value row, plus last year's listed customers that left (they may have no row).
-- `kam rerate` freezes one year of these rows into ratings.customer_ratings.
with status as (
    select * from {{ ref('int_key_account_status') }}
),

changes as (
    select * from {{ ref('int_key_account_changes') }}
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
        rank,
        a_count,
        active_customers,
        score,
        cumulative_share,
        revenue,
        revenue_share,
        gross_margin,
        collections,
        collection_rate,
        dso_days,
        open_receivables,
        overdue_share,
        credit_limit,
        risk_flag,
        coalesce(list_status is not null and qualifies_credit_support, false) as credit_support
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
        null as rank,
        null as a_count,
        null as active_customers,
        null as score,
        null as cumulative_share,
        null as revenue,
        null as revenue_share,
        null as gross_margin,
        null as collections,
        null as collection_rate,
        null as dso_days,
        null as open_receivables,
        null as overdue_share,
        null as credit_limit,
        null as risk_flag,
        null as credit_support
    from left_the_list
),

rated as (
    select
        all_rated.*,
        case when all_rated.list_status is not null then all_rated.computed_level end as level,
        changes.change,
        changes.previous_list_status,
        changes.previous_level,
        changes.previous_class,
        changes.previous_rank,
        changes.previous_revenue,
        changes.driver
    from all_rated
    left join changes
        on all_rated.customer_id = changes.customer_id and all_rated.rating_year = changes.rating_year
)

select {{ frozen_rating_columns('rated') }}
from rated
