"""`kam publish`: a new version of the serving files, swapped in atomically.

Layout of <home>/published/ (readers only ever open these names):
    kam.duckdb           the serving DuckDB file (marts.* and meta.publication), replaced by rename
    parquet/             a symlink to versions/<run_id>/parquet, replaced by rename
    manifest.json        written last, by rename
    versions/<run_id>/   the Parquet copies of the last few versions
    .staging-<run_id>/   work in progress; whatever a killed run left is removed by the next
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from kam.catalog import PUBLICATION, Relation, comment_statements, published_relations
from kam.checksums import sha256_of
from kam.config import Config
from kam.console import summary
from kam.db import connect, quote_literal
from kam.errors import ConfigError
from kam.home import Home
from kam.publish.postgres import (
    discard_version,
    drop_old_versions,
    load_new_schema,
    swap_in,
    target_from_config,
)
from kam.runs import Run
from kam.version import code_version
from kam.warehouse import MARTS

Echo = Callable[[str], None]
KEEP_VERSIONS = 3
# Marts copied at once into the serving file and Parquet (SF10: 1.95 s one by one, 1.29 s
# two at a time on two cores).
PARALLEL_MARTS = 2


def clean_staging(published_dir: Path) -> None:
    """Remove what an interrupted run left behind (call under the home lock)."""
    if not published_dir.exists():
        return
    for leftover in published_dir.glob(".staging-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for leftover in published_dir.glob(".*.tmp"):
        leftover.unlink(missing_ok=True)


def _prune_versions(published_dir: Path, current: str) -> None:
    """Keep the last few Parquet versions (readers may still be on the previous one)."""
    versions = sorted((published_dir / "versions").glob("*"))
    for old in versions[:-KEEP_VERSIONS]:
        if old.name != current:
            shutil.rmtree(old, ignore_errors=True)


def _storage_error(error: duckdb.Error) -> ConfigError:
    return ConfigError(
        "kam.yml: publish.duckdb_storage_version: " + str(error).splitlines()[0].split(", valid")[0]
    )


def _write_parquet(cursor: duckdb.DuckDBPyConnection, relation: Relation, target: Path) -> None:
    """A mart as zstd Parquet whose fields carry their descriptions (the Arrow schema that
    pyarrow, pandas and polars read) and whose file metadata carries the relation's."""
    table = cursor.sql(f"SELECT * FROM serving.marts.{relation.name}").to_arrow_table()
    schema = pa.schema(
        [
            field.with_metadata({"description": relation.description_of(field.name) or ""})
            for field in table.schema
        ],
        metadata={"description": relation.description},
    )
    pq.write_table(pa.Table.from_arrays(table.columns, schema=schema), target, compression="zstd")


