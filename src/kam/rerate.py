"""`kam rerate`: the annual re-rating (年度重新评级) — freeze one closed year's ratings.

Every customer is rated for the closed rating year with the rules in force, and the rows are
appended to ratings.customer_ratings under the run's id: later data never changes them. A
rating without an approver is stored as pending and nothing is published; approving a pending
rating publishes it without recomputing. A year already rated is re-rated only with --force,
which records the run it supersedes.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from kam.build import models_fingerprint
from kam.config import Config, load_config
from kam.console import summary
from kam.db import connect
from kam.errors import ConfigError, KamError
from kam.home import Home
from kam.pipeline import build_step, gate_step, prewarmed_suites, publish_step, recorded_run
from kam.rules import RUN_VARS, effective_rules
from kam.runs import Run
from kam.version import code_version
from kam.warehouse import FROZEN_RATING_COLUMNS

Echo = Callable[[str], None]
# Downstream of the frozen ratings: what a new or approved rating changes in the marts.
FROZEN_SELECTION = "int_customer_ratings_frozen+"
# What the year's ratings are frozen from, with the models the frozen ratings do not change
# (dbt_project/selectors.yml): all but what the candidate's gate builds (FROZEN_SELECTION).
RATING_SELECTOR = "rating_inputs"


@dataclass(frozen=True)
class RatingState:
    """The rating runs of one year that are in force (pending or approved)."""

    approved: tuple | None
    pending: tuple | None


def fiscal_year_end(config: Config, year: int) -> date:
    """The last day of a rating year (named by the calendar year it starts in)."""
    start_month = int(effective_rules(config.rules)["fiscal_year_start_month"])
    return date(year + 1, start_month, 1) - timedelta(days=1)


def _state(config: Config, year: int) -> RatingState:
    if not config.home.warehouse_path.exists():
        raise KamError(f"nothing has been loaded in {config.home.root}: run kam ingest first")
    # Read-only: a refused re-rating must leave the warehouse file byte-identical.
    con = connect(config.home.warehouse_path, config.duckdb, read_only=True)
    try:
        exists = con.execute(
            "SELECT count(*) FROM duckdb_tables() "
            "WHERE schema_name = 'ratings' AND table_name = 'rating_runs'"
        ).fetchone()[0]
        rows = (
            con.execute(
                "SELECT run_id, status, approved_by, approved_at, created_at "
                "FROM ratings.rating_runs WHERE rating_year = ? "
                "AND status IN ('pending', 'approved') ORDER BY created_at DESC",
                [year],
            ).fetchall()
            if exists
            else []
        )
    finally:
        con.close()
    approved = next((r for r in rows if r[1] == "approved"), None)
    pending = next((r for r in rows if r[1] == "pending"), None)
    return RatingState(approved, pending)


def _freeze(config: Config, run: Run, year: int, supersedes: list[str]) -> int:
    """Append the year's computed ratings under this run, pending approval, with what
    reproduces them (kam rerate --verify): the rules' full text, the code, the last batch of
    each source, the frozen runs of other years it was rated against, the override register."""
    columns = [name for name, _ in FROZEN_RATING_COLUMNS if name != "run_id"]
    now = datetime.now(UTC).replace(tzinfo=None)
    rules = {k: v for k, v in effective_rules(config.rules).items() if k not in RUN_VARS}
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"INSERT INTO ratings.customer_ratings (run_id, {', '.join(columns)}) "
            f"SELECT ?, {', '.join(columns)} FROM intermediate.int_customer_ratings_computed "
            "WHERE rating_year = ?",
            [run.run_id, year],
        )
        rated = con.execute(
            "SELECT count(*) FROM ratings.customer_ratings WHERE run_id = ?", [run.run_id]
        ).fetchone()[0]
        if not rated:
            raise KamError(f"rating year {year} has no customer with orders, invoices or payments")
        data_through = con.execute(
            "SELECT max(order_date) FROM raw.orders WHERE superseded_by IS NULL"
        ).fetchone()[0]
        watermark = dict(
            con.execute("SELECT source, max(batch_id) FROM raw.batches GROUP BY source").fetchall()
        )
        rated_against = {
            str(rating_year): run_id
            for rating_year, run_id in con.execute(
                "SELECT rating_year, run_id FROM ratings.rating_runs "
                "WHERE status = 'approved' AND rating_year <> ?",
                [year],
            ).fetchall()
        }
        con.execute(
            "INSERT INTO ratings.rating_runs (run_id, rating_year, as_of, rules_hash, status, "
            "created_at, approved_by, approved_at, supersedes_run_id, data_through, rules, "
            "code_version, models_fingerprint, data_watermark, rated_against) "
            "VALUES (?, ?, ?, ?, 'pending', ?, NULL, NULL, ?, ?, ?, ?, ?, ?, ?)",
            [
                run.run_id,
                year,
                run.as_of,
                run.facts["rules_hash"],
                now,
                supersedes[-1] if supersedes else None,
                data_through,
                json.dumps(rules, sort_keys=True),
                code_version(),
                models_fingerprint(),
                json.dumps(watermark, sort_keys=True),
                json.dumps(rated_against, sort_keys=True),
            ],
        )
        con.execute(
            "INSERT INTO ratings.rating_overrides SELECT ?, * FROM raw.overrides", [run.run_id]
        )
        # Pending runs of the year are replaced at once; an approved one only on approval.
        con.execute(
            "UPDATE ratings.rating_runs SET status = 'superseded', superseded_by_run_id = ? "
            "WHERE rating_year = ? AND status = 'pending' AND run_id <> ?",
            [run.run_id, year, run.run_id],
        )
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise
    finally:
        con.close()
    return rated


def _approve(
    config: Config, run_id: str, approved_by: str, approved_at: datetime, supersedes: list[str]
) -> None:
    """Record the approval; the runs the approved one replaces become superseded."""
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        con.execute("BEGIN TRANSACTION")
        con.execute(
            "UPDATE ratings.rating_runs SET status = 'approved', approved_by = ?, approved_at = ? "
            "WHERE run_id = ?",
            [approved_by, approved_at, run_id],
        )
        for old in supersedes:
            con.execute(
                "UPDATE ratings.rating_runs SET status = 'superseded', superseded_by_run_id = ? "
                "WHERE run_id = ?",
                [run_id, old],
            )
        con.execute("COMMIT")
    finally:
        con.close()


def _changes_summary(config: Config, year: int) -> dict[str, int]:
    con = connect(config.home.warehouse_path, config.duckdb, read_only=True)
    try:
        rows = con.execute(
            "SELECT change, count(*) FROM marts.key_account_changes WHERE rating_year = ? "
            "GROUP BY change ORDER BY change",
            [year],
        ).fetchall()
    finally:
        con.close()
    return dict(rows)


def check_allowed(
    config: Config,
    *,
    year: int,
    force: bool,
    approved_by: str | None,
    as_of: date,
    approval_follows: bool = False,
    force_option: str = "--force",
) -> RatingState:
    """The year's rating state, or the exit-2 refusal (raised before anything is written).

    `approval_follows`: a person decides on the candidate later in the same run (Airflow's
    approval task), so a pending rating is taken up as it is by `approved_by`.
    `force_option`: how the refusal names the choice to re-rate (the CLI flag, a DAG param)."""
    if approved_by is not None and not approved_by.strip():
        raise ConfigError("--approved-by: give the approver's name")
    year_end = fiscal_year_end(config, year)
    if year_end >= as_of:
        raise ConfigError(f"rating year {year} is not closed on {as_of} (it ends {year_end})")
    with config.home.lock():
        state = _state(config, year)
    if state.approved and not force:
        run_id, _, who, when, _ = state.approved
        raise KamError(
            f"rating year {year} is already rated: run {run_id}, approved by {who} on "
            f"{when:%Y-%m-%d}; {force_option} re-rates it"
        )
    if state.pending and not force and not approved_by and not approval_follows:
        raise KamError(
            f"rating year {year} has a pending rating (run {state.pending[0]}): approve it with "
            "--approved-by NAME, or --force to compute it again"
        )
    return state


def rate_step(
    config: Config,
    run: Run,
    *,
    year: int,
    state: RatingState,
    force: bool,
    gated_next: bool,
    echo: Echo,
) -> str:
    """The rating run to approve: the pending one (nothing recomputed), or a new one frozen
    now from a build (pending until approved). `gated_next`: the candidate is gated next
    (gate_candidate_step), which builds everything downstream of the frozen ratings with it,
    so this build leaves those out (RATING_SELECTOR); else the build is whole."""
    superseded = [r[0] for r in (state.approved, state.pending) if r]
    run.facts["rating_year"] = year
    if state.pending and not force:
        candidate = state.pending[0]
        superseded = [r[0] for r in (state.approved,) if r]
    else:
        build_step(config, run, echo, selector=RATING_SELECTOR if gated_next else None)
        candidate = run.run_id
        rated = _freeze(config, run, year, superseded)
        run.facts["rated_customers"] = rated
        summary(echo, f"rated {rated:,} customers for {year} (run {candidate}), pending approval")
    run.facts.update({"rating_run": candidate, "supersedes": superseded})
    return candidate


def gate_candidate_step(
    config: Config, run: Run, *, candidate: str, approved_by: str, accept_churn: bool, echo: Echo
) -> None:
    """The marts rebuilt as if the candidate were approved, then gated."""
    approved_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    run.facts["approval"] = {"approved_by": approved_by, "approved_at": approved_at.isoformat()}
    candidate_env = {
        "KAM_CANDIDATE_RUN_ID": candidate,
        "KAM_CANDIDATE_APPROVED_BY": approved_by,
        "KAM_CANDIDATE_APPROVED_AT": approved_at.isoformat(sep=" "),
    }
    with prewarmed_suites(config) as suites:
        build_step(config, run, echo, select=FROZEN_SELECTION, extra_env=candidate_env)
        run.facts["changes"] = _changes_summary(config, run.facts["rating_year"])
        gate_step(config, run, accept_churn, echo, suites=suites)


LEVELS = ("strategic", "key")
CHANGES = ("entered", "left", "promoted", "demoted", "kept")


def approval_summary(config: Config, run: Run) -> str:
    """What an approver decides on, as Markdown: the candidate list's size by level, its
    changes against last year's list, the churn and the gate's result, and where the run's
    report is. Read from the candidate's frozen rows and the run's checks (after its gate)."""
    candidate, year = run.facts["rating_run"], run.facts["rating_year"]
    con = connect(config.home.warehouse_path, config.duckdb, read_only=True)
    try:
        rows = con.execute(
            "SELECT level, list_status, change, count(*) FROM ratings.customer_ratings "
            "WHERE run_id = ? GROUP BY ALL",
            [candidate],
        ).fetchall()
    finally:
        con.close()
    counts: dict[tuple, int] = {}
    for level, list_status, change, customers in rows:
        counts[(level, list_status)] = counts.get((level, list_status), 0) + customers
        counts[change] = counts.get(change, 0) + customers
    lines = [
        f"**Key-account list (大客户清单) {year}**: rating run `{candidate}`, as of "
        f"{run.as_of}, {sum(c for _, _, _, c in rows):,} customers rated.",
        "",
        "| level | listed | watch |",
        "|---|---:|---:|",
    ]
    for level in LEVELS:
        lines.append(
            f"| {level} | {counts.get((level, 'listed'), 0)} | {counts.get((level, 'watch'), 0)} |"
        )
    listed = sum(counts.get((level, "listed"), 0) for level in LEVELS)
    watch = sum(counts.get((level, "watch"), 0) for level in LEVELS)
    lines += [f"| total | {listed} | {watch} |", ""]
    changes = ", ".join(f"{counts.get(change, 0)} {change}" for change in CHANGES)
    churn = next((c for c in run.checks if c.name == "list_churn_within_bound"), None)
    if churn is not None and isinstance(churn.observed, float | int):
        churn_text = f"churn {churn.observed:.1%} (bound {config.gate.max_churn:.0%})"
        churn_text += f"; {churn.note}" if churn.note else ""
    else:
        churn_text = f"churn: {churn.observed if churn else 'not checked'}"
    lines += [f"Against {year - 1}'s list: {changes}; {churn_text}.", ""]
    failed = [c.name for c in run.failed_checks]
    passed = sum(1 for c in run.checks if c.passed)
    verdict = f"FAILED: {', '.join(failed)}" if failed else "passed"
    lines += [
        f"Quality gate: {verdict} ({passed} of {len(run.checks)} checks passed).",
        "",
        f"Run report: `{config.home.html_report(run.run_id)}` (the page with its charts; "
        f"`{run.directory / 'report.md'}` as text; the run's directory holds its reports "
        "and Data Docs).",
        "",
        "Approve to record the approval and publish the list; reject, with a reason, to record "
        "the rejection: nothing is published.",
    ]
    return "\n".join(lines)


def approve_and_publish_step(config: Config, run: Run, echo: Echo) -> None:
    """Record the gated candidate's approval, then publish it."""
    candidate = run.facts["rating_run"]
    approval = run.facts["approval"]
    _approve(
        config,
        candidate,
        approval["approved_by"],
        datetime.fromisoformat(approval["approved_at"]),
        run.facts["supersedes"],
    )
    summary(
        echo,
        f"rating {candidate} of {run.facts['rating_year']} approved by {approval['approved_by']}",
    )
    publish_step(config, run, None, echo)


