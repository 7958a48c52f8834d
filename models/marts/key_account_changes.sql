-- Movements on the key-account list per year. For a rated year the change and its driver are
-- the ones frozen with the rating (kam rerate), so later data never rewrites them.
with changes as (
    select * from {{ ref('int_key_account_changes') }}
),

frozen as (
    select * from {{ ref('stg_ratings__approved') }}
)

select
    changes.customer_id,
    changes.rating_year,
    coalesce(frozen.change, changes.change) as change,
    changes.previous_list_status,
    changes.list_status,
    changes.previous_level,
    changes.level,
    changes.previous_class,
    changes.final_class,
    changes.previous_rank,
    changes.rank,
    changes.a_count,
    changes.previous_revenue,
    changes.revenue,
    changes.collection_rate,
    changes.gross_margin,
    coalesce(frozen.driver, changes.driver) as driver
from changes
left join frozen
    on changes.customer_id = frozen.customer_id and changes.rating_year = frozen.rating_year
