"""kam_daily: ingest (one task per source) → dbt models and tests (Cosmos) → gate → publish.

The DAG file only wires tasks; each task calls the same kam functions as the CLI
(kam.orchestration). Every task that writes the warehouse runs in the one-slot `duckdb` pool.
"""

from __future__ import annotations

from datetime import timedelta

from airflow.sdk import CronTriggerTimetable, Param, dag, task
from cosmos import DbtTaskGroup, ExecutionConfig, ProfileConfig, ProjectConfig, RenderConfig
from cosmos.constants import ExecutionMode, InvocationMode, LoadMode, TestBehavior

from kam import orchestration

POOL = "duckdb"
SCHEDULE = orchestration.schedule_settings()
# Each publication is an event of this Asset (dags/examples/ has a DAG scheduled on it).
PUBLISHED_MARTS = orchestration.published_marts_asset()
DBT = orchestration.dbt_settings()


@dag(
    dag_id="kam_daily",
    # No start_date: unpausing waits for the next tick (orchestration.NEXT_TICK_ONLY); a run
    # now is a manual trigger.
    schedule=CronTriggerTimetable(
        SCHEDULE["daily"],
        timezone=SCHEDULE["timezone"],
        run_immediately=orchestration.NEXT_TICK_ONLY,
    ),
    catchup=False,
    max_active_runs=1,
    default_args={"owner": "kam", "on_failure_callback": orchestration.record_failure},
    tags=["kam"],
    doc_md=__doc__,
    params={
        "full_refresh": Param(
            False,
            type="boolean",
            description="Rebuild the incremental models whole (docs/incremental-runs.md).",
        )
    },
)
def kam_daily():
    @task(pool=POOL, retries=3, retry_delay=timedelta(minutes=1), retry_exponential_backoff=True)
    def ingest(source: str, **context):
        return orchestration.ingest_source(source, context)

    ingested = [
        ingest.override(task_id=f"ingest_{source}")(source)
        for source in orchestration.configured_sources()
    ]

    @task(pool=POOL)
    def prepare_warehouse(**context):
        return orchestration.prepare_warehouse(context)

    dbt = DbtTaskGroup(
        group_id="dbt",
        project_config=ProjectConfig(
            DBT["project_dir"],
            manifest_path=DBT["manifest"],
            install_dbt_deps=False,
            dbt_vars=DBT["vars"],
            env_vars=DBT["env"],
        ),
        profile_config=ProfileConfig(
            profile_name="kam", target_name=DBT["target"], profiles_yml_filepath=DBT["profiles_yml"]
        ),
        execution_config=ExecutionConfig(
            execution_mode=ExecutionMode.LOCAL, invocation_mode=InvocationMode.DBT_RUNNER
        ),
        render_config=RenderConfig(
            load_method=LoadMode.DBT_MANIFEST,
            # Exposures document who reads the marts (kam docs); there is nothing to run.
            exclude=["resource_type:exposure"],
            test_behavior=TestBehavior.BUILD,
            emit_datasets=False,
        ),
        # A test with several parent models runs with the last of them ("buildable"). dbt's
        # JSON artifacts (manifest.json twice, run_results.json) would only be written into
        # the task's temporary copy of the project, which Cosmos deletes unread: not written.
        operator_args={
            "pool": POOL,
            "dbt_cmd_flags": ["--indirect-selection", "buildable", "--no-write-json"],
        },
    )

    @task(pool=POOL)
    def gate(**context):
        orchestration.gate(context)

    @task(pool=POOL, outlets=[PUBLISHED_MARTS])
    def publish(**context):
        published = orchestration.publish(context)
        context["outlet_events"][PUBLISHED_MARTS].extra = published
        return published

    prepared = prepare_warehouse()
    ingested >> prepared >> dbt >> gate() >> publish()


kam_daily()
