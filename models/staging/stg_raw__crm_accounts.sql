-- The current profile of each customer (the latest loaded version).
with accounts as (
    select * from {{ source('raw', 'crm_accounts') }}
)

select
    customer_id,
    customer_name,
    parent_customer_id,
    industry,
    region,
    city,
    account_owner,
    created_date,
    relationship_type,
    credit_rating,
    credit_limit,
    status,
    strategic_flag,
    updated_at,
    batch_id
from accounts
where superseded_by is null
