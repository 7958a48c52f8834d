"""The one place that knows the file layout of a kam home directory."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from kam.errors import KamError

DEFAULT_HOME = "./kam_home"


@dataclass(frozen=True)
class Home:
    root: Path

    # The names of a published version, also used inside its staging directory.
    SERVING_FILE = "kam.duckdb"
    PARQUET_DIR = "parquet"
    MANIFEST = "manifest.json"
    # The HTML run report: in each run's directory, and of the published version.
    HTML_REPORT = "report.html"

    @classmethod
    def resolve(cls, path: str | os.PathLike | None = None) -> Home:
        """The home from an explicit path, else KAM_HOME, else ./kam_home."""
        chosen = path or os.environ.get("KAM_HOME") or DEFAULT_HOME
        return cls(Path(chosen).expanduser().resolve())

    @property
    def config_path(self) -> Path:
        return self.root / "kam.yml"

    @property
    def inbox(self) -> Path:
        return self.root / "inbox"

    @property
    def warehouse_dir(self) -> Path:
        return self.root / "warehouse"

    @property
    def warehouse_path(self) -> Path:
        return self.warehouse_dir / "kam.duckdb"

    @property
    def spark_dir(self) -> Path:
        """engine: spark — the local session's warehouse and metastore, the raw layer as
        Parquet and the relations Spark exports for kam (each under its own folder)."""
        return self.root / "spark"

    @property
    def published_dir(self) -> Path:
        return self.root / "published"

    @property
    def serving_file(self) -> Path:
        """The DuckDB file BI tools open read-only (replaced by rename)."""
        return self.published_dir / self.SERVING_FILE

    @property
    def published_parquet(self) -> Path:
        return self.published_dir / self.PARQUET_DIR

    @property
    def manifest_path(self) -> Path:
        return self.published_dir / self.MANIFEST

    @property
    def runs_dir(self) -> Path:
        """One directory per run (its report and Data Docs); `latest` links the newest."""
        return self.root / "runs"

    def run_dir(self, run_id: str) -> Path:
        return self.runs_dir / run_id

    def html_report(self, run_id: str) -> Path:
        """A run's self-contained HTML report (kam.report)."""
        return self.run_dir(run_id) / self.HTML_REPORT

    @property
    def published_report(self) -> Path:
        """The HTML report of the published version (listed in its manifest)."""
        return self.published_dir / self.HTML_REPORT

    @property
    def dbt_target_dir(self) -> Path:
        """dbt's target path: the compiled project, its manifest and the last run's results."""
        return self.work_dir / "dbt-target"

    @property
    def dbt_docs_dir(self) -> Path:
        """`kam docs`: dbt's documentation site of the warehouse (a target of its own, so the
        build's run results, which the gate reads, stay as they are)."""
        return self.root / "dbt-docs"

    @property
    def logs_dir(self) -> Path:
        return self.root / "logs"

    @property
    def work_dir(self) -> Path:
        """Scratch space (transcoded files, staging); safe to delete between runs."""
        return self.root / "tmp"

    @property
    def report_runtime_dir(self) -> Path:
        """The charting runtime the HTML reports inline, bundled once per version (kam.report)."""
        return self.work_dir / "report-runtime"

    @property
    def generated_dir(self) -> Path:
        """What `kam generate` knows about the data it wrote (e.g. planted defects)."""
        return self.root / "generated"

    @property
    def overrides_path(self) -> Path:
        return self.root / "overrides.csv"

    def ensure(self) -> None:
        for directory in (self.root, self.inbox, self.warehouse_dir, self.logs_dir):
            directory.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One kam run per home at a time: an OS lock that dies with its process."""
        self.root.mkdir(parents=True, exist_ok=True)
        with open(self.root / ".lock", "a+") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise KamError(f"another kam run holds the lock on {self.root}") from None
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)
