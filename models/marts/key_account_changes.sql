-- Movements on the key-account list per year, against the year before's list in force. For a
-- rated year every figure is the one frozen with the rating (kam rerate), so exports loaded
-- later (corrections of that year included) never rewrite them.
with ratings as (
    select * from {{ ref('int_customer_ratings') }}
)

select
    customer_id,
    rating_year,
    change,
    previous_list_status,
    list_status,
    previous_level,
    level,
    previous_class,
    final_class,
    previous_rank,
    rank,
    a_count,
    previous_revenue,
    revenue,
    collection_rate,
    gross_margin,
    driver,
    rating_status
from ratings
where change is not null
