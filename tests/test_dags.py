"""The Airflow DAGs: they import cleanly and fast, and dag.test() runs them on a generated home
(temporary AIRFLOW_HOME with a migrated SQLite metadata database)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import duckdb
import pytest

from tests.conftest import REPO, run_kam
from tests.helpers import copy_home, snapshot, write_overrides

DAGS = REPO / "dags"
RUNNER = REPO / "tests" / "dag_runner.py"


@pytest.fixture(scope="module")
def airflow_env(tmp_path_factory) -> dict[str, str]:
    """Environment of an Airflow installation with a migrated metadata DB and the duckdb pool."""
    airflow_home = tmp_path_factory.mktemp("airflow")
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(airflow_home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS),
        "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
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


def _last_json(arguments: list[str], env: dict, home: Path, timeout: int):
    """Run a Python process with the Airflow environment and this home; its last line, as JSON."""
    done = subprocess.run(
        [sys.executable, *arguments],
        env={**env, "KAM_HOME": str(home)},
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def _dag_test(env: dict, home: Path, dag_id: str, logical_date: str, conf: dict | None = None):
    arguments = [str(RUNNER), dag_id, logical_date, json.dumps(conf or {}), str(DAGS)]
    return _last_json(arguments, env, home, timeout=900)


def test_dagbag_imports_both_dags_quickly(airflow_env, dag_home):
    """... and without a warning: every warning shown, DeprecationWarnings included (Cosmos'
    LoadMode.CUSTOM and operator arg install_deps each warn that Cosmos 2 removes them)."""
    script = f"""
import json, time, warnings
warnings.simplefilter("always")
from airflow.dag_processing.dagbag import DagBag
DagBag(dag_folder={str(DAGS)!r})  # the first load pays for importing Airflow and Cosmos
bag = DagBag(dag_folder={str(DAGS)!r})
print(json.dumps({{"errors": {{k: str(v) for k, v in bag.import_errors.items()}},
                  "warnings": bag.captured_warnings,
                  "dags": sorted(bag.dags),
                  "seconds": {{s.file: s.duration.total_seconds() for s in bag.dagbag_stats}}}}))
"""
    result = _last_json(["-c", script], airflow_env, dag_home, timeout=300)
    assert result["errors"] == {}
    assert result["warnings"] == {}
    assert result["dags"] == ["kam_after_publication", "kam_annual_rerating", "kam_daily"]
    for file, seconds in result["seconds"].items():
        assert seconds < 1.0, (file, seconds)


def test_a_broken_kam_yml_is_an_import_error_and_a_missing_one_is_not(airflow_env, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "kam.yml").write_text("schedule: {timezone: Mars/Olympus_Mons}\n", encoding="utf-8")
    fresh = tmp_path / "fresh"  # a deployment before `kam init`: no kam.yml, the defaults
    script = f"""
import json, os
from airflow.models.dagbag import DagBag
seen = {{}}
for home in {[str(broken), str(fresh)]!r}:
    os.environ["KAM_HOME"] = home
    bag = DagBag(dag_folder={str(DAGS)!r})
    seen[home] = {{"errors": {{os.path.basename(k): str(v) for k, v in bag.import_errors.items()}},
                  "dags": sorted(bag.dags)}}
print(json.dumps(seen))
"""
    seen = _last_json(["-c", script], airflow_env, broken, timeout=300)
    errors = seen[str(broken)]["errors"]
    assert sorted(errors) == ["kam_annual_rerating.py", "kam_daily.py"]
    for message in errors.values():
        assert "kam.yml: schedule.timezone: unknown time zone 'Mars/Olympus_Mons'" in message
    assert seen[str(fresh)] == {
        "errors": {},
        "dags": ["kam_after_publication", "kam_annual_rerating", "kam_daily"],
    }


def test_annual_timetable_runs_on_15_january_of_consecutive_years(airflow_env, dag_home):
    script = f"""
import json, pendulum
from airflow.models.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
from airflow.timetables.base import TimeRestriction
dag = DagBag(dag_folder={str(DAGS)!r}).dags["kam_annual_rerating"]
dag = DagSerialization.from_dict(DagSerialization.to_dict(dag))  # as the scheduler has it
start = pendulum.datetime(2026, 11, 29, tz="UTC")
restriction = TimeRestriction(earliest=start, latest=None, catchup=True)
last, runs = None, []
for _ in range(3):
    info = dag.timetable.next_dagrun_info(
        last_automated_data_interval=last, restriction=restriction)
    runs.append(info.run_after.in_timezone("Asia/Shanghai").isoformat())
    last = info.data_interval
print(json.dumps(runs))
"""
    runs = [
        datetime.fromisoformat(r)
        for r in _last_json(["-c", script], airflow_env, dag_home, timeout=300)
    ]
    assert [(r.year, r.month, r.day, r.hour) for r in runs] == [
        (2027, 1, 15, 6),
        (2028, 1, 15, 6),
        (2029, 1, 15, 6),
    ]


def test_unpausing_a_dag_that_never_ran_waits_for_its_next_tick(airflow_env, dag_home):
    """What the scheduler computes for a DAG without runs (its serialized form): the next tick
    from now in kam.yml's time zone, not the last one (which would start a re-rating on the
    day the annual DAG is unpaused)."""
    script = f"""
