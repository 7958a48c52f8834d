-- CRM profile history (SCD type 2): one row per version while it was valid. Rebuilt from every
-- loaded export version, so history survives a rebuilt warehouse and exports loaded together.
with versions as (
    select
        *,
        coalesce(updated_at, cast(loaded_at as timestamp)) as version_at
    from {{ ref('int_crm_account_versions') }}
),

changed as (
    select
        *,
        lag({{ dbt.hash(dbt.concat(version_columns_as_text())) }}) over (
            partition by customer_id order by version_at, batch_id, row_number
        ) as previous_hash,
        {{ dbt.hash(dbt.concat(version_columns_as_text())) }} as version_hash
    from versions
),

distinct_versions as (
    select * from changed
    where previous_hash is null or previous_hash <> version_hash
)

select
    customer_id,
    customer_name,
    parent_customer_id,
    industry,
    region,
    city,
    account_owner,
    relationship_type,
    credit_rating,
    credit_limit,
    status as account_status,
    strategic_flag,
    version_at as valid_from,
    lead(version_at) over (partition by customer_id order by version_at, batch_id, row_number)
        as valid_to,
    lead(version_at) over (partition by customer_id order by version_at, batch_id, row_number)
    is null as is_current,
    batch_id
from distinct_versions
