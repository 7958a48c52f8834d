"""Tables kam itself owns in the warehouse (dbt never rebuilds them).

raw.*: one table per source, the batch log, the quarantine and the override register.
ratings.*: the frozen annual ratings written by `kam rerate`.
meta.*: what the last build was made with (the fingerprint of the dbt code), and the digest of
every export file the ingest has hashed.
"""

from __future__ import annotations

import duckdb

from kam.schema import SOURCES, SQL_TYPES, Source

# The published relations: dbt's marts, which kam gates, copies into the serving file and
# Parquet, and loads into Postgres.
MARTS = (
    "dim_customers",
    "dim_customers_history",
    "customer_value",
    "customer_abc",
    "customer_ratings",
    "key_accounts",
    "key_account_changes",
    "retention_cohorts",
    "ar_aging",
    "account_coverage",
    "owner_portfolio",
    "region_portfolio",
    "revenue_concentration",
)

BATCH_COLUMNS = (
    ("batch_id", "BIGINT NOT NULL"),
    ("source", "VARCHAR NOT NULL"),
    ("file_name", "VARCHAR NOT NULL"),
    ("file_path", "VARCHAR NOT NULL"),
    ("sha256", "VARCHAR NOT NULL"),
    ("bytes", "BIGINT"),
    ("loaded_at", "TIMESTAMP NOT NULL"),
    ("status", "VARCHAR NOT NULL"),  # loaded | skipped | rejected
    ("message", "VARCHAR"),
    ("rows_read", "BIGINT NOT NULL"),
    ("rows_loaded", "BIGINT NOT NULL"),
    ("rows_quarantined", "BIGINT NOT NULL"),
    ("format", "VARCHAR"),
    ("encoding", "VARCHAR"),
    ("delimiter", "VARCHAR"),
    ("header_row", "INTEGER"),
    ("duplicate_of", "BIGINT"),  # a skipped file: the batch that loaded the same content
    ("seconds", "DOUBLE"),
)


# The override register (人工调整) as loaded from <home>/overrides.csv by `kam build`.
OVERRIDE_COLUMNS = (
    ("override_id", "VARCHAR NOT NULL"),
    ("customer_id", "VARCHAR"),
    ("rating_year", "INTEGER"),
    ("action", "VARCHAR"),
    ("override_class", "VARCHAR"),
    ("reason", "VARCHAR"),
    ("approved_by", "VARCHAR"),
    ("approved_on", "DATE"),
    ("expires_on", "DATE"),
)


# Frozen annual ratings (`kam rerate`): never rebuilt by dbt, only appended to. A rating run
# records what reproduces it: the rules in force (full text), the code, the last batch of each
# source it saw, the frozen runs of other years it was rated against, and the override register.
RATING_RUN_COLUMNS = (
    ("run_id", "VARCHAR NOT NULL"),
    ("rating_year", "INTEGER NOT NULL"),
    ("as_of", "DATE NOT NULL"),
    ("rules_hash", "VARCHAR NOT NULL"),
    ("status", "VARCHAR NOT NULL"),  # pending | approved | rejected | superseded
    ("created_at", "TIMESTAMP NOT NULL"),
    ("approved_by", "VARCHAR"),
    ("approved_at", "TIMESTAMP"),
    ("supersedes_run_id", "VARCHAR"),
    ("superseded_by_run_id", "VARCHAR"),
    ("data_through", "DATE"),
    ("rules", "JSON"),  # every rule in force, as passed to dbt
    ("code_version", "VARCHAR"),
    ("models_fingerprint", "VARCHAR"),
    ("data_watermark", "JSON"),  # {"<source>": last batch_id loaded}
    ("rated_against", "JSON"),  # {"<rating year>": approved run_id} in force when it was rated
    # A rejected rating (the approver said no, or nobody answered in time): who, when and why.
    ("rejected_by", "VARCHAR"),
    ("rejected_at", "TIMESTAMP"),
    ("rejection_reason", "VARCHAR"),
)
# The rating and the metrics it was made from; the dbt macro frozen_rating_column_names()
# lists the same columns (tests/test_ratings_columns.py keeps the two equal).
FROZEN_RATING_COLUMNS = (
    ("run_id", "VARCHAR NOT NULL"),
    ("customer_id", "VARCHAR NOT NULL"),
    ("rating_year", "INTEGER NOT NULL"),
    ("computed_class", "VARCHAR"),
    ("eligible", "BOOLEAN"),
    ("computed_level", "VARCHAR"),
    ("final_class", "VARCHAR"),
    ("list_status", "VARCHAR"),
    ("level", "VARCHAR"),
    ("override_id", "VARCHAR"),
    ("change", "VARCHAR"),
    ("rank", "BIGINT"),
    ("a_count", "BIGINT"),
    ("active_customers", "BIGINT"),
    ("score", "DOUBLE"),
    ("cumulative_share", "DOUBLE"),
    ("revenue", "DECIMAL(38,6)"),
    ("revenue_share", "DOUBLE"),
    ("gross_margin", "DECIMAL(38,6)"),
    ("collections", "DECIMAL(38,6)"),
    ("collection_rate", "DOUBLE"),
    ("dso_days", "DOUBLE"),
    ("open_receivables", "DECIMAL(38,6)"),
    ("overdue_share", "DOUBLE"),
    ("credit_limit", "DECIMAL(38,6)"),
    ("risk_flag", "BOOLEAN"),
    ("previous_list_status", "VARCHAR"),
    ("previous_level", "VARCHAR"),
    ("previous_class", "VARCHAR"),
    ("previous_rank", "BIGINT"),
    ("previous_revenue", "DECIMAL(38,6)"),
    ("driver", "VARCHAR"),
    ("credit_support", "BOOLEAN"),
)
# The override register as it was when a rating run was frozen (kam rerate --verify).
RATING_OVERRIDE_COLUMNS = (("run_id", "VARCHAR NOT NULL"), *OVERRIDE_COLUMNS)


