"""Arrival order does not matter: one generated event set, landed in random orders and delays.

The restaurant simulator's events for half an hour (with its own duplicates, late and
malformed lines) arrive in an order drawn at random: every line is held back by a random
delay of up to a quarter of the set, then the stream is cut into three batches. After
each batch: ingest, sync, an incremental dbt run. At the end the incremental marts must
equal a full refresh of the same raw rows, row for row, and ingestion must account for
every line. The models run with a lookback of 0 minutes (tests/restaurant_env.py), so a
late event the incremental logic does not reopen its minute and order for shows up as a
difference.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from pathlib import Path

import pytest

from headwater import ingest, sync
from restaurant_env import SELECT, START, Restaurant, lines_of

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

BATCHES = 3


def arrival_order(lines: list[bytes], seed: int, spread: float = 0.25) -> list[bytes]:
    """Each line delayed by a random share (up to `spread`) of the set's length, then sorted."""
    rng = random.Random(seed)
    reach = spread * len(lines)
    keyed = sorted((i + rng.uniform(0, reach), i) for i in range(len(lines)))
    return [lines[i] for _, i in keyed]


def test_delays_reorder_lines_and_keep_every_one():
    lines = [str(i).encode() for i in range(1000)]
    shuffled = arrival_order(lines, seed=1)
    assert sorted(shuffled) == sorted(lines) and shuffled != lines
    assert arrival_order(lines, seed=1) == shuffled != arrival_order(lines, seed=2)


@pytest.fixture(scope="module")
def lines():
    return lines_of(START, 0.5)


def pytest_generate_tests(metafunc):
    """One random arrival order in `make test` (about four minutes on 2 cores), four with --long."""
    if "seed" in metafunc.fixturenames:
        count = 4 if metafunc.config.getoption("--long") else 1
        metafunc.parametrize("seed", [11 + i for i in range(count)])


def test_random_arrival_orders_give_marts_equal_to_a_full_refresh(
    lines, seed, make_database, figures
):
    from headwater.generators import restaurant
    from headwater.sources.restaurant.events import SPEC

    source_url, warehouse_url = make_database("perm_source"), make_database("perm_warehouse")
    restaurant.reset_landing(source_url)
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-dbt-perm-"))
    env = Restaurant(source_url, warehouse_url, artifacts)
    try:
        ordered = arrival_order(lines, seed)
        size = -(-len(ordered) // BATCHES)
        received = accepted = duplicates = dead = 0
        merged = []
        for start in range(0, len(ordered), size):
            report = ingest.ingest(SPEC, ordered[start : start + size], url=source_url)
            received += report.received
            accepted += report.accepted
            duplicates += report.duplicates
            dead += report.dead_lettered
            sync.sync("restaurant", source_url=source_url, warehouse_url=warehouse_url)
            result = env.dbt(["run", "--select", *SELECT])
            merged.append(result)
        env.full_refresh()

        assert received == len(lines) == accepted + duplicates + dead
        assert duplicates > 0 and dead > 0, "the set holds duplicates and malformed lines"
        [(raw,)] = env.query("select count(*) from raw_restaurant.events")
        assert raw == accepted, "raw holds every accepted event once"
        assert len(merged) == BATCHES
        env.assert_equal(f"arrival order seed {seed}")
        figures.add("random arrival orders built incrementally = full refresh")
        figures.add("events in those orders", received)
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)
