"""The Airflow DAGs: they import cleanly and fast, and dag.test() runs them on a generated home
(temporary AIRFLOW_HOME with a migrated SQLite metadata database).

Cost: every task of a dag.test() run costs a second or more, and kam_daily has 43. So each
scenario is one process (tests/dag_runner.py) that runs its DAG runs one after another and
reports after each what the tests assert; the daily and the annual scenario run side by side
(each its own copy of the metadata DB and home) while the import tests run."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from kam.build import dbt_manifest
from kam.config import load_config
from kam.home import Home
from tests.conftest import REPO, UNIT_TESTS_LEFT_OUT, query, run_kam
from tests.helpers import copy_home, snapshot

DAGS = REPO / "dags"
RUNNER = REPO / "tests" / "dag_runner.py"
SHANGHAI = ZoneInfo("Asia/Shanghai")  # kam.yml's default schedule.timezone
ANNUAL_CONF = {"rating_year": 2024, "require_approval": False, "accept_churn": True}
WAITING = "Waiting for Human-in-the-loop input"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """Environment of an Airflow installation with a migrated metadata DB and the duckdb pool."""
    airflow_home = tmp_path_factory.mktemp("airflow")
    # The DAGs run as deployed: the first dbt build of a warehouse runs every unit test (in
    # kam_daily, Cosmos runs each model's unit tests before the model).
    outside = {k: v for k, v in os.environ.items() if k != UNIT_TESTS_LEFT_OUT}
    env = {
        **outside,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
        "AIRFLOW__COSMOS__CACHE_DIR": str(airflow_home / "cosmos"),
        "DO_NOT_TRACK": "1",
    }
    airflow = [sys.executable, "-m", "airflow"]
    subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*airflow, "pools", "set", "duckdb", "1", "kam DuckDB writer"],
        env=env,
        check=True,
        capture_output=True,
    )
    return env


@pytest.fixture(scope="module")
def dag_home(tmp_path_factory) -> Path:
    home = tmp_path_factory.mktemp("dags") / "home"
    run_kam("generate", "--scale", "0.02", "--years", "2021-2025", home=home, check=True)
    return home


class Scenario:
    """DAG runs of tests/dag_runner.py in a background process with its own copy of the
    metadata DB and of the home; its output goes to a file."""

    def __init__(self, env: dict, root: Path, home: Path, steps: list[dict]):
        root.mkdir(parents=True)
        airflow_home = shutil.copytree(env["AIRFLOW_HOME"], root / "airflow")
        self.home = copy_home(home, root / "home")
        self.env = {
            **env,
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AIRFLOW__COSMOS__CACHE_DIR": str(airflow_home / "cosmos"),
            "KAM_HOME": str(self.home),
        }
        self.output = root / "output.log"
        self.started = datetime.now(SHANGHAI).date()
        with self.output.open("w") as output:
            self.process = subprocess.Popen(
                [sys.executable, str(RUNNER), str(DAGS), json.dumps(steps)],
                env=self.env,
                stdout=output,
                stderr=subprocess.STDOUT,
            )

    def text(self) -> str:
        return self.output.read_text(errors="replace")

    def results(self) -> list[dict]:
        """Each run's result, once the process has ended."""
        assert self.process.wait(timeout=900) == 0, self.text()[-3000:]
        return [json.loads(line[7:]) for line in self.text().splitlines() if line[:7] == "RESULT "]

    def wait_for(self, text: str, seconds: float = 600) -> list[dict]:
        """The results so far, once `text` is in the output; then the process is stopped."""
        deadline = time.monotonic() + seconds
        try:
            while text not in self.text():
                assert self.process.poll() is None, self.text()[-3000:]
                assert time.monotonic() < deadline, f"no {text!r} after {seconds} s"
                time.sleep(1)
        finally:
            self.process.kill()
            self.process.wait()
        return [json.loads(line[7:]) for line in self.text().splitlines() if line[:7] == "RESULT "]


# What dbt was given: the last rating year closed by its as-of date (KAM_AS_OF_DATE) and the
# run id (KAM_RUN_ID) it stamps on the computed ratings.
DBT_AS_OF_AND_RUN = "SELECT max(rating_year), list(DISTINCT run_id) FROM marts.customer_ratings"


