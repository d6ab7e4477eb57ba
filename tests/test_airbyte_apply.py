"""`headwater airbyte apply` against a recording stand-in for Airbyte's public API.

No Airbyte server runs here, so a small HTTP server on 127.0.0.1 answers like the public API
(list endpoints return what exists, create returns ids, secrets come back masked) and records
every request. The SDK talks to it over real HTTP, so these tests check the exact JSON bodies
the connection file turns into, not calls on a mock.
"""

from __future__ import annotations

import base64
import copy
import json
import logging
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from headwater import airbyte
from headwater.connection import Connection, load_connection
from headwater.errors import ConfigError, HeadwaterError

PREFIX = "/api/public/v1"
WORKSPACE = "5ae6b09b-fdec-41af-aaf7-7d94cfc33ef6"
CLIENT_ID = "7d1e3c2a-client"
CLIENT_SECRET = "client-secret-Zq81"
PG_PASSWORD = "pg-pass-8f3a"
BQ_KEY = json.dumps(
    {"type": "service_account", "project_id": "acme", "private_key": "KEY-bq-secret-77"}
)
SECRETS = (CLIENT_SECRET, PG_PASSWORD, "KEY-bq-secret-77")
MASKED = "**********"


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


class FakeAirbyte:
    """Just enough of Airbyte's public API, in memory, with a log of what it was asked."""

    def __init__(self) -> None:
        self.requests: list[Recorded] = []
        self.sources: dict[str, dict] = {}
        self.destinations: dict[str, dict] = {}
        self.connections: dict[str, dict] = {}
        self.jobs: dict[int, list[str]] = {}
        self.token = "token-" + uuid.uuid4().hex
        self.basic = ("airbyte", "basic-pass-4711")
        # Real servers do not always put destinationType inside the configuration they return,
        # which the SDK cannot type; apply has to cope.
        self.strip_destination_type = False
        self.fail_next: dict[tuple[str, str], tuple[int, dict]] = {}
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length) if length else b""
                body = json.loads(raw) if raw else None
                parts = urlsplit(self.path)
                record = Recorded(
                    self.command, parts.path, parse_qs(parts.query), dict(self.headers), body
                )
                fake.requests.append(record)
                status, payload = fake.route(record)
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PUT = do_PATCH = _handle

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{PREFIX}"

    def __enter__(self) -> FakeAirbyte:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    # --- what tests read -------------------------------------------------------------------

    def writes(self) -> list[Recorded]:
        return [r for r in self.api_requests() if r.method != "GET"]

    def api_requests(self) -> list[Recorded]:
        return [r for r in self.requests if not r.path.endswith("/applications/token")]

    def sent(self, method: str, path: str) -> list[Any]:
        return [r.body for r in self.requests if r.method == method and r.path == PREFIX + path]

    # --- the API ---------------------------------------------------------------------------

    def route(self, r: Recorded) -> tuple[int, Any]:
        path = r.path.removeprefix(PREFIX)
        if r.method == "POST" and path == "/applications/token":
            body = r.body or {}
            if (body.get("client_id"), body.get("client_secret")) != (CLIENT_ID, CLIENT_SECRET):
                return 401, {"message": "Invalid client id or token"}
            return 200, {"access_token": self.token, "token_type": "Bearer", "expires_in": 180}
        if not self.authorized(r.headers.get("Authorization", "")):
            return 401, {"status": 401, "title": "unauthorized", "detail": "Unauthorized"}
        if (failure := self.fail_next.pop((r.method, path), None)) is not None:
            return failure
        collection, _, object_id = path.strip("/").partition("/")
        if collection in ("sources", "destinations", "connections"):
            return self.crud(r, collection, object_id)
        if collection == "jobs":
            return self.job(r, object_id)
        return 404, {"status": 404, "title": "not found", "detail": f"no route {r.method} {path}"}

    def authorized(self, header: str) -> bool:
        if header == f"Bearer {self.token}":
            return True
        basic = base64.b64encode(":".join(self.basic).encode()).decode()
        return header == f"Basic {basic}"

    def crud(self, r: Recorded, collection: str, object_id: str) -> tuple[int, Any]:
        store = getattr(self, collection)
        if r.method == "GET" and not object_id:
            wanted = r.query.get("workspaceIds", [])
            items = [v for v in store.values() if not wanted or v["workspaceId"] in wanted]
            limit = int(r.query.get("limit", ["20"])[0])
            offset = int(r.query.get("offset", ["0"])[0])
            page = [self.shown(collection, v) for v in items[offset : offset + limit]]
            answer: dict[str, Any] = {"data": page}
            if offset + limit < len(items):
                answer["next"] = f"{self.url}/{collection}?offset={offset + limit}&limit={limit}"
            return 200, answer
        if r.method == "POST" and not object_id:
            return 200, self.shown(collection, self.create(collection, r.body))
        if object_id not in store:
            return 404, {"status": 404, "title": "not found", "detail": f"{object_id} not found"}
        item = store[object_id]
        if r.method == "PUT":
            item.update(name=r.body["name"], configuration=r.body["configuration"])
        elif r.method == "PATCH":
            item.update({k: v for k, v in r.body.items() if v is not None})
        return 200, self.shown(collection, item)

    def create(self, collection: str, body: dict) -> dict:
        new_id = str(uuid.uuid4())
        base = {"workspaceId": body.get("workspaceId", WORKSPACE), "createdAt": 1760000000}
        if collection == "sources":
            item = {
                **base,
                "sourceId": new_id,
                "name": body["name"],
                "sourceType": body["configuration"]["sourceType"],
                "definitionId": "decd338e-5647-4c0b-adf4-da0e75f5a750",
                "configuration": body["configuration"],
            }
        elif collection == "destinations":
            item = {
                **base,
                "destinationId": new_id,
                "name": body["name"],
                "destinationType": body["configuration"]["destinationType"],
                "definitionId": "22f6c74f-5699-40ff-833c-4a879ea40133",
                "configuration": body["configuration"],
            }
        else:
            if (
                body["sourceId"] not in self.sources
                or body["destinationId"] not in self.destinations
            ):
                raise AssertionError("connection created before its source and destination")
            workspace = self.sources[body["sourceId"]]["workspaceId"]
            item = {
                **body,
                "connectionId": new_id,
                "workspaceId": workspace,
                "createdAt": 1760000000,
                "status": "active",
                "tags": [],
            }
        getattr(self, collection)[new_id] = item
        return item

    def shown(self, collection: str, item: dict) -> dict:
        """What the API returns: secrets masked, the schedule and streams as the server
        echoes them (cron with its time zone appended, a full-refresh stream with an empty
        cursor)."""
        item = copy.deepcopy(item)
        config = item.get("configuration", {})
        for key in ("password", "credentials_json"):
            if key in config:
                config[key] = MASKED
        if collection == "destinations" and self.strip_destination_type:
            config.pop("destinationType", None)
        if collection == "connections":
            schedule = item["schedule"]
            if schedule.get("cronExpression") and not schedule["cronExpression"].endswith("UTC"):
                schedule["cronExpression"] += " UTC"
            for stream in item["configurations"]["streams"]:
                stream.setdefault("cursorField", [])
                stream.setdefault("primaryKey", [])
        return item

    def job(self, r: Recorded, job_id: str) -> tuple[int, Any]:
        if r.method == "POST":
            new_id = len(self.jobs) + 101
            self.jobs[new_id] = ["running", "running", "succeeded"]
            return 200, self.job_json(new_id, r.body["connectionId"], "pending")
        states = self.jobs[int(job_id)]
        status = states.pop(0) if len(states) > 1 else states[0]
        return 200, self.job_json(int(job_id), "c-1", status)

    @staticmethod
    def job_json(job_id: int, connection_id: str, status: str) -> dict:
        done = status == "succeeded"
        return {
            "jobId": job_id,
            "status": status,
            "jobType": "sync",
            "connectionId": connection_id,
            "startTime": "2025-01-01T00:00:00Z",
            **({"rowsSynced": 1234, "bytesSynced": 56789, "duration": "PT42S"} if done else {}),
        }


