"""docker/: static checks (no Docker engine here): the compose file parses, every path it and
the Dockerfile reference exists, and the image installs from the lock file."""

from __future__ import annotations

import re
import subprocess

import yaml

from tests.conftest import REPO

DOCKER = REPO / "docker"


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yaml").read_text(encoding="utf-8"))


def test_compose_has_the_airflow_services_on_postgres_with_the_local_executor():
    compose = _compose()
    assert {
        "postgres",
        "airflow-init",
        "airflow-apiserver",
        "airflow-scheduler",
        "airflow-dag-processor",
        "airflow-triggerer",
    } <= set(compose["services"])
    for name, service in compose["services"].items():
        if not name.startswith("airflow"):
            continue
        environment = service["environment"]
        assert environment["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("postgresql")
        assert "./kam_home:/opt/kam/home" in service["volumes"]
        assert service["env_file"] == [".env"]
    commands = {name: service.get("command") for name, service in compose["services"].items()}
    assert commands["airflow-scheduler"] == "scheduler"
    assert commands["airflow-dag-processor"] == "dag-processor"
    assert "pools set duckdb 1" in " ".join(commands["airflow-init"])


def test_secrets_are_not_committed():
    tracked = subprocess.run(
        ["git", "ls-files", "docker"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    assert "docker/.env" not in tracked and "docker/.env.example" in tracked
    text = (DOCKER / "docker-compose.yaml").read_text(encoding="utf-8")
    assert re.search(r"PASSWORD:\s*\$\{POSTGRES_PASSWORD\}", text)
    assert "change-me" not in text


def test_every_referenced_path_exists():
    compose = _compose()
    for service in compose["services"].values():
        build = service.get("build")
        if build:
            context = (DOCKER / build["context"]).resolve()
            assert context == REPO
            assert (context / build["dockerfile"]).is_file()
    for line in (DOCKER / "Dockerfile").read_text(encoding="utf-8").splitlines():
        if line.startswith("COPY"):
            sources = [part for part in line.split()[1:-1] if not part.startswith("--")]
            for source in sources:
                assert (REPO / source).exists(), source


def test_the_image_installs_the_locked_dependencies():
    dockerfile = (DOCKER / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.startswith("#") and "FROM apache/airflow:3.3" in dockerfile
    assert "uv.lock" in dockerfile and "uv export --frozen" in dockerfile
    locked = (REPO / "uv.lock").read_text(encoding="utf-8")
    airflow = re.search(r'name = "apache-airflow"\nversion = "([^"]+)"', locked).group(1)
    assert f"apache/airflow:{airflow}" in dockerfile
