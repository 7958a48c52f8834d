"""engine: spark (PRODUCT.md section 9): what kam does around dbt-spark.

The loader, the gate, the re-rating and the publication stay on the home's DuckDB warehouse;
only the dbt models run on Spark. Before dbt runs, the raw layer (the tables of
`_raw__sources.yml`, where the loader kept every rule of section 2) is written as Parquet to
`spark.raw_location`, which the macro `register_raw_sources` makes dbt's sources. After it,
Spark writes the relations kam reads (the marts, and the ratings and statuses the gate and
re-rating read) as Parquet to `spark.export_location` (macro `export_relations`), and kam
loads them into the warehouse, typed by the marts' contracts: from there on nothing knows
which engine built them.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import socket
import warnings
from functools import cache
from pathlib import Path

import yaml

from kam.catalog import read_marts
from kam.config import Config
from kam.db import connect, quote_identifier, quote_literal
from kam.errors import ConfigError, KamError
from kam.paths import PROJECT_ROOT
from kam.warehouse import MARTS

SOURCES_YML = PROJECT_ROOT / "models" / "staging" / "_raw__sources.yml"
# What kam reads from the warehouse after a build besides the marts (the gate, kam rerate,
# the report): Spark exports these too.
READ_INTERMEDIATE = (
    "int_customer_ratings",
    "int_customer_ratings_computed",
    "int_key_account_status",
    "int_rating_years",
)
RESULTS = (
    *(f"marts.{name}" for name in MARTS),
    *(f"intermediate.{name}" for name in READ_INTERMEDIATE),
)


@cache
def raw_tables() -> tuple[str, ...]:
    """`schema.table` of every dbt source (kam's raw.* and ratings.* tables)."""
    document = yaml.safe_load(SOURCES_YML.read_text(encoding="utf-8"))
    return tuple(
        f"{source['schema']}.{table['name']}"
        for source in document["sources"]
        for table in source["tables"]
    )


def _location(config: Config, setting: str | None, default: str) -> str:
    """A kam.yml location: a directory both kam and Spark reach (a shared mount on a cluster);
    a relative path is under the home, like the sources' paths."""
    if not setting:
        return str(config.home.spark_dir / default)
    return str(config.home.root / setting)


def raw_location(config: Config) -> str:
    return _location(config, config.spark.raw_location, "raw")


def export_location(config: Config) -> str:
    return _location(config, config.spark.export_location, "export")


def profile_environment(config: Config) -> dict[str, str]:
    """The variables profiles.yml's spark_session or spark_thrift target reads."""
    spark = config.spark
    environment = {
        "KAM_DBT_TARGET": f"spark_{spark.method}",
        "KAM_SPARK_RAW_LOCATION": raw_location(config),
        "KAM_SPARK_EXPORT_LOCATION": export_location(config),
        "KAM_SPARK_EXPORTS": ",".join(RESULTS),
    }
    if spark.method == "session":
        folder = config.home.spark_dir
        environment |= {
            "KAM_SPARK_MASTER": spark.master,
            "KAM_SPARK_DRIVER_MEMORY": spark.driver_memory,
            "KAM_SPARK_DIR": str(folder),
            "KAM_SPARK_WAREHOUSE_DIR": str(folder / "warehouse"),
            "KAM_SPARK_METASTORE": str(folder / "metastore"),
        }
    else:
        password = ""
        if spark.password_env:
            if spark.password_env not in os.environ:
                raise ConfigError(
                    f"kam.yml: spark.password_env: the environment variable "
                    f"{spark.password_env} is not set"
                )
            password = os.environ[spark.password_env]
        environment |= {
            "KAM_SPARK_HOST": spark.host or "",
            "KAM_SPARK_PORT": str(spark.port),
            "KAM_SPARK_USER": spark.user or "",
            "KAM_SPARK_AUTH": spark.auth,
            "KAM_SPARK_SCHEMA": spark.schema,
            "KAM_SPARK_PASSWORD": password,
        }
    return environment


def check_engine(config: Config) -> None:
    """What engine: spark needs before dbt starts, each missing piece a one-line error."""
    if config.spark.method == "session":
        java_home = os.environ.get("JAVA_HOME")
        java = Path(java_home) / "bin" / "java" if java_home else shutil.which("java")
        if java is None or not Path(java).exists():
            raise ConfigError(
                "kam.yml: spark.method: session needs Java 17 (no java on PATH or in JAVA_HOME)"
            )
    else:
        host, port = config.spark.host or "", config.spark.port
        try:
            socket.create_connection((host, port), timeout=10).close()
        except OSError as error:
            raise ConfigError(
                f"kam.yml: spark.host: cannot reach the Spark Thrift server at {host}:{port} "
                f"({error.strerror or error})"
            ) from None
    if importlib.util.find_spec("dbt.adapters.spark") is None or (
        config.spark.method == "session" and importlib.util.find_spec("pyspark") is None
    ):
        raise ConfigError(
            "kam.yml: engine: spark needs dbt-spark and pyspark, which kam installs with "
            "its spark dependency group (make install-spark)"
        )


def hush_pyspark_pandas_warning() -> None:
    """dbt-spark's session imports pyspark, which warns that kam's pandas is newer than it
    supports: kam hands Spark no pandas objects (Parquet files only)."""
    warnings.filterwarnings(
        "ignore", message="PySpark does not yet fully support pandas", category=FutureWarning
    )


def export_raw_layer(config: Config) -> None:
    """The raw layer as Parquet, one folder a table, each replaced whole (written beside it,
    then renamed), for the sources dbt registers on Spark."""
    root = Path(raw_location(config))
    con = connect(config.home.warehouse_path, config.duckdb, read_only=True)
    try:
        for table in raw_tables():
            schema, name = table.split(".")
            columns = con.execute(
                "SELECT column_name, data_type FROM duckdb_columns() "
                "WHERE database_name = current_database() AND schema_name = ? "
                "AND table_name = ? ORDER BY column_index",
                [schema, name],
            ).fetchall()
            if not columns:
                raise KamError(f"engine: spark: the warehouse has no table {table}")
            # JSON is text to Spark.
            select = ", ".join(
                f"CAST({quote_identifier(c)} AS VARCHAR) AS {quote_identifier(c)}"
                if t == "JSON"
                else quote_identifier(c)
                for c, t in columns
            )
            target = root / schema / name
            writing = target.with_name(f"{name}.writing")
            shutil.rmtree(writing, ignore_errors=True)
            writing.mkdir(parents=True)
            file = quote_literal(str(writing / "part-0.parquet"))
            con.execute(f"COPY (SELECT {select} FROM {table}) TO {file} (FORMAT parquet)")
            replaced = target.with_name(f"{name}.replaced")
            shutil.rmtree(replaced, ignore_errors=True)
            if target.exists():
                target.rename(replaced)
            writing.rename(target)
            shutil.rmtree(replaced, ignore_errors=True)
    finally:
        con.close()


def load_built(config: Config) -> list[str]:
    """After dbt built on engine: spark, what it built, into the warehouse that the gate,
    re-rating and publication read; on DuckDB dbt built there already. Returns the relations
    loaded."""
    return import_results(config) if config.engine == "spark" else []


def import_results(config: Config) -> list[str]:
    """The relations Spark exported, loaded into the warehouse in one transaction (marts with
    their contracts' column types and order); returns those loaded."""
    root = Path(export_location(config))
    contracts = read_marts()
    loaded = []
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        con.execute("BEGIN")
        for relation in RESULTS:
            schema, name = relation.split(".")
            files = sorted((root / schema / name).glob("*.parquet"))
            if not files:
                continue
            parquet = f"read_parquet([{', '.join(quote_literal(str(f)) for f in files)}])"
            exported = con.execute(f"DESCRIBE SELECT * FROM {parquet}").fetchall()
            # Spark's timestamps are instants: their UTC time is DuckDB's timestamp.
            expressions = {
                column: f"timezone('UTC', {quote_identifier(column)})"
                if kind == "TIMESTAMP WITH TIME ZONE"
                else quote_identifier(column)
                for column, kind, *_ in exported
            }
            contract = contracts.get(name) if schema == "marts" else None
            if contract is not None:
                missing = [c.name for c in contract.columns if c.name not in expressions]
                if missing:
                    raise KamError(f"engine: spark: {relation} came back without {missing[0]}")
                select = ", ".join(
                    f"CAST({expressions[c.name]} AS {c.data_type}) AS {quote_identifier(c.name)}"
                    for c in contract.columns
                )
            else:
                select = ", ".join(f"{e} AS {quote_identifier(c)}" for c, e in expressions.items())
            con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
            con.execute(f"CREATE OR REPLACE TABLE {relation} AS SELECT {select} FROM {parquet}")
            loaded.append(relation)
        con.execute("COMMIT")
    finally:
        con.close()
    return loaded
