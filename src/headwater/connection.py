"""Load a connection-as-code file (airbyte/connections/<domain>.yaml) into typed objects.

Two consumers read the same file: `headwater airbyte apply` (headwater.airbyte) and the local
sync engine. This module knows nothing about the Airbyte SDK, so the engine can import it
cheaply. Every problem in the file becomes one ConfigError line that names the file, the
stream when there is one, and what is wrong, because the CLI prints exactly that line.
"""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from headwater import config
from headwater.errors import ConfigError

CONNECTIONS_DIR = Path("airbyte") / "connections"

SyncMode = Literal[
    "full_refresh_overwrite",
    "full_refresh_append",
    "incremental_append",
    "incremental_append_deduped",
]
INCREMENTAL_MODES = frozenset({"incremental_append", "incremental_append_deduped"})
DEDUPED_MODES = frozenset({"incremental_append_deduped"})

# The Airbyte connector settings each definition may take from the environment, as
# (required, optional). Checked here so a typo in the file fails before anything is sent.
AIRBYTE_CONFIG_FIELDS: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "postgres": (
        frozenset({"host", "port", "database", "username", "password"}),
        frozenset({"jdbc_url_params"}),
    ),
    "bigquery": (
        frozenset({"project_id", "dataset_location", "credentials_json"}),
        frozenset({"dataset_id"}),
    ),
    # Airbyte's S3 source (file-based): the local engine reads the same globs from a folder.
    "s3": (
        frozenset({"bucket"}),
        frozenset(
            {"aws_access_key_id", "aws_secret_access_key", "role_arn", "region_name", "endpoint"}
        ),
    ),
}
# File sources: the columns Airbyte's file-based sources add to every record, and the
# source-defined cursor of their incremental streams (the file's last-modified time).
FILE_URL_COLUMN = "_ab_source_file_url"
FILE_MODIFIED_COLUMN = "_ab_source_file_last_modified"

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_DURATION_PART = re.compile(r"(\d+)(ms|s|m|h|d)")
_DURATION_UNITS = {"ms": "milliseconds", "s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """'15m', '1h', '30s', '1h30m' -> timedelta. Units: ms, s, m, h, d."""
    compact = text.replace(" ", "")
    parts = _DURATION_PART.findall(compact)
    if not compact or "".join(n + u for n, u in parts) != compact:
        raise ValueError(f"'{text}' is not a duration like '30s', '15m' or '1h'")
    return sum((timedelta(**{_DURATION_UNITS[u]: int(n)}) for n, u in parts), timedelta())


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


def _check_env_mapping(definition: str, mapping: dict[str, str]) -> None:
    required, optional = AIRBYTE_CONFIG_FIELDS[definition]
    if unknown := sorted(set(mapping) - required - optional):
        known = ", ".join(sorted(required | optional))
        raise ValueError(f"airbyte_config_env has unknown field '{unknown[0]}' (known: {known})")
    if missing := sorted(required - set(mapping)):
        raise ValueError(f"airbyte_config_env needs '{missing[0]}' for a {definition} connector")
    for field, name in mapping.items():
        # Never echo the value: someone may have pasted a password instead of a variable name.
        if not _ENV_NAME.match(name):
            raise ValueError(
                f"airbyte_config_env.{field} must name an environment variable (UPPER_CASE)"
            )


class Schedule(_Model):
    type: Literal["cron", "manual"]
    cron_expression: str | None = None
    timezone: str = "UTC"

    @model_validator(mode="after")
    def _cron(self) -> Schedule:
        if self.type == "cron":
            if not self.cron_expression:
                raise ValueError("schedule type cron needs a cron_expression")
            if len(self.cron_expression.split()) not in (6, 7):
                raise ValueError(
                    "schedule.cron_expression must be a Quartz cron "
                    "(sec min hour day month weekday [year]), e.g. '0 0 * * * ?'"
                )
        return self


class Source(_Model):
    name: str
    definition: Literal["postgres", "s3"]
    url_env: str
    schema_name: str = Field("public", alias="schema")
    # Airbyte's "Scan Changes with User Defined Cursor"; the only method the local engine has.
    replication_method: Literal["standard"] = "standard"
    # File sources (s3): the file format, and the folder the local engine reads when
    # `url_env` is unset, relative to HEADWATER_HOME.
    format: Literal["parquet"] | None = None
    default_path: str | None = None
    airbyte_config_env: dict[str, str]

    @property
    def is_file(self) -> bool:
        return self.definition == "s3"

    @model_validator(mode="after")
    def _env(self) -> Source:
        _check_env_mapping(self.definition, self.airbyte_config_env)
        if self.is_file and self.format is None:
            raise ValueError("a file source (s3) needs a format (parquet)")
        if not self.is_file and (self.format or self.default_path):
            raise ValueError("format and default_path are for file sources (definition s3)")
        return self


class Erasure(_Model):
    """GDPR erasure of a stream's rows (headwater.gdpr): `subject` is the column naming the
    person; `clear` the personal columns set to NULL. Applied to raw by `headwater gdpr
    erase` and to every later sync, so a re-read file cannot bring the person back."""

    subject: str
    clear: list[str] = []
    # Columns the models derive from the personal ones (hashes), cleared downstream.
    derived: list[str] = []


class Destination(_Model):
    name: str
    definition: Literal["bigquery", "postgres"]
    url_env: str | None = None
    airbyte_config_env: dict[str, str] | None = None

    @model_validator(mode="after")
    def _env(self) -> Destination:
        if self.airbyte_config_env is not None:
            _check_env_mapping(self.definition, self.airbyte_config_env)
        elif self.definition == "bigquery":
            raise ValueError("a bigquery destination needs airbyte_config_env")
        elif self.url_env is None:
            raise ValueError("a postgres destination needs url_env or airbyte_config_env")
        return self


class Destinations(_Model):
    production: Destination
    local: Destination


class Stream(_Model):
    name: str
    sync_mode: SyncMode
    cursor_field: str | None = None
    primary_key: list[str] = []
    # Local engine only (Airbyte overwrites such a stream in full): keep a
    # full_refresh_overwrite stream equal to the source by reading only the row versions
    # written since the last sync, found by PostgreSQL's xmin. See docs/sync.md.
    change_detection: Literal["xmin"] | None = None
    # File sources only: which files under the source folder belong to the stream.
    globs: list[str] = []
    erasure: Erasure | None = None
    reason: str

    @property
    def is_incremental(self) -> bool:
        return self.sync_mode in INCREMENTAL_MODES

    @property
    def is_deduped(self) -> bool:
        return self.sync_mode in DEDUPED_MODES

    @field_validator("primary_key", mode="before")
    @classmethod
    def _one_column(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @model_validator(mode="after")
    def _mode_needs(self) -> Stream:
        if self.is_incremental and not self.cursor_field:
            raise ValueError(f"{self.sync_mode} needs a cursor_field")
        if self.is_deduped and not self.primary_key:
            raise ValueError(f"{self.sync_mode} needs a primary_key")
        if self.change_detection == "xmin" and self.sync_mode != "full_refresh_overwrite":
            raise ValueError("change_detection: xmin needs sync_mode full_refresh_overwrite")
        if self.change_detection == "xmin" and not self.primary_key:
            raise ValueError("change_detection: xmin needs a primary_key")
        if not self.reason.strip():
            raise ValueError("reason is empty; say why this sync mode fits the table")
        return self


class Connection(_Model):
    name: str
    namespace: str
    schedule: Schedule
    source: Source
    destination: Destinations
    safety_lag: timedelta
    streams: list[Stream] = Field(min_length=1)

    _path: Path | None = PrivateAttr(default=None)

    @field_validator("safety_lag", mode="before")
    @classmethod
    def _lag(cls, value: Any) -> timedelta:
        if isinstance(value, timedelta):
            return value
        if not isinstance(value, str):
            raise ValueError("safety_lag must be a duration like '30s', '15m' or '1h'")
        return parse_duration(value)

    @model_validator(mode="after")
    def _unique_streams(self) -> Connection:
        seen: set[str] = set()
        for stream in self.streams:
            if stream.name in seen:
                raise ValueError(f"stream '{stream.name}': listed more than once")
            seen.add(stream.name)
            if self.source.is_file and not stream.globs:
                raise ValueError(f"stream '{stream.name}': a file source stream needs globs")
            if not self.source.is_file and stream.globs:
                raise ValueError(f"stream '{stream.name}': globs are for file sources (s3)")
            if self.source.is_file and stream.change_detection:
                raise ValueError(f"stream '{stream.name}': change_detection is for PostgreSQL")
        return self

    @property
    def path(self) -> Path | None:
        """The file this connection was loaded from, if any."""
        return self._path

    def stream(self, name: str) -> Stream:
        for stream in self.streams:
            if stream.name == name:
                return stream
        known = ", ".join(s.name for s in self.streams)
        raise ConfigError(f"{display_path(self._path)}: no stream '{name}' (streams: {known})")

    def destination_for(self, target: Literal["production", "local"]) -> Destination:
        if target not in ("production", "local"):
            raise ConfigError(f"unknown target '{target}' (production or local)")
        return getattr(self.destination, target)


def connection_path(domain_or_path: str | Path) -> Path:
    """A domain name maps to airbyte/connections/<domain>.yaml; anything path-like is used as is."""
    text = str(domain_or_path)
    if isinstance(domain_or_path, Path) or "/" in text or text.endswith((".yaml", ".yml")):
        return Path(domain_or_path)
    return config.project_dir() / CONNECTIONS_DIR / f"{text}.yaml"


def load_connection(domain_or_path: str | Path) -> Connection:
    """Read and validate a connection file, or raise one ConfigError line saying what is wrong."""
    path = connection_path(domain_or_path)
    shown = display_path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        known = sorted(p.stem for p in path.parent.glob("*.yaml")) if path.parent.is_dir() else []
        hint = f" (known: {', '.join(known)})" if known else ""
        raise ConfigError(f"{shown}: no such connection file{hint}") from None
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{shown}: invalid YAML{where}: {problem}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{shown}: expected a mapping at the top level")
    try:
        connection = Connection.model_validate(raw)
    except ValidationError as exc:
        raise ConfigError(f"{shown}: {_describe(exc, raw)}") from None
    connection._path = path
    return connection


def display_path(path: Path | None) -> str:
    if path is None:
        return "<connection>"
    try:
        return str(path.resolve().relative_to(config.project_dir()))
    except ValueError:
        return str(path)


def _describe(exc: ValidationError, raw: dict) -> str:
    """The first validation error as '<where>: <what>', plus how many more there are."""
    errors = exc.errors(include_url=False, include_input=False)
    # An unknown key is most often a typo of the key reported missing: name it first.
    errors.sort(key=lambda error: error["type"] != "extra_forbidden")
    first = errors[0]
    loc = [str(part) for part in first["loc"]]
    where = ""
    if len(loc) >= 2 and loc[0] == "streams" and loc[1].isdigit():
        index = int(loc[1])
        entry = (raw.get("streams") or [])[index]
        name = entry.get("name") if isinstance(entry, dict) else None
        where = f"stream '{name}'" if name else f"stream #{index + 1}"
        loc = loc[2:]
    field = ".".join(loc)
    message = _message(first["type"], first["msg"], field, first.get("ctx") or {})
    text = f"{where}: {message}" if where else message
    if len(errors) > 1:
        text += f" (and {len(errors) - 1} more)"
    return text


def _message(kind: str, msg: str, field: str, ctx: dict) -> str:
    if kind == "missing":
        return f"missing key '{field}'"
    if kind == "extra_forbidden":
        return f"unknown key '{field}'"
    if kind == "literal_error":
        return f"{field} must be one of {ctx.get('expected', '')}"
    if kind == "value_error":
        text = msg.removeprefix("Value error, ")
        return f"{field}: {text}" if field else text
    if kind == "too_short" and field == "streams":
        return "streams is empty"
    return f"{field}: {msg}" if field else msg
