-- The dates at which open receivables are needed: every rating year's end, and the aging date.
with years as (
    select distinct
        rating_year,
        year_end
    from {{ ref('int_customer_years') }}
),

latest_dates as (
    select max(order_date) as latest_date from {{ ref('stg_raw__order_lines') }}
    union all
    select max(invoice_date) from {{ ref('stg_raw__invoices') }}
    union all
    select max(payment_date) from {{ ref('stg_raw__payments') }}
),

aging_date as (
    select
        {% if var('aging_as_of_date') -%}
            cast('{{ var("aging_as_of_date") }}' as date)
        {%- else -%}
            max(latest_date)
        {%- endif %} as as_of_date
    from latest_dates
)

select
    years.year_end as as_of_date,
    true as is_year_end,
    false as is_aging_date
from years
where years.year_end not in (
        select aging_date.as_of_date from aging_date
        where aging_date.as_of_date is not null
    )
union all
select
    aging_date.as_of_date,
    aging_date.as_of_date in (select years.year_end from years) as is_year_end,
    true as is_aging_date
from aging_date
where aging_date.as_of_date is not null