# The dbt code of the last build that passed (kam build) or was prepared (Airflow): one row.
MODELS_FINGERPRINT_COLUMNS = (
    ("fingerprint", "VARCHAR NOT NULL"),
    ("recorded_at", "TIMESTAMP NOT NULL"),
)

# The sha256 of each file the ingest hashed, with its size and times then (kam.ingest.digests).
FILE_DIGEST_COLUMNS = (
    ("file_path", "VARCHAR NOT NULL"),
    ("bytes", "BIGINT NOT NULL"),
    ("modified_ns", "BIGINT NOT NULL"),
    ("changed_ns", "BIGINT NOT NULL"),
    ("sha256", "VARCHAR NOT NULL"),
)


def raw_columns(source: Source) -> list[tuple[str, str]]:
    """Columns of raw.<source>: batch bookkeeping around the canonical columns."""
    return [
        ("batch_id", "BIGINT NOT NULL"),
        ("row_number", "BIGINT"),
        *((c.name, SQL_TYPES[c.kind]) for c in source.columns),
        ("superseded_by", "BIGINT"),  # the later batch that repeated this row's business key
    ]


def _create_table(name: str, columns: list[tuple[str, str]] | tuple) -> str:
    body = ",\n    ".join(f"{column} {sql_type}" for column, sql_type in columns)
    return f"CREATE TABLE IF NOT EXISTS {name} (\n    {body}\n);"


def create_raw_schema(con: duckdb.DuckDBPyConnection) -> None:
    """Create kam's own tables if they are not there yet (every source, loaded or not)."""
    statements = [
        "CREATE SCHEMA IF NOT EXISTS raw;",
        _create_table("raw.batches", BATCH_COLUMNS),
        _create_table(
            "raw.quarantine",
            (
                ("batch_id", "BIGINT NOT NULL"),
                ("source", "VARCHAR NOT NULL"),
                ("file_name", "VARCHAR NOT NULL"),
                ("row_number", "BIGINT"),
                ("reason", "VARCHAR NOT NULL"),
                ("raw_values", "JSON"),
            ),
        ),
    ]
    statements += [_create_table(f"raw.{s.name}", raw_columns(s)) for s in SOURCES.values()]
    statements.append(_create_table("raw.overrides", OVERRIDE_COLUMNS))
    statements.append("CREATE SCHEMA IF NOT EXISTS ratings;")
    statements.append(_create_table("ratings.rating_runs", RATING_RUN_COLUMNS))
    statements.append(_create_table("ratings.customer_ratings", FROZEN_RATING_COLUMNS))
    statements.append(_create_table("ratings.rating_overrides", RATING_OVERRIDE_COLUMNS))
    statements.append("CREATE SCHEMA IF NOT EXISTS meta;")
    statements.append(_create_table("meta.models_fingerprint", MODELS_FINGERPRINT_COLUMNS))
    statements.append(_create_table("meta.file_digests", FILE_DIGEST_COLUMNS))
    con.execute("\n".join(statements))
    # Warehouses rated by an earlier kam get the columns added since (NULL in their old rows).
    _add_missing_columns(con, "ratings", "rating_runs", RATING_RUN_COLUMNS)
    _add_missing_columns(con, "ratings", "customer_ratings", FROZEN_RATING_COLUMNS)


def _add_missing_columns(
    con: duckdb.DuckDBPyConnection, schema: str, table: str, columns: tuple
) -> None:
    present = {
        row[0]
        for row in con.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database() "
            "AND schema_name = ? AND table_name = ?",
            [schema, table],
        ).fetchall()
    }
    for column, sql_type in columns:
        if column not in present:
            nullable = sql_type.removesuffix(" NOT NULL")
            con.execute(f"ALTER TABLE {schema}.{table} ADD COLUMN {column} {nullable}")


def read_models_fingerprint(con: duckdb.DuckDBPyConnection) -> str | None:
    """The fingerprint of the dbt code that built the incremental models (None: never built)."""
    row = con.execute("SELECT fingerprint FROM meta.models_fingerprint").fetchone()
    return row[0] if row else None


def write_models_fingerprint(con: duckdb.DuckDBPyConnection, fingerprint: str) -> None:
    con.execute("DELETE FROM meta.models_fingerprint")
    con.execute("INSERT INTO meta.models_fingerprint VALUES (?, current_timestamp)", [fingerprint])
