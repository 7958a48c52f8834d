-- The dates at which open receivables are needed: every rating year's end, and the aging date.
-- Each has the cut-off of documents it needs (int_receivables_open_items): the date itself, or
-- 9999-12-31 ("every document") when no invoice or payment is dated after it, so that the
-- aging date and the end of the running year share one cut-off that a new day does not move.
with years as (
    select distinct
        rating_year,
        year_end
    from {{ ref('int_customer_years') }}
),

document_dates as (
    select max(invoice_date) as latest_date from {{ ref('stg_raw__invoices') }}
    union all
    select max(payment_date) from {{ ref('stg_raw__payments') }}
),

latest_documents as (
    select max(latest_date) as latest_document_date from document_dates
),

latest_dates as (
    select
        latest_document_date,
        greatest(
            latest_document_date,
            (select max(months.last_order_date) from {{ ref('int_customer_months') }} as months)
        ) as latest_date
    from latest_documents
),

-- The aging date: `kam build/run --aging-as-of` (KAM_AGING_AS_OF_DATE), else the latest order,
-- invoice or payment date.
aging_date as (
    select
        {% if aging_as_of_date() -%}
            cast('{{ aging_as_of_date() }}' as date)
        {%- else -%}
            latest_date
        {%- endif %} as as_of_date
    from latest_dates
),

as_of_dates as (
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
)

select
    as_of_dates.as_of_date,
    as_of_dates.is_year_end,
    as_of_dates.is_aging_date,
    case
        when
            latest_dates.latest_document_date is null
            or as_of_dates.as_of_date >= latest_dates.latest_document_date
            then cast('9999-12-31' as date)
        else as_of_dates.as_of_date
    end as cutoff_date
from as_of_dates
cross join latest_dates
