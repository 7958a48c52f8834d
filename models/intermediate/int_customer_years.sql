-- The customer × rating-year spine: a row wherever the customer has an order line (any
-- status), an invoice or a payment dated in the year.
with order_years as (
    select distinct
        customer_id,
        {{ fiscal_year('order_month') }} as rating_year
    from {{ ref('int_customer_months') }}
),

invoice_years as (
    select distinct
        customer_id,
        {{ fiscal_year('invoice_date') }} as rating_year
    from {{ ref('stg_raw__invoices') }}
),

payment_years as (
    select distinct
        customer_id,
        {{ fiscal_year('payment_date') }} as rating_year
    from {{ ref('stg_raw__payments') }}
),

all_years as (
    select * from order_years
    union
    select * from invoice_years
    union
    select * from payment_years
)

select
    customer_id,
    rating_year,
    {{ fiscal_year_start('rating_year') }} as year_start,
    {{ fiscal_year_end('rating_year') }} as year_end
from all_years
