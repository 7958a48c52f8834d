-- Order activity per customer and calendar month: the grain every yearly, monthly and star
-- figure is summed from (a fiscal year is a run of whole months), so later models never scan
-- order lines again.
--
-- Incremental: a run recomputes only the customer-months touched since the last run, those of
-- lines in new batches and those of the earlier versions these lines superseded (a corrected
-- line may move to another customer or month). A touched customer-month left with no line is
-- written with line_count 0 and deleted by the post-hook.
{{ config(
    materialized=kam.incremental_materialization(),
    unique_key=['customer_id', 'order_month'],
    incremental_strategy='delete+insert',
    on_schema_change='fail',
    post_hook=kam.incremental_hooks(["delete from {{ this }} where line_count = 0"]),
) }}

with lines as (
    select * from {{ ref('int_order_lines_netted') }}
),

{% if is_incremental() -%}
    watermark as (
        select coalesce(max(last_batch_id), 0) as batch_id from {{ this }}
    ),

    touched as (
        select distinct
            orders.customer_id,
            cast({{ dbt.date_trunc('month', 'orders.order_date') }} as date) as order_month
        from {{ source('raw', 'orders') }} as orders
        cross join watermark
        where orders.batch_id > watermark.batch_id or orders.superseded_by > watermark.batch_id
    ),

    lines_in_scope as (
        select
            touched.customer_id,
            touched.order_month,
            lines.order_date,
            lines.cost_amount,
            lines.net_revenue,
            lines.net_cost,
            lines.returned_amount,
            lines.has_counted_cost,
            lines.is_active_line,
            lines.batch_id
        from touched
        left join lines
            on
                touched.customer_id = lines.customer_id
                and touched.order_month = lines.order_month
    )
{%- else -%}
    lines_in_scope as (
        select * from lines
    )
{%- endif %}

select
    customer_id,
    order_month,
    sum(net_revenue) as revenue,
    sum(net_cost) as net_cost,
    coalesce(bool_or(has_counted_cost), false) as has_cost,
    sum(returned_amount) as returned_amount,
    coalesce(bool_or(is_active_line), false) as active,
    count(batch_id) as line_count,
    count(cost_amount) as lines_with_cost,
    min(order_date) as first_order_date,
    max(order_date) as last_order_date,
    max(batch_id) as last_batch_id
from lines_in_scope
group by customer_id, order_month
