"""`kam ingest`: every export in the inbox into the warehouse's raw layer."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from kam.config import Config
from kam.db import connect
from kam.ingest.load import BatchResult, load_file
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
    """Load every new file of every configured source, in file-name order within a source."""
    result = IngestResult()
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        install_macros(con)
        create_raw_schema(con)
        for name in SOURCES:  # orders first: the mandatory source
            if name not in config.sources or (sources and name not in sources):
                continue
            cfg = config.sources[name]
            files = cfg.files(config.home)
            if not files:
                result.unmatched.append(name)
            for path in files:
                batch = load_file(con, config.home, cfg, path)
                result.batches.append(batch)
                if progress:
                    progress(batch)
        con.execute("CHECKPOINT")
    finally:
        con.close()
    return result
