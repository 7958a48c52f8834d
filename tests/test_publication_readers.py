"""Readers of a publication: BI processes on the DuckDB file while versions are swapped in,
and the Postgres target with its read-only role."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import date
from pathlib import Path

import psycopg
import pytest
import yaml

from kam.home import Home
from kam.pipeline import run_pipeline
from tests.conftest import AS_OF, run_kam
from tests.helpers import copy_home, postgres_server

READER = r"""
import duckdb, json, os, sys
path, out, stop = sys.argv[1:4]
with open(out, "w") as log:
    while not os.path.exists(stop):
        try:
            con = duckdb.connect(path, read_only=True)
            try:
                run_id = con.execute("SELECT run_id FROM meta.publication").fetchone()[0]
                tables = [r[0] for r in con.execute(
                    "SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'"
                ).fetchall()]
                counts = {f"marts.{t}": con.execute(f"SELECT count(*) FROM marts.{t}").fetchone()[0]
                          for t in tables}
            finally:
                con.close()
            log.write(json.dumps({"run_id": run_id, "counts": counts}) + "\n")
        except Exception as error:
            log.write(json.dumps({"error": repr(error)}) + "\n")
"""


def _manifest(home: Path) -> dict:
    return json.loads((home / "published" / "manifest.json").read_text(encoding="utf-8"))


def test_a_reader_sees_only_complete_versions_during_20_publishes(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    manifests = {}
    first = _manifest(home)
    manifests[first["run_id"]] = first["row_counts"]
    log, stop = tmp_path / "reader.jsonl", tmp_path / "stop"
    reader = subprocess.Popen(
        [sys.executable, "-c", READER, str(home / "published" / "kam.duckdb"), str(log), str(stop)]
    )
    try:
        for _ in range(20):
            run_pipeline(
                Home.resolve(home),
                steps=("gate", "publish"),
                as_of=date.fromisoformat(AS_OF),
                echo=lambda _line: None,
            )
            manifest = _manifest(home)
            manifests[manifest["run_id"]] = manifest["row_counts"]
    finally:
        stop.touch()
        reader.wait(timeout=60)
    observations = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(manifests) == 21
    assert len(observations) > 20
    assert [o for o in observations if "error" in o] == []
    for observation in observations:
        assert observation["counts"] == manifests[observation["run_id"]]
    assert len({o["run_id"] for o in observations}) > 1


def test_postgres_target_swaps_schemas_and_grants_select_only(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    with postgres_server() as dsn:
        config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
        config["publish"] = {"postgres": {"dsn": dsn, "reader_role": "kam_reader"}}
        (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_kam("publish", "--as-of", AS_OF, home=home, check=True)
        expected = _manifest(home)["row_counts"]["marts.customer_value"]

        with psycopg.connect(dsn) as reader:
            # A BI query in an open transaction while two new versions are swapped in.
            assert (
                reader.execute("SELECT count(*) FROM marts.customer_value").fetchone()[0]
                == expected
            )
            for _ in range(2):
                done = subprocess.run(
                    [sys.executable, "-m", "kam", "publish", "--as-of", AS_OF, "--home", str(home)],
                    capture_output=True,
                    text=True,
                    timeout=300,
                )
                assert done.returncode == 0, done.stderr
            reader.rollback()
            assert (
                reader.execute("SELECT count(*) FROM marts.customer_value").fetchone()[0]
                == expected
            )
            run_id = reader.execute("SELECT run_id FROM marts.publication").fetchone()[0]
            assert run_id == _manifest(home)["run_id"]

        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("SET ROLE kam_reader")
            assert admin.execute("SELECT count(*) FROM marts.key_accounts").fetchone()[0] > 0
            for statement in (
                "INSERT INTO marts.key_accounts (customer_id) VALUES ('x')",
                "CREATE TABLE marts.scratch (x int)",
                "DROP TABLE marts.customer_value",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    admin.execute(statement)
            admin.execute("RESET ROLE")
            schemas = {r[0] for r in admin.execute("SELECT nspname FROM pg_namespace").fetchall()}
            assert "marts" in schemas
            assert not any(s.startswith("marts_new_") for s in schemas)