@pytest.fixture(scope="module")
def scenarios(airflow_env, dag_home, tmp_path_factory) -> dict[str, Scenario]:
    """Both scenarios, started at once (they run while the import tests run)."""
    root = tmp_path_factory.mktemp("scenarios")
    daily = [
        # 05:00 on 1 January 2026 in Shanghai is 21:00 UTC on 31 December: as of 1 January,
        # so 2025 is a closed year (as of 31 December it would not be). Every task runs.
        {
            "dag_id": "kam_daily",
            "logical_date": "2025-12-31T21:00:00+00:00",
            "published_sql": DBT_AS_OF_AND_RUN,
        },
        # Without a logical date (a manual trigger in Airflow 3): as of today, local. The tasks
        # that take the run's date and id from Airflow's context and publish; the dbt tasks
        # get theirs the same way as in the run above (a second full run costs 45 s of CPU).
        {
            "dag_id": "kam_daily",
            "logical_date": None,
            "tasks": ["prepare_warehouse", "gate", "publish"],
            "published_sql": DBT_AS_OF_AND_RUN,
        },
        # A gate that fails (no churn allowed): the gate task fails, nothing is published.
        {
            "dag_id": "kam_daily",
            "logical_date": "2026-01-01T21:00:00+00:00",
            "tasks": ["gate", "publish"],
            "append_kam_yml": "gate: {max_churn: 0.0}\n",
        },
    ]
    annual = [
        {
            "dag_id": "kam_annual_rerating",
            "logical_date": "2026-01-15T06:00:00+08:00",
            "conf": ANNUAL_CONF,
            "published_sql": "SELECT DISTINCT rating_year, rating_status "
            "FROM marts.customer_ratings ORDER BY 1",
        },
        {
            "dag_id": "kam_annual_rerating",
            "logical_date": "2027-01-15T06:00:00+08:00",
            "conf": {"rating_year": 2025, "require_approval": True, "accept_churn": True},
        },
    ]
    annual_home = root / "annual-home"
    copy_home(dag_home, annual_home)
    run_kam("ingest", home=annual_home, check=True)
    # dbt's manifest for Cosmos, as a deployment writes it (the Docker image when it is built):
    # in a fresh clone it is missing, and the three processes parsing the DAG files at once
    # would each run `dbt parse` for it.
    dbt_manifest(load_config(Home.resolve(dag_home)))
    started = {
        "daily": Scenario(airflow_env, root / "daily", dag_home, daily),
        # kam_annual_rerating builds in its task's process as `kam rerate` does: the unit
        # tests its first build would run are those the published home's build ran.
        "annual": Scenario(
            {**airflow_env, UNIT_TESTS_LEFT_OUT: "unit_test"}, root / "annual", annual_home, annual
        ),
    }
    yield started
    for scenario in started.values():
        if scenario.process.poll() is None:
            scenario.process.kill()
            scenario.process.wait()


