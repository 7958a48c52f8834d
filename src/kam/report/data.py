"""What the HTML run report shows, read with SQL from the marts it reports on.

The marts are those of the published serving file (a run that published) or the warehouse's
candidate marts (any other run); what was loaded comes from the warehouse's batch log and
quarantine. Every figure is a query here: the renderer only lays the rows out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb

from kam.config import DuckDBSettings
from kam.db import connect, quote_literal

Rows = list[dict[str, Any]]

# The published year (key_accounts' year): meta.publication in the serving file, the rating
# years' flag in the warehouse (kam.publish reads the same).
SERVING_YEAR = "SELECT rating_year FROM meta.publication"
CANDIDATE_YEAR = "SELECT max(rating_year) FROM intermediate.int_rating_years WHERE is_published"

HEADLINE = """
WITH rated AS (
    SELECT count(final_class) AS customers_rated, count(*) FILTER (final_class = 'A') AS class_a
    FROM marts.customer_ratings WHERE rating_year = $year
),
listed AS (
    SELECT
        count(*) AS key_accounts,
        count(*) FILTER (list_status = 'watch') AS on_watch,
        sum(revenue_share) AS list_revenue_share
    FROM marts.key_accounts
),
changes AS (
    SELECT
        count(*) FILTER (change IN ('entered', 'left')) AS moved,
        count(previous_list_status) AS previous_list
    FROM marts.key_account_changes WHERE rating_year = $year
),
concentration AS (
    SELECT top_decile_share FROM marts.revenue_concentration WHERE rating_year = $year
)
SELECT
    rated.customers_rated,
    rated.class_a,
    listed.key_accounts,
    listed.on_watch,
    listed.list_revenue_share,
    changes.moved AS list_moves,
    changes.previous_list,
    changes.moved / nullif(changes.previous_list, 0) AS list_churn,
    CAST(concentration.top_decile_share AS DOUBLE) AS top_decile_share
FROM rated, listed, changes
LEFT JOIN concentration ON true
"""

LEVELS = """
SELECT level, list_status, count(*) AS accounts
FROM marts.key_accounts GROUP BY level, list_status ORDER BY level DESC, list_status
"""

# The curve down the rank order, thinned to about 400 points (the class cut-offs kept).
PARETO = """
WITH year AS (
    SELECT rank, active_customers AS n, a_count, b_count, cumulative_share, abc_class
    FROM marts.customer_abc WHERE rating_year = $year
)
SELECT
    rank,
    rank / n AS customer_share,
    cumulative_share,
    abc_class,
    a_count,
    a_count + b_count AS ab_count,
    n
FROM year
WHERE rank % greatest(1, n // 400) = 0 OR rank IN (1, a_count, a_count + 1, a_count + b_count,
    a_count + b_count + 1, n)
ORDER BY rank
"""

TIERS = """
SELECT rating_year, final_class, count(*) AS customers
FROM marts.customer_ratings WHERE final_class IS NOT NULL
GROUP BY rating_year, final_class ORDER BY rating_year, final_class
"""

# Last year's final class × this year's; '-' where a customer had no class in that year.
MIGRATION = """
WITH last_year AS (
    SELECT customer_id, final_class FROM marts.customer_ratings WHERE rating_year = $year - 1
),
this_year AS (
    SELECT customer_id, final_class FROM marts.customer_ratings WHERE rating_year = $year
)
SELECT
    coalesce(last_year.final_class, '-') AS last_class,
    coalesce(this_year.final_class, '-') AS this_class,
    count(*) AS customers
FROM last_year FULL JOIN this_year ON last_year.customer_id = this_year.customer_id
WHERE last_year.final_class IS NOT NULL OR this_year.final_class IS NOT NULL
GROUP BY ALL ORDER BY ALL
"""

KEY_ACCOUNTS = """
SELECT
    accounts.customer_id,
    accounts.customer_name,
    accounts.level,
    accounts.list_status,
    accounts.final_class,
    accounts.rank,
    CAST(accounts.revenue AS DOUBLE) AS revenue,
    accounts.revenue_share,
    accounts.collection_rate,
    accounts.overdue_share,
    accounts.risk_flag,
    accounts.override_id,
    accounts.account_owner,
    accounts.relationship_type,
    changes.change,
    changes.driver
FROM marts.key_accounts AS accounts
LEFT JOIN marts.key_account_changes AS changes
    ON accounts.customer_id = changes.customer_id AND accounts.rating_year = changes.rating_year
ORDER BY accounts.rank NULLS LAST, accounts.customer_id
"""

LEFT_LIST = """
SELECT
    customer_id, previous_level, previous_list_status, previous_class, final_class, previous_rank,
    rank, CAST(revenue AS DOUBLE) AS revenue, driver
FROM marts.key_account_changes WHERE rating_year = $year AND change = 'left'
ORDER BY previous_rank NULLS LAST, customer_id
"""

COHORTS = """
SELECT
    year(cohort) AS cohort,
    period_offset,
    cohort_size,
    active_customers,
    logo_retention,
    revenue_retention
