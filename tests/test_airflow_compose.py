"""docker/docker-compose.yaml as a real deployment needs it (issue #22), checked statically
(no Docker engine here): one JWT secret for every Airflow service, healthchecks, a shared logs
volume, the KAM home as a host directory a BI container can mount, a metadata URL for psycopg 3,
and Postgres DSNs that name a service of the file."""

from __future__ import annotations

import re

import yaml

from tests.conftest import REPO

DOCKER = REPO / "docker"
AIRFLOW_SERVICES = (
    "airflow-init",
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)


def _compose() -> dict:
    return yaml.safe_load((DOCKER / "docker-compose.yaml").read_text(encoding="utf-8"))


def _env_example() -> dict[str, str]:
    lines = (DOCKER / ".env.example").read_text(encoding="utf-8").splitlines()
    return dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))


def test_every_airflow_service_has_the_same_jwt_secret_from_env():
    services = _compose()["services"]
    secrets = {
        name: services[name]["environment"]["AIRFLOW__API_AUTH__JWT_SECRET"]
        for name in AIRFLOW_SERVICES
    }
    assert set(secrets.values()) == {"${AIRFLOW_JWT_SECRET:?set AIRFLOW_JWT_SECRET in docker/.env}"}
    assert "AIRFLOW_JWT_SECRET" in _env_example()


def test_long_running_services_have_healthchecks():
    services = _compose()["services"]
    checks = {
        name: " ".join(services[name]["healthcheck"]["test"])
        for name in services
        if name not in ("airflow-init", "bi-reader")
    }
    assert "pg_isready" in checks["postgres"]
    assert "http://localhost:8080/api/v2/monitor/health" in checks["airflow-apiserver"]
    assert "http://localhost:8974/health" in checks["airflow-scheduler"]
    assert (
        services["airflow-scheduler"]["environment"]["AIRFLOW__SCHEDULER__ENABLE_HEALTH_CHECK"]
        == "true"
    )
    assert "--job-type DagProcessorJob" in checks["airflow-dag-processor"]
    assert "--job-type TriggererJob" in checks["airflow-triggerer"]


def test_task_logs_are_a_volume_shared_by_the_airflow_services():
    compose = _compose()
    for name in AIRFLOW_SERVICES:
        assert "airflow-logs:/opt/airflow/logs" in compose["services"][name]["volumes"]
    assert "airflow-logs" in compose["volumes"]


def test_the_kam_home_is_a_host_directory_a_bi_container_reads():
    compose = _compose()
    for name in AIRFLOW_SERVICES:
        service = compose["services"][name]
        assert "./kam_home:/opt/kam/home" in service["volumes"]
        assert service["environment"]["KAM_HOME"] == "/opt/kam/home"
        assert service["user"] == "${AIRFLOW_UID:-50000}:0"
    assert "kam-home" not in compose["volumes"]  # no named volume: docker cp no longer needed
    reader = compose["services"]["bi-reader"]
    assert reader["volumes"] == ["./kam_home/published:/srv/kam/published:ro"]
    assert "/srv/kam/published/kam.duckdb" in " ".join(reader["command"])
    assert "AIRFLOW_UID" in _env_example()


def test_the_metadata_url_uses_psycopg_3_and_names_the_postgres_service():
    compose = _compose()
    for name in AIRFLOW_SERVICES:
        environment = compose["services"][name]["environment"]
        url = environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
        assert url.startswith("postgresql+psycopg://"), url
        assert environment["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_ASYNC"] == url  # not asyncpg
        host = re.match(r"postgresql\+psycopg://[^@]+@([^:/]+)", url).group(1)
        assert host in compose["services"]
    docs = (REPO / "docs" / "airflow.md").read_text(encoding="utf-8")
    assert "postgresql+psycopg://" in docs and "psycopg 3" in docs


def test_postgres_dsns_in_the_docker_docs_name_a_service_that_exists():
    services = _compose()["services"]
    docs = (REPO / "docs" / "airflow.md").read_text(encoding="utf-8")
    docker_docs = docs[docs.index("## With Docker") : docs.index("## Logging in")]
    script = (DOCKER / "postgres-init" / "10-kam-bi.sh").read_text(encoding="utf-8")
    hosts = re.findall(r"postgresql(?:\+psycopg)?://[^@\s]+@([^:/\s]+)", docker_docs + script)
    assert hosts and set(hosts) == {"postgres"} <= set(services)
    # The role and database the DSN names are the ones the init script creates.
    assert "postgresql://kam@postgres:5432/bi" in docker_docs
    assert "CREATE ROLE kam LOGIN" in script and "CREATE DATABASE bi OWNER kam" in script
    # The example kam.yml of docs/configuration.md names the same service.
    configuration = (REPO / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert "dsn: postgresql://kam@postgres:5432/bi" in configuration
    mounts = services["postgres"]["volumes"]
    assert "./postgres-init:/docker-entrypoint-initdb.d:ro" in mounts


def test_the_docs_say_how_to_log_in():
    docs = (REPO / "docs" / "airflow.md").read_text(encoding="utf-8")
    login = docs[docs.index("## Logging in and the REST API") :]
    assert "simple_auth_manager_passwords.json.generated" in login
    assert "/auth/token" in login and "Authorization: Bearer" in login
    users = _env_example()["AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS"]
    assert users and all(":" in user for user in users.split(","))
