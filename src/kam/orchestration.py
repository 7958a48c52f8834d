"""What the Airflow DAGs call: the CLI's steps, one per task.

All tasks of one DAG run share one kam run (its id derived from Airflow's run id), so the run
report in <home>/runs/<run_id>/ tells the whole DAG run, failures included. The home is
$KAM_HOME in the Airflow workers' environment.
"""

from __future__ import annotations

import json
import logging
import re
from datetime import date, timedelta
from typing import Any

from kam.config import DEFAULT_APPROVAL_TIMEOUT_DAYS, DEFAULT_TIMEZONE, Config, load_config
from kam.errors import ConfigError
from kam.home import Home
from kam.paths import DBT_PROJECT_DIR
from kam.schema import SOURCES

# The DAG files import this module when they are parsed: the pipeline (DuckDB, dbt, Great
# Expectations) is imported inside the task functions only.

log = logging.getLogger("kam")
DEFAULT_DAILY_SCHEDULE = "0 5 * * *"
DEFAULT_ANNUAL_SCHEDULE = "0 6 15 1 *"
# The DAGs' timetables (run_immediately): unpausing a DAG that never ran waits for its next
# tick. Airflow's default (False) still runs the last tick at once when it is less than a
# tenth of the interval ago: a daily run up to 2.4 h after 05:00, a re-rating up to 36 days
# after 15 January. A run now is a manual trigger.
NEXT_TICK_ONLY = timedelta(0)


def home() -> Home:
    return Home.resolve(None)


def kam_run_id(context: dict[str, Any]) -> str:
    """A kam run id for an Airflow DAG run: stable across retries and re-runs of that run."""
    return "af-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", str(context["run_id"])).strip("-")


def run_as_of(context: dict[str, Any]) -> date:
    """A DAG run's as-of date: the date, in kam.yml's time zone, of the end of its data
    interval (its logical date if none; today for a run triggered without either)."""
    config = load_config(home())
    moment = context.get("data_interval_end") or context.get("logical_date")
    return moment.astimezone(config.timezone).date() if moment is not None else config.today()


def _echo(line: str) -> None:
    log.info(line)


def parse_time_config() -> Config | None:
    """kam.yml as the DAG files read it when they are parsed; None for a home without kam.yml
    (a fresh deployment, before `kam init`: the defaults apply). A kam.yml that does not load
    raises, so that the DAG files fail to import with its error instead of running on settings
    nobody wrote."""
    kam_home = home()
    if not kam_home.config_path.exists():
        return None
    try:
        return load_config(kam_home)
    except ConfigError as error:  # say which home: the import error is read in Airflow's UI
        raise ConfigError(f"KAM_HOME={kam_home.root}: {error}") from None


def schedule_settings() -> dict[str, str]:
    """kam.yml `schedule:` (daily, annual cron and timezone), read when the DAG file is parsed."""
    config = parse_time_config()
    schedule = config.schedule if config else {}
    return {
        "daily": str(schedule.get("daily", DEFAULT_DAILY_SCHEDULE)),
        "annual": str(schedule.get("annual", DEFAULT_ANNUAL_SCHEDULE)),
        "timezone": str(schedule.get("timezone", DEFAULT_TIMEZONE)),
    }


def approval_settings() -> dict[str, Any]:
    """Who may approve the annual list and how long the run waits (kam.yml `schedule:`), as
    the approval task's `assigned_users` (None: anyone allowed on the DAG) and
    `response_timeout`."""
    config = parse_time_config()
    schedule = config.schedule if config else {}
    approvers = schedule.get("approvers")
    days = float(schedule.get("approval_timeout_days", DEFAULT_APPROVAL_TIMEOUT_DAYS))
    return {
        "assigned_users": [{"id": name, "name": name} for name in approvers] if approvers else None,
        "response_timeout": timedelta(days=days),
    }


def configured_sources() -> list[str]:
    """The sources of kam.yml, in load order (all five when there is no kam.yml yet)."""
    config = parse_time_config()
    return [name for name in SOURCES if config is None or name in config.sources]


def dbt_settings() -> dict[str, Any]:
    """Paths, environment and vars for Cosmos: those of `kam build` (kam.build.dbt_invocation),
    with the run's values as templates Airflow renders for each task (the operators' env is
    a template field), and the project's manifest Cosmos renders the tasks from."""
    from kam.build import dbt_invocation, dbt_manifest

    config = parse_time_config() or Config(home=home(), sources={})
    variables, environment = dbt_invocation(
        config, as_of=_from_prepare("as_of"), run_id=_from_prepare("run_id")
    )
    return {
        "project_dir": DBT_PROJECT_DIR,
        "profiles_yml": DBT_PROJECT_DIR / "profiles.yml",
        # The profile's target: duckdb, or spark_session / spark_thrift (engine: spark).
        "target": environment.get("KAM_DBT_TARGET", "duckdb"),
        "manifest": dbt_manifest(config),
        "env": environment,
        "vars": variables,
    }


