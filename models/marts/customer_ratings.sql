-- Customer ratings (客户评级): the frozen, approved annual ratings of every rated year
-- (kam rerate, 年度重新评级). Before any year has been rated, the rating of the latest closed
-- year as computed by this run stands in (rating_status 'computed', no approver).
with approved as (
    select * from {{ ref('stg_ratings__approved') }}
),

computed as (
    select * from {{ ref('int_customer_ratings_computed') }}
),

closed_year as (
    select max(rating_year) as rating_year
    from {{ ref('int_customer_years') }}
    where year_end < {{ as_of_date() }}
)

select
    customer_id,
    rating_year,
    computed_class,
    eligible,
    computed_level,
    final_class,
    list_status,
    level,
    override_id,
    change,
    rank,
    run_id,
    rules_hash,
    approved_by,
    approved_at,
    'approved' as rating_status
from approved
union all
select
    computed.customer_id,
    computed.rating_year,
    computed.computed_class,
    computed.eligible,
    computed.computed_level,
    computed.final_class,
    computed.list_status,
    computed.level,
    computed.override_id,
    computed.change,
    computed.rank,
    cast('{{ var("run_id", none) or env_var("KAM_RUN_ID", "") or "adhoc" }}' as varchar) as run_id,
    cast('{{ var("rules_hash", "") }}' as varchar) as rules_hash,
    cast(null as varchar) as approved_by,
    cast(null as timestamp) as approved_at,
    'computed' as rating_status
from computed
inner join closed_year on computed.rating_year = closed_year.rating_year
where not exists (select 1 from approved)
