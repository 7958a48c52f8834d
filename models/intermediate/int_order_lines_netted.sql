-- Each current order line with what it counts for (PRODUCT.md section 3): completed lines add
-- their amount with its sign, returned lines subtract |amount|, cancelled lines count nowhere.
with order_lines as (
    select * from {{ ref('stg_raw__order_lines') }}
)

select
    order_id,
    line_no,
    customer_id,
    order_date,
    {{ fiscal_year('order_date') }} as rating_year,
    {{ dbt.date_trunc('month', 'order_date') }} as order_month,
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
    status = 'completed' and quantity > 0 and amount > 0 as is_active_line
from order_lines
