-- Every metric of PRODUCT.md section 3 per customer and rating year. Metrics whose source is
-- absent are NULL; with the source present and nothing in it that year they are 0.
with customer_years as (
    select * from {{ ref('int_customer_years') }}
),

presence as (
    select * from {{ ref('int_source_presence') }}
),

order_totals as (
    select
        customer_id,
        {{ fiscal_year('order_month') }} as rating_year,
        sum(revenue) as revenue,
        sum(net_cost) as net_cost,
        bool_or(has_cost) as has_cost,
        sum(returned_amount) as returned_amount,
        bool_or(active) as active
    from {{ ref('int_customer_months') }}
    group by customer_id, {{ fiscal_year('order_month') }}
),

invoice_totals as (
    select
        customer_id,
        {{ fiscal_year('invoice_date') }} as rating_year,
        sum(amount) as invoiced
    from {{ ref('stg_raw__invoices') }}
    group by customer_id, {{ fiscal_year('invoice_date') }}
),

payment_totals as (
    select
        customer_id,
        {{ fiscal_year('payment_date') }} as rating_year,
        sum(amount) as collections
    from {{ ref('stg_raw__payments') }}
    group by customer_id, {{ fiscal_year('payment_date') }}
),

open_at_year_end as (
    select
        customer_years.customer_id,
        customer_years.rating_year,
        sum(open_items.open_amount) as open_receivables,
        sum(case when open_items.due_date < customer_years.year_end then open_items.open_amount else 0 end)
            as overdue_amount,
        max(case
            when open_items.due_date < customer_years.year_end and open_items.open_amount > 0
                then {{ days_between('open_items.due_date', 'customer_years.year_end') }}
        end) as max_days_past_due
    from customer_years
    inner join {{ ref('int_receivables_as_of_dates') }} as as_of_dates
        on customer_years.year_end = as_of_dates.as_of_date
    inner join {{ ref('int_receivables_open_items') }} as open_items
        on
            customer_years.customer_id = open_items.customer_id
            and as_of_dates.cutoff_date = open_items.cutoff_date
    group by customer_years.customer_id, customer_years.rating_year
),

-- Complaints (质量损失) and the mean satisfaction score of the year's scored activities.
activity_totals as (
    select
        customer_id,
        {{ fiscal_year('activity_date') }} as rating_year,
        count(*) filter (where activity_type = 'complaint') as complaint_count,
        avg(cast(satisfaction_score as double)) as satisfaction_score
    from {{ ref('stg_raw__crm_activities') }}
    group by customer_id, {{ fiscal_year('activity_date') }}
),

measured as (
    select
        customer_years.customer_id,
        customer_years.rating_year,
        customer_years.year_start,
        customer_years.year_end,
        {{ days_between('customer_years.year_start', 'customer_years.year_end') }} + 1 as days_in_year,
        coalesce(order_totals.revenue, 0) as revenue,
        case
            when order_totals.has_cost then coalesce(order_totals.revenue, 0) - order_totals.net_cost
        end as gross_margin,
        case when presence.has_payments then coalesce(payment_totals.collections, 0) end as collections,
        case when presence.has_invoices then coalesce(invoice_totals.invoiced, 0) end as invoiced,
        case when presence.has_invoices then coalesce(open_at_year_end.open_receivables, 0) end
            as open_receivables,
        case when presence.has_invoices then coalesce(open_at_year_end.overdue_amount, 0) end
            as overdue_amount,
        case when presence.has_invoices then coalesce(open_at_year_end.max_days_past_due, 0) end
            as max_days_past_due,
        coalesce(order_totals.returned_amount, 0) as returned_amount,
        case when presence.has_crm_activities then coalesce(activity_totals.complaint_count, 0) end
            as complaint_count,
        activity_totals.satisfaction_score,
        coalesce(order_totals.active, false) as active
    from customer_years
    cross join presence
    left join order_totals
        on customer_years.customer_id = order_totals.customer_id
            and customer_years.rating_year = order_totals.rating_year
    left join invoice_totals
        on customer_years.customer_id = invoice_totals.customer_id
            and customer_years.rating_year = invoice_totals.rating_year
    left join payment_totals
        on customer_years.customer_id = payment_totals.customer_id
            and customer_years.rating_year = payment_totals.rating_year
    left join open_at_year_end
        on customer_years.customer_id = open_at_year_end.customer_id
            and customer_years.rating_year = open_at_year_end.rating_year
    left join activity_totals
        on customer_years.customer_id = activity_totals.customer_id
            and customer_years.rating_year = activity_totals.rating_year
)

{{ select_with_derived_metrics('measured') }}