@pytest.fixture
def fake() -> Iterator[FakeAirbyte]:
    with FakeAirbyte() as server:
        yield server


@pytest.fixture
def env(fake: FakeAirbyte) -> dict[str, str]:
    return {
        "AIRBYTE_API_URL": fake.url,
        "AIRBYTE_CLIENT_ID": CLIENT_ID,
        "AIRBYTE_CLIENT_SECRET": CLIENT_SECRET,
        "AIRBYTE_WORKSPACE_ID": WORKSPACE,
        "AIRBYTE_MARKETPLACE_PG_HOST": "source-db.internal",
        "AIRBYTE_MARKETPLACE_PG_PORT": "5433",
        "AIRBYTE_MARKETPLACE_PG_DATABASE": "marketplace",
        "AIRBYTE_MARKETPLACE_PG_USER": "airbyte_reader",
        "AIRBYTE_MARKETPLACE_PG_PASSWORD": PG_PASSWORD,
        "AIRBYTE_BIGQUERY_PROJECT_ID": "acme-analytics",
        "AIRBYTE_BIGQUERY_LOCATION": "EU",
        "AIRBYTE_BIGQUERY_CREDENTIALS_JSON": BQ_KEY,
    }


@pytest.fixture
def marketplace() -> Connection:
    return load_connection("marketplace")


