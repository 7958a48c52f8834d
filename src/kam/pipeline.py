"""The pipeline steps, shared by the CLI and the Airflow DAGs.

A run holds the home's lock from its first step to its last and always ends with a report in
runs/<run_id>/; nothing is published unless the gate ran in the same run and passed.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kam.config import Config, load_config
from kam.errors import ConfigError, GateFailed, InputError, KamError
from kam.home import Home
from kam.ingest import BatchResult, ingest
from kam.rules import effective_rules, rules_hash
from kam.runs import Run, new_run, open_run, write_report

if TYPE_CHECKING:
    from kam.gate import SuiteRunner
    from kam.publish import Staged

Echo = Callable[[str], None]
STEPS = ("ingest", "build", "gate", "publish")


def parse_date(text: str | None, option: str = "--as-of") -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text}: expected a date like 2026-01-15") from None


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


@contextmanager
def recorded_run(
    home: Home, command: str, as_of: date | None, echo: Echo, run_id: str | None = None
) -> Iterator[Run]:
    """A run under the home lock whose report is written however it ends.

    With `run_id`, the run of that id is continued (each task of an Airflow DAG run adds its
    part to the same report).
    """
    with home.lock():
        run = open_run(home, run_id, command, as_of) if run_id else new_run(home, command, as_of)
        run.status = "running"
        try:
            yield run
            if run.status == "running":
                run.status = "ok"
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


def ingest_step(config: Config, run: Run, sources: list[str] | None, echo: Echo) -> None:
    """Load the inbox; after loading the rest, raise InputError (exit 2) naming rejected files."""
    started = time.monotonic()
    result = ingest(config, sources=sources, progress=lambda b: echo(_describe(b)))
    run.phases["ingest"] = time.monotonic() - started
    for name in result.unmatched:
        echo(f"{name:15} no file matches {', '.join(config.sources[name].paths)}")
    counts = {status: result.count(status) for status in ("loaded", "skipped", "rejected")}
    run.facts["batches"] = counts
    echo(
        f"ingest: {counts['loaded']} loaded, {counts['skipped']} skipped, "
        f"{counts['rejected']} rejected"
    )
    if result.rejected:
        names = "; ".join(b.message or b.file_name for b in result.rejected)
        raise InputError(f"{len(result.rejected)} file(s) rejected: {names}")


def build_step(
    config: Config,
    run: Run,
    echo: Echo,
    *,
    select: str | None = None,
    extra_vars: dict[str, Any] | None = None,
    full_refresh: bool = False,
    aging_as_of: date | None = None,
) -> None:
    """dbt build (or the part of it downstream of `select`); a failing node fails the run.
    `aging_as_of`: the date of the receivables aging (default the latest document date)."""
    # The steps import what they need: `kam ingest` does not load dbt, GX or pandas.
    from kam.build import run_build
    from kam.gate import dbt_results_check

    started = time.monotonic()
    run_vars = {
        "as_of_date": run.as_of.isoformat(),
        "aging_as_of_date": aging_as_of.isoformat() if aging_as_of else None,
        "run_id": run.run_id,
        **(extra_vars or {}),
    }
    if aging_as_of:
        run.facts["aging_as_of"] = aging_as_of.isoformat()
    build = run_build(
        config, run_vars=run_vars, select=select, full_refresh=full_refresh, echo=echo
    )
    run.phases["build"] = run.phases.get("build", 0.0) + time.monotonic() - started
    run.build = build
    run.facts["rules_hash"] = build.rules_hash
    if build.failures:
        run.checks.append(dbt_results_check(config.home.work_dir / "dbt-target"))
        raise GateFailed(
            f"build failed: {'; '.join(build.failures)} (log: {config.home.logs_dir / 'dbt.log'})"
        )


@contextmanager
def prewarmed_suites(config: Config) -> Iterator[SuiteRunner | None]:
    """For a gate after a build in the same process: GX loads in a process of its own while
    the build runs (kam.gate.worker). None where no process can be started: the gate then runs
    the suites itself."""
    from kam.gate.worker import SuiteWorker

    try:
        worker = SuiteWorker(config.home.warehouse_path, config.duckdb)
    except OSError:
        yield None
        return
    with closing(worker):
        yield worker


def gate_step(
    config: Config,
    run: Run,
    accept_churn: bool,
    echo: Echo,
    *,
    dbt_tested_upstream: bool = False,
    suites: SuiteRunner | None = None,
) -> None:
    """Every blocking check; GateFailed (exit 1) naming the failed ones."""
    from kam.gate import run_gate

    started = time.monotonic()
    checks = run_gate(
        config,
        run,
        accept_churn=accept_churn,
        dbt_tested_upstream=dbt_tested_upstream,
        suites=suites,
        echo=echo,
    )
    run.phases["gate"] = time.monotonic() - started
    failed = [c.name for c in checks if c.blocking and not c.passed]
    if failed:
        raise GateFailed(
            f"gate failed, nothing published: {', '.join(failed)} "
            f"(report: {run.directory / 'report.md'})"
        )


def _run_rules_hash(config: Config, run: Run) -> str:
    return run.facts.get("rules_hash") or rules_hash(effective_rules(config.rules))


@contextmanager
def staged_during_gate(config: Config, run: Run) -> Iterator[Staged]:
    """The new version's files, written while the gate runs; discarded unless published.
    The publish phase then only waits for what is left of the writing, and swaps."""
    from kam.publish import Staged

    staged = Staged(config, run, _run_rules_hash(config, run))
    try:
        yield staged
    finally:
        staged.discard()


def publish_step(
    config: Config,
    run: Run,
    postgres_dsn: str | None,
    echo: Echo,
    *,
    staged: Staged | None = None,
) -> None:
    from kam.publish import publish

    started = time.monotonic()
    manifest = publish(
        config,
        run,
        rules_hash=_run_rules_hash(config, run),
        postgres_dsn=postgres_dsn,
        staged=staged,
        echo=echo,
    )
    run.phases["publish"] = time.monotonic() - started
    published = config.home.published_dir
    run.facts["published"] = {
        "duckdb": str(published / "kam.duckdb"),
        "parquet": str(published / "parquet"),
        "manifest": str(published / "manifest.json"),
        "rating_year": manifest["rating_year"],
    }
    run.status = "published"


def run_pipeline(
    home: Home,
    *,
    steps: tuple[str, ...] = STEPS,
    as_of: date | None = None,
    accept_churn: bool = False,
    sources: list[str] | None = None,
    postgres_dsn: str | None = None,
    full_refresh: bool = False,
    aging_as_of: date | None = None,
    echo: Echo = print,
) -> Run:
    """Run some steps of ingest → build → gate → publish as one run with one report."""
    config = load_config(home)
    if sources:
        unknown = sorted(set(sources) - set(config.sources))
        if unknown:
            raise InputError(f"--source {', '.join(unknown)}: not configured in {home.config_path}")
    if "publish" in steps and "gate" not in steps:
        raise ConfigError("publishing needs the gate in the same run")
    with recorded_run(home, " ".join(steps), as_of, echo) as run, ExitStack() as stack:
        if "ingest" in steps:
            ingest_step(config, run, sources, echo)
        suites = None
        if "build" in steps and "gate" in steps:  # started after the ingest, which uses every core
            suites = stack.enter_context(prewarmed_suites(config))
        if "build" in steps:
            build_step(config, run, echo, full_refresh=full_refresh, aging_as_of=aging_as_of)
        staged = None
        if "publish" in steps:  # the gate mostly waits on its worker process meanwhile
            staged = stack.enter_context(staged_during_gate(config, run))
        if "gate" in steps:
            gate_step(config, run, accept_churn, echo, suites=suites)
        if "publish" in steps:
            publish_step(config, run, postgres_dsn, echo, staged=staged)
    return run


def run_ingest(home: Home, *, sources: list[str] | None = None, echo: Echo = print) -> Run:
    """`kam ingest`: load the inbox as a run of its own."""
    return run_pipeline(home, steps=("ingest",), sources=sources, echo=echo)


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
    """A home with generated exports: run the whole pipeline, then the annual re-rating of the
    last generated year, approved; print where everything is."""
    from kam.generate import generate
    from kam.rerate import run_rerate

    root = home_root or Path(tempfile.mkdtemp(prefix="kam-demo-"))
    home = Home.resolve(root)
    echo(f"demo home: {home.root}")
    summary = generate(home, scale=scale, progress=echo)
    echo(f"generated {summary.customers:,} customers, {sum(summary.rows.values()):,} rows")
    run_pipeline(home, echo=echo)
    year = summary.years[-1]
    echo(f"annual re-rating of {year}, approved by 'demo'")
    rating = run_rerate(home, year=year, approved_by="demo", echo=echo)
    print_published(rating, echo)
    echo(f"the report of every run: kam report --home {home.root}")
    return home
