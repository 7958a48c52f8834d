-- The key-account list (大客户清单) of every rating year, as the rules compute it, with the
-- metrics each rating is made from (what `kam rerate` freezes). It lists rating units
-- (int_rating_unit_years_measured): customers, or under rate_at group groups named by their top
-- parent, whose figures are the group's sums and whose profile (CRM status, credit rating and
-- limit, strategic flag) is the top parent's; an override names the unit.
-- Eligible: collection rate >= min (when known), gross margin > min (when known), CRM status
-- not excluded, credit rating not excluded, and, when their bounds are set, the returned share
-- of revenue and the complaints (质量损失) within them. Listed: final class A and eligible, or an
-- `include` override; never with an `exclude` override. Stability: last year's listed
-- customer that falls below the A cut-off stays as `watch` while its position is within
-- stability_buffer × n past the cut-off and it was not on watch already (so it drops in the
-- second year below); last year's list is the one in force (int_rating_years). Level:
-- strategic at >= strategic_revenue_share of the year's revenue or with the CRM strategic
-- flag, otherwise key. Risk: overdue share above risk_overdue_share or open AR above the
-- credit limit. Satisfaction (when min_satisfaction_score is set): a listed account whose mean
-- satisfaction score is below it is on watch instead, and at risk. With risk_overdue_days set,
-- an invoice open more than that many days past due at year end is a risk too. Credit support
-- (信用支持): a clean payment record (collection rate and overdue share within their bounds,
-- open AR within the credit limit, no risk), for listed accounts (int_customer_ratings_computed).
{%- set max_returned_share = var('max_returned_share') %}
{%- set max_complaint_count = var('max_complaint_count') %}
{%- set min_satisfaction_score = var('min_satisfaction_score') %}
{%- set risk_overdue_days = var('risk_overdue_days') %}
with measured as (
    select * from {{ ref('int_rating_unit_years_measured') }}
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
        case when year_totals.total_revenue > 0 then cast(measured.revenue as double) / cast(year_totals.total_revenue as double) end
            as revenue_share,
        measured.collections,
        measured.invoiced,
        measured.gross_margin,
        measured.collection_rate,
        measured.dso_days,
        measured.open_receivables,
        measured.overdue_share,
        profiles.credit_limit,
        ranked.score,
        ranked.cumulative_share,
        ranked.class_rank as rank,
        ranked.class_a_count as a_count,
        ranked.active_customers,
        ranked.abc_class,
        overrides.override_id,
        overrides.action as override_action,
        overrides.override_class,
        (
            measured.collections is null or measured.invoiced is null or measured.invoiced = 0
            or measured.collections >= {{ var('min_collection_rate') }} * measured.invoiced
        ) as passes_collection_rate,
        (measured.gross_margin is null or measured.gross_margin > {{ var('min_gross_margin') }})
            as passes_gross_margin,
        {% if max_returned_share is none -%}
            true
        {%- else -%}
            (measured.revenue <= 0 or measured.returned_amount <= {{ max_returned_share }} * measured.revenue)
        {%- endif %} as passes_returned_share,
        {% if max_complaint_count is none -%}
            true
        {%- else -%}
            coalesce(measured.complaint_count <= {{ max_complaint_count }}, true)
        {%- endif %} as passes_complaints,
        {% if min_satisfaction_score is none -%}
            false
        {%- else -%}
            coalesce(measured.satisfaction_score < {{ min_satisfaction_score }}, false)
        {%- endif %} as low_satisfaction,
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
        end as computed_level,
        coalesce(measured.overdue_share > {{ var('risk_overdue_share') }}, false)
        or coalesce(measured.open_receivables > profiles.credit_limit, false)
        {%- if min_satisfaction_score is not none %}
        or coalesce(measured.satisfaction_score < {{ min_satisfaction_score }}, false)
        {%- endif %}
        {%- if risk_overdue_days is not none %}
        or coalesce(measured.max_days_past_due > {{ risk_overdue_days }}, false)
        {%- endif %} as risk_flag,
        coalesce(
            measured.collections >= {{ var('credit_support_min_collection_rate') }} * measured.invoiced
            and measured.invoiced > 0
            and coalesce(measured.overdue_share, 0) <= {{ var('credit_support_max_overdue_share') }}
            and (profiles.credit_limit is null or measured.open_receivables <= profiles.credit_limit),
            false
        ) as clean_payment_record
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
        assessed.abc_class as computed_class,
        assessed.passes_collection_rate and assessed.passes_gross_margin and assessed.passes_account_status
        and assessed.passes_credit_rating and assessed.passes_returned_share and assessed.passes_complaints
            as eligible,
        case
            when assessed.override_action = 'set_class' then assessed.override_class
            else assessed.abc_class
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

-- "On last year's list" means listed (not watch) in the list in force for last year: the
-- frozen one where that year is rated, else the computed one (whose listed members are the
-- core listing less the accounts on watch for low satisfaction, neither of which depends on
-- the year before).
rating_years as (
    select * from {{ ref('int_rating_years') }}
),

frozen as (
    select * from {{ ref('int_customer_ratings_frozen') }}
),

with_previous as (
    select
        core.*,
        case
            -- A list made at another rating unit (rate_at) is not this year's to compare with.
            when previous_year.rate_at <> '{{ var("rate_at") }}' then false
            when previous_year.rating_status = 'approved'
                then coalesce(frozen.list_status = 'listed', false)
            else coalesce(previous.core_listed and not previous.low_satisfaction, false)
        end as previously_core_listed
    from core
    left join rating_years as previous_year on core.rating_year = previous_year.rating_year + 1
    left join core as previous
        on core.customer_id = previous.customer_id and core.rating_year = previous.rating_year + 1
    left join frozen
        on core.customer_id = frozen.customer_id and core.rating_year = frozen.rating_year + 1
)

select
    customer_id,
    rating_year,
    revenue,
    revenue_share,
    collections,
    gross_margin,
    collection_rate,
    dso_days,
    open_receivables,
    overdue_share,
    credit_limit,
    risk_flag,
    clean_payment_record and not risk_flag as qualifies_credit_support,
    score,
    cumulative_share,
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
    passes_returned_share,
    passes_complaints,
    low_satisfaction,
    computed_level,
    override_id,
    override_action,
    case
        when core_listed and not low_satisfaction then 'listed'
        when core_listed then 'watch'
        when
            coalesce(override_action, '') <> 'exclude'
            and previously_core_listed
            and eligible
            and rank is not null
            and rank - a_count <= {{ var('stability_buffer') }} * active_customers
            then 'watch'
    end as list_status
from with_previous