def _edited(tmp_path: Path, change) -> Connection:
    data = yaml.safe_load(load_connection("marketplace").path.read_text())
    change(data)
    path = tmp_path / "marketplace.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return load_connection(path)


# The file's streams as the API must receive them, written out by hand from marketplace.yaml.
EXPECTED_STREAMS = [
    {
        "name": "users",
        "cursorField": ["updated_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_deduped_history",
    },
    {"name": "categories", "primaryKey": [["id"]], "syncMode": "full_refresh_overwrite"},
    {
        "name": "products",
        "cursorField": ["updated_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_deduped_history",
    },
    {
        "name": "orders",
        "cursorField": ["updated_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_deduped_history",
    },
    {
        "name": "order_items",
        "cursorField": ["created_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_deduped_history",
    },
    {"name": "payments", "primaryKey": [["id"]], "syncMode": "full_refresh_overwrite"},
    {
        "name": "reviews",
        "cursorField": ["updated_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_deduped_history",
    },
    {"name": "seller_tier_history", "primaryKey": [["id"]], "syncMode": "full_refresh_overwrite"},
    {
        "name": "event_log",
        "cursorField": ["received_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_deduped_history",
    },
]

EXPECTED_SOURCE_CONFIG = {
    "database": "marketplace",
    "host": "source-db.internal",
    "username": "airbyte_reader",
    "entra_service_principal_auth": False,
    "password": PG_PASSWORD,
    "port": 5433,
    "replication_method": {"method": "Standard"},
    "schemas": ["public"],
    "sourceType": "postgres",
}

EXPECTED_BIGQUERY_CONFIG = {
    "dataset_id": "raw_marketplace",
    "dataset_location": "EU",
    "project_id": "acme-analytics",
    "cdc_deletion_mode": "Hard delete",
    "credentials_json": BQ_KEY,
    "destinationType": "bigquery",
    "disable_type_dedupe": False,
}


# --- first apply ---------------------------------------------------------------------------


def test_first_apply_creates_everything_with_the_exact_bodies(fake, env, marketplace):
    actions = airbyte.apply(marketplace, env=env)

    assert [(a.kind, a.name, a.verb) for a in actions] == [
        ("source", "marketplace-postgres", "created"),
        ("destination", "marketplace-bigquery", "created"),
        ("connection", "marketplace", "created"),
    ]
    source_id, destination_id, connection_id = (a.id for a in actions)
    assert source_id in fake.sources and destination_id in fake.destinations
    assert connection_id in fake.connections
    assert [(r.method, r.path) for r in fake.writes()] == [
        ("POST", f"{PREFIX}/sources"),
        ("POST", f"{PREFIX}/destinations"),
        ("POST", f"{PREFIX}/connections"),
    ]
    assert fake.sent("POST", "/sources") == [
        {
            "configuration": EXPECTED_SOURCE_CONFIG,
            "name": "marketplace-postgres",
            "workspaceId": WORKSPACE,
        }
    ]
    assert fake.sent("POST", "/destinations") == [
        {
            "configuration": EXPECTED_BIGQUERY_CONFIG,
            "name": "marketplace-bigquery",
            "workspaceId": WORKSPACE,
        }
    ]
    assert fake.sent("POST", "/connections") == [
        {
            "destinationId": destination_id,
            "sourceId": source_id,
            "configurations": {"streams": EXPECTED_STREAMS},
            "name": "marketplace",
            "namespaceDefinition": "custom_format",
            "namespaceFormat": "raw_marketplace",
            "nonBreakingSchemaUpdatesBehavior": "ignore",
            "prefix": "",
            "schedule": {"scheduleType": "cron", "cronExpression": "0 0 * * * ?"},
        }
    ]


def test_lists_are_filtered_by_workspace_and_paged(fake, env, marketplace):
    airbyte.apply(marketplace, env=env)

    lists = [r for r in fake.api_requests() if r.method == "GET"]
    assert {r.path.removeprefix(PREFIX) for r in lists} == {
        "/sources",
        "/destinations",
        "/connections",
    }
    for r in lists:
        assert r.query["workspaceIds"] == [WORKSPACE]
        assert r.query["limit"] == ["100"] and r.query["offset"] == ["0"]


def test_client_credentials_become_a_bearer_token(fake, env, marketplace):
    airbyte.apply(marketplace, env=env)

    token_requests = [r for r in fake.requests if r.path == f"{PREFIX}/applications/token"]
    assert len(token_requests) == 1  # reused while valid
    assert token_requests[0].body == {
        "client_id": CLIENT_ID,
        "client_secret": CLIENT_SECRET,
        "grant-type": "client_credentials",
    }
    assert {r.headers["Authorization"] for r in fake.api_requests()} == {f"Bearer {fake.token}"}


def test_basic_auth_when_only_username_and_password_are_set(fake, env, marketplace):
    del env["AIRBYTE_CLIENT_ID"], env["AIRBYTE_CLIENT_SECRET"]
    env["AIRBYTE_USERNAME"], env["AIRBYTE_PASSWORD"] = fake.basic

    actions = airbyte.apply(marketplace, env=env)

    assert [a.verb for a in actions] == ["created"] * 3
    assert not [r for r in fake.requests if r.path.endswith("/applications/token")]
    assert all(r.headers["Authorization"].startswith("Basic ") for r in fake.api_requests())


def test_no_secret_reaches_logs_actions_or_reprs(fake, env, marketplace, caplog):
    caplog.set_level(logging.DEBUG)

    actions = airbyte.apply(marketplace, env=env)
    again = airbyte.apply(marketplace, env=env, dry_run=True)

    shown = "\n".join(
        [
            caplog.text,
            repr(actions),
            repr(again),
            json.dumps([a.to_dict() for a in actions + again]),
            "\n".join(a.describe() for a in actions + again),
            repr(airbyte.make_client(env).sdk_configuration.security),
        ]
    )
    for secret in SECRETS:
        assert secret not in shown
    source_body = actions[0].to_dict()["request"]
    assert source_body["configuration"]["password"] == "***"
    assert actions[1].to_dict()["request"]["configuration"]["credentials_json"] == "***"
    assert source_body["configuration"]["host"] == "source-db.internal"


# --- applying again ------------------------------------------------------------------------


def test_second_apply_updates_by_name_and_creates_nothing(fake, env, marketplace):
    first = airbyte.apply(marketplace, env=env)
    fake.requests.clear()

    second = airbyte.apply(marketplace, env=env)

    assert [(a.kind, a.verb) for a in second] == [
        ("source", "updated"),
        ("destination", "updated"),
        ("connection", "unchanged"),
    ]
    assert [a.id for a in second] == [a.id for a in first]
    source_id, destination_id, _ = (a.id for a in first)
    assert [(r.method, r.path) for r in fake.writes()] == [
        ("PUT", f"{PREFIX}/sources/{source_id}"),
        ("PUT", f"{PREFIX}/destinations/{destination_id}"),
    ]
    # Secrets cannot be compared (Airbyte masks them), so the full configuration is sent again.
    assert fake.sent("PUT", f"/sources/{source_id}") == [
        {"configuration": EXPECTED_SOURCE_CONFIG, "name": "marketplace-postgres"}
    ]
    assert fake.sent("PUT", f"/destinations/{destination_id}") == [
        {"configuration": EXPECTED_BIGQUERY_CONFIG, "name": "marketplace-bigquery"}
    ]
    assert len(fake.sources) == len(fake.destinations) == len(fake.connections) == 1


def test_changed_streams_and_schedule_are_patched(fake, env, marketplace, tmp_path):
    first = airbyte.apply(marketplace, env=env)
    connection_id = first[2].id

    def change(data: dict) -> None:
        data["schedule"]["cron_expression"] = "0 30 * * * ?"
        payments = next(s for s in data["streams"] if s["name"] == "payments")
        payments.update(sync_mode="incremental_append", cursor_field="paid_at")
        payments.pop("change_detection", None)  # an option of full-refresh streams only
        data["streams"] = [s for s in data["streams"] if s["name"] != "event_log"]

    fake.requests.clear()
    actions = airbyte.apply(_edited(tmp_path, change), env=env)

    link = actions[2]
    assert (link.verb, link.id) == ("updated", connection_id)
    assert link.changes == ("schedule", "stream event_log removed", "stream payments")
    patches = fake.sent("PATCH", f"/connections/{connection_id}")
    assert len(patches) == 1
    streams = {s["name"]: s for s in patches[0]["configurations"]["streams"]}
    assert "event_log" not in streams
    assert streams["payments"] == {
        "name": "payments",
        "cursorField": ["paid_at"],
        "primaryKey": [["id"]],
        "syncMode": "incremental_append",
    }
    assert patches[0]["schedule"] == {"scheduleType": "cron", "cronExpression": "0 30 * * * ?"}
    assert patches[0]["namespaceDefinition"] == "custom_format"
    assert patches[0]["namespaceFormat"] == "raw_marketplace"
    assert "sourceId" not in patches[0] and "status" not in patches[0]
    assert not fake.sent("POST", "/connections")


def test_objects_are_found_beyond_the_first_page(fake, env, marketplace):
    for i in range(120):
        fake.create(
            "sources",
            {"name": f"other-{i}", "configuration": {"sourceType": "postgres"}},
        )
    airbyte.apply(marketplace, env=env)
    fake.requests.clear()

    actions = airbyte.apply(marketplace, env=env)

    assert actions[0].verb == "updated"
    offsets = [r.query["offset"] for r in fake.requests if r.path == f"{PREFIX}/sources"]
    assert offsets == [["0"], ["100"]]


def test_destination_list_the_sdk_cannot_type_still_matches_by_name(fake, env, marketplace):
    fake.strip_destination_type = True
    airbyte.apply(marketplace, env=env)

    actions = airbyte.apply(marketplace, env=env)

    assert [a.verb for a in actions] == ["updated", "updated", "unchanged"]
    assert len(fake.destinations) == 1


def test_objects_in_other_workspaces_are_ignored(fake, env, marketplace):
    fake.create(
        "sources",
        {
            "name": "marketplace-postgres",
            "workspaceId": "another-workspace",
            "configuration": {"sourceType": "postgres"},
        },
    )

    actions = airbyte.apply(marketplace, env=env)

    assert actions[0].verb == "created"
    assert len(fake.sources) == 2


# --- dry run and targets -------------------------------------------------------------------


def test_dry_run_reads_the_workspace_and_writes_nothing(fake, env, marketplace):
    planned = airbyte.apply(marketplace, env=env, dry_run=True)

    assert [(a.kind, a.verb, a.id, a.dry_run) for a in planned] == [
        ("source", "created", None, True),
        ("destination", "created", None, True),
        ("connection", "created", None, True),
    ]
    assert fake.writes() == []
    assert planned[0].describe() == "would create source marketplace-postgres"
    assert planned[2].request["configurations"]["streams"] == EXPECTED_STREAMS

    airbyte.apply(marketplace, env=env)
    fake.requests.clear()
    replanned = airbyte.apply(marketplace, env=env, dry_run=True)

    assert [a.verb for a in replanned] == ["updated", "updated", "unchanged"]
    assert fake.writes() == []


def test_local_target_writes_to_the_warehouse_postgres(fake, env, marketplace):
    env["HEADWATER_WAREHOUSE_URL"] = (
        "postgresql://loader:wh%40pass-55@host.docker.internal:5544/warehouse"
    )

    actions = airbyte.apply(marketplace, env=env, target="local")

    assert actions[1].name == "marketplace-warehouse-postgres"
    assert fake.sent("POST", "/destinations") == [
        {
            "configuration": {
                "database": "warehouse",
                "host": "host.docker.internal",
                "username": "loader",
                "destinationType": "postgres",
                "disable_type_dedupe": False,
                "drop_cascade": False,
                "password": "wh@pass-55",
                "port": 5544,
                "schema": "raw_marketplace",
                "ssl": False,
                "unconstrained_number": False,
            },
            "name": "marketplace-warehouse-postgres",
            "workspaceId": WORKSPACE,
        }
    ]
    assert actions[1].request["configuration"]["password"] == "***"
    assert "wh@pass-55" not in repr(actions)


def test_local_destination_may_name_its_own_variables(fake, env, tmp_path):
    def change(data: dict) -> None:
        data["destination"]["local"]["airbyte_config_env"] = {
            "host": "WH_HOST",
            "port": "WH_PORT",
            "database": "WH_DB",
            "username": "WH_USER",
            "password": "WH_PASSWORD",
        }

    env["HEADWATER_WAREHOUSE_URL"] = "postgresql://me@/warehouse?host=/tmp/headwater"
    env.update(
        WH_HOST="warehouse.internal",
        WH_PORT="6432",
        WH_DB="wh",
        WH_USER="airbyte",
        WH_PASSWORD="wh-pass-31",
    )

    actions = airbyte.apply(_edited(tmp_path, change), env=env, target="local")

    config = fake.sent("POST", "/destinations")[0]["configuration"]
    assert (config["host"], config["port"], config["database"], config["username"]) == (
        "warehouse.internal",
        6432,
        "wh",
        "airbyte",
    )
    assert config["password"] == "wh-pass-31"
    assert actions[1].request["configuration"]["password"] == "***"


def test_local_target_refuses_a_socket_url(fake, env, marketplace):
    env["HEADWATER_WAREHOUSE_URL"] = "postgresql://me@/warehouse?host=/tmp/headwater"

    with pytest.raises(ConfigError, match="HEADWATER_WAREHOUSE_URL points at a local socket"):
        airbyte.apply(marketplace, env=env, target="local")
    assert fake.requests == []


def test_switching_target_under_the_same_connection_name_is_refused(fake, env, marketplace):
    airbyte.apply(marketplace, env=env)
    env["HEADWATER_WAREHOUSE_URL"] = "postgresql://loader:pw-local-1@warehouse-db:5432/warehouse"

    with pytest.raises(HeadwaterError) as caught:
        airbyte.apply(marketplace, env=env, target="local")

    message = str(caught.value)
    assert "\n" not in message
    assert "connection 'marketplace'" in message and "delete it in the Airbyte UI" in message
    assert len(fake.connections) == 1


# --- configuration errors ------------------------------------------------------------------


def test_missing_env_var_is_one_line_naming_it_and_nothing_is_sent(fake, env, marketplace):
    del env["AIRBYTE_MARKETPLACE_PG_PASSWORD"]

    with pytest.raises(ConfigError) as caught:
        airbyte.apply(marketplace, env=env)

    assert str(caught.value) == (
        "missing environment variable AIRBYTE_MARKETPLACE_PG_PASSWORD "
        "(needed to apply airbyte/connections/marketplace.yaml)"
    )
    assert fake.requests == []


def test_all_missing_variables_are_named_at_once(fake, marketplace):
    with pytest.raises(ConfigError) as caught:
        airbyte.apply(marketplace, env={"AIRBYTE_API_URL": fake.url})

    message = str(caught.value)
    assert "\n" not in message
    for name in (
        "AIRBYTE_MARKETPLACE_PG_HOST",
        "AIRBYTE_BIGQUERY_CREDENTIALS_JSON",
        "AIRBYTE_WORKSPACE_ID",
        "AIRBYTE_CLIENT_ID",
        "AIRBYTE_CLIENT_SECRET",
    ):
        assert name in message
    assert "or set AIRBYTE_USERNAME and AIRBYTE_PASSWORD for basic auth" in message


def test_empty_variable_counts_as_missing(fake, env, marketplace):
    env["AIRBYTE_WORKSPACE_ID"] = ""
    with pytest.raises(ConfigError, match=r"^missing environment variable AIRBYTE_WORKSPACE_ID "):
        airbyte.apply(marketplace, env=env)


def test_bad_port_names_the_variable(fake, env, marketplace):
    env["AIRBYTE_MARKETPLACE_PG_PORT"] = "five"
    with pytest.raises(ConfigError, match="^AIRBYTE_MARKETPLACE_PG_PORT must be a port number$"):
        airbyte.apply(marketplace, env=env)


def test_bad_bigquery_location_names_the_variable(fake, env, marketplace):
    env["AIRBYTE_BIGQUERY_LOCATION"] = "mars-north1"
    with pytest.raises(ConfigError, match="^AIRBYTE_BIGQUERY_LOCATION: 'mars-north1' is not"):
        airbyte.apply(marketplace, env=env)


def test_key_file_path_instead_of_key_json_is_explained_without_echoing(fake, env, marketplace):
    env["AIRBYTE_BIGQUERY_CREDENTIALS_JSON"] = "/secrets/KEY-bq-secret-77.json"
    with pytest.raises(ConfigError) as caught:
        airbyte.apply(marketplace, env=env)
    assert str(caught.value).startswith("AIRBYTE_BIGQUERY_CREDENTIALS_JSON is not valid JSON")
    assert "KEY-bq-secret-77" not in str(caught.value)


def test_non_utc_schedule_is_refused(fake, env, tmp_path):
    connection = _edited(tmp_path, lambda d: d["schedule"].update(timezone="Europe/Paris"))
    with pytest.raises(ConfigError, match="schedule.timezone must be UTC"):
        airbyte.apply(connection, env=env)


# --- server errors -------------------------------------------------------------------------


def test_api_error_is_one_line_without_secrets(fake, env, marketplace):
    fake.fail_next[("POST", "/sources")] = (
        400,
        {
            "status": 400,
            "title": "bad-request",
            "detail": f"Could not connect with password {PG_PASSWORD}\nat host source-db",
        },
    )

    with pytest.raises(HeadwaterError) as caught:
        airbyte.apply(marketplace, env=env)

    message = str(caught.value)
    assert message == (
        "Airbyte refused to create source marketplace-postgres: HTTP 400: "
        "Could not connect with password *** at host source-db"
    )


def test_wrong_client_secret_is_reported_without_the_secret(fake, env, marketplace):
    env["AIRBYTE_CLIENT_SECRET"] = "wrong-secret-9"
    with pytest.raises(HeadwaterError) as caught:
        airbyte.apply(marketplace, env=env)
    message = str(caught.value)
    assert message.startswith(
        "Airbyte refused a token for AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET: HTTP 401"
    )
    assert "wrong-secret-9" not in message


def test_wrong_basic_password_gets_a_hint(fake, env, marketplace):
    del env["AIRBYTE_CLIENT_ID"], env["AIRBYTE_CLIENT_SECRET"]
    env["AIRBYTE_USERNAME"], env["AIRBYTE_PASSWORD"] = "airbyte", "nope-pass-1"
    with pytest.raises(HeadwaterError) as caught:
        airbyte.apply(marketplace, env=env)
    assert str(caught.value) == (
        "Airbyte refused to list sources: HTTP 401: Unauthorized; "
        "check AIRBYTE_CLIENT_ID/AIRBYTE_CLIENT_SECRET (or AIRBYTE_USERNAME/AIRBYTE_PASSWORD)"
    )


def test_unreachable_server(env, marketplace):
    env["AIRBYTE_API_URL"] = "http://127.0.0.1:9/api/public/v1"
    with pytest.raises(HeadwaterError) as caught:
        airbyte.apply(marketplace, env=env)
    message = str(caught.value)
    assert message.startswith("cannot reach Airbyte at http://127.0.0.1:9/api/public/v1/")
    assert message.endswith("is it running?") and "\n" not in message


def test_two_objects_with_the_same_name_are_refused(fake, env, marketplace):
    for _ in range(2):
        fake.create(
            "sources",
            {"name": "marketplace-postgres", "configuration": {"sourceType": "postgres"}},
        )
    with pytest.raises(HeadwaterError, match="2 sources named 'marketplace-postgres'"):
        airbyte.apply(marketplace, env=env)
    assert fake.writes() == []


def test_same_name_with_another_connector_type_is_refused(fake, env, marketplace):
    fake.create(
        "sources", {"name": "marketplace-postgres", "configuration": {"sourceType": "mysql"}}
    )
    with pytest.raises(HeadwaterError, match="is a mysql connector, the file wants postgres"):
        airbyte.apply(marketplace, env=env)
    assert fake.writes() == []


# --- syncs ---------------------------------------------------------------------------------


def test_trigger_sync_and_wait_for_the_job(fake, env, marketplace):
    airbyte.apply(marketplace, env=env)
    connection_id = airbyte.find_connection_id(marketplace, env=env)

    job = airbyte.trigger_sync(connection_id, env=env)
    finished = airbyte.wait_for_job(job.job_id, env=env, poll_interval=0, sleep=lambda _: None)

    assert fake.sent("POST", "/jobs") == [{"connectionId": connection_id, "jobType": "sync"}]
    assert (job.job_id, job.status) == (101, "pending")
    assert (finished.status, finished.rows_synced, finished.bytes_synced) == (
        "succeeded",
        1234,
        56789,
    )
    polls = [r for r in fake.requests if r.method == "GET" and r.path == f"{PREFIX}/jobs/101"]
    assert len(polls) == 3


def test_failed_job_raises(fake, env):
    job = airbyte.trigger_sync("c-1", env=env)
    fake.jobs[job.job_id] = ["running", "failed"]
    with pytest.raises(HeadwaterError, match=r"^Airbyte job 101 failed; its logs are in"):
        airbyte.wait_for_job(job.job_id, env=env, poll_interval=0, sleep=lambda _: None)


def test_waiting_gives_up_after_the_timeout(fake, env):
    job = airbyte.trigger_sync("c-1", env=env)
    fake.jobs[job.job_id] = ["running"]
    ticks = iter(range(0, 10_000, 30))
    with pytest.raises(HeadwaterError, match="is still running after 60s"):
        airbyte.wait_for_job(
            job.job_id, env=env, timeout=60, sleep=lambda _: None, clock=lambda: next(ticks)
        )


def test_find_connection_id_before_apply_says_what_to_do(fake, env, marketplace):
    with pytest.raises(HeadwaterError, match="run `headwater airbyte apply` first"):
        airbyte.find_connection_id(marketplace, env=env)


def test_apply_domain_loads_the_file(fake, env):
    actions = airbyte.apply_domain("marketplace", dry_run=True, env=env)
    assert [a.kind for a in actions] == ["source", "destination", "connection"]
    assert fake.writes() == []
