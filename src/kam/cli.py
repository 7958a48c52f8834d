"""The `kam` command line. Every command is a thin shell over the same functions the DAGs call.

Exit codes: 0 ok, 1 quality gate failed (nothing published), 2 bad input or configuration.
Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import functools
import json
import sys
import time
import traceback
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from kam.console import NORMAL, QUIET, VERBOSE, Console
from kam.errors import EXIT_BAD_INPUT, ConfigError, KamError
from kam.home import Home
from kam.workers import exit_now

if TYPE_CHECKING:
    from kam.runs import Run


def _home_option(command: Callable) -> Callable:
    """`--home` on every command (else KAM_HOME, else ./kam_home)."""
    return click.option(
        "--home",
        "home_path",
        envvar="KAM_HOME",
        default=None,
        metavar="DIR",
        help="The kam home directory (default: $KAM_HOME, else ./kam_home).",
    )(command)


def _handles_errors(command: Callable) -> Callable:
    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except KamError as error:
            click.echo(f"kam: {error}", err=True)
            sys.exit(error.exit_code)

    return wrapper


# Progress of the running command, on stderr (stdout is for results); -q / -v set its level.
_console = Console()
_debug = False


def _set_quiet(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _console.level = QUIET


def _set_verbose(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    if value:
        _console.level = VERBOSE


def _set_debug(ctx: click.Context, param: click.Parameter, value: bool) -> None:
    global _debug
    _debug = _debug or value


def _output_options(command: Callable) -> Callable:
    """-q, -v and --debug, before the command name or after it."""
    options = (
        click.option(
            "-q",
            "--quiet",
            is_flag=True,
            expose_value=False,
            callback=_set_quiet,
            help="Only the summary lines (one per step, and failures).",
        ),
        click.option(
            "-v",
            "--verbose",
            is_flag=True,
            expose_value=False,
            callback=_set_verbose,
            help="Also dbt's line for every model and test.",
        ),
        click.option(
            "--debug",
            is_flag=True,
            expose_value=False,
            callback=_set_debug,
            help="The traceback of an internal error, not only its line.",
        ),
    )
    for option in options:
        command = option(command)
    return command


def parse_date(text: str | None, option: str = "--as-of") -> date | None:
    if text is None:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{option} {text}: expected a date like 2026-01-15") from None


def print_published(run: Run) -> None:
    """Where a published version's files are (stdout: the command's result)."""
    published = run.facts.get("published")
    if not published:
        return
    click.echo(f"published run {run.run_id} (rating year {published['rating_year']}):")
    click.echo(f"  DuckDB   {published['duckdb']}")
    click.echo(f"  Parquet  {published['parquet']}/")
    click.echo(f"  manifest {published['manifest']}")
    click.echo(f"  report   {published.get('report') or run.home.html_report(run.run_id)}")


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="kam")
@_output_options
def cli() -> None:
    """kam — key-account management warehouse."""


@cli.command()
@_output_options
@click.argument("directory", required=False)
@_home_option
@_handles_errors
def init(directory: str | None, home_path: str | None) -> None:
    """Create a kam home: kam.yml, inbox/, warehouse/."""
    from kam.scaffold import init_home

    home = Home.resolve(directory or home_path)
    created = init_home(home)
    click.echo(f"{'created' if created else 'kept'} {home.config_path}")
    click.echo(f"put exports under {home.inbox}/<source>/ and run `kam ingest --home {home.root}`")


@cli.command()
@_output_options
@_home_option
@click.option(
    "--scale",
    default=0.01,
    show_default=True,
    type=float,
    help="1 = SF1: 10,000 customers, ~1M order lines; 0.01 = 100 customers.",
)
@click.option(
    "--years",
    default=None,
    metavar="Y1-Y2",
    help="Calendar years to generate, e.g. 2021-2025 (default: the last 5 full years).",
)
@click.option("--seed", default=42, show_default=True, type=int)
@click.option("--headers", type=click.Choice(["zh", "en"]), default="zh", show_default=True)
@click.option(
    "--encoding",
    type=click.Choice(["utf-8", "utf-8-sig", "gb18030", "utf-16"]),
    default="utf-8",
    show_default=True,
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["csv", "xlsx", "parquet"]),
    default="csv",
    show_default=True,
)
@click.option("--messy", is_flag=True, help="Plant the defects of real ERP exports (CSV only).")
@_handles_errors
def generate(
    home_path: str | None,
    scale: float,
    years: str | None,
    seed: int,
    headers: str,
    encoding: str,
    fmt: str,
    messy: bool,
) -> None:
    """Write deterministic synthetic exports of all five sources into the inbox."""
    from kam.generate import generate as run_generate

    home = Home.resolve(home_path)
    summary = run_generate(
        home,
        scale=scale,
        years=_parse_years(years),
        seed=seed,
        headers=headers,
        encoding=encoding,
        fmt=fmt,
        messy=messy,
        progress=_console,
    )
    for source, rows in summary.rows.items():
        click.echo(f"{source:15} {len(summary.files[source]):3} files {rows:>12,} rows")
    click.echo(
        f"{summary.customers:,} customers, years {summary.years[0]}-{summary.years[-1]}, "
        f"{summary.seconds:.1f} s; kam.yml written to {home.config_path}"
    )


def _parse_years(text: str | None) -> list[int] | None:
    if not text:
        return None
    try:
        if "-" in text:
            first, last = (int(part) for part in text.split("-", 1))
            return list(range(first, last + 1))
        return [int(part) for part in text.split(",")]
    except ValueError:
        raise click.BadParameter(f"'{text}' is not a year range like 2021-2025") from None


@cli.command()
@_output_options
@_home_option
@click.option("--source", "sources", multiple=True, help="Only these sources (repeatable).")
@_handles_errors
def ingest(home_path: str | None, sources: tuple[str, ...]) -> None:
    """Load every new export in the inbox into the warehouse's raw tables."""
    from kam.pipeline import run_ingest

    run_ingest(Home.resolve(home_path), sources=list(sources) or None, echo=_console)


