"""Create or update a connection file's source, destination and connection in an Airbyte workspace.

The file (airbyte/connections/<domain>.yaml, see headwater.connection) is the source of truth;
this module makes an Airbyte workspace match it through Airbyte's public API and the
airbyte-api SDK. Objects are matched by name inside the workspace, so applying twice is safe:
the first run creates, later runs update what exists.

Two limits of the API shape what "unchanged" means here:
- Airbyte never returns secrets (passwords, key files), so a source or destination cannot be
  proven identical; it is always sent again with PUT, which is how rotated secrets get out.
- A connection carries no secrets, so it is compared field by field and left alone when equal.

No secret value is logged, put in an error message or kept in an Action: request bodies are
masked, and any error text is scrubbed of every secret value read from the environment.

Importing the SDK takes a second or two, so the CLI should import this module lazily.
"""

from __future__ import annotations

import json
import logging
import os
import re
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import parse_qs, unquote, urlsplit

import airbyte_api
import httpx
from airbyte_api import api, errors, models, utils

from headwater.connection import Connection, Destination, display_path, load_connection
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

DEFAULT_API_URL = "http://localhost:8000/api/public/v1"
API_URL_ENV = "AIRBYTE_API_URL"
WORKSPACE_ENV = "AIRBYTE_WORKSPACE_ID"
CLIENT_ID_ENV, CLIENT_SECRET_ENV = "AIRBYTE_CLIENT_ID", "AIRBYTE_CLIENT_SECRET"
USERNAME_ENV, PASSWORD_ENV = "AIRBYTE_USERNAME", "AIRBYTE_PASSWORD"

Target = Literal["production", "local"]
Kind = Literal["source", "destination", "connection"]
Verb = Literal["created", "updated", "unchanged"]

# Our sync modes (also the local engine's) -> the API's. "Deduped" is "deduped history" there.
SYNC_MODES: dict[str, models.ConnectionSyncModeEnum] = {
    "full_refresh_overwrite": models.ConnectionSyncModeEnum.FULL_REFRESH_OVERWRITE,
    "full_refresh_append": models.ConnectionSyncModeEnum.FULL_REFRESH_APPEND,
    "incremental_append": models.ConnectionSyncModeEnum.INCREMENTAL_APPEND,
    "incremental_append_deduped": models.ConnectionSyncModeEnum.INCREMENTAL_DEDUPED_HISTORY,
}
SECRET_FIELDS = frozenset({"password", "credentials_json"})
MASK = "***"
PAGE_SIZE = 100
# Creating a connection makes Airbyte discover the source schema first, which can take a while.
TIMEOUT_MS = 300_000
TERMINAL_JOB_STATES = frozenset({"succeeded", "failed", "cancelled"})


@dataclass(frozen=True)
class Action:
    """What apply did (or, with dry_run, would do) to one Airbyte object."""

    kind: Kind
    name: str
    verb: Verb
    id: str | None
    dry_run: bool = False
    changes: tuple[str, ...] = ()
    # The request body apply sent or would send, with secrets masked.
    request: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def describe(self) -> str:
        verb = {"created": "would create", "updated": "would update"}.get(self.verb, self.verb)
        text = f"{verb if self.dry_run else self.verb} {self.kind} {self.name}"
        if self.id:
            text += f" ({self.id})"
        if self.changes:
            text += f": {', '.join(self.changes)}"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "verb": self.verb,
            "id": self.id,
            "dry_run": self.dry_run,
            "changes": list(self.changes),
            "request": self.request,
        }


@dataclass(frozen=True)
class Job:
    """An Airbyte job as the API reports it."""

    job_id: int
    status: str
    job_type: str
    connection_id: str | None = None
    rows_synced: int | None = None
    bytes_synced: int | None = None
    duration: str | None = None

    @property
    def finished(self) -> bool:
        return self.status in TERMINAL_JOB_STATES

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Job:
        return cls(
            job_id=int(data["jobId"]),
            status=str(data.get("status", "")),
            job_type=str(data.get("jobType", "")),
            connection_id=data.get("connectionId"),
            rows_synced=data.get("rowsSynced"),
            bytes_synced=data.get("bytesSynced"),
            duration=data.get("duration"),
        )


