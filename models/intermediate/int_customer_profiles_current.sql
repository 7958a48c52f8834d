-- Every known customer (CRM profile, any transaction, or a frozen rating whose lines a later
-- re-export moved away) with its current profile, its group and its rating unit: the customer
-- itself under rate_at customer, its group's top parent under rate_at group (one definition of
-- the unit, which every model that rates or rolls up by unit reads).
with accounts as (
    select * from {{ ref('stg_raw__crm_accounts') }}
),

-- Under rate_at group a top parent is a rating unit, so it is a known customer even when the
-- CRM only names it as a parent.
named_parents as (
    select parent_customer_id as customer_id from accounts
    where parent_customer_id is not null and '{{ var("rate_at") }}' = 'group'
),

transacting as (
    select distinct customer_id from {{ ref('int_customer_years') }}
),

rated as (
    select distinct customer_id from {{ ref('int_customer_ratings_frozen') }}
),

known as (
    select customer_id from accounts
    union
    select customer_id from transacting
    union
    select customer_id from rated
    union
    select customer_id from named_parents
),

-- Top parent of each group: parents are followed up to four levels, stopping at a cycle.
parents as (
    select
        known.customer_id,
        level1.parent_customer_id as parent1,
        level2.parent_customer_id as parent2,
        level3.parent_customer_id as parent3,
        level4.parent_customer_id as parent4
    from known
    left join accounts as level1 on known.customer_id = level1.customer_id
    left join accounts as level2 on level1.parent_customer_id = level2.customer_id
    left join accounts as level3 on level2.parent_customer_id = level3.customer_id
    left join accounts as level4 on level3.parent_customer_id = level4.customer_id
),

profiled as (
    select
        known.customer_id,
        accounts.customer_name,
        accounts.parent_customer_id,
        coalesce(
            case when parents.parent4 not in (parents.customer_id, parents.parent1, parents.parent2, parents.parent3)
                    then parents.parent4
            end,
            case when parents.parent3 not in (parents.customer_id, parents.parent1, parents.parent2)
                    then parents.parent3
            end,
            case when parents.parent2 not in (parents.customer_id, parents.parent1) then parents.parent2 end,
            case when parents.parent1 <> parents.customer_id then parents.parent1 end,
            known.customer_id
        ) as group_id,
        accounts.industry,
        accounts.region,
        accounts.city,
        accounts.account_owner,
        accounts.created_date,
        accounts.relationship_type,
        accounts.credit_rating,
        accounts.credit_limit,
        accounts.status as account_status,
        coalesce(accounts.strategic_flag, false) as strategic_flag,
        accounts.updated_at,
        accounts.customer_id is not null as in_crm
    from known
    left join accounts on known.customer_id = accounts.customer_id
    left join parents on known.customer_id = parents.customer_id
)

select
    *,
    case when '{{ var("rate_at") }}' = 'group' then group_id else customer_id end as rating_unit_id
from profiled
