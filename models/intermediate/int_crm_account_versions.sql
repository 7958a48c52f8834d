-- Every loaded version of every customer profile, in load order: the history's input.
-- A view, as it was in staging: dim_customers_history alone reads it.
{{ config(materialized="view") }}

with accounts as (
    select * from {{ source('raw', 'crm_accounts') }}
),

batches as (
    select
        batch_id,
        loaded_at
    from {{ source('raw', 'batches') }}
)

select
    accounts.customer_id,
    accounts.customer_name,
    accounts.parent_customer_id,
    accounts.industry,
    accounts.region,
    accounts.city,
    accounts.account_owner,
    accounts.relationship_type,
    accounts.credit_rating,
    accounts.credit_limit,
    accounts.status,
    accounts.strategic_flag,
    accounts.updated_at,
    accounts.batch_id,
    batches.loaded_at,
    accounts.row_number
from accounts
inner join batches on accounts.batch_id = batches.batch_id