# --- public API ------------------------------------------------------------------------------


def apply(
    connection: Connection,
    *,
    target: Target = "production",
    client: airbyte_api.AirbyteAPI | None = None,
    workspace_id: str | None = None,
    env: Mapping[str, str] = os.environ,
    dry_run: bool = False,
) -> list[Action]:
    """Make the workspace's source, destination and connection match `connection`.

    Everything is read from the environment and checked before the first request, so a
    missing variable fails fast and names itself. With `dry_run`, the workspace is only read
    (to tell create from update) and nothing is written.
    """
    reader = _Env(env)
    source_values = reader.values(connection.source.airbyte_config_env)
    destination = connection.destination_for(target)
    destination_values = _destination_values(destination, reader)
    workspace_id = workspace_id or reader.get(WORKSPACE_ENV)
    make = (lambda: client) if client is not None else _client_factory(reader)
    reader.check(f"needed to apply {_shown(connection)}")
    if connection.schedule.type == "cron" and connection.schedule.timezone != "UTC":
        raise ConfigError(
            f"{_shown(connection)}: schedule.timezone must be UTC; "
            "the Airbyte API runs cron schedules in UTC"
        )

    source_request = models.SourceCreateRequest(
        name=connection.source.name,
        workspace_id=workspace_id,
        configuration=(
            _s3_source(connection, source_values)
            if connection.source.is_file
            else _postgres_source(connection, source_values)
        ),
    )
    if destination.definition == "bigquery":
        destination_config: Any = _bigquery(connection, destination_values)
    else:
        destination_config = _postgres_destination(connection, destination_values)
    destination_request = models.DestinationCreateRequest(
        name=destination.name, workspace_id=workspace_id, configuration=destination_config
    )

    workspace = _Workspace(make(), workspace_id, reader.secrets, dry_run)
    source = workspace.apply_actor("source", source_request, connection.source.definition)
    target_destination = workspace.apply_actor(
        "destination", destination_request, destination.definition
    )
    link = workspace.apply_connection(connection, source, target_destination)
    actions = [source, target_destination, link]
    for action in actions:
        log.info("%s", action.describe())
    return actions


def apply_domain(
    domain: str,
    *,
    target: Target = "production",
    dry_run: bool = False,
    env: Mapping[str, str] = os.environ,
) -> list[Action]:
    """`headwater airbyte apply <domain>`: load airbyte/connections/<domain>.yaml and apply it."""
    return apply(load_connection(domain), target=target, dry_run=dry_run, env=env)


def make_client(env: Mapping[str, str] = os.environ) -> airbyte_api.AirbyteAPI:
    """An SDK client for AIRBYTE_API_URL, authenticated from the environment.

    Client credentials (AIRBYTE_CLIENT_ID / AIRBYTE_CLIENT_SECRET) are exchanged for a bearer
    token at <AIRBYTE_API_URL>/applications/token; AIRBYTE_USERNAME / AIRBYTE_PASSWORD use
    basic auth instead (older self-managed instances).
    """
    reader = _Env(env)
    make = _client_factory(reader)
    reader.check("needed to reach the Airbyte API")
    return make()


def find_connection_id(
    connection: Connection,
    *,
    client: airbyte_api.AirbyteAPI | None = None,
    workspace_id: str | None = None,
    env: Mapping[str, str] = os.environ,
) -> str:
    """The id of the workspace's connection named like `connection`, for triggering syncs."""
    reader = _Env(env)
    workspace_id = workspace_id or reader.get(WORKSPACE_ENV)
    make = (lambda: client) if client is not None else _client_factory(reader)
    reader.check("needed to find the connection in Airbyte")
    workspace = _Workspace(make(), workspace_id, reader.secrets, dry_run=True)
    found = workspace.find("connection", connection.name)
    if found is None:
        raise HeadwaterError(
            f"no connection '{connection.name}' in Airbyte workspace {workspace_id}; "
            "run `headwater airbyte apply` first"
        )
    return str(found["connectionId"])


