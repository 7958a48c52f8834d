-- Every customer's rating of every year in force, with its change against the year before:
-- the frozen, approved rating where the year is rated (kam rerate), else the one computed by
-- this run (int_rating_years decides which). Every published rating, list and change reads it.
with rating_years as (
    select * from {{ ref('int_rating_years') }}
),

frozen as (
    select * from {{ ref('int_customer_ratings_frozen') }}
),

computed as (
    select * from {{ ref('int_customer_ratings_computed') }}
)

select
    {{ frozen_rating_columns('frozen') }},
    frozen.run_id,
    frozen.rules_hash,
    frozen.approved_by,
    frozen.approved_at,
    'approved' as rating_status
from frozen
union all
select
    {{ frozen_rating_columns('computed') }},
    cast('{{ var("run_id", none) or env_var("KAM_RUN_ID", "") or "adhoc" }}' as {{ dbt.type_string() }}) as run_id,
    cast('{{ var("rules_hash", "") }}' as {{ dbt.type_string() }}) as rules_hash,
    cast(null as {{ dbt.type_string() }}) as approved_by,
    cast(null as timestamp) as approved_at,
    'computed' as rating_status
from computed
inner join rating_years
    on computed.rating_year = rating_years.rating_year and rating_years.rating_status = 'computed'
