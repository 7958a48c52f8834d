"""Run DAGs with dag.test() in this process, one after another, and print after each run a line
`RESULT <json>`: its state, its task states, the asset events it emitted, and the published
manifest, files and query results as they stand after it.

Used by tests/test_dags.py in a subprocess (its AIRFLOW_HOME and KAM_HOME), so that several
runs pay once for importing Airflow and parsing the DAGs, and a run can be stopped while it
waits for a person. Arguments: the DAG folder and a JSON list of steps, each
  {"dag_id": …, "logical_date": ISO or null (a run without one), "conf": {…},
   "tasks": [task ids] (only these, as a subset of the DAG; default all),
   "append_kam_yml": text appended to $KAM_HOME/kam.yml before the run,
   "published_sql": a query on the published DuckDB file after the run}
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import duckdb
import pendulum
from airflow.dag_processing.dagbag import DagBag
from airflow.listeners import hookimpl
from airflow.sdk.listener import get_listener_manager

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.conftest import set_aside_what_is_alive
from tests.helpers import snapshot

MARK = "RESULT "


def main() -> None:
    bag = DagBag(dag_folder=sys.argv[1])
    # Every task runs in this one process, and Cosmos ends each dbt task with a full
    # gc.collect() that walks every object alive: the imports of Airflow, Cosmos and dbt, the
    # parsed DAGs, and what the first dbt task loads (700,000 objects; 0.35 s a collection, 40
    # times a kam_daily run). What is alive now and after each task is set aside from the
    # collector (gc.freeze): a kam_daily run takes 11 s of CPU less. The tasks run as before.
    set_aside_what_is_alive()
    get_listener_manager().add_listener(FreezeAfterEachTask())
    home = Path(os.environ["KAM_HOME"])
    for step in json.loads(sys.argv[2]):
        if step.get("append_kam_yml"):
            with (home / "kam.yml").open("a", encoding="utf-8") as config:
                config.write(step["append_kam_yml"])
        dag = bag.dags[step["dag_id"]]
        if step.get("tasks"):
            dag = dag.partial_subset(task_ids=step["tasks"], include_upstream=False)
        logical_date = step.get("logical_date")
        run = dag.test(
            logical_date=pendulum.parse(logical_date) if logical_date else None,
            run_conf=step.get("conf") or None,
        )
        states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        result = {"state": str(run.state), "tasks": states, "assets": asset_events(run)}
        result.update(published(home, step.get("published_sql")))
        print(MARK + json.dumps(result, default=str), flush=True)


class FreezeAfterEachTask:
    """An Airflow listener: after a task ends, what it left alive is set aside (see main)."""

    @hookimpl
    def on_task_instance_success(self, previous_state, task_instance) -> None:
        set_aside_what_is_alive()

    @hookimpl
    def on_task_instance_failed(self, previous_state, task_instance, error) -> None:
        set_aside_what_is_alive()


def asset_events(run) -> list[dict]:
    """The asset events the run's tasks emitted (their outlets), as the metadata DB has them."""
    from airflow.models.asset import AssetEvent
    from airflow.utils.session import create_session

    with create_session() as session:
        events = session.query(AssetEvent).filter(AssetEvent.source_run_id == run.run_id)
        return [
            {
                "asset": event.asset.name,
                "uri": event.asset.uri,
                "task": event.source_task_id,
                "extra": event.extra,
            }
            for event in events.order_by(AssetEvent.id)
        ]


def published(home: Path, sql: str | None) -> dict:
    manifest = home / "published" / "manifest.json"
    result = {
        "manifest": json.loads(manifest.read_text()) if manifest.exists() else None,
        "published_files": snapshot(home / "published"),
    }
    if sql:
        con = duckdb.connect(str(home / "published" / "kam.duckdb"), read_only=True)
        try:
            result["published_rows"] = con.execute(sql).fetchall()
        finally:
            con.close()
    return result


if __name__ == "__main__":
    main()
