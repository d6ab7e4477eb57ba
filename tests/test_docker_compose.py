"""docker-compose.yml: valid, complete, and free of secrets.

Where the docker client has the compose plugin, `docker compose config` validates the file
against the Compose specification (it needs no running engine). Everywhere, a structural
check covers what the stack promises: the services, their images, health checks, the
source's logical replication, Airflow with the repository mounted, and no literal password.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from headwater import config

COMPOSE = config.project_dir() / "docker-compose.yml"
AIRFLOW_SERVICES = (
    "airflow-apiserver",
    "airflow-scheduler",
    "airflow-dag-processor",
    "airflow-triggerer",
)
DATABASES = ("source-postgres", "warehouse-postgres", "airflow-postgres")
# Values for the variables the file requires, so `docker compose config` can render it.
DUMMY_ENV = {
    "AIRFLOW_FERNET_KEY": "x",
    "AIRFLOW_JWT_SECRET": "x",
    "AIRFLOW_API_SECRET_KEY": "x",
    "AIRFLOW_DB_PASSWORD": "x",
    "SOURCE_DB_PASSWORD": "x",
    "WAREHOUSE_DB_PASSWORD": "x",
}
SECRET_KEY = re.compile(r"(PASSWORD|SECRET|FERNET|TOKEN|CREDENTIALS|_KEY$)", re.IGNORECASE)


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text())


def _compose_plugin() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        probe = subprocess.run(
            ["docker", "compose", "version"], capture_output=True, text=True, timeout=20
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return probe.returncode == 0


@pytest.mark.skipif(not _compose_plugin(), reason="docker compose plugin not installed")
def test_docker_compose_config_validates(tmp_path):
    import os

    env = {**os.environ, **DUMMY_ENV}
    proc = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=env,
        cwd=str(tmp_path),
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    # Without the secrets it refuses to render, naming the missing variable.
    bare = {k: v for k, v in os.environ.items() if k not in DUMMY_ENV}
    refused = subprocess.run(
        ["docker", "compose", "-f", str(COMPOSE), "config", "--quiet"],
        capture_output=True,
        text=True,
        env=bare,
        cwd=str(tmp_path),
        timeout=60,
    )
    assert refused.returncode != 0
    assert "in .env" in refused.stderr


def test_services_and_images(compose):
    services = compose["services"]
    for name in (*DATABASES, "bigquery-emulator", "airflow-init", *AIRFLOW_SERVICES):
        assert name in services, name
        assert services[name].get("image"), f"{name} has no image"
    for name in DATABASES:
        assert re.fullmatch(r"postgres:\d+", services[name]["image"]), name
    for name in (*AIRFLOW_SERVICES, "airflow-init", "bigquery-emulator"):
        build = services[name]["build"]
        assert "FROM apache/airflow:3.3" in build["dockerfile_inline"], name


def test_every_long_running_service_has_a_healthcheck(compose):
    for name, service in compose["services"].items():
        if name in ("airflow-init", "airflow-cli"):
            continue
        check = service.get("healthcheck")
        assert check and check.get("test"), f"{name} has no healthcheck"
        assert check.get("interval") and check.get("retries"), name


def test_source_has_logical_replication(compose):
    command = compose["services"]["source-postgres"]["command"]
    assert "wal_level=logical" in command


def test_airflow_mounts_the_repository_and_runs_airflow_3(compose):
    for name in (*AIRFLOW_SERVICES, "airflow-init"):
        service = compose["services"][name]
        assert "./:/opt/headwater" in service["volumes"], name
        env = service["environment"]
        assert env["AIRFLOW__CORE__DAGS_FOLDER"] == "/opt/headwater/dags"
        assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
        assert env["AIRFLOW__USAGE_DATA_COLLECTION__ENABLED"] == "False"
        assert env["AIRFLOW__COSMOS__ENABLE_TELEMETRY"] == "False"
        assert env["HEADWATER_PROJECT_DIR"] == "/opt/headwater"
    commands = {
        name: compose["services"][name]["command"]
        for name in (
            "airflow-apiserver",
            "airflow-scheduler",
            "airflow-dag-processor",
            "airflow-triggerer",
        )
    }
    assert commands == {
        "airflow-apiserver": "api-server",
        "airflow-scheduler": "scheduler",
        "airflow-dag-processor": "dag-processor",
        "airflow-triggerer": "triggerer",
    }
    init = " ".join(compose["services"]["airflow-init"]["command"])
    assert "airflow db migrate" in init and "headwater.orchestration manifest" in init


def test_dependencies_name_existing_services(compose):
    services = compose["services"]
    for name, service in services.items():
        for dependency, condition in (service.get("depends_on") or {}).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            assert condition["condition"] in (
                "service_healthy",
                "service_completed_successfully",
                "service_started",
            )
    for name in AIRFLOW_SERVICES:
        assert (
            services[name]["depends_on"]["airflow-init"]["condition"]
            == "service_completed_successfully"
        )
    named = set(compose.get("volumes") or {})
    for service in services.values():
        for volume in service.get("volumes") or []:
            source = volume.split(":", 1)[0]
            if not source.startswith((".", "/")):
                assert source in named, f"volume {source} is not declared"


def _environment_items(compose: dict):
    for name, service in compose["services"].items():
        env = service.get("environment") or {}
        items = env.items() if isinstance(env, dict) else (e.split("=", 1) for e in env)
        for key, value in items:
            yield name, key, "" if value is None else str(value)


def test_no_literal_secrets(compose):
    for service, key, value in _environment_items(compose):
        names_a_file = key.endswith(("_FILE", "_PATH"))
        if SECRET_KEY.search(key) and value and not names_a_file:
            assert value.startswith("${"), f"{service}: {key} holds a literal value"
        # A URL with a password must take the password from a variable.
        for match in re.finditer(r"://[^:/@\s]+:([^@\s]+)@", value):
            assert match.group(1).startswith("${"), f"{service}: {key} has a literal password"


def test_required_secrets_fail_loudly(compose):
    text = Path(COMPOSE).read_text()
    for variable in DUMMY_ENV:
        assert f"${{{variable}:?" in text, f"{variable} should be required with a message"
