-- Every customer on the key-account list passes every eligibility rule, unless an `include`
-- override put it there (the gate reports those), and no closed or blacklisted account is on it.
with ratings as (
    select * from {{ ref('int_key_account_status') }}
),

profiles as (
    select * from {{ ref('int_customer_profiles_current') }}
)

select
    ratings.customer_id,
    ratings.rating_year,
    ratings.list_status,
    ratings.eligible,
    profiles.account_status
from ratings
left join profiles on ratings.customer_id = profiles.customer_id
where
    ratings.list_status is not null
    and coalesce(ratings.override_action, '') <> 'include'
    and (
        not ratings.eligible
        or profiles.account_status in {{ sql_list(var('excluded_account_statuses')) }}
    )