FROM marts.retention_cohorts
WHERE cohort_grain = 'year' AND segment = 'all'
ORDER BY cohort, period_offset
"""

# Receivables of the accounts on the list, by level and days-past-due bucket: of the listed
# customers, or of every customer of a listed group where the list was rated per group.
AGING = """
WITH listed AS (
    SELECT aging.*, accounts.level
    FROM marts.ar_aging AS aging
    LEFT JOIN marts.dim_customers AS customers ON aging.customer_id = customers.customer_id
    INNER JOIN marts.key_accounts AS accounts
        ON CASE WHEN (SELECT max(rate_at) FROM marts.key_accounts) = 'group'
            THEN customers.group_id ELSE aging.customer_id END = accounts.customer_id
    WHERE aging.as_of_date = (SELECT max(as_of_date) FROM marts.ar_aging)
)
SELECT
    strftime(max(as_of_date), '%Y-%m-%d') AS as_of_date,
    level,
    count(*) AS accounts,
    CAST(sum(not_due) AS DOUBLE) AS not_due,
    CAST(sum(d1_30) AS DOUBLE) AS d1_30,
    CAST(sum(d31_60) AS DOUBLE) AS d31_60,
    CAST(sum(d61_90) AS DOUBLE) AS d61_90,
    CAST(sum(d90_plus) AS DOUBLE) AS d90_plus,
    CAST(sum(open_amount) AS DOUBLE) AS open_amount
FROM listed GROUP BY level ORDER BY level DESC
"""

COVERAGE = """
SELECT
    class, policy_group, customers, activities, activity_share, policy_group_share, target_share,
    uncontacted_key_accounts
FROM marts.account_coverage WHERE rating_year = $year
ORDER BY CASE class WHEN 'prospects' THEN 'Z' ELSE class END
"""

SOURCES = """
SELECT
    source,
    count(*) FILTER (status = 'loaded') AS batches_loaded,
    count(*) FILTER (status = 'skipped') AS batches_skipped,
    count(*) FILTER (status = 'rejected') AS batches_rejected,
    coalesce(sum(rows_read), 0) AS rows_read,
    coalesce(sum(rows_loaded), 0) AS rows_loaded,
    coalesce(sum(rows_quarantined), 0) AS rows_quarantined,
    strftime(max(loaded_at), '%Y-%m-%d %H:%M') AS last_loaded_at
FROM warehouse.raw.batches GROUP BY source ORDER BY min(batch_id)
"""

RECENT_BATCHES = 20
BATCHES = f"""
SELECT
    batch_id, source, file_name, status, rows_read, rows_loaded, rows_quarantined, message,
    strftime(loaded_at, '%Y-%m-%d %H:%M') AS loaded_at
FROM warehouse.raw.batches ORDER BY batch_id DESC LIMIT {RECENT_BATCHES}
"""

# A reason names the unreadable value (bad date '2024-13-01'): grouped without it.
QUARANTINE = """
SELECT
    source,
    regexp_replace(reason, '''.*''', '''…''') AS reason,
    count(*) AS rows,
    min(file_name) AS example_file,
    min(row_number) AS example_row
FROM warehouse.raw.quarantine GROUP BY ALL ORDER BY rows DESC, source, reason LIMIT 15
"""


# The rows of each section, by name: from the marts, and from the warehouse's batch log.
MART_QUERIES = {
    "levels": LEVELS,
    "pareto": PARETO,
    "tiers": TIERS,
    "migration": MIGRATION,
    "key_accounts": KEY_ACCOUNTS,
    "left_list": LEFT_LIST,
    "cohorts": COHORTS,
    "aging": AGING,
    "coverage": COVERAGE,
}
LOAD_QUERIES = {"sources": SOURCES, "batches": BATCHES, "quarantine": QUARANTINE}


@dataclass
class ReportData:
    """The headline figures and the rows of every section by name (MART_QUERIES,
    LOAD_QUERIES); a section's rows are empty when its tables are missing."""

    marts_from: str  # 'published' (the serving file) | 'candidate' (the warehouse) | 'none'
    rating_year: int | None = None
    headline: dict[str, Any] = field(default_factory=dict)
    rows: dict[str, Rows] = field(
        default_factory=lambda: {name: [] for name in (*MART_QUERIES, *LOAD_QUERIES)}
    )


def _rows(con: duckdb.DuckDBPyConnection, sql: str, year: int | None = None) -> Rows:
    cursor = con.execute(sql, {"year": year} if "$year" in sql else None)
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def _has_table(con: duckdb.DuckDBPyConnection, database: str, schema: str, table: str) -> bool:
    (found,) = con.execute(
        "SELECT count(*) FROM duckdb_tables() "
        "WHERE database_name = ? AND schema_name = ? AND table_name = ?",
        [database, schema, table],
    ).fetchone()
    return bool(found)


def read_report_data(
    warehouse: Path, serving: Path | None, settings: DuckDBSettings | None = None
) -> ReportData:
    """Every section's rows: the marts of `serving` when given, else the warehouse's."""
    con = connect(settings=settings)
    try:
        if warehouse.exists():
            con.execute(f"ATTACH {quote_literal(str(warehouse))} AS warehouse (READ_ONLY)")
        if serving is not None:
            con.execute(f"ATTACH {quote_literal(str(serving))} AS serving (READ_ONLY)")
        database = "serving" if serving is not None else "warehouse"
        data = ReportData(marts_from="none")
        if warehouse.exists() and _has_table(con, "warehouse", "raw", "batches"):
            data.rows.update({name: _rows(con, sql) for name, sql in LOAD_QUERIES.items()})
        if serving is None and not warehouse.exists():
            return data
        if not _has_table(con, database, "marts", "key_accounts"):
            return data
        con.execute(f"USE {database}")
        data.marts_from = "published" if serving is not None else "candidate"
        (data.rating_year,) = con.execute(
            SERVING_YEAR if serving is not None else CANDIDATE_YEAR
        ).fetchone()
        if data.rating_year is None:  # no closed rating year yet
            return data
        (data.headline,) = _rows(con, HEADLINE, data.rating_year)
        data.rows.update(
            {name: _rows(con, sql, data.rating_year) for name, sql in MART_QUERIES.items()}
        )
        return data
    finally:
        con.close()
