"""Shared fixtures: one embedded PostgreSQL server per test session, in a temporary home."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest

from headwater import config, db

config.disable_telemetry()

# Fixtures shared by several test modules live in plain modules next to this file.
pytest_plugins = [
    "sync_env",
    "databases",
    "restaurant_env",
    "hospitality_env",
    "betting_env",
    "figures",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--long",
        action="store_true",
        default=False,
        help="Bigger fault-injection and fuzzing runs (more kill points, more examples).",
    )


@pytest.fixture(scope="session")
def long_run(request: pytest.FixtureRequest) -> bool:
    """True with `pytest --long` (`make test PYTEST_ARGS=--long`): the suites scale up."""
    return bool(request.config.getoption("--long"))


@pytest.fixture(scope="session")
def pg_home():
    """Point HEADWATER_HOME at a fresh directory and run the embedded server there.

    The user's own .headwater is never touched. The server stops when the session ends.
    The directory is not one of pytest's numbered temp dirs, which a concurrent pytest
    session may prune while this server still runs.
    """
    home = Path(tempfile.mkdtemp(prefix="headwater-test-"))
    previous = os.environ.get("HEADWATER_HOME")
    os.environ["HEADWATER_HOME"] = str(home)
    for name in ("HEADWATER_WAREHOUSE_URL", *(config.source_url_env(d) for d in config.DOMAINS)):
        os.environ.pop(name, None)
    db.start()
    yield home
    db.stop()
    shutil.rmtree(home, ignore_errors=True)
    if previous is None:
        os.environ.pop("HEADWATER_HOME", None)
    else:
        os.environ["HEADWATER_HOME"] = previous
