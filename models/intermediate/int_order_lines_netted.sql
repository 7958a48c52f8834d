-- Each current order line with what it counts for (PRODUCT.md section 3): completed lines add
-- their amount with its sign, returned lines subtract |amount|, cancelled lines count nowhere.
--
-- Incremental: a run reads only the batches loaded since the last run (batch ids grow with
-- every load). A line a new batch re-exports replaces its earlier version through the unique
-- key; superseded rows never come back, so nothing else has to be deleted. Nothing here
-- depends on a rule var, so a change of rules never leaves stale rows behind.
{{ config(
    materialized=kam.incremental_materialization(),
    unique_key=['order_id', 'line_no'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
) }}

with order_lines as (
    select * from {{ ref('stg_raw__order_lines') }}
    {% if is_incremental() -%}
        where batch_id > (select coalesce(max(loaded.batch_id), 0) from {{ this }} as loaded)
    {%- endif %}
)

select
    order_id,
    line_no,
    customer_id,
    order_date,
    cast({{ dbt.date_trunc('month', 'order_date') }} as date) as order_month,
    status,
    quantity,
    amount,
    cost_amount,
    case
        when status = 'completed' then amount
        when status = 'returned' then -abs(amount)
        else 0
    end as net_revenue,
    case
        when status = 'completed' then cost_amount
        when status = 'returned' then -abs(cost_amount)
    end as net_cost,
    case when status = 'returned' then abs(amount) else 0 end as returned_amount,
    status in ('completed', 'returned') and cost_amount is not null as has_counted_cost,
    status = 'completed' and quantity > 0 and amount > 0 as is_active_line,
    batch_id
from order_lines
