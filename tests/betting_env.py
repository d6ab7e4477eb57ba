"""Shared betting fixtures: one small set of Parquet drops, synced and built by dbt, per session.

Four days of 150 bets a day are seeded, synced and built twice (incremental with tests,
and as a full refresh in a second schema copy); then two more days of files arrive (new
bets, late settlements and resettlements of days already reported, profile updates), each
synced and built both ways, and the two copies are compared row for row every time.
"""

from __future__ import annotations

import shutil
import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import psycopg
import pyarrow.parquet as pq
import pytest

from dbt_env import InProcessDbt
from headwater import config, dbt, sync

DAYS = 4
BETS_PER_DAY = 150
ROUNDS = 2
SEED = 7
INCREMENTAL = "_b_inc"
FULL = "_b_full"
# Lookback 0: a change the incremental logic misses cannot hide behind a margin.
VARS = {"incremental_lookback_minutes": 0}
SELECT = [
    "path:models/staging/betting",
    "path:models/intermediate/betting",
    "path:snapshots/betting",
    "path:models/marts/betting",
]
MARTS = (
    "fct_bets",
    "fct_bet_settlement_history",
    "fct_daily_ggr",
    "fct_open_liability_by_market",
    "fct_settlement_corrections",
    "dim_customers",
    "fct_customer_lifetime_value",
    "fct_customer_retention_cohorts",
    "fct_customer_segments",
)


class Betting:
    """The files folder, the warehouse, and two copies of the betting models."""

    def __init__(self, folder: Path, warehouse_url: str, artifacts: Path):
        self.folder = folder
        self.warehouse_url = warehouse_url
        self.artifacts = artifacts
        self._dbt = InProcessDbt(warehouse_url, artifacts, VARS)

    def sync(self, **kwargs):
        return sync.sync(
            "betting", source_url=str(self.folder), warehouse_url=self.warehouse_url, **kwargs
        )

    def dbt(self, args: list[str], suffix: str = INCREMENTAL) -> dbt.DbtResult:
        return self._dbt.invoke(args, suffix)

    def build(self) -> dbt.DbtResult:
        """Incremental build of the copy the tests read, with every test."""
        return self.dbt(["build", "--select", *SELECT])

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
        for mart in MARTS:
            diff = self.differences(mart)
            assert diff == {"only_incremental": [], "only_full_refresh": []}, (
                f"{when}: {mart} differs from its full refresh: {diff}"
            )

    def files(self, dataset: str) -> list[dict]:
        """Every row of a dataset's files, read straight from the Parquet (the truth)."""
        rows = []
        for path in sorted((self.folder / dataset).glob("*.parquet")):
            rows += pq.read_table(path).to_pylist()
        return rows


@pytest.fixture(scope="session")
def betting_built(pg_home):
    from headwater.generators import betting

    folder = Path(tempfile.mkdtemp(prefix="headwater-betting-files-"))
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-dbt-betting-"))
    warehouse_url = config.warehouse_url()
    betting.seed(folder, days=DAYS, bets_per_day=BETS_PER_DAY, seed=SEED, horizon_days=DAYS + 6)
    sync.reset("betting", warehouse_url=warehouse_url)
    env = Betting(folder, warehouse_url, artifacts)
    env.first_sync = env.sync()
    env.first_build = env.build()
    env.full_refresh()
    env.assert_equal("after the first build")
    env.rounds = []
    for number in range(ROUNDS):
        written = betting.mutate(folder, hours=24)
        synced = env.sync()
        built = env.build()
        env.full_refresh()
        env.rounds.append((written, synced, built))
        env.assert_equal(f"after round {number + 1} of late settlements")
    env.start = betting.DEFAULT_START
    env.as_of = betting.DEFAULT_START + timedelta(days=DAYS + ROUNDS)
    yield env
    shutil.rmtree(folder, ignore_errors=True)
    shutil.rmtree(artifacts, ignore_errors=True)


def known_state(settlements: list[dict], bet_id: str, at: datetime) -> dict | None:
    """The settlement record of `bet_id` current at knowledge time `at`, from the files."""
    records = [
        s for s in settlements if s["bet_id"] == bet_id and s["recorded_at"] <= at.astimezone(UTC)
    ]
    return max(records, key=lambda s: (s["recorded_at"], s["settlement_id"]), default=None)
