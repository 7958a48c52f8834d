"""The pipeline steps, shared by the CLI and the Airflow DAGs: each takes the home lock."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from pathlib import Path

from kam.build import BuildResult, run_build
from kam.config import load_config
from kam.errors import InputError
from kam.home import Home
from kam.ingest import BatchResult, IngestResult, ingest

Echo = Callable[[str], None]


def _describe(batch: BatchResult) -> str:
    if batch.status == "loaded":
        rate = batch.bytes / 1e6 / batch.seconds if batch.seconds else 0.0
        return (
            f"{batch.source:15} {batch.file_name:32} loaded   {batch.rows_read:>10,} read "
            f"{batch.rows_loaded:>10,} loaded {batch.rows_quarantined:>8,} quarantined "
            f"({batch.seconds:.1f} s, {rate:.0f} MB/s)"
        )
    if batch.status == "skipped":
        return f"{batch.source:15} {batch.file_name:32} skipped  ({batch.message})"
    return f"{batch.source:15} {batch.file_name:32} REJECTED {batch.message}"


def run_ingest(home: Home, *, sources: list[str] | None = None, echo: Echo = print) -> IngestResult:
    """Load the inbox; after loading the rest, raise InputError (exit 2) naming rejected files."""
    config = load_config(home)
    if sources:
        unknown = sorted(set(sources) - set(config.sources))
        if unknown:
            raise InputError(f"--source {', '.join(unknown)}: not configured in {home.config_path}")
    with home.lock():
        result = ingest(config, sources=sources, progress=lambda b: echo(_describe(b)))
    for name in result.unmatched:
        echo(f"{name:15} no file matches {', '.join(config.sources[name].paths)}")
    echo(
        f"ingest: {result.count('loaded')} loaded, {result.count('skipped')} skipped, "
        f"{result.count('rejected')} rejected"
    )
    if result.rejected:
        names = "; ".join(b.message or b.file_name for b in result.rejected)
        raise InputError(f"{len(result.rejected)} file(s) rejected: {names}")
    return result


def run_build_step(home: Home, *, as_of: str | None = None, echo: Echo = print) -> BuildResult:
    """dbt build on the home's warehouse under the home lock."""
    config = load_config(home)
    run_vars = {"as_of_date": as_of} if as_of else None
    with home.lock():
        return run_build(config, run_vars=run_vars, echo=echo)


def run_demo(home_root: Path | None, *, scale: float, echo: Echo = print) -> Home:
    """A home with generated exports, run through the pipeline as far as it exists."""
    from kam.generate import generate

    root = home_root or Path(tempfile.mkdtemp(prefix="kam-demo-"))
    home = Home.resolve(root)
    echo(f"demo home: {home.root}")
    summary = generate(home, scale=scale, progress=echo)
    echo(f"generated {summary.customers:,} customers, {sum(summary.rows.values()):,} rows")
    run_ingest(home, echo=echo)
    echo(f"warehouse: {home.warehouse_path}")
    echo(f"inspect it with: kam status --home {home.root}")
    return home