@pytest.fixture(scope="module")
def parsed(airflow_env, dag_home, scenarios, tmp_path_factory) -> dict:
    """One process parses the DAG folder as the tests below need it: twice on the generated
    home (the second load timed), once on a home whose kam.yml does not load, once on a home
    without kam.yml; and the schedules the scheduler computes from the serialized DAGs."""
    broken = tmp_path_factory.mktemp("broken")
    (broken / "kam.yml").write_text("schedule: {timezone: Mars/Olympus_Mons}\n", encoding="utf-8")
    fresh = broken.parent / "fresh"  # a deployment before `kam init`: no kam.yml, the defaults
    script = f"""
import json, os, warnings
import pendulum
warnings.simplefilter("always")  # DeprecationWarnings included
from airflow.dag_processing.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import TimeRestriction

folder = {str(DAGS)!r}
DagBag(dag_folder=folder)  # the first load pays for importing Airflow and Cosmos
bag = DagBag(dag_folder=folder)
out = {{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
        "warnings": bag.captured_warnings, "dags": sorted(bag.dags),
        "seconds": {{s.file: s.duration.total_seconds() for s in bag.dagbag_stats}}}}

def scheduled(dag_id):  # as the scheduler has it
    return DagSerialization.from_dict(DagSerialization.to_dict(bag.dags[dag_id]))

annual = scheduled("kam_annual_rerating")
restriction = TimeRestriction(
    earliest=pendulum.datetime(2026, 11, 29, tz="UTC"), latest=None, catchup=True)
last, out["annual_ticks"] = None, []
for _ in range(3):
    info = annual.timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction)
    out["annual_ticks"].append(info.run_after.isoformat())
    last = info.data_interval
out["first_ticks"] = {{
    dag_id: scheduled(dag_id).next_dagrun_info(last_automated_run_info=None).run_after.isoformat()
    for dag_id in ("kam_daily", "kam_annual_rerating")}}
out["now"] = pendulum.now("UTC").isoformat()
# Unpaused shortly after a tick it never ran: what the scheduler computes at those moments.
import airflow.timetables.trigger as trigger
clock = trigger.utcnow
out["after_a_tick"] = {{}}
for dag_id, moment in {{"kam_daily": "2026-12-07T05:20:00+08:00",
                        "kam_annual_rerating": "2027-01-25T09:00:00+08:00"}}.items():
    trigger.utcnow = lambda moment=moment: pendulum.parse(moment).in_tz("UTC")
    info = scheduled(dag_id).next_dagrun_info(last_automated_run_info=None)
    out["after_a_tick"][dag_id] = info.run_after.isoformat()
trigger.utcnow = clock

for name, home in (("broken", {str(broken)!r}), ("fresh", {str(fresh)!r})):
    os.environ["KAM_HOME"] = home
    other = DagBag(dag_folder=folder)
    out[name] = {{"errors": {{os.path.basename(k): str(v) for k, v in other.import_errors.items()}},
                 "dags": sorted(other.dags)}}
print(json.dumps(out))
"""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env={**airflow_env, "KAM_HOME": str(dag_home)},
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_dagbag_imports_the_dags_quickly_and_without_a_warning(parsed):
    """Every warning shown: Cosmos' LoadMode.CUSTOM and its operator arg install_deps each warn
    (a DeprecationWarning) that Cosmos 2 removes them."""
    assert parsed["errors"] == {}
    assert parsed["warnings"] == {}
    assert parsed["dags"] == ["kam_after_publication", "kam_annual_rerating", "kam_daily"]
    # 0.06 s for kam_daily.py, the slowest, on a quiet machine; 1.02 s was measured once with
    # the machine loaded 4x over, so the bound leaves room for load, far below Airflow's 30 s
    # dagbag_import_timeout.
    for file, seconds in parsed["seconds"].items():
        assert seconds < 2.0, (file, seconds)


def test_a_broken_kam_yml_is_an_import_error_and_a_missing_one_is_not(parsed):
    errors = parsed["broken"]["errors"]
    assert sorted(errors) == ["kam_annual_rerating.py", "kam_daily.py"]
    for message in errors.values():
        assert "kam.yml: schedule.timezone: unknown time zone 'Mars/Olympus_Mons'" in message
    assert parsed["fresh"] == {
        "errors": {},
        "dags": ["kam_after_publication", "kam_annual_rerating", "kam_daily"],
    }


def test_annual_timetable_runs_on_15_january_of_consecutive_years(parsed):
    runs = [datetime.fromisoformat(r).astimezone(SHANGHAI) for r in parsed["annual_ticks"]]
    assert [(r.year, r.month, r.day, r.hour) for r in runs] == [
        (2027, 1, 15, 6),
        (2028, 1, 15, 6),
        (2029, 1, 15, 6),
    ]


def test_unpausing_a_dag_that_never_ran_waits_for_its_next_tick(parsed):
    """What the scheduler computes for a DAG without runs (its serialized form): the next tick
    from now in kam.yml's time zone, not the last one (which would start a re-rating on the
    day the annual DAG is unpaused)."""
    now = datetime.fromisoformat(parsed["now"]).astimezone(SHANGHAI)
    first = {
        dag_id: datetime.fromisoformat(moment).astimezone(SHANGHAI)
        for dag_id, moment in parsed["first_ticks"].items()
    }
    daily = now.replace(hour=5, minute=0, second=0, microsecond=0)
    daily += timedelta(days=1) if daily <= now else timedelta()
    annual = now.replace(month=1, day=15, hour=6, minute=0, second=0, microsecond=0)
    annual = annual if annual > now else annual.replace(year=now.year + 1)
    assert first == {"kam_daily": daily, "kam_annual_rerating": annual}


def test_unpausing_a_dag_just_after_a_tick_it_never_ran_waits_for_the_next(parsed):
    """Airflow's default would run the last tick at once when it is less than a tenth of the
    interval ago: today's 05:00 run when unpaused at 05:20, a re-rating when unpaused on 25
    January (kam.orchestration.NEXT_TICK_ONLY)."""
    assert {
        dag_id: datetime.fromisoformat(moment).astimezone(SHANGHAI).isoformat()
        for dag_id, moment in parsed["after_a_tick"].items()
    } == {
        "kam_daily": "2026-12-08T05:00:00+08:00",
        "kam_annual_rerating": "2028-01-15T06:00:00+08:00",
    }


