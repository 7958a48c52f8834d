-- Receivables aging (账龄) at the aging as-of date: open amount per customer in buckets of
-- days past due (as_of − due_date): not due (<= 0), 1–30, 31–60, 61–90, > 90 by default.
{%- set bounds = var('aging_buckets') %}

with as_of as (
    select
        as_of_date,
        cutoff_date
    from {{ ref('int_receivables_as_of_dates') }}
    where is_aging_date
),

open_items as (
    select
        as_of.as_of_date,
        open_items.customer_id,
        open_items.open_amount,
        {{ days_between('open_items.due_date', 'as_of.as_of_date') }} as days_past_due
    from {{ ref('int_receivables_open_items') }} as open_items
    inner join as_of on open_items.cutoff_date = as_of.cutoff_date
    where open_items.open_amount > 0
)

select
    as_of_date,
    customer_id,
    sum(case when days_past_due <= 0 then open_amount else 0 end) as not_due,
    sum(case when days_past_due between 1 and {{ bounds[0] }} then open_amount else 0 end) as d1_30,
    sum(case when days_past_due between {{ bounds[0] + 1 }} and {{ bounds[1] }} then open_amount else 0 end)
        as d31_60,
    sum(case when days_past_due between {{ bounds[1] + 1 }} and {{ bounds[2] }} then open_amount else 0 end)
        as d61_90,
    sum(case when days_past_due > {{ bounds[2] }} then open_amount else 0 end) as d90_plus,
    sum(open_amount) as open_amount
from open_items
group by as_of_date, customer_id
