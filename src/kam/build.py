"""`kam build`: the dbt models and tests on the home's warehouse, with progress and a summary."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from kam import spark
from kam.config import Config, load_config
from kam.console import detail, summary
from kam.db import connect
from kam.errors import KamError
from kam.home import Home
from kam.overrides import load_overrides
from kam.paths import DBT_PROJECT_DIR, PROJECT_ROOT
from kam.rules import effective_rules, rules_hash
from kam.runs import Run, new_run
from kam.warehouse import create_raw_schema, read_models_fingerprint, write_models_fingerprint

if TYPE_CHECKING:
    import duckdb

Echo = Callable[[str], None]


@dataclass
class BuildResult:
    seconds: float
    models: int = 0
    tests: int = 0
    failures: list[str] = field(default_factory=list)
    rules_hash: str = ""


def dbt_profile_environment(config: Config) -> dict[str, str]:
    """The variables profiles.yml reads: the warehouse file and kam.yml's DuckDB limits, and
    with engine: spark the Spark target and its settings."""
    warehouse = config.home.warehouse_path
    engine = spark.profile_environment(config) if config.engine == "spark" else {}
    return {
        **engine,
        "KAM_WAREHOUSE": str(warehouse),
        "KAM_DBT_THREADS": str(config.duckdb.threads or 2),
        "KAM_DUCKDB_THREADS": str(config.duckdb.threads or os.cpu_count() or 1),
        "KAM_DUCKDB_MEMORY_LIMIT": config.duckdb.memory_limit or "75%",
        # DuckDB's own default, spelled out: an empty setting would switch spilling off.
        "KAM_DUCKDB_TEMP_DIRECTORY": config.duckdb.temp_directory or f"{warehouse}.tmp",
    }


def dbt_invocation(
    config: Config,
    *,
    as_of: str,
    run_id: str,
    aging_as_of: str = "",
    extra_env: dict[str, str] | None = None,
) -> tuple[dict[str, Any], dict[str, str]]:
    """The dbt vars and environment of a run, for `kam build` and Airflow's Cosmos tasks alike.

    Vars: the rules in force and their hash. Environment: the profile's warehouse and DuckDB
    limits, the run's as-of date, aging date and id, and `extra_env` (a re-rating's candidate),
    which change from run to run: as vars they would stop dbt from re-using its parse of the
    project (an environment value re-parses only the files that read it). Cosmos passes
    Airflow templates for the run's values.
    """
    rules = effective_rules(config.rules)
    variables = {**rules, "rules_hash": rules_hash(rules)}
    environment = {
        **dbt_profile_environment(config),
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
        "KAM_AS_OF_DATE": as_of,
        "KAM_AGING_AS_OF_DATE": aging_as_of,
        "KAM_RUN_ID": run_id,
        **(extra_env or {}),
    }
    return variables, environment


@contextmanager
def environment_set(settings: dict[str, str]) -> Iterator[None]:
    """os.environ with `settings` applied, restored afterwards (dbt reads its profile there)."""
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


# The schema of the incremental models (int_order_lines_netted, int_customer_months,
# int_receivables_open_items): dropped to rebuild them whole.
INCREMENTAL_SCHEMA = "intermediate"


def _code_digest(*folders: Path) -> Any:
    """A sha256 of the dbt project file and every file under `folders` (names and bytes)."""
    digest = hashlib.sha256()
    files = [DBT_PROJECT_DIR / "dbt_project.yml"]
    for folder in folders:
        files += sorted(path for path in folder.rglob("*") if path.is_file())
    for path in files:
        digest.update(str(path.relative_to(PROJECT_ROOT)).encode())
        digest.update(path.read_bytes())
    return digest


def models_fingerprint() -> str:
    """A hash of the dbt code (models, macros, project file): when it changes, rows an
    incremental model kept from earlier runs may no longer be what the code computes."""
    return _code_digest(PROJECT_ROOT / "models", DBT_PROJECT_DIR / "macros").hexdigest()


# dbt's manifest of the project for the Airflow DAG files (Cosmos, LoadMode.DBT_MANIFEST).
AIRFLOW_MANIFEST_DIR = DBT_PROJECT_DIR / "target" / "airflow"


def dbt_manifest(config: Config) -> Path:
    """dbt's manifest.json of the project with the home's rules, for Cosmos to render one task
    per model. Written by `dbt parse` (seconds) when it is missing or the dbt code, the rules
    or dbt changed since; else it is only read (the DAG file parses in milliseconds). The
    Docker image writes it when it is built."""
    from importlib.metadata import version

    variables, environment = dbt_invocation(config, as_of="", run_id="manifest")
    digest = _code_digest(
        PROJECT_ROOT / "models", DBT_PROJECT_DIR / "macros", DBT_PROJECT_DIR / "data-tests"
    )
    digest.update(json.dumps(variables, sort_keys=True).encode())
    # The engine's adapter decides configs at parse time (materializations on Spark).
    digest.update(environment.get("KAM_DBT_TARGET", "duckdb").encode())
    digest.update(version("dbt-core").encode())
    fingerprint = digest.hexdigest()
    manifest = AIRFLOW_MANIFEST_DIR / "manifest.json"
    recorded = AIRFLOW_MANIFEST_DIR / "fingerprint"
    if manifest.exists() and recorded.exists() and recorded.read_text() == fingerprint:
        return manifest
    AIRFLOW_MANIFEST_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=AIRFLOW_MANIFEST_DIR.parent) as scratch:
        _parse_project(Path(scratch), variables, environment)
        # Manifest, then its fingerprint: a reader never takes a stale manifest for fresh.
        os.replace(Path(scratch) / "manifest.json", manifest)
        (Path(scratch) / "fingerprint").write_text(fingerprint)
        os.replace(Path(scratch) / "fingerprint", recorded)
    return manifest


def _parse_project(target: Path, variables: dict[str, Any], environment: dict[str, str]) -> None:
    """`dbt parse` into `target` (it opens no database: the profile's file is a placeholder)."""
    from dbt.cli.main import dbtRunner

    arguments = [
        "parse",
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target),
        "--log-path",
        str(target),
        "--vars",
        json.dumps(variables),
        "--quiet",
        "--no-use-colors",
    ]
    placeholder = {**environment, "KAM_WAREHOUSE": str(target / "parse.duckdb")}
    with environment_set(placeholder):
        outcome = dbtRunner().invoke(arguments)
    if not outcome.success:
        raise KamError(f"dbt parse failed: {outcome.exception or 'see ' + str(target)}")


