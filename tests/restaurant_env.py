"""Shared restaurant fixtures: one small simulated chain, landed, synced and built by dbt.

A module-scoped fixture in each test module that needs it would simulate and build
again; this plugin keeps one per session. The data: 150 restaurants at 0.4% of the
specification's volume, from 11:00 UTC (the lunch ramp): a few thousand orders an hour,
with the simulator's duplicates, late and out-of-order arrivals and malformed lines.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from dbt_env import InProcessDbt
from headwater import config, dbt, sync

START = datetime(2025, 1, 15, 11, 0, tzinfo=UTC)
SCALE = 0.004
LOCATIONS = 150
SEED = 3
INCREMENTAL = "_r_inc"
FULL = "_r_full"
# Lookback 0: a change the incremental logic misses cannot hide behind a margin.
VARS = {"restaurant_incremental_lookback_minutes": 0}
SELECT = [
    "path:models/staging/restaurant",
    "path:models/intermediate/restaurant",
    "path:models/marts/restaurant",
]
MARTS = (
    "fct_restaurant_events",
    "fct_restaurant_order_items",
    "fct_restaurant_orders",
    "fct_restaurant_location_minutes",
    "fct_restaurant_item_minutes",
    "fct_restaurant_wait_times",
    "dim_restaurant_locations",
    "dim_restaurant_menu_items",
)
# The dashboards' serving table, built on PostgreSQL only.
POSTGRES_MARTS = (*MARTS, "fct_restaurant_location_hours")


class Restaurant:
    """The landing database, the warehouse, and two copies of the restaurant models."""

    def __init__(self, source_url: str, warehouse_url: str, artifacts: Path):
        self.source_url = source_url
        self.warehouse_url = warehouse_url
        self.artifacts = artifacts
        self._dbt = InProcessDbt(warehouse_url, artifacts, VARS)
        self.windows: list[tuple[datetime, float]] = []

    def land(self, start: datetime, hours: float):
        from headwater.generators import restaurant

        stats, report = restaurant.ingest_window(
            start, hours, seed=SEED, scale=SCALE, locations=LOCATIONS, url=self.source_url
        )
        self.windows.append((start, hours))
        return stats, report

    def sync(self):
        return sync.sync("restaurant", source_url=self.source_url, warehouse_url=self.warehouse_url)

    def dbt(self, args: list[str], suffix: str = INCREMENTAL) -> dbt.DbtResult:
        return self._dbt.invoke(args, suffix)

    def build(self, *extra: str) -> dbt.DbtResult:
        """Incremental build of the copy the tests read, with every test."""
        return self.dbt(["build", "--select", *SELECT, *extra])

    def full_refresh(self) -> dbt.DbtResult:
        return self.dbt(
            [
                "build",
                "--full-refresh",
                "--select",
                *SELECT,
                "--exclude",
                "resource_type:test",
                "resource_type:unit_test",
            ],
            suffix=FULL,
        )

    def query(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(self.warehouse_url) as conn:
            conn.execute("set time zone 'UTC'")
            return conn.execute(statement, params).fetchall()

    def differences(self, mart: str) -> dict[str, list]:
        inc, full = f"marts{INCREMENTAL}.{mart}", f"marts{FULL}.{mart}"
        return {
            "only_incremental": self.query(
                f"select * from (select * from {inc} except all select * from {full}) as d limit 3"
            ),
            "only_full_refresh": self.query(
                f"select * from (select * from {full} except all select * from {inc}) as d limit 3"
            ),
        }

    def assert_equal(self, when: str) -> None:
        for mart in POSTGRES_MARTS:
            diff = self.differences(mart)
            assert diff == {"only_incremental": [], "only_full_refresh": []}, (
                f"{when}: {mart} differs from its full refresh: {diff}"
            )


@pytest.fixture(scope="session")
def restaurant_landed(pg_home):
    """The first hour landed and synced (no dbt yet)."""
    from headwater.generators import restaurant

    source_url, warehouse_url = config.source_url("restaurant"), config.warehouse_url()
    restaurant.reset_landing(source_url)
    sync.reset("restaurant", warehouse_url=warehouse_url)
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-dbt-restaurant-"))
    env = Restaurant(source_url, warehouse_url, artifacts)
    env.first_stats, env.first_report = env.land(START, 1.0)
    env.sync()
    yield env
    shutil.rmtree(artifacts, ignore_errors=True)


@pytest.fixture(scope="session")
def restaurant_built(restaurant_landed):
    """The first hour built incrementally (with tests) and as a full refresh, then two
    more 20-minute windows each landed, synced and built both ways, compared each time."""
    env = restaurant_landed
    env.first_build = env.build()
    env.full_refresh()
    env.assert_equal("after the first build")
    env.rounds = []
    start = START + timedelta(hours=1)
    for _ in range(2):
        _, report = env.land(start, 1 / 3)
        env.sync()
        result = env.build()
        env.full_refresh()
        env.rounds.append((report, result))
        env.assert_equal(f"after the window from {start:%H:%M}")
        start += timedelta(minutes=20)
    env.end = start
    return env


def lines_of(start: datetime, hours: float) -> list[bytes]:
    from headwater.generators import restaurant

    return [
        line
        for _, line in restaurant.simulate(
            start, hours, seed=SEED, scale=SCALE, locations=LOCATIONS
        )
    ]
