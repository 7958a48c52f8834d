"""`kam gate`: audit the candidate build before anything is published (write–audit–publish)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import duckdb

from kam.config import Config
from kam.console import summary
from kam.db import connect
from kam.gate.datasets import Scope
from kam.gate.expectations import run_suites
from kam.gate.history import (
    churn_check,
    data_through,
    freshness_check,
    mart_row_counts,
    previous_manifest,
    volume_check,
)
from kam.rules import effective_rules
from kam.runs import SAMPLE_ROWS, CheckResult, Run

Echo = Callable[[str], None]
# Runs the suites elsewhere (kam.gate.worker): the audit's scope and Data Docs directory.
SuiteRunner = Callable[[Scope, Path | None], list[CheckResult]]


def dbt_results_check(target_dir: Path) -> CheckResult:
    """The dbt tests of the last build (keys, relationships, unit tests, SQL assertions)."""
    description = "every dbt test of the candidate build passed"
    path = target_dir / "run_results.json"
    if not path.exists():
        return CheckResult("dbt_tests", False, description, note="no build to audit: run kam build")
    results = json.loads(path.read_text(encoding="utf-8"))["results"]
    tests = [r for r in results if r["unique_id"].startswith(("test.", "unit_test."))]
    failed = [r for r in results if r["status"] in ("fail", "error", "skipped")]
    return CheckResult(
        "dbt_tests",
        not failed,
        description,
        failing_count=len(failed),
        observed=f"{len(tests)} tests",
        samples=[
            {
                "node": r["unique_id"],
                "status": r["status"],
                "message": (r.get("message") or "")[:200],
            }
            for r in failed[:SAMPLE_ROWS]
        ],
    )


def audit_scope(con: duckdb.DuckDBPyConnection, config: Config, run: Run) -> Scope:
    """The rating year this run rates: the candidate's year in a re-rating, else the published
    year while it is computed (a frozen published year was audited when it was rated)."""
    rules = effective_rules(config.rules)
    scaled = [round(float(part) * 1_000_000) for part in rules["abc_ratio"]]
    if run.facts.get("rating_run"):
        rating_year = int(run.facts["rating_year"])
    else:
        row = con.execute(
            "SELECT rating_year FROM intermediate.int_rating_years "
            "WHERE is_published AND rating_status = 'computed'"
        ).fetchone()
        rating_year = row[0] if row else None
    return Scope(
        as_of=run.as_of,
        rating_year=rating_year,
        ratio_a=scaled[0],
        ratio_b=scaled[1],
        ratio_total=sum(scaled),
        value_share=rules["abc_method"] == "value_share",
    )


def _suite_results(
    con: duckdb.DuckDBPyConnection,
    run: Run,
    scope: Scope,
    suites: SuiteRunner | None,
    echo: Echo,
) -> list[CheckResult]:
    """The GX suites' results: from the prewarmed worker, else (or if it was lost) run here."""
    from kam.gate.worker import WorkerLost

    docs_dir = run.directory / "gx"
    if suites is not None:
        try:
            return suites(scope, docs_dir)
        except WorkerLost as lost:
            echo(f"gate: {lost}; running the suites in this process")
    return run_suites(con, scope, docs_dir=docs_dir)


def run_gate(
    config: Config,
    run: Run,
    *,
    accept_churn: bool = False,
    dbt_tested_upstream: bool = False,
    suites: SuiteRunner | None = None,
    echo: Echo = print,
) -> list[CheckResult]:
    """Every blocking check of PRODUCT.md section 5 on the candidate build; results on the run.

    `dbt_tested_upstream`: the dbt tests ran as tasks of the orchestrator (Airflow + Cosmos),
    whose failure stops the DAG before the gate, so there is no build result file to read.
    `suites`: where the GX suites run when not in this process (a prewarmed worker).
    """
    gate = config.gate
    home = config.home
    if dbt_tested_upstream:
        checks = [
            CheckResult(
                "dbt_tests",
                True,
                "every dbt test of the candidate build passed",
                note="run as Airflow tasks (Cosmos), each with its model",
            )
        ]
    else:
        checks = [dbt_results_check(home.dbt_target_dir)]
    con = connect(home.warehouse_path, config.duckdb, read_only=True)
    try:
        scope = audit_scope(con, config, run)
        checks += _suite_results(con, run, scope, suites, echo)
        previous = previous_manifest(home.manifest_path)
        latest = data_through(con)
        counts = mart_row_counts(con)
        checks.append(churn_check(con, scope.rating_year, gate.max_churn, accept_churn))
        checks.append(freshness_check(latest, previous, run.as_of, gate.max_data_age_days))
        checks.append(volume_check(counts, previous, gate.max_volume_drop))
    finally:
        con.close()
    run.facts.update(
        {
            "data_through": latest.isoformat() if latest else None,
            "row_counts": counts,
            "audited_rating_year": scope.rating_year,
        }
    )
    run.checks.extend(checks)
    for check in checks:
        if not check.passed:
            verdict = "FAILED" if check.blocking else "WARNING"
            summary(
                echo,
                f"  {verdict} {check.name}: {check.failing_count} failing ({check.description})",
            )
    passed = sum(1 for c in checks if c.passed)
    summary(echo, f"gate: {passed} of {len(checks)} checks passed")
    return checks
