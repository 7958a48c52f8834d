"""PRODUCT.md section 5, BI clients as they are: the serving file opens in the DuckDB 1.x
that BI drivers bundle, and every published column carries its description."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from kam.catalog import published_relations
from kam.config import parse_config
from kam.errors import ConfigError
from kam.home import Home
from tests.conftest import REPO

# Run by a DuckDB 1.x interpreter: every relation of the serving file, its row count and the
# comment of the relation and of each column.
READ_WITH_DUCKDB_1 = r"""
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
relations = {}
for schema, table, comment in con.execute(
    "SELECT schema_name, table_name, comment FROM duckdb_tables() ORDER BY ALL"
).fetchall():
    relations[f"{schema}.{table}"] = {
        "rows": con.execute(f"SELECT count(*) FROM {schema}.{table}").fetchone()[0],
        "comment": comment,
        "columns": dict(con.execute(
            "SELECT column_name, comment FROM duckdb_columns() "
            "WHERE schema_name = ? AND table_name = ?", [schema, table]
        ).fetchall()),
    }
print(json.dumps({"version": duckdb.__version__, "relations": relations}))
"""


def _uv() -> str:
    """uv from PATH, else the one `make install` bootstrapped into .tools/."""
    found = shutil.which("uv") or str(REPO / ".tools" / "bin" / "uv")
    if not Path(found).exists():
        pytest.fail("uv is needed to make a DuckDB 1.x environment: run `make install` first")
    return found


@pytest.fixture(scope="session")
def duckdb_1_python(tmp_path_factory) -> str:
    """A Python with DuckDB 1.x (`duckdb<2` from the package index, as BI drivers bundle)."""
    environment = tmp_path_factory.mktemp("duckdb1") / "venv"
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    env.pop("VIRTUAL_ENV", None)
    for command in (
        [_uv(), "venv", "--quiet", "--python", sys.executable, str(environment)],
        [_uv(), "pip", "install", "--quiet", "--python", str(environment), "duckdb<2"],
    ):
        subprocess.run(command, check=True, env=env, timeout=600, capture_output=True)
    return str(environment / "bin" / "python")


def test_duckdb_1x_reads_every_mart_and_its_comments(published_home, duckdb_1_python):
    serving = published_home / "published" / "kam.duckdb"
    done = subprocess.run(
        [duckdb_1_python, "-c", READ_WITH_DUCKDB_1, str(serving)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    assert read["version"].startswith("1.")
    manifest = json.loads((published_home / "published" / "manifest.json").read_text())
    relations = read["relations"]
    assert {f"marts.{name}": r["rows"] for name, r in _marts(relations).items()} == (
        manifest["row_counts"]
    )
    assert relations["meta.publication"]["rows"] == 1
    described = total = 0
    for relation in published_relations():
        served = relations[f"{relation.schema}.{relation.name}"]
        assert served["comment"] == relation.description
        for column in relation.columns:
            total += 1
            described += served["columns"][column.name] == column.description
    assert total >= 160 and described == total  # every column of the yml, word for word


def _marts(relations: dict) -> dict:
    return {name.split(".", 1)[1]: r for name, r in relations.items() if name.startswith("marts.")}


def test_parquet_fields_carry_their_descriptions(published_home):
    parquet = published_home / "published" / "parquet"
    for relation in published_relations():
        if relation.schema != "marts":
            continue
        schema = pq.read_schema(parquet / f"{relation.name}.parquet")
        assert schema.metadata[b"description"].decode() == relation.description
        assert [field.name for field in schema] == [column.name for column in relation.columns]
        for field, column in zip(schema, relation.columns, strict=True):
            assert field.metadata[b"description"].decode() == column.description


def test_the_serving_storage_version_is_a_checked_setting(tmp_path):
    home = Home(tmp_path)
    assert parse_config(home, {}).serving_storage_version == "v1.0.0"
    chosen = parse_config(home, {"publish": {"duckdb_storage_version": "latest"}})
    assert chosen.serving_storage_version == "latest"
    with pytest.raises(ConfigError, match=r"publish\.duckdb_storage_version"):
        parse_config(home, {"publish": {"duckdb_storage_version": "1.2"}})


def test_every_published_relation_has_a_grain_and_described_columns():
    relations = published_relations()
    assert [r.name for r in relations][-1] == "publication"
    for relation in relations:
        assert relation.grain, relation.name
        assert set(relation.grain) <= {c.name for c in relation.columns}
        assert all(column.term for column in relation.columns)
    key_accounts = next(r for r in relations if r.name == "key_accounts")
    assert key_accounts.grain == ("customer_id",)
    cohorts = next(r for r in relations if r.name == "retention_cohorts")
    assert cohorts.grain == ("cohort_grain", "cohort", "period_offset", "segment")