_full_refresh_option = click.option(
    "--full-refresh",
    is_flag=True,
    help="Rebuild the incremental models (order lines, customer-months, open receivables) whole.",
)


_as_of_option = click.option(
    "--as-of",
    "as_of",
    default=None,
    metavar="YYYY-MM-DD",
    help="The run's as-of date (default today): rating years ending before it are closed.",
)
_aging_as_of_option = click.option(
    "--aging-as-of",
    "aging_as_of",
    default=None,
    metavar="YYYY-MM-DD",
    help="The date of the receivables aging (ar_aging); default the latest order, invoice or "
    "payment date.",
)
_accept_churn_option = click.option(
    "--accept-churn",
    is_flag=True,
    help="Accept a key-account list churn above the bound (the decision is recorded).",
)


@cli.command()
@_output_options
@_home_option
@_as_of_option
@_aging_as_of_option
@_full_refresh_option
@_handles_errors
def build(
    home_path: str | None, as_of: str | None, aging_as_of: str | None, full_refresh: bool
) -> None:
    """Build the marts and run the dbt tests (dbt build) on the warehouse."""
    from kam.pipeline import run_pipeline

    run_pipeline(
        Home.resolve(home_path),
        steps=("build",),
        as_of=parse_date(as_of),
        aging_as_of=parse_date(aging_as_of, "--aging-as-of"),
        full_refresh=full_refresh,
        echo=_console,
    )


@cli.command()
@_output_options
@_home_option
@_as_of_option
@_accept_churn_option
@_handles_errors
def gate(home_path: str | None, as_of: str | None, accept_churn: bool) -> None:
    """Audit the candidate build: dbt test results and the expectation suites."""
    from kam.pipeline import run_pipeline

    run_pipeline(
        Home.resolve(home_path),
        steps=("gate",),
        as_of=parse_date(as_of),
        accept_churn=accept_churn,
        echo=_console,
    )


@cli.command()
@_output_options
@_home_option
@_as_of_option
@_accept_churn_option
@click.option(
    "--postgres",
    "postgres_dsn",
    default=None,
    metavar="DSN",
    help="Also publish to this Postgres database (password from publish.postgres.password_env).",
)
@_handles_errors
def publish(
    home_path: str | None, as_of: str | None, accept_churn: bool, postgres_dsn: str | None
) -> None:
    """Gate the candidate build and, when every check passes, publish it atomically."""
    from kam.pipeline import run_pipeline

    run = run_pipeline(
        Home.resolve(home_path),
        steps=("gate", "publish"),
        as_of=parse_date(as_of),
        accept_churn=accept_churn,
        postgres_dsn=postgres_dsn,
        echo=_console,
    )
    print_published(run)


@cli.command(name="run")
@_output_options
@_home_option
@_as_of_option
@_aging_as_of_option
@_accept_churn_option
@_full_refresh_option
@_handles_errors
def run_command(
    home_path: str | None,
    as_of: str | None,
    aging_as_of: str | None,
    accept_churn: bool,
    full_refresh: bool,
) -> None:
    """ingest → build → gate → publish. Exit 1 when the gate fails (nothing published)."""
    from kam.pipeline import run_pipeline

    run = run_pipeline(
        Home.resolve(home_path),
        as_of=parse_date(as_of),
        aging_as_of=parse_date(aging_as_of, "--aging-as-of"),
        accept_churn=accept_churn,
        full_refresh=full_refresh,
        echo=_console,
    )
    print_published(run)