def _write_serving_file(config: Config, staging: Path, meta: dict[str, Any]) -> dict[str, int]:
    """The serving DuckDB file and the Parquet copies, from the warehouse's marts, with the
    description of every relation and column; `meta` gets the rating year published
    (key_accounts' year, even when its list is empty)."""
    serving = staging / Home.SERVING_FILE
    relations = {relation.name: relation for relation in published_relations()}
    con = connect(settings=config.duckdb)
    try:
        try:
            # Attached, not opened: only ATTACH chooses the storage version of a new file.
            con.execute(
                f"ATTACH {quote_literal(str(serving))} AS serving "
                f"(STORAGE_VERSION {quote_literal(config.serving_storage_version)})"
            )
        except duckdb.InvalidInputException as error:
            raise _storage_error(error) from None
        con.execute(
            f"ATTACH {quote_literal(str(config.home.warehouse_path))} AS warehouse (READ_ONLY)"
        )
        meta["rating_year"] = con.execute(
            "SELECT max(rating_year) FROM warehouse.intermediate.int_rating_years "
            "WHERE is_published"
        ).fetchone()[0]
        con.execute("CREATE SCHEMA serving.marts; CREATE SCHEMA serving.meta")
        for name in MARTS:
            con.execute(
                f"CREATE TABLE serving.marts.{name} AS "
                f"SELECT * FROM warehouse.marts.{name} WITH NO DATA"
            )
        (staging / Home.PARQUET_DIR).mkdir()
        sizes = dict(
            con.execute(
                "SELECT table_name, estimated_size FROM duckdb_tables() "
                "WHERE database_name = 'warehouse' AND schema_name = 'marts'"
            ).fetchall()
        )

        def copy(name: str) -> tuple[str, int]:
            cursor = con.cursor()
            try:
                (rows,) = cursor.execute(
                    f"INSERT INTO serving.marts.{name} SELECT * FROM warehouse.marts.{name}"
                ).fetchone()
                _write_parquet(
                    cursor, relations[name], staging / Home.PARQUET_DIR / f"{name}.parquet"
                )
            finally:
                cursor.close()
            return f"marts.{name}", rows

        # A mart fills a few row groups at most, too few to keep every core busy on its own.
        largest_first = sorted(MARTS, key=lambda name: -sizes.get(name, 0))
        with ThreadPoolExecutor(max_workers=PARALLEL_MARTS) as pool:
            copied = dict(pool.map(copy, largest_first))
        counts = {f"marts.{name}": copied[f"marts.{name}"] for name in MARTS}
        columns = PUBLICATION.columns
        con.execute(
            "CREATE TABLE serving.meta.publication AS SELECT "
            + ", ".join(f"?::{column.data_type} AS {column.name}" for column in columns),
            [meta[column.name] for column in columns],
        )
        present: dict[str, set[str]] = {}
        for table, column in con.execute(
            "SELECT schema_name || '.' || table_name, column_name FROM duckdb_columns() "
            "WHERE database_name = 'serving'"
        ).fetchall():
            present.setdefault(table, set()).add(column)
        comments = [
            statement
            for relation in relations.values()
            for statement in comment_statements(
                relation,
                f"serving.{relation.schema}.{relation.name}",
                present[f"{relation.schema}.{relation.name}"],
            )
        ]
        # One transaction: a comment alone is a catalog commit (0.1 s for all, 0.03 s at once).
        con.execute("BEGIN; " + "; ".join(comments) + "; COMMIT")
        con.execute("DETACH warehouse")
        con.execute("DETACH serving")
    finally:
        con.close()
    return counts


def _stage_report(config: Config, run: Run, staging: Path, echo: Echo) -> bool:
    """The version's HTML report, from its staged serving file; False (one line said) when
    it could not be written: the version is published without one."""
    from kam.report import write_page

    started = time.monotonic()
    try:
        write_page(
            config,
            run,
            staging / Home.HTML_REPORT,
            echo,
            serving=staging / Home.SERVING_FILE,
            status="published",
        )
    except Exception as error:
        summary(echo, f"report: {Home.HTML_REPORT} not written: {type(error).__name__}: {error}")
        return False
    finally:
        run.phases["report"] = run.phases.get("report", 0.0) + time.monotonic() - started
    return True


def _swap_in(home: Home, staging: Path, run_id: str) -> None:
    """Parquet directory by symlink swap, then the DuckDB file and the report by rename: each
    one atomic."""
    published = home.published_dir
    version_dir = published / "versions" / run_id
    version_dir.mkdir(parents=True)
    os.replace(staging / Home.PARQUET_DIR, version_dir / Home.PARQUET_DIR)
    link = published / f".parquet-{run_id}.tmp"
    os.symlink(Path("versions") / run_id / Home.PARQUET_DIR, link)
    parquet = home.published_parquet
    if parquet.exists() and not parquet.is_symlink():
        shutil.rmtree(parquet)  # a plain directory from elsewhere cannot be swapped atomically
    os.replace(link, parquet)
    os.replace(staging / Home.SERVING_FILE, home.serving_file)
    if (staging / Home.HTML_REPORT).exists():
        os.replace(staging / Home.HTML_REPORT, home.published_report)
    else:  # not the report of this version
        home.published_report.unlink(missing_ok=True)