def prepare_warehouse(
    config: Config,
    *,
    full_refresh: bool = False,
    record_code: bool = True,
    keep_models: bool = False,
    echo: Echo = print,
) -> bool:
    """Raw tables exist (even before any ingest) and the override register is loaded.

    The incremental models start over (their schema is dropped, so dbt builds them whole) on
    --full-refresh and whenever the dbt code differs from the code of the last good build.
    Returns whether they did. With record_code, the current code is recorded as built at once
    (Airflow, where dbt runs in later tasks); kam build records it after a build that passed.
    keep_models leaves them as they are (a partial build)."""
    if config.engine == "spark":
        spark.check_engine(config)
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        create_raw_schema(con)
        load_overrides(con, config.home)
        starting_over = not keep_models and _start_over(con, full_refresh, record_code, echo)
    finally:
        con.close()
    if config.engine == "spark":
        # Spark reads the raw layer as it stands now, the override register included.
        spark.export_raw_layer(config)
    return starting_over


def _start_over(
    con: duckdb.DuckDBPyConnection, full_refresh: bool, record_code: bool, echo: Echo
) -> bool:
    """Drop the incremental models when asked to or when the dbt code is not the code they
    were built with; returns whether they were dropped."""
    built_with = read_models_fingerprint(con)
    fingerprint = models_fingerprint()
    if not full_refresh and built_with == fingerprint:
        return False
    if built_with is not None:
        reason = "--full-refresh" if full_refresh else "the dbt code changed"
        echo(f"build: full refresh of the incremental models ({reason})")
    con.execute(f"DROP SCHEMA IF EXISTS {INCREMENTAL_SCHEMA} CASCADE")
    if record_code:
        write_models_fingerprint(con, fingerprint)
    return True


def record_built_code(config: Config) -> None:
    """The dbt code of a build that passed: the next build keeps its incremental models."""
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        write_models_fingerprint(con, models_fingerprint())
    finally:
        con.close()


def release_dbt_connection() -> None:
    """dbt-duckdb keeps its DuckDB connection for the process; close it so that the gate and
    the publisher can open the warehouse (DuckDB allows one configuration per file)."""
    from dbt.adapters.duckdb.connections import DuckDBConnectionManager

    environment = DuckDBConnectionManager._ENV
    if environment is not None:
        environment.close()
    DuckDBConnectionManager.close_all_connections()


