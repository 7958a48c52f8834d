-- The metrics of PRODUCT.md section 3 per rating unit and rating year: what the rating ranks,
-- classes and judges. A unit is int_customer_profiles_current.rating_unit_id, named by a
-- customer id: every customer is its own unit under rate_at customer (each row is then the
-- customer's own, figure for figure), and under rate_at group a group's top parent stands for
-- the group. A unit's figures are those of its members' customer-years (customer_value rows)
-- of the year: Σ of the amounts (revenue, collections, invoiced, open and overdue receivables,
-- returns, complaints; gross margin over the members whose margin is known, NULL when none
-- is), the ratios recomputed from the sums, the longest days past due, active when a member
-- is, the mean satisfaction of the members' scored activities, and growth against the unit's
-- previous year.
with measured as (
    select * from {{ ref('int_customer_years_measured') }}
),

profiles as (
    select
        customer_id,
        rating_unit_id
    from {{ ref('int_customer_profiles_current') }}
),

-- A customer without a profile is its own unit.
members as (
    select
        measured.*,
        coalesce(profiles.rating_unit_id, measured.customer_id) as rating_unit_id
    from measured
    left join profiles on measured.customer_id = profiles.customer_id
),

-- The mean over the members' scored activities of the year, not a mean of their means.
satisfaction as (
    select
        members.rating_unit_id,
        members.rating_year,
        avg(cast(activities.satisfaction_score as double)) as satisfaction_score
    from members
    inner join {{ ref('stg_raw__crm_activities') }} as activities
        on
            members.customer_id = activities.customer_id
            and members.rating_year = {{ fiscal_year('activities.activity_date') }}
    group by members.rating_unit_id, members.rating_year
),

units as (
    select
        rating_unit_id as customer_id,
        rating_year,
        min(year_start) as year_start,
        min(year_end) as year_end,
        {{ days_between('min(year_start)', 'min(year_end)') }} + 1 as days_in_year,
        count(*) as member_customers,
        sum(revenue) as revenue,
        sum(gross_margin) as gross_margin,
        sum(collections) as collections,
        sum(invoiced) as invoiced,
        sum(open_receivables) as open_receivables,
        sum(overdue_amount) as overdue_amount,
        max(max_days_past_due) as max_days_past_due,
        sum(returned_amount) as returned_amount,
        cast(sum(complaint_count) as bigint) as complaint_count,
        bool_or(active) as active
    from members
    group by rating_unit_id, rating_year
),

unit_years as (
    select
        units.*,
        satisfaction.satisfaction_score
    from units
    left join satisfaction
        on units.customer_id = satisfaction.rating_unit_id
            and units.rating_year = satisfaction.rating_year
)

{{ select_with_derived_metrics('unit_years') }}
