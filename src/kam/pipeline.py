"""The pipeline steps, shared by the CLI and the Airflow DAGs: each takes the home lock."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

from kam.build import BuildResult, run_build
from kam.config import Config, load_config
from kam.errors import ConfigError, GateFailed, InputError, KamError
from kam.gate import dbt_results_check, run_gate
from kam.home import Home
from kam.ingest import BatchResult, ingest
from kam.publish import publish
from kam.rules import effective_rules, rules_hash
from kam.runs import Run, new_run, write_report

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


def run_ingest(home: Home, *, sources: list[str] | None = None, echo: Echo = print) -> Run:
    """Load the inbox; after loading the rest, raise InputError (exit 2) naming rejected files."""
    return run_pipeline(home, steps=("ingest",), sources=sources, echo=echo)


def run_build_step(home: Home, *, as_of: str | None = None, echo: Echo = print) -> BuildResult:
    """dbt build on the home's warehouse under the home lock."""
    run = run_pipeline(home, steps=("build",), as_of=parse_date(as_of), echo=echo)
    return run.build


def parse_date(text: str | None) -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"--as-of {text}: expected a date like 2026-01-15") from None


STEPS = ("ingest", "build", "gate", "publish")


def run_pipeline(
    home: Home,
    *,
    steps: tuple[str, ...] = STEPS,
    as_of: date | None = None,
    accept_churn: bool = False,
    sources: list[str] | None = None,
    postgres_dsn: str | None = None,
    echo: Echo = print,
) -> Run:
    """Run some steps of ingest → build → gate → publish as one run with one report.

    Nothing is published unless the gate ran in the same run and every blocking check passed.
    """
    config = load_config(home)
    if sources:
        unknown = sorted(set(sources) - set(config.sources))
        if unknown:
            raise InputError(f"--source {', '.join(unknown)}: not configured in {home.config_path}")
    run = new_run(home, " ".join(steps), as_of)
    with home.lock():
        try:
            _run_steps(config, run, steps, accept_churn, sources, postgres_dsn, echo)
        except KamError as error:
            run.status = "gate_failed" if isinstance(error, GateFailed) else "failed"
            run.message = str(error)
            raise
        except BaseException as error:
            run.status = "failed"
            run.message = f"{type(error).__name__}: {error}"
            raise
        finally:
            report = write_report(run)
            echo(f"report: {report}")
    return run


def _run_steps(
    config: Config,
    run: Run,
    steps: tuple[str, ...],
    accept_churn: bool,
    sources: list[str] | None,
    postgres_dsn: str | None,
    echo: Echo,
) -> None:
    home = config.home
    if "ingest" in steps:
        started = time.monotonic()
        result = ingest(config, sources=sources, progress=lambda b: echo(_describe(b)))
        run.phases["ingest"] = time.monotonic() - started
        for name in result.unmatched:
            echo(f"{name:15} no file matches {', '.join(config.sources[name].paths)}")
        run.facts["batches"] = {
            status: result.count(status) for status in ("loaded", "skipped", "rejected")
        }
        echo(
            f"ingest: {result.count('loaded')} loaded, {result.count('skipped')} skipped, "
            f"{result.count('rejected')} rejected"
        )
        if result.rejected:
            names = "; ".join(b.message or b.file_name for b in result.rejected)
            raise InputError(f"{len(result.rejected)} file(s) rejected: {names}")
    if "build" in steps:
        started = time.monotonic()
        run_vars = {"as_of_date": run.as_of.isoformat(), "run_id": run.run_id}
        build = run_build(config, run_vars=run_vars, echo=echo)
        run.phases["build"] = time.monotonic() - started
        run.build = build
        run.facts["rules_hash"] = build.rules_hash
        if build.failures:
            run.checks.append(dbt_results_check(home.work_dir / "dbt-target"))
            raise GateFailed(
                f"build failed: {'; '.join(build.failures)} (log: {home.logs_dir / 'dbt.log'})"
            )
    if "gate" in steps:
        started = time.monotonic()
        checks = run_gate(config, run, accept_churn=accept_churn, echo=echo)
        run.phases["gate"] = time.monotonic() - started
        failed = [c.name for c in checks if c.blocking and not c.passed]
        if failed:
            raise GateFailed(
                f"gate failed, nothing published: {', '.join(failed)} "
                f"(report: {run.directory / 'report.md'})"
            )
    if "publish" in steps:
        if "gate" not in steps:
            raise ConfigError("publishing needs the gate in the same run")
        started = time.monotonic()
        rules = run.facts.get("rules_hash") or rules_hash(effective_rules(config.rules))
        manifest = publish(config, run, rules_hash=rules, postgres_dsn=postgres_dsn, echo=echo)
        run.phases["publish"] = time.monotonic() - started
        run.facts["published"] = {
            "duckdb": str(home.published_dir / "kam.duckdb"),
            "parquet": str(home.published_dir / "parquet"),
            "manifest": str(home.published_dir / "manifest.json"),
            "rating_year": manifest["rating_year"],
        }
        run.status = "published"
    else:
        run.status = "ok"


def print_published(run: Run, echo: Echo) -> None:
    """Where a published version's files are, for the person who ran it."""
    published = run.facts.get("published")
    if not published:
        return
    echo(f"published run {run.run_id} (rating year {published['rating_year']}):")
    echo(f"  DuckDB   {published['duckdb']}")
    echo(f"  Parquet  {published['parquet']}/")
    echo(f"  manifest {published['manifest']}")
    echo(f"  report   {run.directory / 'report.md'}")


def run_demo(home_root: Path | None, *, scale: float, echo: Echo = print) -> Home:
    """A home with generated exports, run through the whole pipeline."""
    from kam.generate import generate

    root = home_root or Path(tempfile.mkdtemp(prefix="kam-demo-"))
    home = Home.resolve(root)
    echo(f"demo home: {home.root}")
    summary = generate(home, scale=scale, progress=echo)
    echo(f"generated {summary.customers:,} customers, {sum(summary.rows.values()):,} rows")
    run = run_pipeline(home, echo=echo)
    print_published(run, echo)
    return home