def trigger_sync(
    connection_id: str,
    *,
    client: airbyte_api.AirbyteAPI | None = None,
    env: Mapping[str, str] = os.environ,
) -> Job:
    """Start a sync job for the connection now and return it (status pending or running)."""
    sdk, secrets = _client_and_secrets(client, env)
    request = models.JobCreateRequest(connection_id=connection_id, job_type=models.JobTypeEnum.SYNC)
    data = _send(
        f"start a sync of connection {connection_id}", sdk.jobs.create_job, request, secrets
    )
    job = Job.from_json(data)
    log.info("started Airbyte job %s for connection %s", job.job_id, connection_id)
    return job


def wait_for_job(
    job_id: int,
    *,
    client: airbyte_api.AirbyteAPI | None = None,
    env: Mapping[str, str] = os.environ,
    timeout: float = 3600.0,
    poll_interval: float = 10.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Job:
    """Poll the job until it ends. Returns it when it succeeded, raises when it did not."""
    sdk, secrets = _client_and_secrets(client, env)
    deadline = clock() + timeout
    while True:
        data = _send(
            f"read job {job_id}", sdk.jobs.get_job, api.GetJobRequest(job_id=job_id), secrets
        )
        job = Job.from_json(data)
        if job.finished:
            break
        if clock() >= deadline:
            raise HeadwaterError(
                f"Airbyte job {job_id} is still {job.status} after {timeout:.0f}s; "
                "it keeps running, follow it in the connection's Timeline in the Airbyte UI"
            )
        log.debug("Airbyte job %s is %s", job_id, job.status)
        sleep(poll_interval)
    if job.status != "succeeded":
        raise HeadwaterError(
            f"Airbyte job {job_id} {job.status}; its logs are in the connection's Timeline "
            "in the Airbyte UI"
        )
    log.info("Airbyte job %s succeeded: %s rows", job_id, job.rows_synced)
    return job


# --- requests from the file and the environment ----------------------------------------------


class _Env:
    """Reads variables, remembering every missing one so a single error can name them all."""

    def __init__(self, env: Mapping[str, str]):
        self.env = env
        self.missing: list[str] = []
        self.hints: list[str] = []
        self.secrets: list[str] = []

    def get(self, name: str, *, secret: bool = False) -> str:
        value = self.env.get(name, "")
        if not value:
            self.missing.append(name)
        elif secret:
            self.secrets.append(value)
        return value

    def values(self, mapping: Mapping[str, str]) -> dict[str, tuple[str, str]]:
        """Connector field -> (variable name, value) for an airbyte_config_env mapping."""
        return {
            key: (name, self.get(name, secret=key in SECRET_FIELDS))
            for key, name in mapping.items()
        }

    def check(self, why: str) -> None:
        if not self.missing:
            return
        names = list(dict.fromkeys(self.missing))
        noun = "variable" if len(names) == 1 else "variables"
        hints = "".join(f"; {hint}" for hint in self.hints)
        raise ConfigError(f"missing environment {noun} {', '.join(names)} ({why}){hints}")


def _shown(connection: Connection) -> str:
    return display_path(connection.path)


def _port(variable: str, value: str) -> int:
    try:
        port = int(value)
    except ValueError:
        port = 0
    if not 0 < port < 65536:
        raise ConfigError(f"{variable} must be a port number")
    return port


def _postgres_source(
    connection: Connection, values: dict[str, tuple[str, str]]
) -> models.SourcePostgres:
    settings = {key: value for key, (_, value) in values.items()}
    settings["port"] = _port(*values["port"])
    return models.SourcePostgres(
        **settings,
        schemas=[connection.source.schema_name],
        # "standard" is Airbyte's "Scan Changes with User Defined Cursor", the method whose
        # per-stream cursor_field the file sets.
        replication_method=models.SourcePostgresScanChangesWithUserDefinedCursor(),
    )


def _s3_source(connection: Connection, values: dict[str, tuple[str, str]]) -> models.SourceS3:
    """Airbyte's S3 source with one file-based stream per connection stream (its globs)."""
    settings = {key: value for key, (_, value) in values.items()}
    return models.SourceS3(
        **settings,
        streams=[
            models.SourceS3FileBasedStreamConfig(
                name=stream.name,
                globs=list(stream.globs),
                format=models.SourceS3ParquetFormat(),
            )
            for stream in connection.streams
        ],
    )


def _destination_values(destination: Destination, reader: _Env) -> dict[str, tuple[str, str]]:
    if destination.airbyte_config_env is not None:
        return reader.values(destination.airbyte_config_env)
    variable = str(destination.url_env)
    url = reader.get(variable)
    return _url_values(variable, url, reader) if url else {}


def _url_values(variable: str, url: str, reader: _Env) -> dict[str, tuple[str, str]]:
    """Split a postgresql:// URL into the connector's fields. Airbyte connects from its own
    containers, so the URL must use a host name they can reach, not a local socket."""
    try:
        parts = urlsplit(url)
        port = str(parts.port or 5432)
    except ValueError:
        raise ConfigError(f"{variable} is not a valid postgresql:// URL") from None
    if parts.scheme not in ("postgresql", "postgres"):
        raise ConfigError(f"{variable} is not a postgresql:// URL")
    host = parts.hostname or parse_qs(parts.query).get("host", [""])[0]
    if not host or host.startswith("/"):
        raise ConfigError(
            f"{variable} points at a local socket; Airbyte needs a host name it can reach "
            "(for abctl: host.docker.internal)"
        )
    if host in ("localhost", "127.0.0.1", "::1"):
        log.warning(
            "%s uses %s, which inside Airbyte's containers is the container itself; "
            "for abctl use host.docker.internal",
            variable,
            host,
        )
    password = unquote(parts.password or "")
    if password:
        reader.secrets.append(password)
    database = parts.path.lstrip("/")
    username = unquote(parts.username or "")
    if not database or not username:
        raise ConfigError(f"{variable} must name a user and a database")
    return {
        "host": (variable, host),
        "port": (variable, port),
        "database": (variable, database),
        "username": (variable, username),
        "password": (variable, password),
    }


def _postgres_destination(
    connection: Connection, values: dict[str, tuple[str, str]]
) -> models.DestinationPostgres:
    settings = {key: value for key, (_, value) in values.items()}
    settings["port"] = _port(*values["port"])
    settings["password"] = settings.get("password") or None
    # The connection's custom namespace decides the schema; this is only the default.
    return models.DestinationPostgres(**settings, schema_=connection.namespace)


def _bigquery(
    connection: Connection, values: dict[str, tuple[str, str]]
) -> models.DestinationBigquery:
    location_variable, location = values["dataset_location"]
    known = {item.value for item in models.DatasetLocation}
    if location not in known:
        raise ConfigError(
            f"{location_variable}: '{location}' is not a BigQuery location Airbyte accepts "
            "(e.g. US, EU, europe-west1)"
        )
    credentials_variable, credentials = values["credentials_json"]
    try:
        json.loads(credentials)
    except ValueError:
        raise ConfigError(
            f"{credentials_variable} is not valid JSON; set it to the service-account key "
            f'itself, e.g. export {credentials_variable}="$(cat key.json)"'
        ) from None
    dataset = values.get("dataset_id", ("", connection.namespace))[1]
    return models.DestinationBigquery(
        project_id=values["project_id"][1],
        dataset_id=dataset,
        dataset_location=models.DatasetLocation(location),
        credentials_json=credentials,
        # Typed final tables (Destinations V2), the layout the local engine writes as well.
        disable_type_dedupe=False,
    )


def _connection_request(
    connection: Connection, source_id: str, destination_id: str
) -> models.ConnectionCreateRequest:
    streams = [
        models.StreamConfiguration(
            name=stream.name,
            sync_mode=SYNC_MODES[stream.sync_mode],
            # File-based sources define their cursor (the file's last-modified time).
            cursor_field=[stream.cursor_field]
            if stream.is_incremental and not connection.source.is_file
            else None,
            primary_key=[[column] for column in stream.primary_key] or None,
        )
        for stream in connection.streams
    ]
    if connection.schedule.type == "cron":
        schedule = models.AirbyteAPIConnectionSchedule(
            schedule_type=models.ScheduleTypeEnum.CRON,
            cron_expression=connection.schedule.cron_expression,
        )
    else:
        schedule = models.AirbyteAPIConnectionSchedule(schedule_type=models.ScheduleTypeEnum.MANUAL)
    return models.ConnectionCreateRequest(
        name=connection.name,
        source_id=source_id,
        destination_id=destination_id,
        namespace_definition=models.NamespaceDefinitionEnum.CUSTOM_FORMAT,
        namespace_format=connection.namespace,
        schedule=schedule,
        configurations=models.StreamConfigurations(streams=streams),
    )


def _patch_request(create: models.ConnectionCreateRequest) -> models.ConnectionPatchRequest:
    # Status and the schema-change policy are left as they are: people pause connections and
    # pick a policy in the UI, and apply should not undo that.
    return models.ConnectionPatchRequest(
        name=create.name,
        namespace_definition=models.NamespaceDefinitionEnumNoDefault.CUSTOM_FORMAT,
        namespace_format=create.namespace_format,
        schedule=create.schedule,
        configurations=create.configurations,
    )


# --- talking to the workspace ----------------------------------------------------------------


_LISTS = {
    "source": ("sources", "list_sources", api.ListSourcesRequest, "sourceId"),
    "destination": (
        "destinations",
        "list_destinations",
        api.ListDestinationsRequest,
        "destinationId",
    ),
    "connection": ("connections", "list_connections", api.ListConnectionsRequest, "connectionId"),
}


class _Workspace:
    def __init__(
        self, sdk: airbyte_api.AirbyteAPI, workspace_id: str, secrets: list[str], dry_run: bool
    ):
        self.sdk = sdk
        self.workspace_id = workspace_id
        self.secrets = secrets
        self.dry_run = dry_run

    def send(self, what: str, call: Callable[..., Any], request: Any) -> dict[str, Any]:
        return _send(what, call, request, self.secrets)

    def find(self, kind: Kind, name: str) -> dict[str, Any] | None:
        """The object of this kind named `name`, or None. Two of them is an error: apply
        cannot know which one the file means."""
        group, method, request_type, id_key = _LISTS[kind]
        call = getattr(getattr(self.sdk, group), method)
        found: list[dict[str, Any]] = []
        offset = 0
        while True:
            request = request_type(
                workspace_ids=[self.workspace_id], limit=PAGE_SIZE, offset=offset
            )
            page = self.send(f"list {group}", call, request)
            data = page.get("data") or []
            found += [
                item
                for item in data
                if item.get("name") == name
                and item.get("workspaceId", self.workspace_id) == self.workspace_id
            ]
            if len(data) < PAGE_SIZE or not page.get("next"):
                break
            offset += PAGE_SIZE
        if len(found) > 1:
            ids = ", ".join(str(item.get(id_key)) for item in found)
            raise HeadwaterError(
                f"{len(found)} {group} named '{name}' in workspace {self.workspace_id} ({ids}); "
                "delete the extra ones in the Airbyte UI so apply knows which to manage"
            )
        return found[0] if found else None

    def apply_actor(
        self, kind: Literal["source", "destination"], request: Any, definition: str
    ) -> Action:
        """Create the source or destination, or replace the one with its name (PUT: Airbyte
        masks secrets in what it returns, so an unchanged configuration cannot be told)."""
        name, id_key = request.name, f"{kind}Id"
        existing = self.find(kind, name)
        if existing is None:
            body = _masked(_body(request), self.secrets)
            if self.dry_run:
                return Action(kind, name, "created", None, True, request=body)
            create = getattr(getattr(self.sdk, f"{kind}s"), f"create_{kind}")
            created = self.send(f"create {kind} {name}", create, request)
            return Action(kind, name, "created", str(created[id_key]), request=body)

        object_id = str(existing[id_key])
        actual = existing.get(f"{kind}Type")
        if actual is not None and actual != definition:
            raise HeadwaterError(
                f"{kind} '{name}' ({object_id}) is a {actual} connector, the file wants "
                f"{definition}; Airbyte cannot change a connector's type, so rename or delete "
                "it in the Airbyte UI"
            )
        if kind == "source":
            put: Any = models.SourcePutRequest(name=name, configuration=request.configuration)
            call = self.sdk.sources.put_source
            wrapped: Any = api.PutSourceRequest(source_id=object_id, source_put_request=put)
        else:
            put = models.DestinationPutRequest(name=name, configuration=request.configuration)
            call = self.sdk.destinations.put_destination
            wrapped = api.PutDestinationRequest(
                destination_id=object_id, destination_put_request=put
            )
        if not self.dry_run:
            self.send(f"update {kind} {name}", call, wrapped)
        body = _masked(_body(put), self.secrets)
        return Action(kind, name, "updated", object_id, self.dry_run, request=body)

    def apply_connection(
        self, connection: Connection, source: Action, destination: Action
    ) -> Action:
        name = connection.name
        source_id = source.id or f"(id of {source.name} once created)"
        destination_id = destination.id or f"(id of {destination.name} once created)"
        create = _connection_request(connection, source_id, destination_id)
        existing = self.find("connection", name)
        if existing is None:
            body = _body(create)
            if self.dry_run:
                return Action("connection", name, "created", None, True, request=body)
            created = self.send(
                f"create connection {name}", self.sdk.connections.create_connection, create
            )
            return Action("connection", name, "created", str(created["connectionId"]), request=body)

        connection_id = str(existing["connectionId"])
        if existing.get("sourceId") != source.id or existing.get("destinationId") != destination.id:
            raise HeadwaterError(
                f"connection '{name}' ({connection_id}) links other objects than "
                f"{source.name} -> {destination.name}; Airbyte cannot relink a connection, so "
                "delete it in the Airbyte UI (connection Settings) and apply again"
            )
        patch = _patch_request(create)
        body = _body(patch)
        changes = _connection_changes(existing, body)
        if not changes:
            return Action(
                "connection", name, "unchanged", connection_id, self.dry_run, request=body
            )
        if not self.dry_run:
            self.send(
                f"update connection {name}",
                self.sdk.connections.patch_connection,
                api.PatchConnectionRequest(
                    connection_id=connection_id, connection_patch_request=patch
                ),
            )
        return Action(
            "connection", name, "updated", connection_id, self.dry_run, tuple(changes), body
        )


def _connection_changes(existing: Mapping[str, Any], desired: Mapping[str, Any]) -> list[str]:
    """Which parts of the connection differ, in the file's terms. Only what apply sets counts."""
    changes = []
    if any(
        existing.get(key) != desired.get(key) for key in ("namespaceDefinition", "namespaceFormat")
    ):
        changes.append("namespace")
    have, want = existing.get("schedule") or {}, desired.get("schedule") or {}
    if have.get("scheduleType") != want.get("scheduleType") or (
        want.get("scheduleType") == "cron"
        and _cron(have.get("cronExpression")) != _cron(want.get("cronExpression"))
    ):
        changes.append("schedule")
    have_streams = _streams(existing)
    want_streams = _streams(desired)
    for name in sorted(want_streams.keys() - have_streams.keys()):
        changes.append(f"stream {name} added")
    for name in sorted(have_streams.keys() - want_streams.keys()):
        changes.append(f"stream {name} removed")
    for name in [n for n in want_streams if n in have_streams]:
        mode, cursor, key = want_streams[name]
        have_mode, have_cursor, have_key = have_streams[name]
        if (
            mode != have_mode
            or (mode.startswith("incremental") and cursor != have_cursor)
            or (key and key != have_key)
        ):
            changes.append(f"stream {name}")
    return changes


def _cron(expression: str | None) -> str:
    """A cron expression without the time zone Airbyte appends when it echoes one back
    ("0 0 * * * ?" is returned as "0 0 * * * ? UTC")."""
    parts = (expression or "").split()
    if len(parts) > 6 and parts[-1] == "UTC":
        parts.pop()
    return " ".join(parts)


def _streams(connection: Mapping[str, Any]) -> dict[str, tuple[str, tuple, tuple]]:
    configured = (connection.get("configurations") or {}).get("streams") or []
    return {
        item["name"]: (
            str(item.get("syncMode")),
            tuple(item.get("cursorField") or ()),
            tuple(tuple(path) for path in item.get("primaryKey") or ()),
        )
        for item in configured
    }


def _body(request: Any) -> dict[str, Any]:
    """The JSON body the SDK sends for `request`."""
    return json.loads(utils.marshal_json(request, type(request)) or "{}")


def _masked(value: Any, secrets: Iterable[str], key: str = "") -> Any:
    if isinstance(value, dict):
        return {k: _masked(v, secrets, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_masked(item, secrets) for item in value]
    if isinstance(value, str) and value and key in SECRET_FIELDS:
        return MASK
    if isinstance(value, str):
        return _scrub(value, secrets)
    return value


def _scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in sorted(set(secrets), key=len, reverse=True):
        if len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text


def _send(what: str, call: Callable[..., Any], request: Any, secrets: list[str]) -> dict[str, Any]:
    """Call the SDK and return the response's JSON, or raise one scrubbed HeadwaterError line."""
    try:
        response = call(request=request)
    except errors.ResponseValidationError as exc:
        # The call succeeded but the SDK could not type the answer: its source and destination
        # configuration unions do not always match what the server returns. The raw JSON has
        # everything apply reads (names, ids, types), so use that.
        return _json(exc.body)
    except errors.AirbyteAPIError as exc:
        raise HeadwaterError(_scrub(_api_error(what, exc), secrets)) from None
    except (httpx.HTTPError, errors.NoResponseError) as exc:
        detail = str(exc) or type(exc).__name__
        where = ""
        if isinstance(exc, httpx.RequestError):
            try:
                where = f" at {exc.request.url.copy_with(query=None)}"
            except RuntimeError:  # raised before a request existed
                pass
        raise HeadwaterError(
            _scrub(f"cannot reach Airbyte{where} to {what}: {detail}; is it running?", secrets)
        ) from None
    return _json(response.raw_response.text)


def _json(text: str | None) -> dict[str, Any]:
    try:
        data = json.loads(text or "{}")
    except ValueError:
        raise HeadwaterError("Airbyte answered with something that is not JSON") from None
    return data if isinstance(data, dict) else {"data": data}


def _api_error(what: str, exc: errors.AirbyteAPIError) -> str:
    status = exc.status_code
    message = ""
    try:
        data = json.loads(exc.body)
        if isinstance(data, dict):
            message = str(data.get("detail") or data.get("message") or data.get("title") or "")
    except ValueError:
        pass
    if not message and "<html" not in exc.body.lower():
        message = exc.body
    message = re.sub(r"\s+", " ", message).strip()[:300]
    hint = ""
    if status == 401:
        hint = f"; check {CLIENT_ID_ENV}/{CLIENT_SECRET_ENV} (or {USERNAME_ENV}/{PASSWORD_ENV})"
    elif status == 403:
        hint = f"; the credentials may not reach workspace {WORKSPACE_ENV}"
    elif status == 404 and not message:
        hint = f"; check {API_URL_ENV} (it ends in /api/public/v1 for a self-managed Airbyte)"
    return f"Airbyte refused to {what}: HTTP {status}" + (f": {message}" if message else "") + hint


# --- the client ------------------------------------------------------------------------------


def _client_and_secrets(
    client: airbyte_api.AirbyteAPI | None, env: Mapping[str, str]
) -> tuple[airbyte_api.AirbyteAPI, list[str]]:
    if client is not None:
        return client, []
    reader = _Env(env)
    make = _client_factory(reader)
    reader.check("needed to reach the Airbyte API")
    return make(), reader.secrets


def _client_factory(reader: _Env) -> Callable[[], airbyte_api.AirbyteAPI]:
    """Read the server URL and credentials now (so missing ones join the same error) and
    return how to build the client once everything is known to be there."""
    url = (reader.env.get(API_URL_ENV) or DEFAULT_API_URL).rstrip("/")
    if not url.startswith(("http://", "https://")):
        raise ConfigError(f"{API_URL_ENV} must be an http(s):// URL, e.g. {DEFAULT_API_URL}")
    env = reader.env
    if (
        env.get(CLIENT_ID_ENV)
        or env.get(CLIENT_SECRET_ENV)
        or not (env.get(USERNAME_ENV) or env.get(PASSWORD_ENV))
    ):
        client_id = reader.get(CLIENT_ID_ENV)
        client_secret = reader.get(CLIENT_SECRET_ENV, secret=True)
        if not (client_id and client_secret):
            reader.hints.append(f"or set {USERNAME_ENV} and {PASSWORD_ENV} for basic auth")

        def security() -> Callable[[], models.Security]:
            return _ClientCredentials(f"{url}/applications/token", client_id, client_secret)
    else:
        username = reader.get(USERNAME_ENV)
        password = reader.get(PASSWORD_ENV, secret=True)

        def security() -> Callable[[], models.Security]:
            basic = models.Security(
                basic_auth=models.SchemeBasicAuth(username=username, password=password)
            )
            return lambda: basic

    def make() -> airbyte_api.AirbyteAPI:
        return airbyte_api.AirbyteAPI(server_url=url, security=security(), timeout_ms=TIMEOUT_MS)

    return make


class _ClientCredentials:
    """Exchange an application's client id and secret for a short-lived bearer token.

    The SDK has its own hook for this, but it posts a form to a URL it builds by dropping the
    API path (…/applications/token on the host root), which self-managed Airbyte rejects.
    Airbyte's documented request is JSON to <api url>/applications/token, done here; the
    token is fetched again shortly before it expires.
    """

    def __init__(self, token_url: str, client_id: str, client_secret: str):
        self._token_url = token_url
        self._client_id = client_id
        self._client_secret = client_secret
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return f"_ClientCredentials({self._token_url!r}, client_id={self._client_id!r})"

    def __call__(self) -> models.Security:
        if self._token is None or time.monotonic() >= self._expires_at:
            self._fetch()
        return models.Security(bearer_auth=self._token)

    def _fetch(self) -> None:
        body = {
            "client_id": self._client_id,
            "client_secret": self._client_secret,
            "grant-type": "client_credentials",
        }
        secrets = [self._client_secret]
        try:
            response = httpx.post(self._token_url, json=body, timeout=30)
        except httpx.HTTPError as exc:
            raise HeadwaterError(
                _scrub(f"cannot reach Airbyte at {self._token_url}: {exc}; is it running?", secrets)
            ) from None
        if response.status_code != 200:
            raise HeadwaterError(
                f"Airbyte refused a token for {CLIENT_ID_ENV}/{CLIENT_SECRET_ENV}: HTTP "
                f"{response.status_code} from {self._token_url}"
            )
        try:
            data = response.json()
            self._token = str(data["access_token"])
        except (ValueError, KeyError, TypeError):
            raise HeadwaterError(f"no access_token in the answer from {self._token_url}") from None
        # Tokens live a few minutes (Airbyte: 3 to 15); renew a little early.
        lifetime = float(data.get("expires_in") or 180)
        self._expires_at = time.monotonic() + max(lifetime - 30, lifetime / 2)