@cli.command()
@_output_options
@_home_option
@click.option("--year", "year", type=int, required=True, help="The closed rating year to rate.")
@click.option(
    "--force",
    is_flag=True,
    help="Re-rate a year already rated (the old run is recorded as superseded).",
)
@click.option(
    "--approved-by",
    "approved_by",
    default=None,
    metavar="NAME",
    help="Approve the rating (publishes it); without it the rating is stored pending.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Recompute the year's frozen rating from the data it was made from and report every "
    "difference (exit 1 when there is one); changes nothing.",
)
@_as_of_option
@_accept_churn_option
@_handles_errors
def rerate(
    home_path: str | None,
    year: int,
    force: bool,
    approved_by: str | None,
    verify: bool,
    as_of: str | None,
    accept_churn: bool,
) -> None:
    """Annual re-rating: freeze every customer's rating for a closed year."""
    from kam.rerate import run_rerate

    if verify:
        from kam.verify import run_verify

        if force or approved_by or as_of or accept_churn:
            raise ConfigError(
                "--verify checks a frozen rating: it takes no --force, --approved-by, --as-of "
                "or --accept-churn"
            )
        run_verify(Home.resolve(home_path), year=year, echo=_console)
        return
    run = run_rerate(
        Home.resolve(home_path),
        year=year,
        force=force,
        approved_by=approved_by,
        as_of=parse_date(as_of),
        accept_churn=accept_churn,
        echo=_console,
    )
    print_published(run)


@cli.command()
@_output_options
@_home_option
@click.option("--json", "as_json", is_flag=True, help="The report as JSON.")
@click.option("--html", "as_html", is_flag=True, help="The path of the report's HTML page.")
@_handles_errors
def report(home_path: str | None, as_json: bool, as_html: bool) -> None:
    """Print the report of the latest run (checks, failing rows, timings)."""
    from kam.runs import latest_html_report, latest_report

    home = Home.resolve(home_path)
    if as_html:
        click.echo(latest_html_report(home))
    else:
        click.echo(latest_report(home, as_json=as_json))


@cli.command()
@_output_options
@_home_option
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@_handles_errors
def status(home_path: str | None, as_json: bool) -> None:
    """What has been loaded: per source and batch, rows read, loaded and quarantined."""
    from kam.status import collect_status, format_status

    report = collect_status(Home.resolve(home_path))
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False, indent=2, default=str))
    else:
        click.echo(format_status(report))


@cli.command()
@_output_options
@_home_option
@_handles_errors
def docs(home_path: str | None) -> None:
    """Build dbt's documentation site of the home's warehouse and print where it is."""
    from kam.build import build_docs

    page = build_docs(Home.resolve(home_path), echo=_console)
    click.echo(f"dbt docs: {page}")
    click.echo(f"  open it in a browser; the site's other files are in {page.parent}/")


@cli.command()
@_output_options
@click.option(
    "--home",
    "home_path",
    default=None,
    metavar="DIR",
    help="Where to build the demo home (default: a new temporary directory; KAM_HOME is ignored).",
)
@click.option("--scale", default=0.05, show_default=True, type=float)
@_handles_errors
def demo(home_path: str | None, scale: float) -> None:
    """Generate sample exports in a new temporary home (or --home) and run the pipeline."""
    from kam.demo import run_demo
    from kam.runs import latest_html_report

    rating = run_demo(Path(home_path) if home_path else None, scale=scale, echo=_console)
    print_published(rating)
    click.echo(f"the report of every run: kam report --home {rating.home.root}")
    click.echo(f"open the run report in a browser: {latest_html_report(rating.home)}")


def run_cli(args: list[str] | None = None) -> int:
    """The command's exit code (`args`, default the process's arguments); errors are echoed as
    one line. Each call starts at the default output level (the tests call it in-process)."""
    global _debug
    _console.level = NORMAL
    _debug = False
    started = time.monotonic()
    try:
        outcome = cli.main(args=args, standalone_mode=False)
    except SystemExit as stop:  # a command's own exit (KamError in a command)
        if stop.code is None:
            return 0
        return stop.code if isinstance(stop.code, int) else EXIT_BAD_INPUT
    except click.exceptions.Abort:
        click.echo("kam: aborted", err=True)
        return EXIT_BAD_INPUT
    except click.ClickException as error:
        click.echo(f"kam: {error.format_message()}", err=True)
        return EXIT_BAD_INPUT
    except KamError as error:
        click.echo(f"kam: {error}", err=True)
        return error.exit_code
    except Exception as error:  # an internal error still ends with one line
        if _debug:
            traceback.print_exc()
        click.echo(
            f"kam: internal error after {time.monotonic() - started:.1f} s: "
            f"{type(error).__name__}: {error}",
            err=True,
        )
        return EXIT_BAD_INPUT
    # click returns the code of an early exit (--help, --version) in this mode.
    return outcome if isinstance(outcome, int) and not isinstance(outcome, bool) else 0


def main() -> None:
    """`kam`: run the command, then end the process at once (kam.workers.exit_now).

    Everything kam opens (DuckDB databases, worker processes, threads) is closed by the command
    itself; Python's own teardown of what is left in memory is skipped.
    """
    exit_now(run_cli())
