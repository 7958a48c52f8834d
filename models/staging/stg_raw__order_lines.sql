-- Current order lines: rows a later batch superseded are dropped (latest batch wins).
with order_lines as (
    select * from {{ source('raw', 'orders') }}
)

select
    order_id,
    line_no,
    order_date,
    customer_id,
    product_id,
    quantity,
    unit_price,
    amount,
    cost_amount,
    currency,
    status,
    sales_rep,
    channel,
    batch_id
from order_lines
where superseded_by is null
