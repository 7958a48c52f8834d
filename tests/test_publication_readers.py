"""Readers of a publication: BI processes on the DuckDB file while versions are swapped in,
and the Postgres target: views that analysts build on, descriptions, keys, a read-only role."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from contextlib import closing
from datetime import date
from pathlib import Path

import duckdb
import psycopg
import pytest
import yaml

from kam.catalog import published_relations
from kam.errors import KamError
from kam.home import Home
from kam.pipeline import run_pipeline
from kam.publish import postgres
from tests.conftest import AS_OF, run_kam
from tests.helpers import copy_home, postgres_server

# A BI client that reads every mart again and again, pausing 0.1 s between reads (without the
# pause it would take a whole core from the publisher it watches: hundreds of reads either way).
READER = r"""
import duckdb, json, os, sys, time
path, out, stop = sys.argv[1:4]
with open(out, "w") as log:
    while not os.path.exists(stop):
        time.sleep(0.1)
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


def _publish(home: Path, dsn: str) -> str:
    """`kam publish --postgres DSN` in this process; the run id published."""
    run = run_pipeline(
        Home.resolve(home),
        steps=("gate", "publish"),
        as_of=date.fromisoformat(AS_OF),
        postgres_dsn=dsn,
        echo=lambda _line: None,
    )
    return run.run_id


def _versions(admin: psycopg.Connection) -> list[str]:
    """The served schema and the versioned ones."""
    query = "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'marts%' ORDER BY 1"
    return [row[0] for row in admin.execute(query).fetchall()]


def _served_run(dsn: str) -> str:
    with psycopg.connect(dsn) as pg:
        return pg.execute("SELECT run_id FROM marts.publication").fetchone()[0]


def test_an_analysts_view_survives_three_publications_and_reads_the_new_version(
    published_home, tmp_path
):
    home = copy_home(published_home, tmp_path / "home")
    with postgres_server() as dsn:
        first = _publish(home, dsn)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE SCHEMA bi")
            admin.execute(
                "CREATE VIEW bi.top_accounts AS SELECT customer_id, account_owner, revenue "
                "FROM marts.key_accounts ORDER BY revenue DESC, customer_id LIMIT 10"
            )
            admin.execute("GRANT USAGE ON SCHEMA bi TO kam_reader")
            admin.execute("GRANT SELECT ON bi.top_accounts TO kam_reader")
            view = admin.execute("SELECT 'bi.top_accounts'::regclass::oid").fetchone()[0]

        # A BI server's connection, querying without pause while versions are swapped in.
        seen, errors, stop = [], [], threading.Event()

        def read() -> None:
            with psycopg.connect(dsn, autocommit=True) as reader:
                reader.execute("SET ROLE kam_reader")
                while not stop.is_set():
                    try:
                        seen.append(
                            reader.execute(
                                "SELECT p.run_id, count(*) FROM bi.top_accounts "
                                "CROSS JOIN marts.publication AS p GROUP BY 1"
                            ).fetchone()
                        )
                    except psycopg.Error as error:
                        errors.append(repr(error))

        reader = threading.Thread(target=read)
        reader.start()
        try:
            published = []
            for publication in range(3):
                if publication == 2:  # the third version's rows differ from the first two
                    with closing(duckdb.connect(str(home / "warehouse" / "kam.duckdb"))) as con:
                        con.execute("UPDATE marts.key_accounts SET account_owner = 'owner v3'")
                published.append(_publish(home, dsn))
        finally:
            stop.set()
            reader.join(timeout=60)
        assert errors == []
        assert {run_id for run_id, _ in seen} >= {first}
        assert len({run_id for run_id, _ in seen}) >= 2
        assert all(rows == 10 for _, rows in seen)

        with psycopg.connect(dsn, autocommit=True) as admin:
            assert admin.execute("SELECT 'bi.top_accounts'::regclass::oid").fetchone()[0] == view
            assert admin.execute(
                "SELECT DISTINCT account_owner FROM bi.top_accounts"
            ).fetchall() == [("owner v3",)]
            assert published[-1] == _manifest(home)["run_id"]
            assert (
                admin.execute("SELECT run_id FROM marts.publication").fetchone()[0]
                == (published[-1])
            )
            # Only the served version is left; the marts are views over it.
            assert _versions(admin) == [
                "marts",
                "marts_v_" + published[-1].lower().replace("-", ""),
            ]
            kinds = admin.execute(
                "SELECT DISTINCT relkind FROM pg_class WHERE relnamespace = 'marts'::regnamespace"
            ).fetchall()
            assert kinds == [("v",)]


