"""Run one DAG with dag.test() in this process and print its task states as JSON (last line).

Used by tests/test_dags.py in a subprocess, so that each DAG run gets the Airflow environment
(AIRFLOW_HOME, KAM_HOME) of its test and can be stopped while it waits for a person.
"""

from __future__ import annotations

import json
import sys

import pendulum
from airflow.models.dagbag import DagBag


def main() -> None:
    dag_id, logical_date, conf = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
    bag = DagBag(dag_folder=sys.argv[4])
    dag = bag.dags[dag_id]
    run = dag.test(logical_date=pendulum.parse(logical_date), run_conf=conf or None)
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    print(json.dumps({"state": str(run.state), "tasks": states}))


if __name__ == "__main__":
    main()
