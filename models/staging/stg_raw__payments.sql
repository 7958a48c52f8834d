with payments as (
    select * from {{ source('raw', 'payments') }}
)

select
    payment_id,
    customer_id,
    invoice_id,
    payment_date,
    amount,
    currency,
    method,
    batch_id
from payments
where superseded_by is null
