"""`kam ingest`: every export in the inbox into the warehouse's raw layer."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kam.config import Config, SourceConfig
from kam.db import connect
from kam.ingest.load import (
    BatchResult,
    Prepared,
    attach_stage,
    known_contents,
    prepare_file,
    store_prepared,
)
from kam.ingest.parse import install_macros
from kam.schema import SOURCES
from kam.warehouse import create_raw_schema

__all__ = ["BatchResult", "IngestResult", "ingest"]


@dataclass
class IngestResult:
    batches: list[BatchResult] = field(default_factory=list)
    unmatched: list[str] = field(default_factory=list)  # sources whose globs matched no file

    @property
    def rejected(self) -> list[BatchResult]:
        return [b for b in self.batches if b.status == "rejected"]

    def count(self, status: str) -> int:
        return sum(1 for b in self.batches if b.status == status)


def ingest(
    config: Config,
    *,
    sources: list[str] | None = None,
    progress: Callable[[BatchResult], None] | None = None,
) -> IngestResult:
    """Load every new file of every configured source, in file-name order within a source.

    Files are stored one at a time, in that order, each in its own transaction; while one is
    stored, a second connection to the same database reads and parses the next (DuckDB
    releases the GIL), so at most two files are in flight under one memory_limit.
    """
    result = IngestResult()
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        install_macros(con)
        create_raw_schema(con)
        attach_stage(con)
        files: list[tuple[SourceConfig, Path]] = []
        for name in SOURCES:  # orders first: the mandatory source
            if name not in config.sources or (sources and name not in sources):
                continue
            cfg = config.sources[name]
            matched = cfg.files(config.home)
            if not matched:
                result.unmatched.append(name)
            files += [(cfg, path) for path in matched]
        for batch in _load_in_order(con, config, files):
            result.batches.append(batch)
            if progress:
                progress(batch)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return result


def _load_in_order(
    con: duckdb.DuckDBPyConnection, config: Config, files: list[tuple[SourceConfig, Path]]
):
    """Batches of `files` in their order: file i is stored while file i + 1 is prepared."""
    if not files:
        return
    seen = known_contents(con)
    worker = con.cursor()
    install_macros(worker)
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kam-ingest")

    def prepare(index: int) -> Future[Prepared]:
        cfg, path = files[index]
        return pool.submit(prepare_file, worker, config.home, cfg, path, index % 2, seen)

    try:
        pending = prepare(0)
        for index in range(len(files)):
            prepared = pending.result()
            if index + 1 < len(files):
                pending = prepare(index + 1)
            yield store_prepared(con, config.home, prepared)
    except BaseException:
        worker.interrupt()  # stop the file being prepared; it is dropped with the stage
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        worker.close()
