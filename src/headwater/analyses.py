"""Dashboard queries: `dbt_project/analyses/<domain>/<name>.sql`, rendered and run on the warehouse.

The files are dbt analyses (`headwater dbt compile` compiles them too), written for the
warehouse's SQL. Running one through dbt costs seconds of start-up, more than a live
dashboard may spend, so the queries that use only `ref()`, `source()` and `var()` are
rendered here directly: `ref('m')` becomes `<layer schema><suffix>.m` (the model's
folder under models/ names its schema, as dbt_project.yml sets them, and
$HEADWATER_DBT_SCHEMA_SUFFIX is appended like generate_schema_name does). A query that
calls other macros is compiled by dbt instead.

`var()` values are parameters (`now`, `limit`, …). They are pasted into the SQL, so only
plain values are accepted: timestamps, numbers and identifiers.
"""

from __future__ import annotations

import datetime
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

ANALYSES = "analyses"
_SAFE_VALUE = re.compile(r"^[A-Za-z0-9_:.+\- ]{1,64}$")


@dataclass
class QueryResult:
    domain: str
    name: str
    columns: list[str]
    rows: list[tuple]
    seconds: float
    parameters: dict[str, Any]

    def as_dicts(self) -> list[dict[str, Any]]:
        return [dict(zip(self.columns, row, strict=True)) for row in self.rows]


def analyses_dir(domain: str) -> Path:
    return config.project_dir() / "dbt_project" / ANALYSES / domain


def available(domain: str) -> dict[str, str]:
    """name → the first line of the query's leading comment."""
    folder = analyses_dir(domain)
    found = {}
    for path in sorted(folder.glob("*.sql")):
        first = next((ln for ln in path.read_text().splitlines() if ln.startswith("--")), "--")
        found[path.stem] = first.lstrip("- ").strip()
    return found


def _schema_of(model: str, suffix: str) -> str:
    models = config.project_dir() / "dbt_project" / "models"
    matches = list(models.rglob(f"{model}.sql"))
    if not matches:
        raise ConfigError(f"ref('{model}'): no model named {model} in dbt_project/models")
    layer = matches[0].relative_to(models).parts[0]
    return f"{layer}{suffix}"


def _utc_iso(value: Any) -> str:
    """`now` as UTC ISO 8601 (2025-01-15T13:45:00+00:00); a time without offset is UTC."""
    try:
        at = (
            value
            if isinstance(value, datetime.datetime)
            else datetime.datetime.fromisoformat(str(value))
        )
    except ValueError:
        raise ConfigError(f"parameter now={value!r}: not an ISO 8601 time") from None
    at = at.replace(tzinfo=datetime.UTC) if at.tzinfo is None else at.astimezone(datetime.UTC)
    return at.isoformat()


def render(domain: str, name: str, parameters: dict[str, Any] | None = None) -> str:
    """The SQL of analyses/<domain>/<name>.sql with refs resolved and parameters filled in."""
    parameters = {k: v for k, v in (parameters or {}).items() if v is not None}
    for key, value in parameters.items():
        if not _SAFE_VALUE.match(str(value)):
            raise ConfigError(
                f"parameter {key}={value!r}: only timestamps, numbers and identifiers are accepted"
            )
    if "now" in parameters:
        parameters["now"] = _utc_iso(parameters["now"])
    path = analyses_dir(domain) / f"{name}.sql"
    if not path.is_file():
        known = ", ".join(available(domain)) or "none"
        raise ConfigError(f"no dashboard query {name!r} for {domain} (queries: {known})")
    suffix = (os.environ.get("HEADWATER_DBT_SCHEMA_SUFFIX") or "").strip()
    sources = {"raw_" + d: f"raw_{d}" for d in config.DOMAINS}

    def ref(model: str) -> str:
        return f"{_schema_of(model, suffix)}.{model}"

    def source(source_name: str, table: str) -> str:
        return f"{sources.get('raw_' + source_name, source_name)}.{table}"

    def var(key: str, default: Any = None) -> Any:
        return parameters.get(key, default)

    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False)  # noqa: S701 - SQL
    try:
        template = env.from_string(path.read_text())
        # The queries run on PostgreSQL; `config(enabled=...)` is for dbt's own parse.
        return template.render(
            ref=ref, source=source, var=var, config=lambda **_: "", target={"type": "postgres"}
        )
    except jinja2.UndefinedError:
        return _compile_with_dbt(domain, name, parameters)


def _compile_with_dbt(domain: str, name: str, parameters: dict[str, Any]) -> str:
    import json

    from headwater import dbt

    dbt.run(["compile", "--select", name, "--vars", json.dumps(parameters)], capture=True)
    compiled = dbt.PROJECT_DIR / "target" / "compiled" / "headwater" / ANALYSES / domain
    return (compiled / f"{name}.sql").read_text()


def run(
    domain: str,
    name: str,
    parameters: dict[str, Any] | None = None,
    *,
    url: str | None = None,
) -> QueryResult:
    """Run a dashboard query on the warehouse; raise one HeadwaterError line if it fails."""
    statement = render(domain, name, parameters)
    url = url or config.warehouse_url()
    with db.connect(url, what="warehouse") as conn:
        conn.execute("set time zone 'UTC'")
        started = time.perf_counter()
        try:
            cursor = conn.execute(statement)
        except Exception as exc:  # psycopg errors: one line naming the query
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise HeadwaterError(f"dashboard {domain} {name}: {db.redact(first)}") from None
        rows = cursor.fetchall()
        seconds = time.perf_counter() - started
        columns = [c.name for c in cursor.description or ()]
    return QueryResult(domain, name, columns, rows, seconds, dict(parameters or {}))