import json
from airflow.models.dagbag import DagBag
from airflow.serialization.serialized_objects import DagSerialization
bag = DagBag(dag_folder={str(DAGS)!r})
first = {{}}
for dag_id in ("kam_daily", "kam_annual_rerating"):
    scheduled = DagSerialization.from_dict(DagSerialization.to_dict(bag.dags[dag_id]))
    first[dag_id] = scheduled.next_dagrun_info(last_automated_run_info=None).run_after.isoformat()
print(json.dumps(first))
"""
    now = datetime.now(ZoneInfo("Asia/Shanghai"))
    first = {
        dag_id: datetime.fromisoformat(moment).astimezone(ZoneInfo("Asia/Shanghai"))
        for dag_id, moment in _last_json(["-c", script], airflow_env, dag_home, 300).items()
    }
    daily = now.replace(hour=5, minute=0, second=0, microsecond=0)
    daily += timedelta(days=1) if daily <= now else timedelta()
    annual = now.replace(month=1, day=15, hour=6, minute=0, second=0, microsecond=0)
    annual = annual if annual > now else annual.replace(year=now.year + 1)
    assert first == {"kam_daily": daily, "kam_annual_rerating": annual}


def test_daily_dag_publishes_and_a_gate_failure_stops_it(airflow_env, dag_home, tmp_path):
    home = copy_home(dag_home, tmp_path / "home")
    result = _dag_test(airflow_env, home, "kam_daily", "2026-01-15T00:00:00+00:00")
    assert result["state"] == "success", result
    assert set(result["tasks"].values()) == {"success"}
    assert any(task.startswith("dbt.") for task in result["tasks"])
    manifest = json.loads((home / "published" / "manifest.json").read_text())
    report = json.loads((home / "runs" / manifest["run_id"] / "report.json").read_text())
    assert {"ingest", "gate", "publish"} <= set(report["phases"])

    # A planted failure: an override without approver. The gate task fails, nothing changes.
    con = duckdb.connect(str(home / "published" / "kam.duckdb"), read_only=True)
    customer = con.execute("SELECT customer_id FROM marts.key_accounts LIMIT 1").fetchone()[0]
    year = con.execute("SELECT rating_year FROM meta.publication").fetchone()[0]
    con.close()
    write_overrides(
        home,
        [
            {
                "customer_id": customer,
                "rating_year": year,
                "action": "exclude",
                "reason": "test",
                "expires_on": "2027-01-01",
            }
        ],
    )
    before = snapshot(home / "published")
    result = _dag_test(airflow_env, home, "kam_daily", "2026-01-16T00:00:00+00:00")
    assert result["state"] == "failed"
    assert result["tasks"]["gate"] == "failed" and result["tasks"]["publish"] == "upstream_failed"
    assert snapshot(home / "published") == before
    failed = json.loads((home / "runs" / "latest" / "report.json").read_text())
    assert "overrides_have_approver" in failed["message"]
    assert failed["facts"]["failures"][0]["task_id"] == "gate"


def test_daily_dag_runs_are_idempotent(airflow_env, dag_home, tmp_path):
    home = copy_home(dag_home, tmp_path / "home")

    def counts(logical_date: str) -> dict:
        result = _dag_test(airflow_env, home, "kam_daily", logical_date)
        assert result["state"] == "success"
        return json.loads((home / "published" / "manifest.json").read_text())["row_counts"]

    first = counts("2026-01-15T00:00:00+00:00")
    second = counts("2026-01-16T00:00:00+00:00")
    again = counts("2026-01-15T00:00:00+00:00")
    assert first == second == again


def test_annual_dag_publishes_without_approval_and_waits_with_it(airflow_env, dag_home, tmp_path):
    home = copy_home(dag_home, tmp_path / "home")
    run_kam("ingest", home=home, check=True)
    result = _dag_test(
        airflow_env,
        home,
        "kam_annual_rerating",
        "2026-01-15T06:00:00+08:00",
        {"rating_year": 2024, "require_approval": False, "accept_churn": True},
    )
    assert result["state"] == "success", result
    assert result["tasks"]["approval"] == "skipped" and result["tasks"]["publish"] == "success"
    con = duckdb.connect(str(home / "published" / "kam.duckdb"), read_only=True)
    assert con.execute(
        "SELECT DISTINCT rating_year, rating_status FROM marts.customer_ratings ORDER BY 1"
    ).fetchall() == [
        (2021, "computed"),
        (2022, "computed"),
        (2023, "computed"),
        (2024, "approved"),
        (2025, "computed"),  # closed on 2026-01-15, not rated yet
    ]
    assert con.execute("SELECT DISTINCT rating_year FROM marts.key_accounts").fetchall() == [
        (2024,)
    ]
    con.close()

    # With approval required the run waits for a person before publishing.
    before = snapshot(home / "published")
    process = subprocess.Popen(
        [
            sys.executable,
            str(RUNNER),
            "kam_annual_rerating",
            "2027-01-15T06:00:00+08:00",
            json.dumps({"rating_year": 2025, "require_approval": True, "accept_churn": True}),
            str(DAGS),
        ],
        env={**airflow_env, "KAM_HOME": str(home)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    waited = ""
    deadline = time.monotonic() + 600
    try:
        for line in process.stdout:
            if "Waiting for Human-in-the-loop input" in line:
                waited = line
                break
            assert time.monotonic() < deadline
    finally:
        process.kill()
        process.wait()
    assert "approval" in waited
    assert snapshot(home / "published") == before
    con = duckdb.connect(str(home / "warehouse" / "kam.duckdb"), read_only=True)
    assert con.execute(
        "SELECT status FROM ratings.rating_runs WHERE rating_year = 2025"
    ).fetchall() == [("pending",)]
    con.close()