def _from_prepare(key: str) -> str:
    """A template for a value of the run's context as the prepare_warehouse task returned it:
    the dbt tasks get the very as-of date and run id the Python tasks use."""
    return "{{ ti.xcom_pull(task_ids='prepare_warehouse')['" + key + "'] }}"


def _config() -> Config:
    """kam.yml of the home. Cosmos may have run dbt in this very process (dag.test, or a
    worker that runs several tasks): its DuckDB connection is closed before kam opens the file."""
    from kam.build import release_dbt_connection

    release_dbt_connection()
    return load_config(home())


def ingest_source(source: str, context: dict[str, Any]) -> dict[str, int]:
    """One source's new exports (a rejected file fails the task, naming the file)."""
    from kam.pipeline import ingest_step, recorded_run

    config = _config()
    with recorded_run(
        config, "ingest", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        ingest_step(config, run, [source], _echo)
    return run.facts.get("batches", {})


def prepare_warehouse(context: dict[str, Any]) -> dict[str, str]:
    """kam's own tables exist and the override register is loaded, before dbt runs; the
    incremental models start over when the run asks for a full refresh or the code changed.
    Returns the run's as-of date and id, which the dbt tasks read (dbt_settings)."""
    from kam.build import prepare_warehouse as prepare
    from kam.pipeline import recorded_run

    config = _config()
    full_refresh = bool((context.get("params") or {}).get("full_refresh"))
    with recorded_run(
        config, "prepare", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        prepare(config, full_refresh=full_refresh, echo=_echo)
    return {"as_of": run.as_of.isoformat(), "run_id": run.run_id}


def gate(context: dict[str, Any], accept_churn: bool = False) -> None:
    """The quality gate on the build the Cosmos tasks produced (their dbt tests passed)."""
    from kam.pipeline import gate_step, recorded_run
    from kam.spark import load_built

    config = _config()
    with recorded_run(
        config, "gate", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        run.checks = []  # a retried gate judges afresh
        load_built(config)  # on Spark, what the Cosmos tasks built
        gate_step(config, run, accept_churn, _echo, dbt_tested_upstream=True)


# The Airflow Asset of the published marts: updated by both DAGs' publish tasks.
PUBLISHED_MARTS = "kam_published_marts"


def published_marts_asset() -> Any:
    """The Asset of <home>/published (name kam_published_marts): each publication is an event
    of it, and a DAG scheduled on it runs after every publication (dags/examples/)."""
    from airflow.sdk import Asset

    return Asset(name=PUBLISHED_MARTS, uri=home().published_dir.as_uri())


def publication(config: Config) -> dict[str, Any]:
    """What a publication published, from its manifest: the extra of its asset event."""
    manifest = json.loads(config.home.manifest_path.read_text(encoding="utf-8"))
    facts = {key: manifest[key] for key in ("run_id", "as_of", "rating_year", "published_at")}
    return {**facts, "manifest": str(config.home.manifest_path)}


def describe_publication(triggering_asset_events: Any) -> dict[str, Any]:
    """For a DAG scheduled on the published marts: the publication that triggered the run (its
    asset event) and the version published now (the manifest; a later one may have replaced
    it by the time the run starts). A BI refresh or a notification starts from here."""
    events = [event for events in triggering_asset_events.values() for event in events]
    triggered_by = dict(events[-1].extra) if events else {}
    manifest = json.loads(home().manifest_path.read_text(encoding="utf-8"))
    log.info(
        "kam published run %s (as of %s, rating year %s); now published: run %s, %s",
        triggered_by.get("run_id"),
        triggered_by.get("as_of"),
        triggered_by.get("rating_year"),
        manifest["run_id"],
        ", ".join(f"{name} {rows:,}" for name, rows in manifest["row_counts"].items()),
    )
    return {"triggered_by": triggered_by, "published_run_id": manifest["run_id"]}


def publish(context: dict[str, Any]) -> dict[str, Any]:
    """Publish the version this DAG run gated; refuse when its gate did not pass. Returns
    what was published (`publication`)."""
    from kam.errors import GateFailed
    from kam.pipeline import publish_step, recorded_run

    config = _config()
    with recorded_run(
        config, "publish", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        if "gate" not in run.phases or run.failed_checks:
            raise GateFailed("nothing published: this DAG run has no passing gate")
        publish_step(config, run, None, _echo)
    return publication(config)


def record_failure(context: dict[str, Any]) -> None:
    """on_failure_callback: the failed task and its error go into the DAG run's report."""
    from kam.pipeline import recorded_run

    try:
        config = _config()
        with recorded_run(
            config, "failure", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
        ) as run:
            task_instance = context.get("task_instance")
            failure = {
                "task_id": getattr(task_instance, "task_id", None),
                "try_number": getattr(task_instance, "try_number", None),
                "error": str(context.get("exception") or "")[:500],
            }
            run.facts.setdefault("failures", []).append(failure)
            run.status = "failed"
            run.message = f"task {failure['task_id']} failed: {failure['error']}"
    except Exception:  # a callback must never raise
        log.exception("kam: could not record the failure in the run report")


# --- the annual re-rating ---------------------------------------------------------------


def last_closed_year(as_of: date) -> int:
    """The rating year that ended last before `as_of` (fiscal year start from kam.yml rules)."""
    from kam.rerate import fiscal_year_end

    config = _config()
    year = as_of.year
    while fiscal_year_end(config, year) >= as_of:
        year -= 1
    return year


def rating_year(params: dict[str, Any], context: dict[str, Any]) -> int:
    chosen = params.get("rating_year")
    return int(chosen) if chosen else last_closed_year(run_as_of(context))


# How refusals and reports inside Airflow name the choices a DAG run makes.
FORCE_PARAM = "the DAG param force"
NO_APPROVAL = "airflow (no approval required)"
NO_ANSWER = "airflow (no answer in time)"


def freeze_and_rate(params: dict[str, Any], context: dict[str, Any]) -> str:
    """Build on the data as it stands and freeze the year's ratings as pending; a rating of
    the year already pending is taken up as it is (the approval of this run decides on it)."""
    from kam.pipeline import recorded_run
    from kam.rerate import check_allowed, rate_step

    config = _config()
    year = rating_year(params, context)
    force = bool(params.get("force"))
    as_of = run_as_of(context)
    state = check_allowed(
        config,
        year=year,
        force=force,
        approved_by=None,
        as_of=as_of,
        approval_follows=True,
        force_option=FORCE_PARAM,
    )
    command = f"rerate --year {year}"
    with recorded_run(config, command, _echo, as_of=as_of, run_id=kam_run_id(context)) as run:
        # The DAG's gate task builds what is downstream of the frozen ratings, with them.
        candidate = rate_step(
            config, run, year=year, state=state, force=force, gated_next=True, echo=_echo
        )
        run.status = "pending"
    return candidate


def gate_rating(params: dict[str, Any], context: dict[str, Any]) -> dict[str, Any]:
    """The candidate rating gated as if approved (the approver is recorded at publication).
    Returns the year, the summary the approver reads (kam.rerate.approval_summary) and the run
    report's page it names."""
    from kam.pipeline import recorded_run
    from kam.rerate import approval_summary, gate_candidate_step

    config = _config()
    with recorded_run(
        config, "gate", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        gate_candidate_step(
            config,
            run,
            candidate=run.facts["rating_run"],
            approved_by="(awaiting approval)",
            accept_churn=bool(params.get("accept_churn")),
            echo=_echo,
        )
        run.status = "pending"
        return {
            "rating_year": run.facts["rating_year"],
            "summary": approval_summary(config, run),
            "report": str(config.home.html_report(run.run_id)),
        }


def responder(response: dict[str, Any] | None) -> str | None:
    """Who answered the approval task (its XCom), by name; None when nobody did."""
    user = (response or {}).get("responded_by_user") or {}
    return user.get("name") or user.get("id") or None


def approve_and_publish(response: dict[str, Any] | None, context: dict[str, Any]) -> dict[str, Any]:
    """Record the approval (by whoever approved, or NO_APPROVAL when the run required none),
    rebuild what shows it, gate again and publish. Returns what was published."""
    from kam.pipeline import recorded_run
    from kam.rerate import approve_and_publish_step, gate_candidate_step

    config = _config()
    with recorded_run(
        config, "publish", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        run.checks = []
        gate_candidate_step(
            config,
            run,
            candidate=run.facts["rating_run"],
            approved_by=responder(response) or NO_APPROVAL,
            accept_churn=bool(context["params"].get("accept_churn")),
            echo=_echo,
        )
        approve_and_publish_step(config, run, _echo)
    return publication(config)


def record_rejection(response: dict[str, Any] | None, context: dict[str, Any]) -> str:
    """The approver rejected the candidate, or nobody answered before the approval timed out:
    the rating is recorded as rejected (who, when, why) and nothing is published."""
    from kam.pipeline import recorded_run
    from kam.rerate import reject_step

    config = _config()
    rejected_by = responder(response)
    reason = str(((response or {}).get("params_input") or {}).get("reason") or "").strip()
    if rejected_by is None:
        rejected_by, reason = NO_ANSWER, reason or "nobody answered before the approval timed out"
    with recorded_run(
        config, "reject", _echo, as_of=run_as_of(context), run_id=kam_run_id(context)
    ) as run:
        reject_step(
            config, run, rejected_by=rejected_by, reason=reason or "(no reason given)", echo=_echo
        )
    return run.run_id