def test_postgres_marts_carry_descriptions_and_keys_and_grant_select_only(published_home, tmp_path):
    home = copy_home(published_home, tmp_path / "home")
    with postgres_server() as dsn:
        config = yaml.safe_load((home / "kam.yml").read_text(encoding="utf-8"))
        config["publish"] = {"postgres": {"dsn": dsn, "reader_role": "kam_reader"}}
        (home / "kam.yml").write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
        run_kam("publish", "--as-of", AS_OF, home=home, check=True)
        run_id = _manifest(home)["run_id"]
        version = "marts_v_" + run_id.lower().replace("-", "")

        with psycopg.connect(dsn, autocommit=True) as admin:
            assert _versions(admin) == ["marts", version]
            for schema in ("marts", version):
                described = dict(
                    admin.execute(
                        "SELECT c.relname || '.' || a.attname, col_description(c.oid, a.attnum) "
                        "FROM pg_class AS c JOIN pg_attribute AS a ON a.attrelid = c.oid "
                        "WHERE c.relnamespace = %s::regnamespace AND a.attnum > 0 "
                        "AND NOT a.attisdropped",
                        [schema],
                    ).fetchall()
                )
                for relation in published_relations():
                    table = f"{schema}.{relation.name}"
                    assert admin.execute(
                        "SELECT obj_description(%s::regclass)", [table]
                    ).fetchone() == (relation.description,)
                    for column in relation.columns:
                        assert described[f"{relation.name}.{column.name}"] == column.description
            constraints = "SELECT conrelid::regclass::text, array_agg(a.attname ORDER BY k.n) "
            constraints += "FROM pg_constraint AS c CROSS JOIN unnest(c.conkey) WITH ORDINALITY "
            constraints += "AS k(attnum, n) JOIN pg_attribute AS a "
            constraints += "ON a.attrelid = c.conrelid AND a.attnum = k.attnum "
            constraints += "WHERE c.contype = %s AND c.connamespace = %s::regnamespace GROUP BY 1"
            keys = dict(admin.execute(constraints, ["p", version]).fetchall())
            assert keys == {
                f"{version}.{relation.name}": list(relation.primary_key)
                for relation in published_relations()
                if relation.primary_key
            }
            # the grains with a nullable column (owner, region): a unique key, NULLs not distinct
            assert dict(admin.execute(constraints, ["u", version]).fetchall()) == {
                f"{version}.{relation.name}": list(relation.grain)
                for relation in published_relations()
                if not relation.primary_key
            }
            assert not {"owner_portfolio", "region_portfolio"} & {
                relation.name for relation in published_relations() if relation.primary_key
            }

            admin.execute("SET ROLE kam_reader")
            assert admin.execute("SELECT count(*) FROM marts.key_accounts").fetchone()[0] > 0
            assert admin.execute(f"SELECT count(*) FROM {version}.key_accounts").fetchone()[0] > 0
            for statement in (
                "INSERT INTO marts.key_accounts (customer_id) VALUES ('x')",
                f"INSERT INTO {version}.key_accounts (customer_id) VALUES ('x')",
                "CREATE TABLE marts.scratch (x int)",
                f"CREATE TABLE {version}.scratch (x int)",
                "DROP VIEW marts.customer_value",
                f"DROP TABLE {version}.customer_value",
            ):
                with pytest.raises(psycopg.errors.InsufficientPrivilege):
                    admin.execute(statement)
            admin.execute("RESET ROLE")


