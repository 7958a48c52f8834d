with changes as (
    select * from {{ ref('int_key_account_changes') }}
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
    driver
from changes
