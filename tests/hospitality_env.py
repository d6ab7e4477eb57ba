"""Shared hospitality fixtures: a small baseline and event stream, landed, synced, and built
by dbt twice (incrementally, and as a full refresh to compare against).

120 properties (enough for the 100-property rate update), 3 days of history, and a first
simulated stream of 1,500 events with the simulator's late, duplicate and malformed events.
Session-scoped so that the scenario tests and the BigQuery test share one build.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pytest

from dbt_env import InProcessDbt
from headwater import config, dbt, ingest, sync

PROPERTIES = 120
DAYS = 3
INCREMENTAL = "_h_inc"
FULL = "_h_full"
# Lookback 0: a change the incremental logic misses cannot hide behind a margin.
VARS = {"hospitality_incremental_lookback_minutes": 0}
SELECT = [
    "path:models/staging/hospitality",
    "path:models/intermediate/hospitality",
    "path:models/marts/hospitality",
]
MARTS = (
    "fct_hospitality_booking_history",
    "fct_hospitality_bookings",
    "fct_hospitality_room_rates",
    "fct_hospitality_occupancy_nightly",
    "fct_hospitality_kpis_rolling_7d",
    "fct_hospitality_revenue_hourly",
    "fct_hospitality_guests_in_house",
    "fct_hospitality_booking_funnel",
    "fct_hospitality_cancellation_alerts",
    "fct_hospitality_lead_times",
    "fct_hospitality_trending_room_types",
    "dim_hospitality_guests",
    "fct_hospitality_guest_segments",
    "fct_hospitality_freshness",
)
START = datetime(2024, 11, 1, 10, 0, tzinfo=UTC)


class Hospitality:
    def __init__(self, source_url: str, warehouse_url: str, artifacts: Path):
        self.source_url = source_url
        self.warehouse_url = warehouse_url
        self.artifacts = artifacts
        self._dbt = InProcessDbt(warehouse_url, artifacts, VARS)

    def land(self, lines: list[bytes]) -> ingest.IngestReport:
        from headwater.sources.hospitality.events import SPEC

        return ingest.ingest(SPEC, lines, source="test", url=self.source_url)

    def simulate(
        self, events: int, start: datetime, seed: int, rate: float = 20.0, **knobs
    ) -> list[bytes]:
        from headwater.generators import hospitality

        return [
            line
            for _, line in hospitality.simulate(
                events,
                rate,
                start=start,
                seed=seed,
                properties=PROPERTIES,
                days=DAYS,
                knobs=hospitality.Knobs(**knobs),
            )
        ]

    def sync(self):
        return sync.sync(
            "hospitality", source_url=self.source_url, warehouse_url=self.warehouse_url
        )

    def dbt(self, args: list[str], suffix: str = INCREMENTAL) -> dbt.DbtResult:
        return self._dbt.invoke(args, suffix)

    def build(self, *, tests: bool = False) -> dbt.DbtResult:
        """Incremental build of the copy the tests read (with the snapshot)."""
        if tests:
            return self.dbt(["build", "--select", *SELECT, "path:snapshots/hospitality"])
        return self.dbt(["run", "--select", *SELECT])

    def full_refresh(self) -> dbt.DbtResult:
        return self.dbt(["run", "--full-refresh", "--select", *SELECT], suffix=FULL)

    def step(
        self, lines: list[bytes], *, full_refresh: bool = True
    ) -> tuple[ingest.IngestReport, dict[str, int]]:
        """Land, sync, build incrementally (and as a full refresh, for the comparison);
        return the ingest report and the rows each incremental model merged."""
        report = self.land(lines)
        self.sync()
        result = self.build()
        if full_refresh:
            self.full_refresh()
        return report, rows_merged(result)

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
        for mart in MARTS:
            diff = self.differences(mart)
            assert diff == {"only_incremental": [], "only_full_refresh": []}, (
                f"{when}: {mart} differs from its full refresh: {diff}"
            )


def rows_merged(result: dbt.DbtResult) -> dict[str, int]:
    return {
        node["unique_id"].split(".")[-1]: int(node["adapter_response"].get("rows_affected", -1))
        for node in result.results
        if node["unique_id"].startswith("model.") and node["adapter_response"]
    }


@pytest.fixture(scope="session")
def hospitality_built(pg_home):
    """Baseline + a first stream landed, synced, built both ways and compared."""
    from headwater.generators import hospitality

    source_url, warehouse_url = config.source_url("hospitality"), config.warehouse_url()
    hospitality.seed(source_url, PROPERTIES, DAYS)
    sync.reset("hospitality", warehouse_url=warehouse_url)
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-dbt-hospitality-"))
    env = Hospitality(source_url, warehouse_url, artifacts)
    env.first_report = env.land(env.simulate(1500, START, seed=1, burst_bookings=0))
    env.sync()
    env.first_build = env.build(tests=True)
    env.full_refresh()
    env.assert_equal("after the first build")
    env.clock = START + timedelta(hours=1)
    yield env
    shutil.rmtree(artifacts, ignore_errors=True)