def test_a_publication_that_would_break_an_analysts_view_keeps_the_old_version(
    published_home, tmp_path
):
    home = copy_home(published_home, tmp_path / "home")
    with postgres_server() as dsn:
        first = _publish(home, dsn)
        manifest = _manifest(home)
        with psycopg.connect(dsn, autocommit=True) as admin:
            admin.execute("CREATE SCHEMA bi")
            admin.execute(
                "CREATE VIEW bi.flagged AS SELECT customer_id FROM marts.key_accounts "
                "WHERE risk_flag"
            )
        # The next build no longer has the column the analyst's view reads.
        with closing(duckdb.connect(str(home / "warehouse" / "kam.duckdb"))) as con:
            con.execute("ALTER TABLE marts.key_accounts DROP COLUMN risk_flag")
        with pytest.raises(KamError) as failed:
            _publish(home, dsn)
        message = str(failed.value)
        assert "\n" not in message
        assert "marts.key_accounts changes its columns" in message and "bi.flagged" in message
        assert _served_run(dsn) == first and _manifest(home) == manifest
        with psycopg.connect(dsn, autocommit=True) as admin:
            assert len(_versions(admin)) == 2  # marts and the served version, nothing left over
            admin.execute("DROP VIEW bi.flagged")
        # Nothing reads the view any more: it is made anew without the column.
        second = _publish(home, dsn)
        assert _served_run(dsn) == second
        with psycopg.connect(dsn, autocommit=True) as admin:
            columns = admin.execute(
                "SELECT attname FROM pg_attribute WHERE attrelid = 'marts.key_accounts'::regclass "
                "AND attnum > 0"
            ).fetchall()
            assert ("customer_id",) in columns and ("risk_flag",) not in columns


def test_a_bi_session_holding_a_view_fails_the_swap_after_a_wait(
    published_home, tmp_path, monkeypatch
):
    home = copy_home(published_home, tmp_path / "home")
    monkeypatch.setattr(postgres, "SWAP_WAIT_SECONDS", 1.0)
    with postgres_server() as dsn:
        first = _publish(home, dsn)
        manifest = _manifest(home)
        with psycopg.connect(dsn) as idle:  # a transaction left open on a view
            idle.execute("SELECT count(*) FROM marts.key_accounts").fetchone()
            with pytest.raises(KamError, match=r"marts stayed in use for 1 s by pid \d+"):
                _publish(home, dsn)
            assert _served_run(dsn) == first and _manifest(home) == manifest
        latest = _publish(home, dsn)  # the session has ended: the swap goes through
        assert _served_run(dsn) == latest != first


def test_a_held_connection_keeps_its_version_and_a_new_attach_reads_the_new_one(
    published_home, tmp_path
):
    """What docs/bi.md tells a BI server: reattach when manifest.json names another run."""
    home = copy_home(published_home, tmp_path / "home")
    serving = str(home / "published" / "kam.duckdb")
    run_id = "SELECT run_id FROM kam.meta.publication"
    with closing(duckdb.connect(":memory:")) as server:
        server.execute(f"ATTACH '{serving}' AS kam (READ_ONLY)")
        first = server.execute(run_id).fetchone()[0]
        with closing(duckdb.connect(serving, read_only=True)) as held:
            run_pipeline(
                Home.resolve(home),
                steps=("gate", "publish"),
                as_of=date.fromisoformat(AS_OF),
                echo=lambda _line: None,
            )
            latest = _manifest(home)["run_id"]
            assert latest != first
            # The open database stays the version it opened, and so does a new connect() in
            # this process while one is open: DuckDB hands out the database it has.
            assert held.execute("SELECT run_id FROM meta.publication").fetchone()[0] == first
            with closing(duckdb.connect(serving, read_only=True)) as again:
                assert again.execute("SELECT run_id FROM meta.publication").fetchone()[0] == first
            assert server.execute(run_id).fetchone()[0] == first
            server.execute("DETACH kam")
            server.execute(f"ATTACH '{serving}' AS kam (READ_ONLY)")
            assert server.execute(run_id).fetchone()[0] == latest
