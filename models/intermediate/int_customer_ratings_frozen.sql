-- The frozen ratings in force (年度重新评级): per rating year, the rows of its approved rating
-- run, with the metrics they were made from. During `kam rerate --approved-by`, the run being
-- approved is taken as approved (KAM_CANDIDATE_RUN_ID in the environment), so that the gate audits it before its
-- approval is recorded; it replaces its year's approved run (kam rerate --force).
with runs as (
    select
        run_id,
        rating_year,
        rules_hash,
        -- The rating unit it was made at (runs recorded before kam wrote the rules: customer,
        -- the only one there was).
        coalesce({{ json_text('rules', 'rate_at') }}, 'customer') as rate_at,
        as_of,
        supersedes_run_id,
        case
            when run_id = '{{ env_var("KAM_CANDIDATE_RUN_ID", "") }}'
                then '{{ env_var("KAM_CANDIDATE_APPROVED_BY", "") | replace("'", "''") }}'
            else approved_by
        end as approved_by,
        case
            when run_id = '{{ env_var("KAM_CANDIDATE_RUN_ID", "") }}'
                then cast('{{ env_var("KAM_CANDIDATE_APPROVED_AT", "1970-01-01 00:00:00") }}' as timestamp)
            else approved_at
        end as approved_at
    from {{ source('ratings', 'rating_runs') }}
    where
        run_id = '{{ env_var("KAM_CANDIDATE_RUN_ID", "") }}'
        or (
            status = 'approved'
            and rating_year not in (
                select candidate.rating_year from {{ source('ratings', 'rating_runs') }} as candidate
                where candidate.run_id = '{{ env_var("KAM_CANDIDATE_RUN_ID", "") }}'
            )
        )
),

frozen as (
    select * from {{ source('ratings', 'customer_ratings') }}
)

select
    frozen.run_id,
    {{ frozen_rating_columns('frozen') }},
    runs.rules_hash,
    runs.rate_at,
    runs.as_of,
    runs.approved_by,
    runs.approved_at,
    runs.supersedes_run_id
from frozen
inner join runs on frozen.run_id = runs.run_id
