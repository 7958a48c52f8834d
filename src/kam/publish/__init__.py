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
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb

from kam.config import Config
from kam.db import quote_literal
from kam.gate.history import MARTS
from kam.ingest.files import sha256_of
from kam.publish.postgres import load_new_schema, swap_in, target_from_config
from kam.runs import Run
from kam.version import code_version

Echo = Callable[[str], None]
KEEP_VERSIONS = 3


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


def _write_serving_file(config: Config, staging: Path, meta: dict[str, Any]) -> dict[str, int]:
    """The serving DuckDB file and the Parquet copies, from the warehouse's marts."""
    serving = staging / "kam.duckdb"
    con = duckdb.connect(str(serving))
    try:
        con.execute(
            f"ATTACH {quote_literal(str(config.home.warehouse_path))} AS warehouse (READ_ONLY)"
        )
        con.execute("CREATE SCHEMA marts; CREATE SCHEMA meta")
        counts = {}
        for name in MARTS:
            con.execute(f"CREATE TABLE marts.{name} AS SELECT * FROM warehouse.marts.{name}")
            counts[f"marts.{name}"] = con.execute(f"SELECT count(*) FROM marts.{name}").fetchone()[
                0
            ]
            target = staging / "parquet" / f"{name}.parquet"
            target.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY marts.{name} TO {quote_literal(str(target))} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
        con.execute(
            """
            CREATE TABLE meta.publication AS SELECT
                ?::VARCHAR AS run_id, ?::TIMESTAMP AS published_at, ?::DATE AS as_of,
                ?::INTEGER AS rating_year, ?::VARCHAR AS rules_hash, ?::VARCHAR AS code_version
            """,
            [
                meta["run_id"],
                meta["published_at"],
                meta["as_of"],
                meta["rating_year"],
                meta["rules_hash"],
                meta["code_version"],
            ],
        )
        con.execute("DETACH warehouse")
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return counts


def _rating_year(config: Config) -> int | None:
    con = duckdb.connect(str(config.home.warehouse_path), read_only=True)
    try:
        return con.execute("SELECT max(rating_year) FROM marts.customer_ratings").fetchone()[0]
    finally:
        con.close()


def _swap_in(published: Path, staging: Path, run_id: str) -> None:
    """Parquet directory by symlink swap, then the DuckDB file by rename: each one atomic."""
    version_dir = published / "versions" / run_id
    version_dir.mkdir(parents=True)
    os.replace(staging / "parquet", version_dir / "parquet")
    link = published / f".parquet-{run_id}.tmp"
    os.symlink(Path("versions") / run_id / "parquet", link)
    parquet = published / "parquet"
    if parquet.exists() and not parquet.is_symlink():
        shutil.rmtree(parquet)  # a plain directory from elsewhere cannot be swapped atomically
    os.replace(link, parquet)
    os.replace(staging / "kam.duckdb", published / "kam.duckdb")


def publish(
    config: Config,
    run: Run,
    *,
    rules_hash: str,
    postgres_dsn: str | None = None,
    echo: Echo = print,
) -> dict[str, Any]:
    """Write and swap in a new published version; return its manifest.

    Everything is written first (staging file, Parquet, the Postgres schema); only then are
    the served names swapped, so a failure before the swap leaves every target as it was.
    """
    target = target_from_config(config.publish, postgres_dsn)
    published = config.home.published_dir
    published.mkdir(parents=True, exist_ok=True)
    clean_staging(published)
    staging = published / f".staging-{run.run_id}"
    staging.mkdir()
    meta = {
        "run_id": run.run_id,
        "published_at": datetime.now(UTC).replace(tzinfo=None).isoformat(timespec="seconds"),
        "as_of": run.as_of.isoformat(),
        "rating_year": _rating_year(config),
        "code_version": code_version(),
        "rules_hash": rules_hash,
    }
    counts = _write_serving_file(config, staging, meta)
    files = {"kam.duckdb": staging / "kam.duckdb"}
    files.update({f"parquet/{p.name}": p for p in sorted((staging / "parquet").glob("*.parquet"))})
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
    new_schema = None
    if target is not None:
        new_schema = load_new_schema(
            target, staging / "kam.duckdb", run.run_id, staging / "postgres"
        )
    _swap_in(published, staging, run.run_id)
    manifest_tmp = published / f".manifest-{run.run_id}.tmp"
    manifest_tmp.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(manifest_tmp, published / "manifest.json")
    shutil.rmtree(staging, ignore_errors=True)
    _prune_versions(published, run.run_id)
    if target is not None and new_schema is not None:
        swap_in(target, new_schema, run.run_id, echo)
        manifest["postgres"] = {"schema": target.schema, "reader_role": target.reader_role}
        echo(f"published to postgres schema {target.schema} ({target.dsn})")
    echo(f"published version {run.run_id}: {published / 'kam.duckdb'}")
    return manifest
