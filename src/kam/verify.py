"""`kam rerate --year Y --verify`: recompute a frozen rating from what its run recorded and
report every difference (none expected).

A rating run records the rules in force (full text), the code version, the last batch of each
source it saw (its data watermark), the approved runs of other years it was rated against and
the override register. The check rebuilds the rating chain in a scratch warehouse
(<home>/tmp/verify-<run_id>) that holds exactly that: the raw rows of the batches up to the
watermark (a row superseded only by a later batch is current again), those frozen runs and
that register; then it compares every frozen column of every customer with the recomputed one.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

import duckdb

from kam.config import Config, load_config
from kam.console import summary
from kam.db import connect, quote_literal
from kam.errors import EXIT_GATE_FAILED, KamError
from kam.home import Home
from kam.rules import RUN_VARS, rule_defaults
from kam.runs import SAMPLE_ROWS, CheckResult, Run
from kam.schema import SOURCES
from kam.version import code_version
from kam.warehouse import FROZEN_RATING_COLUMNS

Echo = Callable[[str], None]
# The models a rating is computed by (dbt selection): everything upstream of the computed one.
RATING_CHAIN = "+int_customer_ratings_computed"
COMPARED_COLUMNS = [name for name, _ in FROZEN_RATING_COLUMNS if name != "run_id"]
NAMED = 10  # differing customers named in the error line (the report lists more)


class VerificationFailed(KamError):
    """A frozen rating differs from its recomputation (exit 1, like a failed quality check)."""

    exit_code = EXIT_GATE_FAILED


@dataclass
class RatingRecord:
    """What a rating run recorded to be reproduced."""

    run_id: str
    rating_year: int
    status: str
    as_of: date
    rules: dict[str, Any]
    code_version: str | None
    watermark: dict[str, int]
    rated_against: dict[str, str]
    customers: int = 0
    differences: list[dict[str, Any]] = field(default_factory=list)


def _record(config: Config, year: int) -> RatingRecord:
    """The rating run in force for the year (approved, else pending) and what it recorded."""
    if not config.home.warehouse_path.exists():
        raise KamError(f"nothing has been loaded in {config.home.root}: run kam ingest first")
    con = connect(config.home.warehouse_path, config.duckdb, read_only=True)
    try:
        row = con.execute(
            "SELECT run_id, status, as_of, rules, code_version, data_watermark, rated_against "
            "FROM ratings.rating_runs WHERE rating_year = ? AND status IN ('approved', 'pending') "
            "ORDER BY status = 'approved' DESC, created_at DESC LIMIT 1",
            [year],
        ).fetchone()
    except duckdb.CatalogException:
        row = None
    finally:
        con.close()
    if row is None:
        raise KamError(f"rating year {year} has not been rated: nothing to verify")
    run_id, status, as_of, rules, version, watermark, rated_against = row
    if watermark is None or rules is None:
        raise KamError(
            f"rating run {run_id} of {year} was frozen before kam recorded what reproduces a "
            "rating (rules, data watermark): it cannot be verified; kam rerate --force rates it "
            "again with that record"
        )
    return RatingRecord(
        run_id,
        year,
        status,
        as_of,
        json.loads(rules),
        version,
        {source: int(batch) for source, batch in json.loads(watermark).items()},
        json.loads(rated_against or "{}"),
    )


def _fill_scratch(con: duckdb.DuckDBPyConnection, record: RatingRecord, source: str) -> None:
    """The raw rows, frozen runs and override register as the rating run saw them."""
    con.execute(f"ATTACH {quote_literal(source)} AS source (READ_ONLY)")
    for name, last_batch in record.watermark.items():
        if name not in SOURCES:
            raise KamError(f"rating run {record.run_id}: unknown source {name!r} in its watermark")
        con.execute(
            "INSERT INTO raw.batches BY NAME SELECT * FROM source.raw.batches "
            "WHERE source = ? AND batch_id <= ?",
            [name, last_batch],
        )
        con.execute(
            f"INSERT INTO raw.{name} BY NAME SELECT * REPLACE ("
            "CASE WHEN superseded_by <= $last THEN superseded_by END AS superseded_by) "
            f"FROM source.raw.{name} WHERE batch_id <= $last",
            {"last": last_batch},
        )
    con.execute(
        "INSERT INTO raw.overrides BY NAME SELECT * EXCLUDE (run_id) "
        "FROM source.ratings.rating_overrides WHERE run_id = ?",
        [record.run_id],
    )
    runs = list(record.rated_against.values())
    if runs:
        con.execute(
            "INSERT INTO ratings.rating_runs BY NAME SELECT * REPLACE ('approved' AS status) "
            "FROM source.ratings.rating_runs WHERE list_contains($runs, run_id)",
            {"runs": runs},
        )
        con.execute(
            "INSERT INTO ratings.customer_ratings BY NAME SELECT * "
            "FROM source.ratings.customer_ratings WHERE list_contains($runs, run_id)",
            {"runs": runs},
        )
    con.execute("DETACH source")


def _differences(
    con: duckdb.DuckDBPyConnection, record: RatingRecord, source: str
) -> tuple[int, list[dict[str, Any]]]:
    """(customers compared, one entry per customer whose frozen and recomputed rows differ)."""
    con.execute(f"ATTACH {quote_literal(source)} AS source (READ_ONLY)")
    differing = ", ".join(
        f"CASE WHEN frozen.{c} IS DISTINCT FROM recomputed.{c} THEN '{c}' END"
        for c in COMPARED_COLUMNS
        if c not in ("customer_id", "rating_year")
    )
    rows = con.execute(
        f"""
        WITH frozen AS (
            SELECT * FROM source.ratings.customer_ratings WHERE run_id = $run_id
        ),
        recomputed AS (
            SELECT * FROM intermediate.int_customer_ratings_computed WHERE rating_year = $year
        ),
        compared AS (
            SELECT
                coalesce(frozen.customer_id, recomputed.customer_id) AS customer_id,
                CASE
                    WHEN frozen.customer_id IS NULL THEN 'not in the frozen rating'
                    WHEN recomputed.customer_id IS NULL THEN 'not recomputed'
                    ELSE concat_ws(', ', {differing})
                END AS columns
            FROM frozen FULL OUTER JOIN recomputed USING (customer_id)
        )
        SELECT count(*) OVER (), customer_id, columns FROM compared
        QUALIFY columns <> '' OR row_number() OVER (ORDER BY customer_id) = 1
        ORDER BY customer_id
        """,
        {"run_id": record.run_id, "year": record.rating_year},
    ).fetchall()
    con.execute("DETACH source")
    compared = rows[0][0] if rows else 0
    return compared, [{"customer_id": c, "columns": cols} for _, c, cols in rows if cols]


def verify_rating(config: Config, year: int, echo: Echo = print) -> RatingRecord:
    """Recompute the year's frozen rating in a scratch warehouse; the record gets the number
    of customers compared and the differences."""
    from kam.build import prepare_warehouse, run_dbt

    record = _record(config, year)
    scratch = Home(config.home.work_dir / f"verify-{record.run_id}")
    shutil.rmtree(scratch.root, ignore_errors=True)
    scratch.ensure()
    known = set(rule_defaults()) - set(RUN_VARS)
    rules = {key: value for key, value in record.rules.items() if key in known}
    dropped = sorted(set(record.rules) - set(rules) - set(RUN_VARS))
    if dropped:
        echo(f"verify: rules this code no longer knows are left out: {', '.join(dropped)}")
    scratch_config = Config(home=scratch, sources={}, duckdb=config.duckdb, rules=rules)
    try:
        prepare_warehouse(scratch_config, full_refresh=True, record_code=False, echo=echo)
        con = connect(scratch.warehouse_path, config.duckdb)
        try:
            _fill_scratch(con, record, str(config.home.warehouse_path))
        finally:
            con.close()
        echo(f"verify: rebuilding the rating of {year} as run {record.run_id} saw it")
        # The rating run as it was, rebuilt on the scratch warehouse: its as-of date and id.
        rebuild = Run(scratch, record.run_id, record.as_of, datetime.now(UTC), "verify")
        build = run_dbt(scratch_config, ["run", "--select", RATING_CHAIN], run=rebuild, echo=echo)
        if build.failures:
            raise KamError(f"verify: the rebuild failed: {'; '.join(build.failures)}")
        con = connect(scratch.warehouse_path, config.duckdb)
        try:
            record.customers, record.differences = _differences(
                con, record, str(config.home.warehouse_path)
            )
        finally:
            con.close()
    finally:
        shutil.rmtree(scratch.root, ignore_errors=True)
    return record


def verification_check(record: RatingRecord) -> CheckResult:
    """The outcome as a check of the run report."""
    now = code_version()
    note = ""
    if record.code_version != now:
        note = f"rated with code {record.code_version}, verified with {now}"
    return CheckResult(
        "frozen_rating_reproduces",
        not record.differences,
        f"the frozen rating of {record.rating_year} (run {record.run_id}) equals its "
        "recomputation from the batches up to its watermark",
        failing_count=len(record.differences),
        observed=f"{record.customers} customers compared",
        samples=record.differences[:SAMPLE_ROWS],
        note=note,
    )


def run_verify(home: Home, *, year: int, echo: Echo = print) -> Run:
    """`kam rerate --year Y --verify` as a run with a report; VerificationFailed (exit 1)
    naming the customers when the frozen rating does not reproduce."""
    from kam.pipeline import recorded_run

    config = load_config(home)
    with recorded_run(config, f"rerate --year {year} --verify", echo) as run:
        record = verify_rating(config, year, echo)
        check = verification_check(record)
        run.checks.append(check)
        run.facts.update({"rating_year": year, "rating_run": record.run_id})
        if check.note:
            summary(echo, f"verify: {check.note}")
        if record.differences:
            named = "; ".join(
                f"{d['customer_id']} ({d['columns']})" for d in record.differences[:NAMED]
            ) + ("; ..." if len(record.differences) > NAMED else "")
            raise VerificationFailed(
                f"the frozen rating of {year} (run {record.run_id}) does not reproduce: "
                f"{len(record.differences)} of {record.customers} customers differ: {named}"
            )
        summary(
            echo,
            f"verify: the frozen rating of {year} (run {record.run_id}, {record.status}) "
            f"reproduces: {record.customers} customers, 0 differences",
        )
    return run
