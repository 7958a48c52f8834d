"""`kam ingest`: every export in the inbox into the warehouse's raw layer."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from kam.config import Config, SourceConfig
from kam.db import connect
from kam.ingest.digests import FileDigests
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
    stored, other connections to the same database read and parse the next ones (DuckDB
    releases the GIL), at most AHEAD of them, all under the instance's one memory_limit.
    """
    result = IngestResult()
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        # A batch ends in a partly filled row group. DuckDB's checkpoint would merge those of a
        # run into full ones, compressing the rows a second time (0.4 s of 4 at SF1); left as
        # they are, they cost a little space and nothing measurable to scan.
        con.execute("SET max_vacuum_tasks = 0")
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
        digests = FileDigests.load(con)
        # Closed before the connection is, whatever happens: it stops the preparing threads.
        with closing(_load_in_order(con, config, files, digests)) as batches:
            for batch in batches:
                result.batches.append(batch)
                if progress:
                    progress(batch)
        digests.save(con)
        con.execute("CHECKPOINT")
        con.execute("RESET max_vacuum_tasks")
    finally:
        con.close()
    return result


# Files prepared ahead of the one being stored, each on its own connection and stage slot.
# Storing (compressing and writing a batch) is the longer step once a file is parsed; two
# files prepared ahead keep both cores of a small machine busy (SF1: 6.4 s with one, 5.5 s
# with two), and bound the files in flight, hence the memory, to three.
AHEAD = 2


def _load_in_order(
    con: duckdb.DuckDBPyConnection,
    config: Config,
    files: list[tuple[SourceConfig, Path]],
    digests: FileDigests,
) -> Iterator[BatchResult]:
    """Batches of `files` in their order: file i is stored while the next ones are prepared."""
    if not files:
        return
    seen = known_contents(con)
    # Files in flight share the instance's threads: each query gets its share, which spares
    # DuckDB the cost of splitting every statement across threads that are busy anyway.
    threads = int(con.execute("SELECT current_setting('threads')").fetchone()[0])
    con.execute(f"SET threads = {max(1, threads // min(len(files), AHEAD + 1))}")
    workers = [con.cursor() for _ in range(AHEAD)]
    for worker in workers:
        install_macros(worker)
    pool = ThreadPoolExecutor(max_workers=AHEAD, thread_name_prefix="kam-ingest")
    pending: dict[int, Future[Prepared]] = {}

    def prepare(index: int) -> None:
        if index < len(files):
            cfg, path = files[index]
            worker = workers[index % AHEAD]  # files in flight have consecutive indexes
            slot = index % (AHEAD + 1)
            pending[index] = pool.submit(
                prepare_file, worker, config.home, cfg, path, slot, seen, digests
            )

    try:
        for index in range(AHEAD):
            prepare(index)
        for index in range(len(files)):
            prepared = pending.pop(index).result()
            prepare(index + AHEAD)
            yield store_prepared(con, config.home, prepared)
    except BaseException:
        for worker in workers:
            worker.interrupt()  # stop the files being prepared; they are dropped with the stage
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)
        for worker in workers:
            worker.close()
        con.execute(f"SET threads = {threads}")
