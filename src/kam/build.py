"""`kam build`: the dbt models and tests on the home's warehouse, with progress and a summary."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from kam.config import Config
from kam.db import connect
from kam.errors import KamError
from kam.ingest.parse import install_macros
from kam.overrides import load_overrides
from kam.paths import DBT_PROJECT_DIR
from kam.rules import effective_rules, rules_hash
from kam.warehouse import create_raw_schema

Echo = Callable[[str], None]


@dataclass
class BuildResult:
    seconds: float
    models: int = 0
    tests: int = 0
    failures: list[str] = field(default_factory=list)
    rules_hash: str = ""


def dbt_vars(config: Config, run_vars: dict[str, Any] | None = None) -> dict[str, Any]:
    """The dbt vars of a run: the rules in force, their hash and the run's own settings."""
    rules = effective_rules(config.rules)
    return {**rules, "rules_hash": rules_hash(rules), **(run_vars or {})}


@contextmanager
def dbt_environment(config: Config):
    """Environment variables that point dbt's profile at this home's warehouse."""
    settings = {
        "KAM_WAREHOUSE": str(config.home.warehouse_path),
        "KAM_DBT_THREADS": str(config.duckdb.threads or 2),
        "KAM_DUCKDB_MEMORY_LIMIT": config.duckdb.memory_limit or "75%",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }
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


def prepare_warehouse(config: Config) -> None:
    """Raw tables exist (even before any ingest) and the override register is loaded."""
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        install_macros(con)
        create_raw_schema(con)
        load_overrides(con, config.home)
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
    run_vars: dict[str, Any] | None = None,
    echo: Echo = print,
) -> BuildResult:
    """Invoke dbt in-process; every node's result is echoed, failures collected."""
    from dbt.cli.main import dbtRunner

    started = time.monotonic()
    result = BuildResult(seconds=0.0)
    variables = dbt_vars(config, run_vars)
    result.rules_hash = variables["rules_hash"]

    def on_event(event: Any) -> None:
        name = event.info.name
        if name in ("LogModelResult", "LogTestResult", "LogSnapshotResult", "LogSeedResult"):
            echo(f"  {event.info.msg.strip()}")

    home = config.home
    arguments = [
        *command,
        "--project-dir",
        str(DBT_PROJECT_DIR),
        "--profiles-dir",
        str(DBT_PROJECT_DIR),
        "--target-path",
        str(home.work_dir / "dbt-target"),
        "--log-path",
        str(home.logs_dir),
        "--vars",
        json.dumps(variables),
        "--quiet",
        "--no-use-colors",
    ]
    with dbt_environment(config):
        try:
            outcome = dbtRunner(callbacks=[on_event]).invoke(arguments)
        finally:
            release_dbt_connection()
    result.seconds = time.monotonic() - started
    if outcome.exception is not None:
        raise KamError(f"dbt {command[0]} could not run: {str(outcome.exception).splitlines()[0]}")
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
    return result


def run_build(
    config: Config,
    *,
    run_vars: dict[str, Any] | None = None,
    select: str | None = None,
    echo: Echo = print,
) -> BuildResult:
    """dbt build (models and tests, or those selected); failing nodes are listed in the result."""
    prepare_warehouse(config)
    command = ["build", "--select", select] if select else ["build"]
    result = run_dbt(config, command, run_vars=run_vars, echo=echo)
    log = config.home.logs_dir / "dbt.log"
    echo(
        f"build: {result.models} models, {result.tests} tests, {len(result.failures)} failed "
        f"in {result.seconds:.1f} s (dbt log: {log})"
    )
    return result
