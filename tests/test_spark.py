"""engine: spark (PRODUCT.md section 9): one generated home built on embedded DuckDB and on a
local Spark session (dbt-spark, method: session) publishes the same marts, row for row, after a
`kam run` and after an approved `kam rerate`; and a wrong Spark setting is a one-line exit 2."""

from __future__ import annotations

import math
from decimal import Decimal
from pathlib import Path

import pytest
import yaml

from kam.catalog import read_marts
from tests.conftest import AS_OF, query_published, run_kam, with_unit_tests
from tests.helpers import copy_home

# Columns that name the run or the moment that made a row, not a figure: they differ between
# any two homes, whatever the engine.
RUN_COLUMNS = {"run_id", "approved_at"}


def _set(home: Path, settings: dict) -> None:
    path = home / "kam.yml"
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    document.update(settings)
    path.write_text(yaml.safe_dump(document, allow_unicode=True, sort_keys=False), "utf-8")


def _same(duckdb_value, spark_value, data_type: str) -> bool:
    """Money to the cent, other numbers to 1e-9 relative, everything else exactly."""
    if duckdb_value is None or spark_value is None:
        return duckdb_value is None and spark_value is None
    if data_type.startswith("decimal"):
        return abs(Decimal(duckdb_value) - Decimal(spark_value)) < Decimal("0.005")
    if data_type == "double":
        return math.isclose(duckdb_value, spark_value, rel_tol=1e-9, abs_tol=1e-12)
    return duckdb_value == spark_value


def _differences(duckdb_home: Path, spark_home: Path) -> list[str]:
    """Every published mart of both homes compared row for row, in grain order."""
    found = []
    for name, relation in read_marts().items():
        columns = [c for c in relation.columns if c.name not in RUN_COLUMNS]
        names = [c.name for c in columns]
        order = [*relation.grain, *(n for n in names if n not in relation.grain)]
        sql = f"SELECT {', '.join(names)} FROM marts.{name} ORDER BY {', '.join(order)}"
        expected, got = query_published(duckdb_home, sql), query_published(spark_home, sql)
        if len(expected) != len(got):
            found.append(f"{name}: {len(expected)} rows on DuckDB, {len(got)} on Spark")
            continue
        for row, (a, b) in enumerate(zip(expected, got, strict=True)):
            for column, x, y in zip(columns, a, b, strict=True):
                if not _same(x, y, column.data_type):
                    found.append(f"{name} row {row} {column.name}: DuckDB {x!r}, Spark {y!r}")
    return found


@pytest.mark.slow
def test_both_engines_publish_the_same_marts_before_and_after_a_rerating(tmp_path):
    """15 min here (2026-12-06, a busy machine: the Spark session builds ~45 models and runs
    ~140 tests and ~50 unit tests, each a Spark job): slow-marked, run by `make test-spark`."""
    duckdb_home = tmp_path / "duckdb"
    run_kam("generate", "--scale", "0.02", "--years", "2021-2025", home=duckdb_home, check=True)
    spark_home = copy_home(duckdb_home, tmp_path / "spark")
    _set(spark_home, {"engine": "spark", "spark": {"master": "local[2,4]"}})
    rerate = ("rerate", "--year", "2025", "--as-of", AS_OF, "--approved-by", "Li Wei")
    for home in (duckdb_home, spark_home):
        # Spark's session lives as long as its process: each home gets a process of its own.
        # The first build on Spark runs every unit test there too (Spark SQL's dialect).
        with with_unit_tests():
            run_kam("run", "--as-of", AS_OF, home=home, check=True, process=True)
    assert _differences(duckdb_home, spark_home) == []
    listed = query_published(spark_home, "SELECT count(*) FROM marts.key_accounts")[0][0]
    assert listed > 0
    for home in (duckdb_home, spark_home):
        run_kam(*rerate, home=home, check=True, process=True)
    assert _differences(duckdb_home, spark_home) == []
    assert query_published(
        spark_home,
        "SELECT DISTINCT rating_status, approved_by FROM marts.customer_ratings "
        "WHERE rating_year = 2025",
    ) == [("approved", "Li Wei")]
    # What Spark built is in Spark's own warehouse under the home, not in the DuckDB file's dbt.
    assert (spark_home / "spark" / "warehouse" / "marts.db" / "key_accounts").is_dir()


@pytest.mark.parametrize(
    ("settings", "environment", "message"),
    [
        ({"engine": "flink"}, {}, "kam.yml: engine: 'flink' is not one of duckdb, spark"),
        (
            {"engine": "spark", "spark": {"cluster": "x"}},
            {},
            "kam.yml: spark: unknown key 'cluster'",
        ),
        (
            {"engine": "spark", "spark": {"method": "thrift"}},
            {},
            "kam.yml: spark.host: method: thrift needs the Thrift server's host",
        ),
        (
            {"engine": "spark", "spark": {"method": "thrift", "host": "127.0.0.1", "port": 9}},
            {},
            "kam.yml: spark.host: cannot reach the Spark Thrift server at 127.0.0.1:9",
        ),
        (
            {"engine": "spark"},
            {"JAVA_HOME": "/nonexistent", "PATH": "/nonexistent"},
            "kam.yml: spark.method: session needs Java 17",
        ),
    ],
    ids=["unknown engine", "unknown key", "thrift without host", "unreachable host", "no java"],
)
def test_a_wrong_spark_setting_is_one_line_naming_it(
    published_home, tmp_path, monkeypatch, settings, environment, message
):
    home = copy_home(published_home, tmp_path / "home")
    _set(home, settings)
    before = (home / "published" / "kam.duckdb").read_bytes()
    for key, value in environment.items():
        monkeypatch.setenv(key, value)
    done = run_kam("build", "--as-of", AS_OF, home=home)
    assert done.returncode == 2, done.stderr
    # The error is the last line (before it, at most where the failed run's report is).
    assert done.stderr.strip().splitlines()[-1].startswith(f"kam: {message}"), done.stderr
    assert "Traceback" not in done.stderr
    assert (home / "published" / "kam.duckdb").read_bytes() == before


def test_the_spark_sources_are_the_dbt_sources():
    """kam writes as Parquet for Spark exactly the tables dbt declares as its sources."""
    import duckdb

    from kam.spark import raw_tables
    from kam.warehouse import create_raw_schema

    con = duckdb.connect()
    create_raw_schema(con)
    tables = {
        f"{schema}.{name}"
        for schema, name in con.execute(
            "SELECT schema_name, table_name FROM duckdb_tables()"
        ).fetchall()
    }
    assert set(raw_tables()) <= tables
    assert {"raw.orders", "raw.overrides", "ratings.customer_ratings"} <= set(raw_tables())