def run_dbt(
    config: Config,
    command: list[str],
    *,
    run: Run,
    extra_env: dict[str, str] | None = None,
    target_dir: Path | None = None,
    echo: Echo = print,
) -> BuildResult:
    """Invoke dbt in-process for the run (its artifacts in `target_dir`, default the home's
    dbt target); every node's result is echoed, failures collected."""
    from dbt.cli.main import dbtRunner

    started = time.monotonic()
    result = BuildResult(seconds=0.0)
    variables, environment = dbt_invocation(
        config,
        as_of=run.as_of.isoformat(),
        run_id=run.run_id,
        aging_as_of=run.aging_as_of.isoformat() if run.aging_as_of else "",
        extra_env=extra_env,
    )
    result.rules_hash = variables["rules_hash"]

    def on_event(event: Any) -> None:
        name = event.info.name
        if name in ("LogModelResult", "LogTestResult", "LogSnapshotResult", "LogSeedResult"):
            detail(echo, f"  {event.info.msg.strip()}")

    home = config.home
    arguments = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(target_dir or home.dbt_target_dir),
        "--log-path",
        str(home.logs_dir),
        "--vars",
        json.dumps(variables),
        "--quiet",
        "--no-use-colors",
    ]
    if config.engine == "spark":
        spark.hush_pyspark_pandas_warning()
    with environment_set(environment):
        try:
            outcome = dbtRunner(callbacks=[on_event]).invoke(arguments)
        finally:
            release_dbt_connection()
    if outcome.exception is not None:
        raise KamError(f"dbt {command[0]} could not run: {str(outcome.exception).splitlines()[0]}")
    if command[0] in ("build", "run"):
        spark.load_built(config)
    result.seconds = time.monotonic() - started
    for node_result in getattr(outcome.result, "results", []) or []:
        node = node_result.node
        status = str(node_result.status)
        if node.resource_type in ("test", "unit_test"):
            result.tests += 1
        else:
            result.models += 1
        if status in ("error", "fail"):
            message = (node_result.message or "").strip().splitlines()
            result.failures.append(
                f"{node.resource_type} {node.name}: {message[0] if message else status}"
            )
    if not outcome.success and not result.failures:  # e.g. docs generate's catalog queries
        result.failures.append(f"dbt {command[0]} failed (dbt log: {home.logs_dir / 'dbt.log'})")
    return result


def run_build(
    config: Config,
    run: Run,
    *,
    select: str | None = None,
    selector: str | None = None,
    extra_env: dict[str, str] | None = None,
    full_refresh: bool = False,
    echo: Echo = print,
) -> BuildResult:
    """dbt build (models and tests, or those selected); failing nodes are listed in the result.

    `select`: part of a build, after a whole one (kam rerate): the incremental models stay.
    `selector`: a build prepared as a whole one, of which only the nodes of this YAML selector
    (dbt_project/selectors.yml) are built while the dbt code is the code last built; when
    the code changed, everything is. One or the other, not both."""
    if select:
        prepare_warehouse(config, keep_models=True, echo=echo)
        command, code_changed = ["build", "--select", select], False
    else:
        code_changed = prepare_warehouse(
            config, full_refresh=full_refresh, record_code=False, echo=echo
        )
        command = ["build"]
    if not code_changed:
        # Unit tests check the dbt code with fixed inputs, and the key tests of staging and
        # intermediate models (tag code_check) check what the code guarantees: they run
        # whenever the code is new to this warehouse (and in make test), not again on every
        # run of unchanged code. The marts' tests run on every build. A selector replaces
        # --exclude: it leaves out tag:code_check itself.
        command += ["--exclude-resource-type", "unit_test"]
        command += ["--selector", selector] if selector else ["--exclude", "tag:code_check"]
    result = run_dbt(config, command, run=run, extra_env=extra_env, echo=echo)
    if not select and not result.failures:
        record_built_code(config)
    log = config.home.logs_dir / "dbt.log"
    summary(
        echo,
        f"build: {result.models} models, {result.tests} tests, {len(result.failures)} failed "
        f"in {result.seconds:.1f} s (dbt log: {log})",
    )
    return result


def build_docs(home: Home, *, echo: Echo = print) -> Path:
    """`kam docs`: dbt's documentation site of the home's warehouse (models, columns and their
    types, tests, lineage, sources' freshness, exposures) as one page; returns its path."""
    config = load_config(home)
    with home.lock():
        run = new_run(home, "docs", config.today())
        result = run_dbt(
            config,
            ["docs", "generate", "--static"],
            run=run,
            target_dir=home.dbt_docs_dir,
            echo=echo,
        )
    if result.failures:
        raise KamError(f"kam docs: {result.failures[0]}")
    summary(echo, f"docs: dbt's site of {home.warehouse_path} in {result.seconds:.1f} s")
    return home.dbt_docs_dir / "static_index.html"
