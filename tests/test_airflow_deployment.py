"""kam's DAGs on Airflow as a user deploys them (issue #22, "Done when"): api-server, scheduler,
dag-processor and triggerer as separate processes, the LocalExecutor, a temporary Postgres
metadata database, and everything done through the REST API as named users.

- kam_daily triggered without a logical date succeeds; its as-of date, in the published
  manifest and in dbt's ar_aging, is today in kam.yml's time zone (chosen so that it is not
  today in UTC);
- the Asset-scheduled example DAG runs after each publication, naming it;
- kam_annual_rerating waits for its approver (kam.yml schedule.approvers): another user's
  answer is refused, the approver's approves it, and the rating is approved by that user and
  published; a second, forced run rejected by the approver publishes nothing and records who
  rejected it and why;
- no task log holds a traceback.

Slow (minutes): kept out of `make test`; `pytest -m slow tests/test_airflow_deployment.py`.
"""

from __future__ import annotations

import json
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.conftest import REPO, query, query_published, run_kam
from tests.helpers import _free_port, postgres_server, snapshot

pytestmark = pytest.mark.slow

APPROVER, OTHER_USER = "li_wei", "zhang_min"
SERVICES = ("api-server", "scheduler", "dag-processor", "triggerer")


def _zone_whose_date_is_not_utcs() -> str:
    """A time zone whose date differs from UTC's for the next hours: UTC+14 from 10:00 UTC on,
    UTC-11 before 11:00 UTC."""
    return "Pacific/Kiritimati" if datetime.now(UTC).hour >= 10 else "Pacific/Pago_Pago"


