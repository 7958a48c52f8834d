"""Great Expectations suites (expectations/*.json) run on DataFrames read from DuckDB.

GX's SQL datasource does not work on DuckDB, so each suite names a dataset (a query in
kam.gate.datasets) that is read into pandas and validated there. Each expectation is one named
check of the run report; Data Docs of the validation are kept in the run's directory.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import duckdb

from kam.gate.datasets import DATASETS, Scope, load_dataset
from kam.paths import EXPECTATIONS_DIR
from kam.runs import SAMPLE_ROWS, CheckResult


def load_suites(directory: Path = EXPECTATIONS_DIR) -> list[dict[str, Any]]:
    """Every suite file, checked for a known dataset and a check name per expectation."""
    suites = []
    for path in sorted(directory.glob("*.json")):
        suite = json.loads(path.read_text(encoding="utf-8"))
        if suite.get("dataset") not in DATASETS:
            raise ValueError(f"{path.name}: unknown dataset {suite.get('dataset')!r}")
        for expectation in suite["expectations"]:
            if "check" not in expectation.get("meta", {}):
                raise ValueError(f"{path.name}: {expectation['type']} has no meta.check name")
        suites.append(suite)
    return suites


def import_gx():
    """GX and its progress-bar settings, imported quietly (no analytics, warnings or logs)."""
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "False")
    warnings.filterwarnings("ignore", module="great_expectations")
    logging.getLogger("great_expectations").setLevel(logging.ERROR)
    # kam validates pandas DataFrames: GX is kept from pyspark (installed for engine: spark),
    # whose import in the gate's worker process takes it for a doctest run and exits it.
    hide_pyspark = "pyspark" not in sys.modules
    if hide_pyspark:
        sys.modules["pyspark"] = None  # type: ignore[assignment]
    try:
        import great_expectations as gx
    finally:
        if hide_pyspark:
            del sys.modules["pyspark"]
    from great_expectations.data_context.types.base import ProgressBarsConfig
    from tqdm import tqdm

    # GX makes (disabled) progress bars, and tqdm's default lock is a multiprocessing one: a
    # semaphore that a process ending at once (kam.workers.exit_now) would leave behind.
    tqdm.set_lock(threading.RLock())

    return gx, ProgressBarsConfig


# Expectation arguments that name the columns an expectation reads.
_COLUMN_ARGUMENTS = ("column", "column_A", "column_B")
_COLUMN_LIST_ARGUMENTS = ("column_list",)
# Expectations on the whole table that read no column's values.
_TABLE_EXPECTATIONS = {"expect_table_row_count_to_be_between", "expect_table_row_count_to_equal"}


def checked_columns(suites: list[dict[str, Any]], dataset: str) -> set[str] | None:
    """The columns the suites of `dataset` check; None when one of them may read any column
    (an expectation kam does not know the arguments of)."""
    columns: set[str] = set()
    for suite in suites:
        if suite["dataset"] != dataset:
            continue
        for expectation in suite["expectations"]:
            kwargs = expectation.get("kwargs", {})
            if kwargs.get("row_condition"):  # a condition may name any column
                return None
            named = [kwargs[a] for a in _COLUMN_ARGUMENTS if a in kwargs]
            named += [c for a in _COLUMN_LIST_ARGUMENTS for c in kwargs.get(a, [])]
            if not named and expectation["type"] not in _TABLE_EXPECTATIONS:
                return None
            columns.update(named)
    return columns


def _sample(frame, indexes: list[Any]) -> list[dict[str, Any]]:
    rows = frame.loc[list(indexes)[:SAMPLE_ROWS]]
    return json.loads(rows.to_json(orient="records", date_format="iso", default_handler=str))


def run_suites(
    con: duckdb.DuckDBPyConnection, scope: Scope, docs_dir: Path | None = None
) -> list[CheckResult]:
    """Validate every suite; one CheckResult per expectation; Data Docs into `docs_dir`."""
    results, build_docs = validate_suites(con, scope, docs_dir)
    build_docs()
    return results


def validate_suites(
    con: duckdb.DuckDBPyConnection, scope: Scope, docs_dir: Path | None = None
) -> tuple[list[CheckResult], Callable[[], None]]:
    """Validate every suite; one CheckResult per expectation, and the function that builds
    the Data Docs of the validation into `docs_dir` (the gate's answer does not wait for
    them)."""
    gx, progress_bars = import_gx()
    from great_expectations.expectations.expectation_configuration import (
        ExpectationConfiguration,
    )

    # The suites, validation definitions and checkpoints live in memory: a file context
    # writes each to disk and reads its configuration again at every access (0.3 s a gate).
    context = gx.get_context(mode="ephemeral")
    if docs_dir is not None:
        # Only the Data Docs are written, where a file context in docs_dir keeps them.
        from kam.gate.data_docs import site_config

        site = docs_dir / "gx" / "uncommitted" / "data_docs" / "local_site"
        site.mkdir(parents=True, exist_ok=True)
        context.update_data_docs_site("local_site", site_config(site))
    context.variables.progress_bars = progress_bars(globally=False, metric_calculations=False)
    source = context.data_sources.add_or_update_pandas("kam")
    results: list[CheckResult] = []
    validations = []
    frames = {}
    suite_specs = load_suites()
    for suite_spec in suite_specs:
        dataset = suite_spec["dataset"]
        if dataset not in frames:
            columns = checked_columns(suite_specs, dataset)
            frames[dataset] = load_dataset(con, dataset, scope, columns)
        expectations = [
            ExpectationConfiguration(
                type=e["type"], kwargs=e["kwargs"], meta=e.get("meta", {})
            ).to_domain_obj()
            for e in suite_spec["expectations"]
        ]
        suite = context.suites.add_or_update(
            gx.ExpectationSuite(name=suite_spec["name"], expectations=expectations)
        )
        asset = source.add_dataframe_asset(suite_spec["name"])
        batch = asset.add_batch_definition_whole_dataframe("candidate")
        validation = context.validation_definitions.add_or_update(
            gx.ValidationDefinition(name=suite_spec["name"], data=batch, suite=suite)
        )
        checkpoint = context.checkpoints.add_or_update(
            gx.Checkpoint(
                name=suite_spec["name"],
                validation_definitions=[validation],
                result_format="COMPLETE",
            )
        )
        validations.append((checkpoint, frames[dataset], suite_spec))
    for checkpoint, frame, suite_spec in validations:
        run = checkpoint.run(batch_parameters={"dataframe": frame})
        (outcome,) = run.run_results.values()
        descriptions = {
            e["meta"]["check"]: e["meta"].get("description", suite_spec["description"])
            for e in suite_spec["expectations"]
        }
        # A suite of the published list whose list is frozen reports without blocking: that
        # list was audited when it was rated and stays published until the next rating.
        warn_only = scope.rating_year is None and suite_spec.get("when_frozen") == "warn"
        for result in outcome.results:
            meta = result.expectation_config.meta or {}
            details = result.result or {}
            indexes = details.get("unexpected_index_list") or []
            results.append(
                CheckResult(
                    name=meta["check"],
                    passed=bool(result.success),
                    description=descriptions.get(meta["check"], ""),
                    failing_count=int(
                        details.get("unexpected_count") or (0 if result.success else 1)
                    ),
                    observed=details.get("observed_value"),
                    samples=[] if result.success else _sample(frame, indexes),
                    blocking=not warn_only,
                    note="frozen list: reported, not blocking" if warn_only else "",
                )
            )

    def build_docs() -> None:
        if docs_dir is not None:
            # Once for all suites (a per-checkpoint docs action rebuilds the whole site each time).
            context.build_data_docs()

    return results, build_docs
