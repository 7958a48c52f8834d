with overrides as (
    select * from {{ source('raw', 'overrides') }}
)

select
    override_id,
    customer_id,
    rating_year,
    action,
    override_class,
    reason,
    approved_by,
    approved_on,
    expires_on
from overrides
