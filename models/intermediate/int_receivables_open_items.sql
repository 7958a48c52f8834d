-- Open receivables per invoice at each as-of date D (PRODUCT.md section 3, precise rules):
-- invoices dated <= D and payments dated <= D; a payment naming an invoice of the same
-- customer issued by D goes to it; everything else (no or unknown invoice id, another
-- customer's invoice, the excess over the invoice, credit notes) is one pool per customer,
-- applied at D to the open invoices oldest first (invoice_date, due_date, invoice_id).
with as_of_dates as (
    select as_of_date from {{ ref('int_receivables_as_of_dates') }}
),

invoices as (
    select
        as_of_dates.as_of_date,
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date,
        invoices.due_date,
        invoices.amount
    from {{ ref('stg_raw__invoices') }} as invoices
    inner join as_of_dates on invoices.invoice_date <= as_of_dates.as_of_date
),

payments as (
    select
        as_of_dates.as_of_date,
        payments.customer_id,
        payments.invoice_id,
        payments.amount
    from {{ ref('stg_raw__payments') }} as payments
    inner join as_of_dates on payments.payment_date <= as_of_dates.as_of_date
),

named_payments as (
    select
        payments.as_of_date,
        payments.invoice_id,
        sum(payments.amount) as paid
    from payments
    inner join invoices
        on
            payments.as_of_date = invoices.as_of_date
            and payments.invoice_id = invoices.invoice_id
            and payments.customer_id = invoices.customer_id
    where invoices.amount > 0
    group by payments.as_of_date, payments.invoice_id
),

after_named as (
    select
        invoices.*,
        least(greatest(coalesce(named_payments.paid, 0), 0), invoices.amount) as applied_named
    from invoices
    left join named_payments
        on
            invoices.as_of_date = named_payments.as_of_date
            and invoices.invoice_id = named_payments.invoice_id
    where invoices.amount > 0
),

credit_notes as (
    select
        as_of_date,
        customer_id,
        sum(-amount) as credited
    from invoices
    where amount < 0
    group by as_of_date, customer_id
),

paid_totals as (
    select
        as_of_date,
        customer_id,
        sum(amount) as paid
    from payments
    group by as_of_date, customer_id
),

applied_totals as (
    select
        as_of_date,
        customer_id,
        sum(applied_named) as applied
    from after_named
    group by as_of_date, customer_id
),

pools as (
    select
        coalesce(paid_totals.as_of_date, credit_notes.as_of_date) as as_of_date,
        coalesce(paid_totals.customer_id, credit_notes.customer_id) as customer_id,
        coalesce(paid_totals.paid, 0) + coalesce(credit_notes.credited, 0) as credit
    from paid_totals
    full outer join credit_notes
        on
            paid_totals.as_of_date = credit_notes.as_of_date
            and paid_totals.customer_id = credit_notes.customer_id
),

pool_balances as (
    select
        pools.as_of_date,
        pools.customer_id,
        pools.credit - coalesce(applied_totals.applied, 0) as pool
    from pools
    left join applied_totals
        on
            pools.as_of_date = applied_totals.as_of_date
            and pools.customer_id = applied_totals.customer_id
),

queued as (
    select
        after_named.*,
        after_named.amount - after_named.applied_named as remaining,
        coalesce(pool_balances.pool, 0) as pool,
        coalesce(sum(after_named.amount - after_named.applied_named) over (
            partition by after_named.as_of_date, after_named.customer_id
            order by after_named.invoice_date, after_named.due_date, after_named.invoice_id
            rows between unbounded preceding and 1 preceding
        ), 0) as remaining_before
    from after_named
    left join pool_balances
        on
            after_named.as_of_date = pool_balances.as_of_date
            and after_named.customer_id = pool_balances.customer_id
)

select
    as_of_date,
    invoice_id,
    customer_id,
    invoice_date,
    due_date,
    amount,
    remaining - greatest(least(remaining, pool - remaining_before), 0) as open_amount
from queued