def test_daily_dag_publishes_as_of_the_local_date_and_a_gate_failure_stops_it(scenarios):
    scenario = scenarios["daily"]
    scheduled, untriggered, gate_failed = scenario.results()
    home = scenario.home
    today = {scenario.started, datetime.now(SHANGHAI).date()}

    # The 05:00 Shanghai run of 1 January 2026 (21:00 UTC on 31 December): every task
    # succeeds, dbt's tasks included; it is as of 1 January in Python and in dbt (2025 is
    # closed; as of 31 December the last closed year would be 2024), and dbt had its run id.
    assert scheduled["state"] == "success", scheduled["tasks"]
    assert set(scheduled["tasks"].values()) == {"success"}
    assert sum(task.startswith("dbt.") for task in scheduled["tasks"]) > 30
    first = scheduled["manifest"]
    assert first["as_of"] == "2026-01-01"
    assert scheduled["published_rows"] == [[2025, [first["run_id"]]]]
    report = json.loads((home / "runs" / first["run_id"] / "report.json").read_text())
    assert {"ingest", "gate", "publish"} <= set(report["phases"])
    # The publication is an event of the Asset the example DAG is scheduled on.
    assert scheduled["assets"] == [
        {
            "asset": "kam_published_marts",
            "uri": (home / "published").as_uri(),
            "task": "publish",
            "extra": {
                "run_id": first["run_id"],
                "as_of": first["as_of"],
                "rating_year": first["rating_year"],
                "published_at": first["published_at"],
                "manifest": str(home / "published" / "manifest.json"),
            },
        }
    ]

    # A run without a logical date is as of today in Shanghai; run again on the same data,
    # gate and publish publish a new version of the same marts.
    assert untriggered["state"] == "success", untriggered["tasks"]
    assert set(untriggered["tasks"]) == {"prepare_warehouse", "gate", "publish"}
    assert set(untriggered["tasks"].values()) == {"success"}
    second = untriggered["manifest"]
    assert date.fromisoformat(second["as_of"]) in today
    assert second["run_id"] != first["run_id"]
    assert second["row_counts"] == first["row_counts"]
    assert untriggered["published_rows"] == scheduled["published_rows"]
    assert [event["extra"]["run_id"] for event in untriggered["assets"]] == [second["run_id"]]

    # The gate fails (churn above the bound of 0 planted in kam.yml): publish does not run,
    # nothing published changes, the failure is in the run's report.
    assert gate_failed["state"] == "failed"
    assert gate_failed["tasks"] == {"gate": "failed", "publish": "upstream_failed"}
    assert gate_failed["assets"] == []
    assert gate_failed["published_files"] == untriggered["published_files"]
    assert snapshot(home / "published") == untriggered["published_files"]
    failed = json.loads((home / "runs" / "latest" / "report.json").read_text())
    assert "list_churn_within_bound" in failed["message"]
    assert failed["facts"]["failures"][0]["task_id"] == "gate"


def test_annual_dag_publishes_without_approval_and_waits_with_it(scenarios):
    scenario = scenarios["annual"]
    [without_approval] = scenario.wait_for(WAITING)
    assert without_approval["state"] == "success", without_approval["tasks"]
    tasks = without_approval["tasks"]
    assert (tasks["approval"], tasks["publish"], tasks["record_rejection"]) == (
        "skipped",
        "success",
        "skipped",
    )
    assert without_approval["published_rows"] == [
        [2021, "computed"],
        [2022, "computed"],
        [2023, "computed"],
        [2024, "approved"],
        [2025, "computed"],  # closed on 2026-01-15, not rated yet
    ]
    assert without_approval["manifest"]["rating_year"] == 2024
    assert [event["asset"] for event in without_approval["assets"]] == ["kam_published_marts"]

    # With approval required the second run waits for a person before publishing.
    waited = [line for line in scenario.text().splitlines() if WAITING in line]
    assert "approval" in waited[0]
    assert snapshot(scenario.home / "published") == without_approval["published_files"]
    assert query(
        scenario.home,
        "SELECT status, approved_by FROM ratings.rating_runs WHERE rating_year >= 2024 "
        "ORDER BY rating_year",
    ) == [("approved", "airflow (no approval required)"), ("pending", None)]
