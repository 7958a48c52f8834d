"""The pipeline steps, shared by the CLI and the Airflow DAGs.

A run holds the home's lock from its first step to its last and always ends with a report in
runs/<run_id>/; nothing is published unless the gate ran in the same run and passed.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, closing, contextmanager
from datetime import date
from typing import TYPE_CHECKING

from kam.config import Config, load_config
from kam.console import summary
from kam.errors import ConfigError, GateFailed, InputError, KamError
from kam.home import Home
from kam.ingest import BatchResult, ingest
from kam.report import write_run_report
from kam.rules import effective_rules, rules_hash
from kam.runs import Run, new_run, open_run, write_report

if TYPE_CHECKING:
    from kam.gate import SuiteRunner
    from kam.publish import Staged

Echo = Callable[[str], None]
STEPS = ("ingest", "build", "gate", "publish")


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
    config: Config,
    command: str,
    echo: Echo,
    *,
    as_of: date | None = None,
    run_id: str | None = None,
    aging_as_of: date | None = None,
) -> Iterator[Run]:
    """A run under the home lock whose report is written however it ends: the run's context
    (home, id, as-of date, aging date), made once by the CLI from its options or by an Airflow
    task from its context, and carried by the Run to every step.

    The as-of date defaults to today in kam.yml's time zone. With `run_id`, the run of that id
    is continued (each task of an Airflow DAG run adds its part to the same report).
    """
    home = config.home
    as_of = as_of or config.today()
    with home.lock():
        run = open_run(home, run_id, command, as_of) if run_id else new_run(home, command, as_of)
        if aging_as_of:
            run.aging_as_of = aging_as_of
            run.facts["aging_as_of"] = aging_as_of.isoformat()
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
            page = write_run_report(config, run, echo)
            report = write_report(run)
            summary(echo, f"report: {page or report}")


def ingest_step(config: Config, run: Run, sources: list[str] | None, echo: Echo) -> None:
    """Load the inbox; after loading the rest, raise InputError (exit 2) naming rejected files."""
    started = time.monotonic()
    result = ingest(config, sources=sources, progress=lambda b: echo(_describe(b)))
    run.phases["ingest"] = time.monotonic() - started
    for name in result.unmatched:
        echo(f"{name:15} no file matches {', '.join(config.sources[name].paths)}")
    counts = {status: result.count(status) for status in ("loaded", "skipped", "rejected")}
    run.facts["batches"] = counts
    summary(
        echo,
        f"ingest: {counts['loaded']} loaded, {counts['skipped']} skipped, "
        f"{counts['rejected']} rejected",
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
    selector: str | None = None,
    extra_env: dict[str, str] | None = None,
    full_refresh: bool = False,
) -> None:
    """dbt build (or a part of it: kam.build.run_build); a failing node fails the run."""
    # The steps import what they need: `kam ingest` does not load dbt, GX or pandas.
    from kam.build import run_build
    from kam.gate import dbt_results_check

    started = time.monotonic()
    build = run_build(
        config,
        run,
        select=select,
        selector=selector,
        extra_env=extra_env,
        full_refresh=full_refresh,
        echo=echo,
    )
    run.phases["build"] = run.phases.get("build", 0.0) + time.monotonic() - started
    run.build = build
    run.facts["rules_hash"] = build.rules_hash
    if build.failures:
        run.checks.append(dbt_results_check(config.home.dbt_target_dir))
        raise GateFailed(
            f"build failed: {'; '.join(build.failures)} (log: {config.home.logs_dir / 'dbt.log'})"
        )


@contextmanager
def prewarmed_suites(config: Config) -> Iterator[SuiteRunner | None]:
    """For a gate after a build in the same process: GX loads in a process of its own while
    the build runs (kam.gate.worker). None where no process can be started, or where GX is
    loaded in this process already (a long-lived process that gated before, which a worker
    would only make import GX again): the gate then runs the suites itself."""
    from kam.gate.worker import SuiteWorker

    if "great_expectations" in sys.modules:
        yield None
        return
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
    report_before = run.phases.get("report", 0.0)  # the version's report is a phase of its own
    manifest = publish(
        config,
        run,
        rules_hash=_run_rules_hash(config, run),
        postgres_dsn=postgres_dsn,
        staged=staged,
        echo=echo,
    )
    report_seconds = run.phases.get("report", 0.0) - report_before
    run.phases["publish"] = time.monotonic() - started - report_seconds
    home = config.home
    run.facts["published"] = {
        "duckdb": str(home.serving_file),
        "parquet": str(home.published_parquet),
        "manifest": str(home.manifest_path),
        "rating_year": manifest["rating_year"],
    }
    if Home.HTML_REPORT in manifest["files"]:
        run.facts["published"]["report"] = str(home.published_report)
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
    with (
        recorded_run(config, " ".join(steps), echo, as_of=as_of, aging_as_of=aging_as_of) as run,
        ExitStack() as stack,
    ):
        if "ingest" in steps:
            ingest_step(config, run, sources, echo)
        suites = None
        if "build" in steps and "gate" in steps:  # started after the ingest, which uses every core
            suites = stack.enter_context(prewarmed_suites(config))
        if "build" in steps:
            build_step(config, run, echo, full_refresh=full_refresh)
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
