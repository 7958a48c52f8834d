-- The key-account list (大客户清单) of every rating year, as the rules compute it.
-- Eligible: collection rate >= min (when known), gross margin > min (when known), CRM status
-- not excluded, credit rating not excluded. Listed: final class A and eligible, or an
-- `include` override; never with an `exclude` override. Stability: last year's listed
-- customer that falls below the A cut-off stays as `watch` while its rank is within
-- stability_buffer × n past the cut-off and it was not on watch already (so it drops in the
-- second year below). Level: strategic at >= strategic_revenue_share of the year's revenue
-- or with the CRM strategic flag, otherwise key.
with measured as (
    select * from {{ ref('int_customer_years_measured') }}
),

ranked as (
    select * from {{ ref('int_customer_years_ranked') }}
),

profiles as (
    select * from {{ ref('int_customer_profiles_current') }}
),

overrides as (
    select
        *,
        row_number() over (
            partition by customer_id, rating_year order by approved_on desc, override_id desc
        ) as recency
    from {{ ref('stg_raw__overrides') }}
),

year_totals as (
    select
        rating_year,
        sum(revenue) as total_revenue
    from measured
    group by rating_year
),

assessed as (
    select
        measured.customer_id,
        measured.rating_year,
        measured.revenue,
        measured.collections,
        measured.invoiced,
        measured.gross_margin,
        ranked.rank,
        ranked.a_count,
        ranked.active_customers,
        ranked.composite_class,
        ranked.class_collections,
        ranked.class_margin,
        ranked.cumulative_share,
        overrides.override_id,
        overrides.action as override_action,
        overrides.override_class,
        (
            measured.collections is null or measured.invoiced is null or measured.invoiced = 0
            or measured.collections >= {{ var('min_collection_rate') }} * measured.invoiced
        ) as passes_collection_rate,
        (measured.gross_margin is null or measured.gross_margin > {{ var('min_gross_margin') }})
            as passes_gross_margin,
        (
            profiles.account_status is null
            or profiles.account_status not in {{ sql_list(var('excluded_account_statuses')) }})
            as passes_account_status,
        (
            profiles.credit_rating is null
            or profiles.credit_rating not in {{ sql_list(var('excluded_credit_ratings')) }})
            as passes_credit_rating,
        case
            when year_totals.total_revenue > 0
                and measured.revenue >= {{ var('strategic_revenue_share') }} * year_totals.total_revenue
                then 'strategic'
            when profiles.strategic_flag then 'strategic'
            else 'key'
        end as computed_level
    from measured
    left join ranked
        on measured.customer_id = ranked.customer_id and measured.rating_year = ranked.rating_year
    left join profiles on measured.customer_id = profiles.customer_id
    left join year_totals on measured.rating_year = year_totals.rating_year
    left join overrides
        on
            measured.customer_id = overrides.customer_id
            and measured.rating_year = overrides.rating_year
            and overrides.recency = 1
),

decided as (
    select
        assessed.*,
        {{ abc_class_expression() }} as computed_class,
        assessed.passes_collection_rate and assessed.passes_gross_margin and assessed.passes_account_status
        and assessed.passes_credit_rating as eligible,
        case
            when assessed.override_action = 'set_class' then assessed.override_class
            else {{ abc_class_expression() }}
        end as final_class
    from assessed
),

core as (
    select
        decided.*,
        coalesce(
            coalesce(decided.override_action, '') <> 'exclude'
            and (
                coalesce(decided.override_action, '') = 'include'
                or (decided.final_class = 'A' and decided.eligible)
            ),
            false
        ) as core_listed
    from decided
),

-- Last year's list is the frozen one where that year was rated (kam rerate), else computed.
frozen as (
    select * from {{ ref('stg_ratings__approved') }}
),

frozen_years as (
    select distinct rating_year from frozen
),

with_previous as (
    select
        core.*,
        case
            when frozen_years.rating_year is not null
                then coalesce(frozen.list_status = 'listed', false)
            else coalesce(previous.core_listed, false)
        end as previously_core_listed
    from core
    left join core as previous
        on core.customer_id = previous.customer_id and core.rating_year = previous.rating_year + 1
    left join frozen_years on core.rating_year = frozen_years.rating_year + 1
    left join frozen
        on core.customer_id = frozen.customer_id and core.rating_year = frozen.rating_year + 1
)

select
    customer_id,
    rating_year,
    revenue,
    rank,
    a_count,
    active_customers,
    computed_class,
    final_class,
    eligible,
    passes_collection_rate,
    passes_gross_margin,
    passes_account_status,
    passes_credit_rating,
    computed_level,
    override_id,
    override_action,
    case
        when core_listed then 'listed'
        when
            coalesce(override_action, '') <> 'exclude'
            and previously_core_listed
            and eligible
            and rank is not null
            and rank - a_count <= {{ var('stability_buffer') }} * active_customers
            then 'watch'
    end as list_status
from with_previous
