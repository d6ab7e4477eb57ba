"""The CLI's contract: help that explains, one-line errors, non-zero exits, JSON output."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HEADWATER = [sys.executable, "-m", "headwater.cli"]


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*HEADWATER, *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
    )


def test_help_lists_commands():
    result = run("--help")
    assert result.returncode == 0
    for command in ("db", "seed", "sync", "mutate", "airbyte", "bq", "demo"):
        assert f"  {command}" in result.stdout


def test_unknown_connection_is_one_line_and_exit_2():
    result = run("sync", "nosuchdomain")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith(
        "error: airbyte/connections/nosuchdomain.yaml: no such connection file"
    )


@pytest.mark.integration
def test_unreachable_warehouse_is_one_line_without_password(pg_home):
    url = "postgresql://loader:s3cret-pw@127.0.0.1:1/warehouse"
    result = run("sync", "marketplace", env={"HEADWATER_WAREHOUSE_URL": url})
    assert result.returncode == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert "s3cret-pw" not in result.stderr + result.stdout
    assert "cannot connect to warehouse (warehouse@127.0.0.1)" in result.stderr


@pytest.mark.integration
def test_sync_json_summary(pg_home):
    seeded = run("seed", "marketplace", "--scale", "0.1", "--json")
    assert seeded.returncode == 0, seeded.stderr
    assert json.loads(seeded.stdout)["orders"] > 0
    result = run("sync", "marketplace", "--stream", "orders", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["streams"][0]["stream"] == "orders"
    assert data["rows_read"] == json.loads(seeded.stdout)["orders"]


def test_bad_scale_is_rejected():
    result = run("seed", "marketplace", "--scale", "0")
    assert result.returncode == 1
    assert result.stderr.strip() == "error: --scale must be positive, got 0.0"


@pytest.mark.integration
def test_db_start_is_idempotent_recovers_a_stale_pid_and_refuses_a_foreign_directory(
    tmp_path: Path,
):
    home = tmp_path / "home"
    env = {"HEADWATER_HOME": str(home)}
    try:
        assert run("db", "start", env=env).returncode == 0
        again = run("db", "start", env=env)
        assert again.returncode == 0 and "running" in again.stdout
        status = json.loads(run("db", "status", "--json", env=env).stdout)
        assert status["running"] is True
        # Stop the server, then put its pid file back, as a crash leaves it.
        pid_file = home / "pgdata" / "postmaster.pid"
        left_behind = pid_file.read_text()
        assert run("db", "stop", env=env).returncode == 0
        pid_file.write_text(left_behind)
        assert run("db", "status", env=env).returncode == 3
        restarted = run("db", "start", env=env)
        assert restarted.returncode == 0, restarted.stderr
        assert json.loads(run("db", "status", "--json", env=env).stdout)["running"] is True
    finally:
        run("db", "stop", env=env)

    foreign = tmp_path / "foreign"
    (foreign / "pgdata").mkdir(parents=True)
    (foreign / "pgdata" / "notes.txt").write_text("not a database")
    clash = run("db", "start", env={"HEADWATER_HOME": str(foreign)})
    assert clash.returncode == 1
    assert clash.stderr.strip().endswith(
        "the directory is in use and is not a PostgreSQL data directory"
    )


def test_domain_commands_name_the_domains_that_have_them():
    listed = run("seed", "--help")
    assert listed.returncode == 0
    assert "marketplace" in listed.stdout
    result = run("seed", "atlantis")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: no `seed` for domain 'atlantis' (domains: ")
    assert "marketplace" in lines[0]


def test_ingest_refuses_a_domain_without_events():
    result = run("ingest", "marketplace", "-")
    assert result.returncode == 2
    assert "domain 'marketplace' does not ingest events" in result.stderr
