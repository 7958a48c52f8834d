with activities as (
    select * from {{ source('raw', 'crm_activities') }}
)

select
    activity_id,
    customer_id,
    activity_date,
    activity_type,
    owner,
    satisfaction_score,
    batch_id
from activities
where superseded_by is null
