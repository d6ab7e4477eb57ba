"""Connection files: the real one loads, and every mistake is one line naming file and stream."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
import yaml

from headwater import config
from headwater.connection import load_connection, parse_duration
from headwater.errors import ConfigError

MARKETPLACE = config.project_dir() / "airbyte" / "connections" / "marketplace.yaml"


def _base() -> dict:
    return yaml.safe_load(MARKETPLACE.read_text())


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "airbyte" / "connections" / "shop.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def _error(tmp_path: Path, data: dict) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(ConfigError) as caught:
        load_connection(path)
    message = str(caught.value)
    assert "\n" not in message
    assert message.startswith(f"{path}: ")
    return message.removeprefix(f"{path}: ")


def _stream(data: dict, name: str) -> dict:
    return next(s for s in data["streams"] if s["name"] == name)


def test_marketplace_file_loads_into_typed_objects():
    connection = load_connection("marketplace")

    assert connection.name == "marketplace"
    assert connection.namespace == "raw_marketplace"
    assert connection.safety_lag == timedelta(minutes=15)
    assert connection.schedule.cron_expression == "0 0 * * * ?"
    assert connection.source.schema_name == "public"
    assert connection.source.airbyte_config_env["password"] == "AIRBYTE_MARKETPLACE_PG_PASSWORD"
    assert connection.destination_for("production").definition == "bigquery"
    assert connection.destination_for("local").url_env == "HEADWATER_WAREHOUSE_URL"
    assert connection.path == MARKETPLACE
    assert [s.name for s in connection.streams] == [
        "users",
        "categories",
        "products",
        "orders",
        "order_items",
        "payments",
        "reviews",
        "seller_tier_history",
        "event_log",
    ]
    orders = connection.stream("orders")
    assert (orders.sync_mode, orders.cursor_field, orders.primary_key) == (
        "incremental_append_deduped",
        "updated_at",
        ["id"],
    )
    assert orders.is_incremental and orders.is_deduped
    payments = connection.stream("payments")
    assert payments.cursor_field is None and not payments.is_incremental


def test_a_domain_name_and_a_path_load_the_same_file():
    assert load_connection(MARKETPLACE) == load_connection("marketplace")


def test_unknown_stream_lookup_names_the_known_ones():
    with pytest.raises(ConfigError, match=r"marketplace\.yaml: no stream 'order' \(streams: users"):
        load_connection("marketplace").stream("order")


def test_unknown_target_is_refused():
    with pytest.raises(ConfigError, match="unknown target 'staging'"):
        load_connection("marketplace").destination_for("staging")  # type: ignore[arg-type]


def test_error_names_the_file_relative_to_the_project(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_PROJECT_DIR", str(tmp_path))
    data = _base()
    del _stream(data, "orders")["primary_key"]
    _write(tmp_path, data)

    with pytest.raises(ConfigError) as caught:
        load_connection("shop")

    assert str(caught.value) == (
        "airbyte/connections/shop.yaml: stream 'orders': "
        "incremental_append_deduped needs a primary_key"
    )


def test_deduped_stream_without_primary_key(tmp_path):
    data = _base()
    _stream(data, "orders")["primary_key"] = []
    assert _error(tmp_path, data) == (
        "stream 'orders': incremental_append_deduped needs a primary_key"
    )


@pytest.mark.parametrize("mode", ["incremental_append", "incremental_append_deduped"])
def test_incremental_stream_without_cursor_field(tmp_path, mode):
    data = _base()
    stream = _stream(data, "reviews")
    stream["sync_mode"] = mode
    del stream["cursor_field"]
    assert _error(tmp_path, data) == f"stream 'reviews': {mode} needs a cursor_field"


def test_duplicate_stream_names(tmp_path):
    data = _base()
    data["streams"].append(dict(_stream(data, "payments")))
    assert _error(tmp_path, data) == "stream 'payments': listed more than once"


def test_unknown_sync_mode_lists_the_allowed_ones(tmp_path):
    data = _base()
    _stream(data, "users")["sync_mode"] = "incremental_deduped_history"
    message = _error(tmp_path, data)
    assert message.startswith("stream 'users': sync_mode must be one of ")
    assert "'incremental_append_deduped'" in message


def test_typo_in_a_stream_key(tmp_path):
    data = _base()
    stream = _stream(data, "event_log")
    stream["cursor_feld"] = stream.pop("cursor_field")
    assert _error(tmp_path, data) == "stream 'event_log': unknown key 'cursor_feld'"


def test_unknown_key_in_a_stream_is_named(tmp_path):
    data = _base()
    _stream(data, "categories")["cursor"] = "updated_at"
    assert _error(tmp_path, data) == "stream 'categories': unknown key 'cursor'"


def test_missing_reason(tmp_path):
    data = _base()
    del _stream(data, "products")["reason"]
    assert _error(tmp_path, data) == "stream 'products': missing key 'reason'"


def test_stream_without_a_name_is_named_by_position(tmp_path):
    data = _base()
    del data["streams"][1]["name"]
    assert _error(tmp_path, data) == "stream #2: missing key 'name'"


def test_unknown_top_level_key(tmp_path):
    data = _base()
    data["namespce"] = data.pop("namespace")
    assert _error(tmp_path, data) == "unknown key 'namespce' (and 1 more)"


def test_single_column_primary_key_may_be_a_string(tmp_path):
    data = _base()
    _stream(data, "users")["primary_key"] = "id"
    assert load_connection(_write(tmp_path, data)).stream("users").primary_key == ["id"]


def test_bad_safety_lag(tmp_path):
    data = _base()
    data["safety_lag"] = "15 minutes"
    assert _error(tmp_path, data) == (
        "safety_lag: '15 minutes' is not a duration like '30s', '15m' or '1h'"
    )


def test_five_field_cron_is_refused(tmp_path):
    data = _base()
    data["schedule"]["cron_expression"] = "0 * * * *"
    assert "must be a Quartz cron" in _error(tmp_path, data)


def test_value_pasted_instead_of_a_variable_name_is_not_echoed(tmp_path):
    data = _base()
    data["source"]["airbyte_config_env"]["password"] = "hunter2-secret"
    message = _error(tmp_path, data)
    assert message == (
        "source: airbyte_config_env.password must name an environment variable (UPPER_CASE)"
    )
    assert "hunter2" not in message


def test_unknown_airbyte_config_field(tmp_path):
    data = _base()
    data["destination"]["production"]["airbyte_config_env"]["projectid"] = "X"
    message = _error(tmp_path, data)
    assert message.startswith(
        "destination.production: airbyte_config_env has unknown field 'projectid'"
    )


def test_missing_airbyte_config_field(tmp_path):
    data = _base()
    del data["source"]["airbyte_config_env"]["database"]
    assert _error(tmp_path, data) == (
        "source: airbyte_config_env needs 'database' for a postgres connector"
    )


def test_replication_methods_other_than_standard_are_refused(tmp_path):
    data = _base()
    data["source"]["replication_method"] = "cdc"
    assert _error(tmp_path, data) == "source.replication_method must be one of 'standard'"


def test_no_streams(tmp_path):
    data = _base()
    data["streams"] = []
    assert _error(tmp_path, data) == "streams is empty"


def test_missing_file_is_one_line(tmp_path, monkeypatch):
    monkeypatch.setenv("HEADWATER_PROJECT_DIR", str(tmp_path))
    _write(tmp_path, _base())

    with pytest.raises(ConfigError) as caught:
        load_connection("nowhere")

    assert str(caught.value) == (
        "airbyte/connections/nowhere.yaml: no such connection file (known: shop)"
    )


def test_invalid_yaml_names_the_line(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("name: x\nstreams: [\n  - name: y\n")
    with pytest.raises(ConfigError) as caught:
        load_connection(path)
    assert str(caught.value).startswith(f"{path}: invalid YAML at line ")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("30s", timedelta(seconds=30)),
        ("15m", timedelta(minutes=15)),
        ("1h", timedelta(hours=1)),
        ("1h30m", timedelta(minutes=90)),
        ("2d", timedelta(days=2)),
        ("500ms", timedelta(milliseconds=500)),
    ],
)
def test_parse_duration(text, expected):
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "15", "m", "15x", "1.5h", "-5m"])
def test_parse_duration_rejects(text):
    with pytest.raises(ValueError):
        parse_duration(text)
