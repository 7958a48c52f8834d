"""The DataFrames the expectation suites validate, each one query on the warehouse.

A suite in expectations/ names its dataset; each row of a dataset is one thing a check can
fail on (a listed account, a rating year, an override), so failing rows can be shown. The
queries take the Scope of the audit as parameters ($as_of, $rating_year, ...).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import date
from typing import TYPE_CHECKING

import duckdb

from kam.db import quote_identifier

if TYPE_CHECKING:  # the gate's worker imports this module before pandas is needed
    import pandas as pd


@dataclass(frozen=True)
class Scope:
    """What a gate audits: the run's as-of date and the rating year under review (rated by
    this run: the rerate candidate's year, or the published year while it is computed; None
    when the published year is frozen, whose overrides, class counts and churn were checked
    when it was rated), with the class rule to recount it by."""

    as_of: date
    rating_year: int | None = None
    # abc_ratio scaled to integers: A = round_half_up(n · ratio_a / ratio_total), B likewise.
    ratio_a: int = 1
    ratio_b: int = 2
    ratio_total: int = 5
    value_share: bool = False  # abc_method value_share: the Pareto class is the rule


DATASETS: dict[str, str] = {
    # Every account on the published list, with what eligibility and CRM say about it.
    "key_accounts": """
        SELECT
            k.customer_id, k.rating_year, k.list_status, k.level, k.final_class,
            k.override_id, s.override_action, r.eligible,
            s.passes_collection_rate, s.passes_gross_margin, s.passes_account_status,
            s.passes_credit_rating, p.account_status, p.credit_rating
        FROM marts.key_accounts AS k
        JOIN marts.customer_ratings AS r USING (customer_id, rating_year)
        LEFT JOIN intermediate.int_key_account_status AS s USING (customer_id, rating_year)
        LEFT JOIN marts.dim_customers AS p USING (customer_id)
        ORDER BY k.customer_id
    """,
    # The year under review, recounted from its final classes, independently of the models'
    # own counts: what the rule gives each rated unit (a customer, or a group under rate_at
    # group; by its position: A = the first round_half_up(n · a / total), B the next
    # round_half_up(n · b / total); the Pareto class with abc_method value_share), or the class
    # of a set_class override. Stability never moves a class; watch members and overrides are
    # reported beside the counts. The units counted must be those of the rules in force: a
    # rated customer_id that is no customer's rating_unit_id (dim_customers) is a customer
    # rated apart from its group, or a rating made at another rate_at.
    "abc_class_counts": """
        WITH rated AS (
            SELECT
                r.customer_id, r.rank, r.final_class, r.list_status,
                o.action, o.override_class, abc.value_share_class,
                r.customer_id NOT IN (SELECT rating_unit_id FROM marts.dim_customers)
                    AS outside_units,
                count(*) OVER () AS n
            FROM marts.customer_ratings AS r
            LEFT JOIN raw.overrides AS o ON r.override_id = o.override_id
            LEFT JOIN marts.customer_abc AS abc
                ON r.customer_id = abc.customer_id AND r.rating_year = abc.rating_year
            WHERE r.rating_year = $rating_year AND r.rank IS NOT NULL
        ),
        quotas AS (
            SELECT
                *,
                (2 * n * $ratio_a + $ratio_total) // (2 * $ratio_total) AS quota_a,
                (2 * n * $ratio_b + $ratio_total) // (2 * $ratio_total) AS quota_b
            FROM rated
        ),
        expected AS (
            SELECT
                *,
                CASE
                    WHEN action = 'set_class' THEN override_class
                    WHEN $value_share THEN value_share_class
                    WHEN rank <= quota_a THEN 'A'
                    WHEN rank <= quota_a + quota_b THEN 'B'
                    ELSE 'C'
                END AS expected_class
            FROM quotas
        )
        SELECT
            $rating_year AS rating_year,
            max(n) AS active_customers,
            count(*) FILTER (final_class = 'A') AS actual_a,
            count(*) FILTER (expected_class = 'A') AS expected_a,
            count(*) FILTER (final_class = 'B') AS actual_b,
            count(*) FILTER (expected_class = 'B') AS expected_b,
            count(*) FILTER (final_class = 'C') AS actual_c,
            count(*) FILTER (expected_class = 'C') AS expected_c,
            count(*) FILTER (action = 'set_class') AS overridden,
            count(*) FILTER (list_status = 'watch') AS on_watch,
            string_agg(customer_id, ', ' ORDER BY rank)
                FILTER (final_class IS DISTINCT FROM expected_class) AS not_as_the_rule,
            count(*) FILTER (outside_units) AS rated_outside_units,
            string_agg(customer_id, ', ' ORDER BY rank) FILTER (outside_units) AS not_rating_units
        FROM expected
        HAVING count(*) > 0
    """,
    # The override register entries of the year under review (expired: before the as-of date
    # of the run that rates the year). A frozen year's overrides are history. An override names
    # the rated unit: under rate_at group, the group's top parent, not another member.
    "overrides": """
        SELECT
            o.override_id, o.customer_id, o.rating_year, o.action, o.override_class,
            o.reason, o.approved_by, o.approved_on, o.expires_on,
            coalesce(o.expires_on < $as_of, false) AS expired,
            c.rating_unit_id,
            coalesce(c.rating_unit_id = o.customer_id, true) AS names_rating_unit
        FROM raw.overrides AS o
        LEFT JOIN marts.dim_customers AS c ON o.customer_id = c.customer_id
        WHERE o.rating_year = $rating_year
        ORDER BY o.override_id
    """,
    # Σ revenue in the marts against Σ net revenue of the loaded, current order lines.
    "revenue_totals": """
        WITH marts_total AS (
            SELECT coalesce(sum(revenue), 0) AS marts_revenue FROM marts.customer_value
        ),
        raw_total AS (
            SELECT coalesce(sum(CASE
                WHEN status = 'completed' THEN amount
                WHEN status = 'returned' THEN -abs(amount)
                ELSE 0 END), 0) AS raw_net_revenue
            FROM raw.orders
            WHERE superseded_by IS NULL
        )
        SELECT
            marts_revenue,
            raw_net_revenue,
            CAST(round((marts_revenue - raw_net_revenue) * 100) AS BIGINT) AS difference_cents
        FROM marts_total CROSS JOIN raw_total
    """,
    "customer_abc": "SELECT * FROM marts.customer_abc",
    "customer_value": "SELECT * FROM marts.customer_value",
    "retention_cohorts": "SELECT * FROM marts.retention_cohorts",
}

# The columns that name a row of a whole-mart dataset in the failing samples.
ROW_KEYS = ("customer_id", "rating_year")


def load_dataset(
    con: duckdb.DuckDBPyConnection, name: str, scope: Scope, columns: set[str] | None = None
) -> pd.DataFrame:
    """One dataset as a pandas DataFrame (decimals as floats are fine for validation).

    `columns`: all the suites check of a whole-mart dataset (SELECT *); only those and the
    row keys are read (at SF10, customer_value has 378,000 rows of 15 columns)."""
    sql = DATASETS[name]
    if columns is not None and sql.startswith("SELECT * FROM "):
        table = sql.removeprefix("SELECT * FROM ")
        present = [row[0] for row in con.execute(f"DESCRIBE {table}").fetchall()]
        wanted = [c for c in present if c in columns or c in ROW_KEYS]
        if wanted:
            sql = f"SELECT {', '.join(quote_identifier(c) for c in wanted)} FROM {table}"
    parameters = {key: value for key, value in asdict(scope).items() if f"${key}" in sql}
    return con.execute(sql, parameters).df() if parameters else con.execute(sql).df()
