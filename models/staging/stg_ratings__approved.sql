-- The frozen ratings in force: per rating year, those of its approved rating run. During
-- `kam rerate --approved-by`, the run being approved is taken as approved (var
-- candidate_run_id) so that the gate audits it before its approval is recorded.
with runs as (
    select
        run_id,
        rating_year,
        rules_hash,
        as_of,
        supersedes_run_id,
        case
            when run_id = '{{ var("candidate_run_id", "") }}'
                then '{{ var("candidate_approved_by", "") }}'
            else approved_by
        end as approved_by,
        case
            when run_id = '{{ var("candidate_run_id", "") }}'
                then cast('{{ var("candidate_approved_at", "1970-01-01 00:00:00") }}' as timestamp)
            else approved_at
        end as approved_at
    from {{ source('ratings', 'rating_runs') }}
    where
        run_id = '{{ var("candidate_run_id", "") }}'
        or (
            status = 'approved'
            -- the candidate replaces its year's approved run (kam rerate --force)
            and rating_year not in (
                select candidate.rating_year from {{ source('ratings', 'rating_runs') }} as candidate
                where candidate.run_id = '{{ var("candidate_run_id", "") }}'
            )
        )
),

frozen as (
    select * from {{ source('ratings', 'customer_ratings') }}
)

select
    frozen.run_id,
    frozen.customer_id,
    frozen.rating_year,
    frozen.computed_class,
    frozen.eligible,
    frozen.computed_level,
    frozen.final_class,
    frozen.list_status,
    frozen.level,
    frozen.override_id,
    frozen.change,
    frozen.rank,
    frozen.revenue,
    frozen.gross_margin,
    frozen.collections,
    frozen.collection_rate,
    frozen.driver,
    runs.rules_hash,
    runs.as_of,
    runs.approved_by,
    runs.approved_at,
    runs.supersedes_run_id
from frozen
inner join runs on frozen.run_id = runs.run_id
