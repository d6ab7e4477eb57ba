"""Settings from the environment (12-factor), with defaults that point at the embedded server.

Every component asks this module for connection URLs, so the embedded PostgreSQL, the
docker-compose servers and a managed PostgreSQL are interchangeable.
"""

from __future__ import annotations

import os
from pathlib import Path

DOMAINS = ("marketplace", "hospitality", "restaurant", "betting")
WAREHOUSE_DB = "warehouse"

# Tools the stack runs must not phone home: only package registries are reachable here,
# and telemetry retries make commands hang. Users can still override each one.
TELEMETRY_OFF = {
    "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    "DBT_VERSION_CHECK": "false",
    "DO_NOT_TRACK": "1",
    "SCARF_ANALYTICS": "false",
    "SCARF_NO_ANALYTICS": "true",
    "AIRFLOW__USAGE_DATA_COLLECTION__ENABLED": "False",
    "AIRFLOW__COSMOS__ENABLE_TELEMETRY": "False",
    "SODA_CORE_TELEMETRY_ENABLED": "false",
    "OTEL_SDK_DISABLED": "true",
}


def disable_telemetry() -> None:
    for key, value in TELEMETRY_OFF.items():
        os.environ.setdefault(key, value)


def project_dir() -> Path:
    """The repository root: holds airbyte/, dbt_project/, soda/ and dags/."""
    if env := os.environ.get("HEADWATER_PROJECT_DIR"):
        return Path(env).resolve()
    here = Path(__file__).resolve().parents[2]
    if (here / "airbyte").is_dir():
        return here
    return Path.cwd().resolve()


def home() -> Path:
    """Local state: the embedded server's data directory, logs, emulator files."""
    if env := os.environ.get("HEADWATER_HOME"):
        return Path(env).resolve()
    return project_dir() / ".headwater"


def source_url_env(domain: str) -> str:
    return f"HEADWATER_{domain.upper()}_URL"


def source_url(domain: str) -> str:
    """URL of a domain's source database: `HEADWATER_<DOMAIN>_URL` or the embedded server."""
    return url_from_env(source_url_env(domain), domain)


def url_from_env(env_var: str | None, embedded_database: str) -> str:
    """The URL in `env_var` if it is set, else `embedded_database` on the embedded server."""
    if env_var and (url := os.environ.get(env_var)):
        return url
    from headwater import db

    return db.embedded_url(embedded_database)


def warehouse_url() -> str:
    """URL of the warehouse database: `HEADWATER_WAREHOUSE_URL` or the embedded server."""
    return url_from_env("HEADWATER_WAREHOUSE_URL", WAREHOUSE_DB)
