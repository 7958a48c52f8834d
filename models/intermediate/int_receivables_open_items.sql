-- Open receivables per invoice at each cut-off date D (PRODUCT.md section 3, precise rules):
-- invoices dated <= D and payments dated <= D; a payment naming an invoice of the same
-- customer issued by D goes to it; everything else (no or unknown invoice id, another
-- customer's invoice, the excess over the invoice, credit notes) is one pool per customer,
-- applied at D to the open invoices oldest first (invoice_date, due_date, invoice_id).
-- Only invoices still open are listed. A cut-off is an as-of date, or 9999-12-31 for "every
-- document", which stands for all as-of dates on or after the latest invoice or payment
-- (int_receivables_as_of_dates), so a new day does not make a new cut-off.
--
-- Incremental: everything is per customer, so a run recomputes, at each cut-off built before,
-- only the customers with an invoice or payment loaded or superseded since the last run and
-- dated by the cut-off, and computes whole only the cut-offs not built yet. A customer
-- recomputed gets a row without invoice_id, whose key makes the merge delete its earlier rows;
-- the post-hooks delete these markers and the cut-offs no longer needed.
{{ config(
    materialized=kam.incremental_materialization(),
    unique_key=['cutoff_date', 'customer_id'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=kam.incremental_hooks([
        "delete from {{ this }} where invoice_id is null",
        "delete from {{ this }} where cutoff_date not in
            (select cutoff_date from {{ ref('int_receivables_as_of_dates') }})",
    ]),
) }}

with cutoffs as (
    select distinct cutoff_date from {{ ref('int_receivables_as_of_dates') }}
),

{% if is_incremental() -%}
    watermark as (
        select coalesce(max(through_batch_id), 0) as batch_id from {{ this }}
    ),

    changed_documents as (
        select
            invoices.customer_id,
            invoices.invoice_date as document_date
        from {{ source('raw', 'invoices') }} as invoices
        cross join watermark
        where invoices.batch_id > watermark.batch_id or invoices.superseded_by > watermark.batch_id
        union all
        select
            payments.customer_id,
            payments.payment_date as document_date
        from {{ source('raw', 'payments') }} as payments
        cross join watermark
        where payments.batch_id > watermark.batch_id or payments.superseded_by > watermark.batch_id
    ),

    new_cutoffs as (
        select cutoff_date from cutoffs
        where cutoff_date not in (select built.cutoff_date from {{ this }} as built)
    ),

    changed_customers as (
        select distinct
            cutoffs.cutoff_date,
            changed_documents.customer_id
        from cutoffs
        inner join changed_documents on changed_documents.document_date <= cutoffs.cutoff_date
        where cutoffs.cutoff_date not in (select new_cutoffs.cutoff_date from new_cutoffs)
    ),

    -- The (cut-off, customer) pairs this run computes: the customers recomputed at the cut-offs
    -- built before, and every customer with a document at the cut-offs computed whole.
    recomputed as (
        select
            changed_customers.cutoff_date,
            changed_customers.customer_id
        from changed_customers
        union all
        select
            new_cutoffs.cutoff_date,
            customers.customer_id
        from new_cutoffs
        cross join (
            -- Read only when there is a new cut-off (not on an ordinary day).
            select customer_id from {{ ref('stg_raw__invoices') }}
            where exists (select 1 from new_cutoffs)
            union
            select customer_id from {{ ref('stg_raw__payments') }}
            where exists (select 1 from new_cutoffs)
        ) as customers
    ),
{%- endif %}

{#- The cut-offs a document (DOCUMENTS: invoices or payments, dated DOCUMENT_DATE) counts at:
    every cut-off on or after its date; in an incremental run only those of the pairs computed,
    joined on the customer first, so that the other customers' documents are never expanded
    to every cut-off. -#}
{%- set document_cutoffs -%}
    {%- if is_incremental() -%}
        recomputed as cutoffs
            on
                DOCUMENTS.customer_id = cutoffs.customer_id
                and DOCUMENTS.DOCUMENT_DATE <= cutoffs.cutoff_date
    {%- else -%}
        cutoffs on DOCUMENTS.DOCUMENT_DATE <= cutoffs.cutoff_date
    {%- endif -%}
{%- endset %}

invoices as (
    select
        cutoffs.cutoff_date,
        invoices.invoice_id,
        invoices.customer_id,
        invoices.invoice_date,
        invoices.due_date,
        invoices.amount
    from {{ ref('stg_raw__invoices') }} as invoices
    inner join {{ document_cutoffs | replace('DOCUMENTS', 'invoices') | replace('DOCUMENT_DATE', 'invoice_date') }}
),

payments as (
    select
        cutoffs.cutoff_date,
        payments.customer_id,
        payments.invoice_id,
        payments.amount
    from {{ ref('stg_raw__payments') }} as payments
    inner join {{ document_cutoffs | replace('DOCUMENTS', 'payments') | replace('DOCUMENT_DATE', 'payment_date') }}
),

named_payments as (
    select
        payments.cutoff_date,
        payments.invoice_id,
        sum(payments.amount) as paid
    from payments
    inner join invoices
        on
            payments.cutoff_date = invoices.cutoff_date
            and payments.invoice_id = invoices.invoice_id
            and payments.customer_id = invoices.customer_id
    where invoices.amount > 0
    group by payments.cutoff_date, payments.invoice_id
),

after_named as (
    select
        invoices.*,
        least(greatest(coalesce(named_payments.paid, 0), 0), invoices.amount) as applied_named
    from invoices
    left join named_payments
        on
            invoices.cutoff_date = named_payments.cutoff_date
            and invoices.invoice_id = named_payments.invoice_id
    where invoices.amount > 0
),

credit_notes as (
    select
        cutoff_date,
        customer_id,
        sum(-amount) as credited
    from invoices
    where amount < 0
    group by cutoff_date, customer_id
),

paid_totals as (
    select
        cutoff_date,
        customer_id,
        sum(amount) as paid
    from payments
    group by cutoff_date, customer_id
),

applied_totals as (
    select
        cutoff_date,
        customer_id,
        sum(applied_named) as applied
    from after_named
    group by cutoff_date, customer_id
),

pools as (
    select
        coalesce(paid_totals.cutoff_date, credit_notes.cutoff_date) as cutoff_date,
        coalesce(paid_totals.customer_id, credit_notes.customer_id) as customer_id,
        coalesce(paid_totals.paid, 0) + coalesce(credit_notes.credited, 0) as credit
    from paid_totals
    full outer join credit_notes
        on
            paid_totals.cutoff_date = credit_notes.cutoff_date
            and paid_totals.customer_id = credit_notes.customer_id
),

pool_balances as (
    select
        pools.cutoff_date,
        pools.customer_id,
        pools.credit - coalesce(applied_totals.applied, 0) as pool
    from pools
    left join applied_totals
        on
            pools.cutoff_date = applied_totals.cutoff_date
            and pools.customer_id = applied_totals.customer_id
),

queued as (
    select
        after_named.*,
        after_named.amount - after_named.applied_named as remaining,
        coalesce(pool_balances.pool, 0) as pool,
        coalesce(sum(after_named.amount - after_named.applied_named) over (
            partition by after_named.cutoff_date, after_named.customer_id
            order by after_named.invoice_date, after_named.due_date, after_named.invoice_id
            rows between unbounded preceding and 1 preceding
        ), 0) as remaining_before
    from after_named
    left join pool_balances
        on
            after_named.cutoff_date = pool_balances.cutoff_date
            and after_named.customer_id = pool_balances.customer_id
),

open_items as (
    select
        cutoff_date,
        invoice_id,
        customer_id,
        invoice_date,
        due_date,
        amount,
        remaining - greatest(least(remaining, pool - remaining_before), 0) as open_amount
    from queued
),

-- The newest batch of invoices and payments this run has seen: the next run's watermark.
through as (
    select max(batch_id) as batch_id
    from (
        select batch_id from {{ ref('stg_raw__invoices') }}
        union all
        select batch_id from {{ ref('stg_raw__payments') }}
    ) as documents
)

select
    open_items.*,
    through.batch_id as through_batch_id
from open_items
cross join through
where open_items.open_amount > 0
{% if is_incremental() -%}
    union all
    select
        changed_customers.cutoff_date,
        null as invoice_id,
        changed_customers.customer_id,
        null as invoice_date,
        null as due_date,
        null as amount,
        null as open_amount,
        through.batch_id as through_batch_id
    from changed_customers
    cross join through
{%- endif %}
