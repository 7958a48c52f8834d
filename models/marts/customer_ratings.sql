-- The rating of every customer for the latest closed rating year (the year ending before the
-- run's as-of date), as computed now. `kam rerate` freezes these rows per year.
with status as (
    select * from {{ ref('int_key_account_status') }}
),

changes as (
    select * from {{ ref('int_key_account_changes') }}
),

closed_year as (
    select max(rating_year) as rating_year
    from {{ ref('int_customer_years') }}
    where year_end < {{ as_of_date() }}
),

rated as (
    select status.*
    from status
    inner join closed_year on status.rating_year = closed_year.rating_year
),

left_the_list as (
    select
        changes.customer_id,
        changes.rating_year
    from changes
    inner join closed_year on changes.rating_year = closed_year.rating_year
    where changes.change = 'left'
        and not exists (
            select 1 from rated
            where rated.customer_id = changes.customer_id
        )
),

all_rated as (
    select
        customer_id,
        rating_year,
        computed_class,
        eligible,
        computed_level,
        final_class,
        list_status,
        override_id,
        rank
    from rated
    union all
    select
        customer_id,
        rating_year,
        null as computed_class,
        null as eligible,
        null as computed_level,
        null as final_class,
        null as list_status,
        null as override_id,
        null as rank
    from left_the_list
)

select
    all_rated.customer_id,
    all_rated.rating_year,
    all_rated.computed_class,
    all_rated.eligible,
    all_rated.computed_level,
    all_rated.final_class,
    all_rated.list_status,
    case when all_rated.list_status is not null then all_rated.computed_level end as level,
    all_rated.override_id,
    changes.change,
    all_rated.rank,
    cast('{{ var("run_id", "adhoc") }}' as varchar) as run_id,
    cast('{{ var("rules_hash", "") }}' as varchar) as rules_hash,
    cast(null as varchar) as approved_by,
    cast(null as timestamp) as approved_at
from all_rated
left join changes
    on all_rated.customer_id = changes.customer_id and all_rated.rating_year = changes.rating_year
