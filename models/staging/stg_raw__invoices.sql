with invoices as (
    select * from {{ source('raw', 'invoices') }}
)

select
    invoice_id,
    customer_id,
    order_id,
    invoice_date,
    due_date,
    amount,
    currency,
    status,
    batch_id
from invoices
where superseded_by is null