def reject_step(config: Config, run: Run, *, rejected_by: str, reason: str, echo: Echo) -> None:
    """Record that the candidate rating was rejected (who, when, why): it is no longer pending
    and nothing is published. The marts it was gated in are rebuilt without it, so that the
    warehouse shows the ratings in force again."""
    candidate = run.facts["rating_run"]
    year = run.facts["rating_year"]
    rejected_at = datetime.now(UTC).replace(tzinfo=None, microsecond=0)
    con = connect(config.home.warehouse_path, config.duckdb)
    try:
        rejected = con.execute(
            "UPDATE ratings.rating_runs SET status = 'rejected', rejected_by = ?, "
            "rejected_at = ?, rejection_reason = ? WHERE run_id = ? AND status = 'pending' "
            "RETURNING run_id",
            [rejected_by, rejected_at, reason, candidate],
        ).fetchall()
    finally:
        con.close()
    if not rejected:
        raise KamError(f"rating {candidate} of {year} is not pending: there is nothing to reject")
    run.facts["approval"] = {
        "rejected_by": rejected_by,
        "rejected_at": rejected_at.isoformat(),
        "reason": reason,
    }
    build_step(config, run, echo, select=FROZEN_SELECTION)
    run.status = "rejected"
    run.message = f"rating {candidate} of {year} rejected by {rejected_by}: {reason}"
    summary(echo, f"{run.message}; nothing published")


def run_rerate(
    home: Home,
    *,
    year: int,
    force: bool = False,
    approved_by: str | None = None,
    as_of: date | None = None,
    accept_churn: bool = False,
    echo: Echo = print,
) -> Run:
    """Rate every customer for the closed year; approve and publish, or store as pending.

    A refused re-rating raises before anything is written (no run, no report).
    """
    config = load_config(home)
    as_of = as_of or config.today()
    state = check_allowed(config, year=year, force=force, approved_by=approved_by, as_of=as_of)
    command = f"rerate --year {year}" + (" --force" if force else "")
    with recorded_run(config, command, echo, as_of=as_of) as run:
        candidate = rate_step(
            config,
            run,
            year=year,
            state=state,
            force=force,
            gated_next=approved_by is not None,
            echo=echo,
        )
        if not approved_by:
            run.status = "pending"
            summary(
                echo, f"nothing published: kam rerate --year {year} --approved-by NAME approves it"
            )
            return run
        # The candidate is gated as if approved; its approval is recorded only when it passes.
        gate_candidate_step(
            config,
            run,
            candidate=candidate,
            approved_by=approved_by,
            accept_churn=accept_churn,
            echo=echo,
        )
        approve_and_publish_step(config, run, echo)
    return run
