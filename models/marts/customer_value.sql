with measured as (
    select * from {{ ref('int_customer_years_measured') }}
)

select
    customer_id,
    rating_year,
    revenue,
    gross_margin,
    collections,
    invoiced,
    collection_rate,
    open_receivables,
    dso_days,
    overdue_amount,
    overdue_share,
    revenue_growth,
    returned_amount,
    complaint_count,
    active,
    satisfaction_score,
    max_days_past_due
from measured
