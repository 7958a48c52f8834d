-- ABC classification (ABC客户分析法, seed 002) of the customers active in each rating year.
-- Composite score: weighted percentile ranks of the scale indicator (collections 回款额, or
-- revenue without payments) and the contribution indicator (gross margin 毛利额, dropped
-- without cost), renormalised over the indicators that exist. Ranks are integers, so the
-- score is compared exactly: (weight_s·rank_s + weight_c·rank_c) in decimals.
{%- set weight_scale = var('weight_scale') | float -%}
{%- set weight_contribution = var('weight_contribution') | float %}

with measured as (
    select * from {{ ref('int_customer_years_measured') }}
    where active
),

presence as (
    select * from {{ ref('stg_raw__source_presence') }}
),

indicators as (
    select
        measured.*,
        case when presence.has_payments then coalesce(measured.collections, 0) else measured.revenue end
            as scale_value,
        case when presence.has_cost then coalesce(measured.gross_margin, 0) end as contribution_value,
        presence.has_payments,
        presence.has_cost,
        count(*) over (partition by measured.rating_year) as active_customers
    from measured
    cross join presence
),

percentiles as (
    select
        indicators.*,
        rank() over (partition by indicators.rating_year order by indicators.scale_value) - 1 as scale_rank,
        rank() over (partition by indicators.rating_year order by indicators.contribution_value) - 1 as contribution_rank,
        case when indicators.has_cost
                then cast({{ weight_scale + weight_contribution }} as decimal(18, 6))
            else cast({{ weight_scale }} as decimal(18, 6))
        end as weight_total
    from indicators
),

scored as (
    select
        percentiles.*,
        cast({{ weight_scale }} as decimal(18, 6)) * percentiles.scale_rank
        + case when percentiles.has_cost then cast({{ weight_contribution }} as decimal(18, 6)) * percentiles.contribution_rank else 0 end
            as score_exact
    from percentiles
),

ordered as (
    select
        scored.*,
        case when scored.active_customers > 1 and scored.weight_total > 0
                then cast(scored.score_exact as double) / ((scored.active_customers - 1) * cast(scored.weight_total as double))
            else 0
        end as score,
        row_number() over (partition by scored.rating_year order by scored.score_exact desc, scored.customer_id asc) as rank,
        row_number() over (
            partition by scored.rating_year order by coalesce(scored.collections, 0) desc, scored.customer_id asc
        ) as collections_rank,
        row_number() over (
            partition by scored.rating_year order by coalesce(scored.gross_margin, 0) desc, scored.customer_id asc
        ) as margin_rank,
        {{ abc_count('active_customers', 0) }} as a_count,
        {{ abc_count('active_customers', 1) }} as b_count,
        sum(scored.scale_value) over (partition by scored.rating_year) as scale_total
    from scored
),

classed as (
    select
        ordered.*,
        sum(ordered.scale_value) over (
            partition by ordered.rating_year order by ordered.rank rows between unbounded preceding and current row
        ) as scale_running
    from ordered
)

select
    customer_id,
    rating_year,
    active_customers,
    a_count,
    b_count,
    scale_value,
    contribution_value,
    score_exact,
    score,
    rank,
    case when scale_total <> 0 then scale_running / scale_total end as cumulative_share,
    {{ class_by_rank('rank') }} as composite_class,
    case when has_payments then {{ class_by_rank('collections_rank') }} end as class_collections,
    case when has_cost then {{ class_by_rank('margin_rank') }} end as class_margin
from classed
