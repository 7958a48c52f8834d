"""The DataFrames the expectation suites validate, each one query on the warehouse.

A suite in expectations/ names its dataset; each row of a dataset is one thing a check can
fail on (a listed account, a rating year, an override), so failing rows can be shown.
"""

from __future__ import annotations

from datetime import date

import duckdb
import pandas as pd

from kam.db import quote_identifier

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
    # Per rating year: class counts against the 1:2:2 rule, and after overrides.
    "abc_class_counts": """
        WITH classes AS (
            SELECT
                rating_year,
                max(active_customers) AS active_customers,
                max(a_count) AS expected_a,
                max(b_count) AS expected_b,
                count(*) FILTER (composite_class = 'A') AS actual_a,
                count(*) FILTER (composite_class = 'B') AS actual_b,
                count(*) FILTER (composite_class = 'C') AS actual_c
            FROM marts.customer_abc
            GROUP BY rating_year
        ),
        final AS (
            SELECT
                rating_year,
                count(*) FILTER (final_class = 'A') AS final_a,
                count(*) FILTER (final_class = 'B') AS final_b,
                count(*) FILTER (final_class = 'C') AS final_c,
                count(*) FILTER (override_id IS NOT NULL) AS overridden
            FROM marts.customer_ratings
            GROUP BY rating_year
        )
        SELECT
            classes.*,
            classes.active_customers - classes.expected_a - classes.expected_b AS expected_c,
            final.final_a, final.final_b, final.final_c, final.overridden
        FROM classes LEFT JOIN final USING (rating_year)
        ORDER BY rating_year
    """,
    # The override register entries that apply to the rated year.
    "overrides": """
        SELECT
            o.override_id, o.customer_id, o.rating_year, o.action, o.override_class,
            o.reason, o.approved_by, o.approved_on, o.expires_on,
            coalesce(o.expires_on < $as_of, false) AS expired
        FROM raw.overrides AS o
        WHERE o.rating_year IN (SELECT max(rating_year) FROM marts.customer_ratings)
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
    con: duckdb.DuckDBPyConnection, name: str, as_of: date, columns: set[str] | None = None
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
    parameters = {"as_of": as_of} if "$as_of" in sql else None
    return con.execute(sql, parameters).df() if parameters else con.execute(sql).df()
