-- Year-over-year movement of the computed key-account list against last year's list in force
-- (frozen where that year is rated, else computed): entered, left, promoted, demoted, kept,
-- with the metrics and the rule that drove it. A customer that left may have no row in the
-- later year. A list in force made at another rating unit (rate_at customer against group) is
-- not compared: every account on this year's list enters, none leaves.
with status as (
    select * from {{ ref('int_key_account_status') }}
),

-- Years whose list in force was made at another rating unit (rate_at) than this run's: their
-- accounts are not this year's, so nothing is compared with them.
other_unit_years as (
    select
        rating_year,
        rate_at
    from {{ ref('int_rating_years') }}
    where rate_at <> '{{ var("rate_at") }}'
),

previous_ratings as (
    select * from {{ ref('int_key_account_status_in_force') }}
    where rating_year not in (select other_unit_years.rating_year from other_unit_years)
),

years as (
    select distinct rating_year from status
),

current_list as (
    select
        customer_id,
        rating_year,
        list_status,
        computed_level as level,
        case when computed_level = 'strategic' then 2 else 1 end as level_order
    from status
    where list_status is not null
),

previous_list as (
    select
        customer_id,
        rating_year,
        list_status,
        level,
        case when level = 'strategic' then 2 else 1 end as level_order
    from previous_ratings
    where list_status is not null
),

pairs as (
    select
        coalesce(current_year.customer_id, previous_year.customer_id) as customer_id,
        coalesce(current_year.rating_year, previous_year.rating_year + 1) as rating_year,
        previous_year.list_status as previous_list_status,
        current_year.list_status,
        previous_year.level as previous_level,
        current_year.level,
        previous_year.level_order as previous_level_order,
        current_year.level_order
    from current_list as current_year
    full outer join previous_list as previous_year
        on
            current_year.customer_id = previous_year.customer_id
            and current_year.rating_year = previous_year.rating_year + 1
)

select
    pairs.customer_id,
    pairs.rating_year,
    case
        when pairs.previous_list_status is null then 'entered'
        when pairs.list_status is null then 'left'
        when pairs.level_order > pairs.previous_level_order then 'promoted'
        when pairs.level_order < pairs.previous_level_order then 'demoted'
        when pairs.previous_list_status = 'watch' and pairs.list_status = 'listed' then 'promoted'
        when pairs.previous_list_status = 'listed' and pairs.list_status = 'watch' then 'demoted'
        else 'kept'
    end as change,
    pairs.previous_list_status,
    pairs.previous_level,
    previous_rating.final_class as previous_class,
    previous_rating.rank as previous_rank,
    previous_rating.revenue as previous_revenue,
    case
        when current_status.customer_id is null then 'no orders, invoices or payments in the year'
        when current_status.override_action in ('include', 'exclude')
            then 'override ' || current_status.override_action || ' ' || current_status.override_id
        when not current_status.passes_account_status then 'CRM status closed or blacklisted'
        when not current_status.passes_credit_rating then 'credit rating excluded'
        when not current_status.passes_collection_rate then 'collection rate below minimum'
        when not current_status.passes_gross_margin then 'gross margin not positive'
        when not current_status.passes_returned_share then 'returned share of revenue above maximum'
        when not current_status.passes_complaints then 'complaints above maximum'
        when pairs.list_status = 'watch' and current_status.low_satisfaction
            then 'satisfaction below minimum'
        when pairs.list_status = 'watch' then 'below the A cut-off, within the stability buffer'
        when pairs.previous_list_status = 'watch' and pairs.list_status is null
            then 'second year below the A cut-off'
        when other_unit_year.rate_at is not null
            then 'last year''s list was rated per ' || other_unit_year.rate_at
        when pairs.list_status is null then 'class ' || coalesce(current_status.final_class, 'none')
        when pairs.level <> pairs.previous_level then 'level ' || pairs.level
        else 'class ' || current_status.final_class
    end as driver
from pairs
inner join years on pairs.rating_year = years.rating_year
left join status as current_status
    on pairs.customer_id = current_status.customer_id and pairs.rating_year = current_status.rating_year
left join previous_ratings as previous_rating
    on pairs.customer_id = previous_rating.customer_id
        and pairs.rating_year = previous_rating.rating_year + 1
left join other_unit_years as other_unit_year on pairs.rating_year = other_unit_year.rating_year + 1
