"""What the DAG tasks compute from Airflow's context and kam.yml, without Airflow: the as-of
date of a run, the approval settings and who answered the approval."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from kam import orchestration
from kam.config import parse_config
from kam.errors import ConfigError
from kam.home import Home
from tests.helpers import make_home


@pytest.fixture
def kiritimati_home(tmp_path, monkeypatch):
    """A home whose schedule runs on Kiritimati time (UTC+14): its date is not the UTC date
    from 10:00 UTC on, the Shanghai date not from 16:00."""
    home = make_home(
        tmp_path,
        schedule={
            "timezone": "Pacific/Kiritimati",
            "approvers": ["li.wei", "wang.fang"],
            "approval_timeout_days": 2.5,
        },
    )
    monkeypatch.setenv("KAM_HOME", str(home))
    return home


def test_the_as_of_date_is_the_schedules_date_of_the_interval_end(kiritimati_home):
    end = datetime(2026, 1, 14, 12, 30, tzinfo=UTC)  # 02:30 on 15 January in Kiritimati
    assert orchestration.run_as_of({"data_interval_end": end}) == date(2026, 1, 15)
    assert orchestration.run_as_of({"logical_date": end}) == date(2026, 1, 15)


def test_a_run_without_logical_date_is_as_of_today_in_the_schedules_time_zone(kiritimati_home):
    before = datetime.now(ZoneInfo("Pacific/Kiritimati")).date()
    as_of = orchestration.run_as_of({"data_interval_end": None, "logical_date": None})
    assert as_of in (before, datetime.now(ZoneInfo("Pacific/Kiritimati")).date())


def test_approvers_and_timeout_come_from_kam_yml(kiritimati_home):
    assert orchestration.approval_settings() == {
        "assigned_users": [
            {"id": "li.wei", "name": "li.wei"},
            {"id": "wang.fang", "name": "wang.fang"},
        ],
        "response_timeout": timedelta(days=2, hours=12),
    }


def test_without_approvers_anyone_may_answer_within_a_week(tmp_path, monkeypatch):
    monkeypatch.setenv("KAM_HOME", str(make_home(tmp_path)))
    assert orchestration.approval_settings() == {
        "assigned_users": None,
        "response_timeout": timedelta(days=7),
    }


@pytest.mark.parametrize(
    ("schedule", "message"),
    [
        ({"approvers": "li.wei"}, "schedule.approvers: expected a list of Airflow user names"),
        ({"approvers": ["li.wei", ""]}, "schedule.approvers: expected a list"),
        ({"approval_timeout_days": 0}, "schedule.approval_timeout_days: expected a positive"),
        ({"approval_timeout_days": True}, "schedule.approval_timeout_days: expected a positive"),
    ],
)
def test_wrong_approval_settings_are_config_errors(tmp_path, schedule, message):
    with pytest.raises(ConfigError, match=message):
        parse_config(Home(tmp_path), {"schedule": schedule})


def test_the_responder_is_named_by_the_approval_tasks_answer():
    answer = {
        "chosen_options": ["Reject"],
        "params_input": {"reason": "margins not final"},
        "responded_by_user": {"id": "wang.fang", "name": "wang.fang"},
    }
    assert orchestration.responder(answer) == "wang.fang"
    assert (
        orchestration.responder({"chosen_options": ["Reject"], "responded_by_user": None}) is None
    )
    assert orchestration.responder(None) is None  # the approval task was skipped
