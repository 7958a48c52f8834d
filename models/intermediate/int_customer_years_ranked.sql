-- ABC classification (ABC客户分析法, seed 002) of the rating units active in each rating year:
-- customers, or under rate_at group the groups named by their top parent with their customers'
-- figures summed (int_rating_unit_years_measured); "customer" below means the unit.
-- Composite score: weighted percentile ranks of the scale indicator (collections 回款额, or
-- revenue without payments) and the contribution indicator (gross margin 毛利额, dropped
-- without cost), renormalised over the indicators that exist. Ranks are integers, so the
-- score is compared exactly: (weight_s·rank_s + weight_c·rank_c) in decimals.
-- The Pareto alternative (value_share_class) orders the same customers by the scale value
-- alone; abc_method chooses which of the two decides the class, and its order (class_rank,
-- class_a_count) is the one the stability buffer counts positions in.
{%- set weight_scale = var('weight_scale') | float -%}
{%- set weight_contribution = var('weight_contribution') | float %}

with measured as (
    select * from {{ ref('int_rating_unit_years_measured') }}
    where active
),

presence as (
    select * from {{ ref('int_source_presence') }}
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
        -- bigint on every engine (Spark's row_number() is an int)
        cast(row_number() over (partition by scored.rating_year order by scored.score_exact desc, scored.customer_id asc) as bigint)
            as rank,
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
        ) as scale_running,
        cast(row_number() over (
            partition by ordered.rating_year order by ordered.scale_value desc, ordered.customer_id asc
        ) as bigint) as value_position,
        coalesce(sum(ordered.scale_value) over (
            partition by ordered.rating_year
            order by ordered.scale_value desc, ordered.customer_id asc
            rows between unbounded preceding and 1 preceding
        ), 0) as scale_before
    from ordered
),

-- Pareto on the scale value: share_before = Σ scale value strictly before / the year's Σ,
-- compared exactly (scale_before < cut-off × total); the first customer is always A.
pareto as (
    select
        classed.*,
        {{ class_by_value_share('classed.value_position', 'classed.scale_before', 'classed.scale_total') }}
            as value_share_class
    from classed
),

pareto_counted as (
    select
        pareto.*,
        count(case when pareto.value_share_class = 'A' then 1 end) over (partition by pareto.rating_year)
            as value_share_a_count
    from pareto
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
    case when scale_total <> 0 then cast(scale_running as double) / cast(scale_total as double) end as cumulative_share,
    {{ class_by_rank('rank') }} as composite_class,
    case when has_payments then {{ class_by_rank('collections_rank') }} end as class_collections,
    case when has_cost then {{ class_by_rank('margin_rank') }} end as class_margin,
    value_position,
    value_share_class,
    value_share_a_count,
    {% if var('abc_method') == 'value_share' -%}
        value_share_class as abc_class,
        value_position as class_rank,
        value_share_a_count as class_a_count
    {%- else -%}
        {{ class_by_rank('rank') }} as abc_class,
        rank as class_rank,
        a_count as class_a_count
    {%- endif %}
from pareto_counted
