-- Which sources exist: a source with no loaded batch is absent, and the metrics it feeds are
-- NULL rather than 0 (orders-only exports are a first-class case).
-- A view, as it was in staging: one row, read by the customer-year metrics and their ranking.
{{ config(materialized="view") }}

with batches as (
    select * from {{ source('raw', 'batches') }}
),

order_costs as (
    select exists(
        select 1 from {{ ref('stg_raw__order_lines') }}
        where cost_amount is not null
    ) as has_cost
),

loaded as (
    select
        coalesce(bool_or(source = 'invoices'), false) as has_invoices,
        coalesce(bool_or(source = 'payments'), false) as has_payments,
        coalesce(bool_or(source = 'crm_accounts'), false) as has_crm_accounts,
        coalesce(bool_or(source = 'crm_activities'), false) as has_crm_activities
    from batches
    where status = 'loaded'
)

select
    loaded.has_invoices,
    loaded.has_payments,
    loaded.has_crm_accounts,
    loaded.has_crm_activities,
    order_costs.has_cost
from loaded
cross join order_costs