class Staged:
    """A run's serving file and Parquet copies, written into published/.staging-<run_id> by a
    thread of its own: a run stages them while its gate runs (the gate mostly waits on the
    Great Expectations worker), and `publish` swaps them in only once the gate has passed.
    Nothing served changes until then; `discard` removes what was staged."""

    def __init__(self, config: Config, run: Run, rules_hash: str) -> None:
        published = config.home.published_dir
        published.mkdir(parents=True, exist_ok=True)
        clean_staging(published)
        self.directory = published / f".staging-{run.run_id}"
        self.directory.mkdir()
        self.meta: dict[str, Any] = {
            "run_id": run.run_id,
            "published_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
            "as_of": run.as_of.isoformat(),
            "rating_year": None,
            "code_version": code_version(),
            "rules_hash": rules_hash,
        }
        self._counts: dict[str, int] = {}
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._write, args=(config,), name="kam-publish")
        self._thread.start()

    def _write(self, config: Config) -> None:
        try:
            self._counts = _write_serving_file(config, self.directory, self.meta)
        except BaseException as error:  # raised again by `counts`, in the run's own thread
            self._error = error

    def counts(self) -> dict[str, int]:
        """The row count of every mart written (waiting for the writing to end)."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self._counts

    def discard(self) -> None:
        self._thread.join()
        shutil.rmtree(self.directory, ignore_errors=True)


def publish(
    config: Config,
    run: Run,
    *,
    rules_hash: str,
    postgres_dsn: str | None = None,
    staged: Staged | None = None,
    echo: Echo = print,
) -> dict[str, Any]:
    """Write (or take the `staged` files) and swap in a new published version; return its
    manifest.

    Everything is written first (staging file, Parquet, the Postgres version); only then are
    the served names swapped, Postgres' views first, so a failure before the local swap leaves
    every target as it was.
    """
    target = target_from_config(config.publish, postgres_dsn)
    published = config.home.published_dir
    staged = staged or Staged(config, run, rules_hash)
    try:
        counts = staged.counts()
    except BaseException:
        staged.discard()
        raise
    staging, meta = staged.directory, staged.meta
    files = {Home.SERVING_FILE: staging / Home.SERVING_FILE}
    if _stage_report(config, run, staging, echo):
        files[Home.HTML_REPORT] = staging / Home.HTML_REPORT
    files.update(
        {
            f"{Home.PARQUET_DIR}/{p.name}": p
            for p in sorted((staging / Home.PARQUET_DIR).glob("*.parquet"))
        }
    )
    manifest = {
        **meta,
        "data_through": run.facts.get("data_through"),
        "row_counts": counts,
        "files": {
            name: {"sha256": sha256_of(path), "bytes": path.stat().st_size}
            for name, path in files.items()
        },
        "checks": {
            check.name: {
                "passed": check.passed,
                "failing": check.failing_count,
                "observed": check.observed,
            }
            for check in run.checks
        },
    }
    if target is not None:
        # Postgres first: a swap that fails (a BI session holds a view, an analyst's view
        # would break) leaves every target as it was.
        version = load_new_schema(
            target, staging / Home.SERVING_FILE, run.run_id, staging / "postgres"
        )
        try:
            swap_in(target, version, run.run_id)
        except BaseException:
            with suppress(Exception):  # the swap's own error is the one to report
                discard_version(target, version)
            raise
    _swap_in(config.home, staging, run.run_id)
    manifest_tmp = published / f".manifest-{run.run_id}.tmp"
    manifest_tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(manifest_tmp, config.home.manifest_path)
    shutil.rmtree(staging, ignore_errors=True)
    _prune_versions(published, run.run_id)
    if target is not None:
        drop_old_versions(target, version, echo)
        manifest["postgres"] = {"schema": target.schema, "reader_role": target.reader_role}
        summary(echo, f"published to postgres schema {target.schema} ({target.dsn})")
    summary(echo, f"published version {run.run_id}: {config.home.serving_file}")
    return manifest