@pytest.fixture(scope="module")
def deployment(tmp_path_factory):
    """A generated home and a running Airflow on a temporary Postgres (a Deployment)."""
    root = tmp_path_factory.mktemp("deployment")
    home = root / "home"
    year = datetime.now(UTC).year
    run_kam(
        "generate", "--scale", "0.02", "--years", f"{year - 5}-{year - 1}", home=home, check=True
    )
    zone = _zone_whose_date_is_not_utcs()
    with (home / "kam.yml").open("a", encoding="utf-8") as config:
        config.write(f"schedule: {{timezone: {zone}, approvers: [{APPROVER}]}}\n")
    with postgres_server() as dsn:
        port = _free_port()
        metadata_url = dsn.replace("postgresql://", "postgresql+psycopg://")
        airflow_home = root / "airflow"
        env = {
            **os.environ,
            "AIRFLOW_HOME": str(airflow_home),
            "KAM_HOME": str(home),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
            # psycopg 3 for the sync and the async engine (Airflow's async default is asyncpg).
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": metadata_url,
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC": metadata_url,
            "AIRFLOW__API__PORT": str(port),
            "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://127.0.0.1:{port}/execution/",
            "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_hex(32),
            "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS": f"{APPROVER}:admin,{OTHER_USER}:admin",
            "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
            "DO_NOT_TRACK": "1",
        }
        airflow = [sys.executable, "-m", "airflow"]
        subprocess.run([*airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run(
            [*airflow, "pools", "set", "duckdb", "1", "kam"],
            env=env,
            check=True,
            capture_output=True,
        )
        processes = []
        try:
            for service in SERVICES:
                log = (root / f"{service}.log").open("w")
                processes.append(
                    subprocess.Popen(
                        [*airflow, service],
                        env=env,
                        stdout=log,
                        stderr=subprocess.STDOUT,
                        start_new_session=True,
                    )
                )
            base = f"http://127.0.0.1:{port}"
            _wait(lambda: _healthy(base), 180, "Airflow to be healthy")
            yield Deployment(base, home, airflow_home, ZoneInfo(zone))
        finally:
            for process in processes:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in processes:
                try:
                    process.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait()


def _healthy(base: str) -> bool:
    try:
        health = httpx.get(f"{base}/api/v2/monitor/health", timeout=5).json()
    except (httpx.HTTPError, ValueError):
        return False
    parts = ("metadatabase", "scheduler", "triggerer", "dag_processor")
    return all((health.get(part) or {}).get("status") == "healthy" for part in parts)


def _wait(condition, seconds: float, what: str):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        outcome = condition()
        if outcome:
            return outcome
        time.sleep(2)
    raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}")


class Deployment:
    def __init__(self, base: str, home: Path, airflow_home: Path, zone: ZoneInfo):
        self.base, self.home, self.airflow_home, self.zone = base, home, airflow_home, zone
        passwords = json.loads(
            (airflow_home / "simple_auth_manager_passwords.json.generated").read_text()
        )
        self.clients = {user: self._client(user, passwords[user]) for user in passwords}

    def _client(self, user: str, password: str) -> httpx.Client:
        token = httpx.post(
            f"{self.base}/auth/token", json={"username": user, "password": password}, timeout=30
        )
        token.raise_for_status()
        headers = {"Authorization": f"Bearer {token.json()['access_token']}"}
        return httpx.Client(base_url=f"{self.base}/api/v2", headers=headers, timeout=60)

    @property
    def api(self) -> httpx.Client:
        return self.clients[APPROVER]

    def trigger(self, dag_id: str, conf: dict | None = None) -> str:
        answer = self.api.post(
            f"/dags/{dag_id}/dagRuns", json={"logical_date": None, "conf": conf or {}}
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["logical_date"] is None
        return answer.json()["dag_run_id"]

    def finished(self, dag_id: str, run_id: str, seconds: float = 900) -> dict:
        def done():
            run = self.api.get(f"/dags/{dag_id}/dagRuns/{run_id}").json()
            return run if run["state"] in ("success", "failed") else None

        return _wait(done, seconds, f"{dag_id} run {run_id}")

    def task_states(self, dag_id: str, run_id: str) -> dict[str, str]:
        answer = self.api.get(
            f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances", params={"limit": 100}
        )
        return {ti["task_id"]: ti["state"] for ti in answer.json()["task_instances"]}

    def runs(self, dag_id: str) -> list[dict]:
        return self.api.get(f"/dags/{dag_id}/dagRuns", params={"order_by": "run_after"}).json()[
            "dag_runs"
        ]

    def hitl(self, run_id: str) -> dict:
        path = f"/dags/kam_annual_rerating/dagRuns/{run_id}/taskInstances/approval/-1/hitlDetails"

        def waiting():
            answer = self.api.get(path)
            return answer.json() if answer.status_code == 200 else None

        return _wait(waiting, 600, f"the approval of {run_id}")

    def answer(self, user: str, run_id: str, option: str, reason: str = "") -> httpx.Response:
        path = f"/dags/kam_annual_rerating/dagRuns/{run_id}/taskInstances/approval/-1/hitlDetails"
        payload = {"chosen_options": [option], "params_input": {"reason": reason}}
        return self.clients[user].patch(path, json=payload)

    def xcom(self, dag_id: str, run_id: str, task_id: str):
        path = f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}/xcomEntries/return_value"
        return self.api.get(path, params={"deserialize": True}).json()["value"]


def _today(zone: ZoneInfo) -> str:
    return datetime.now(zone).date().isoformat()


def test_daily_and_annual_runs_through_the_rest_api(deployment: Deployment):
    api, home = deployment.api, deployment.home
    for dag_id in ("kam_daily", "kam_annual_rerating", "kam_after_publication"):
        _wait(lambda dag_id=dag_id: api.get(f"/dags/{dag_id}").status_code == 200, 300, dag_id)
        assert api.patch(f"/dags/{dag_id}", json={"is_paused": False}).status_code == 200

    # kam_daily without a logical date: the as-of date is today in kam.yml's time zone.
    local_dates = {_today(deployment.zone)}
    daily = deployment.trigger("kam_daily")
    assert deployment.finished("kam_daily", daily)["state"] == "success"
    local_dates.add(_today(deployment.zone))
    states = deployment.task_states("kam_daily", daily)
    assert set(states.values()) == {"success"} and len(states) > 40, states
    manifest = json.loads((home / "published" / "manifest.json").read_text())
    assert manifest["run_id"] == "af-" + re.sub(r"[^A-Za-z0-9_.-]+", "-", daily).strip("-")
    assert manifest["as_of"] in local_dates
    assert manifest["as_of"] != datetime.now(UTC).date().isoformat()
    # dbt had the same as-of date (KAM_AS_OF_DATE: the last closed rating year is the one
    # before it) and run id (KAM_RUN_ID, stamped on the computed ratings).
    assert query_published(
        home, "SELECT max(rating_year), list(DISTINCT run_id) FROM marts.customer_ratings"
    ) == [(int(manifest["as_of"][:4]) - 1, [manifest["run_id"]])]

    # The example DAG on the Asset ran after the publication and names it.
    after = _wait(lambda: _succeeded(deployment, 1), 300, "kam_after_publication")
    described = deployment.xcom(
        "kam_after_publication", after[0]["dag_run_id"], "describe_publication"
    )
    assert described["triggered_by"]["run_id"] == manifest["run_id"]
    assert described["triggered_by"]["as_of"] == manifest["as_of"]

    # kam_annual_rerating: the approver's answer publishes; another user's is refused.
    year = int(manifest["as_of"][:4]) - 1  # the last closed (calendar) rating year
    conf = {"require_approval": True, "accept_churn": True}
    approved = deployment.trigger("kam_annual_rerating", conf)
    detail = deployment.hitl(approved)
    assert detail["subject"] == f"Approve the key-account list (大客户清单) of {year}"
    assert "Quality gate: passed" in detail["body"] and "report.html" in detail["body"]
    assert [user["id"] for user in detail["assigned_users"]] == [APPROVER]
    assert deployment.answer(OTHER_USER, approved, "Approve").status_code == 403
    assert deployment.answer(APPROVER, approved, "Approve").status_code == 200
    assert deployment.finished("kam_annual_rerating", approved)["state"] == "success"
    assert deployment.task_states("kam_annual_rerating", approved)["record_rejection"] == "skipped"
    manifest = json.loads((home / "published" / "manifest.json").read_text())
    assert manifest["rating_year"] == year
    assert query_published(
        home,
        "SELECT DISTINCT rating_status, approved_by FROM marts.customer_ratings "
        "WHERE rating_year = ?",
        [year],
    ) == [("approved", APPROVER)]
    _wait(lambda: _succeeded(deployment, 2), 300, "kam_after_publication after the approval")

    # A second, forced re-rating rejected by the approver: nothing published, rejection kept.
    before = snapshot(home / "published")
    rejected = deployment.trigger("kam_annual_rerating", {**conf, "force": True})
    deployment.hitl(rejected)
    answer = deployment.answer(APPROVER, rejected, "Reject", reason="margins not final")
    assert answer.status_code == 200, answer.text
    assert deployment.finished("kam_annual_rerating", rejected)["state"] == "success"
    states = deployment.task_states("kam_annual_rerating", rejected)
    assert (states["publish"], states["record_rejection"]) == ("skipped", "success")
    assert snapshot(home / "published") == before
    assert query(
        home,
        "SELECT status, approved_by, rejected_by, rejection_reason FROM ratings.rating_runs "
        "WHERE rating_year = ? ORDER BY created_at",
        [year],
    ) == [
        ("approved", APPROVER, None, None),
        ("rejected", None, APPROVER, "margins not final"),
    ]
    time.sleep(15)  # what the scheduler would have started by now after an asset event
    assert len(deployment.runs("kam_after_publication")) == 2

    # No task log holds a traceback (Airflow 3 logs an exception as JSON "error_detail").
    logs = sorted((deployment.airflow_home / "logs").rglob("*.log"))
    assert len(logs) > 50
    with_traceback = [
        str(log)
        for log in logs
        if any(mark in log.read_text(errors="replace") for mark in ("Traceback", "error_detail"))
    ]
    assert with_traceback == []


def _succeeded(deployment: Deployment, count: int) -> list[dict] | None:
    runs = deployment.runs("kam_after_publication")
    done = [run for run in runs if run["state"] == "success"]
    return runs if len(done) == count else None
