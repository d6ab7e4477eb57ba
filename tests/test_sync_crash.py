"""kill -9 during a sync, at named points and at random times; a rerun must converge."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import pytest

from sync_env import add_items, assert_raw_equals_source

pytestmark = [pytest.mark.integration, pytest.mark.faults]

SCRIPT = """
import sys
from headwater import sync
sync.sync(sys.argv[1], source_url=sys.argv[2], warehouse_url=sys.argv[3])
"""


def run_sync_process(env, *, fault: str | None = None, kill_after: float | None = None) -> int:
    child_env = {**os.environ}
    if fault:
        child_env["HEADWATER_FAULT"] = fault
    proc = subprocess.Popen(
        [sys.executable, "-c", SCRIPT, str(env.connection.path), env.source, env.warehouse],
        env=child_env,
        stderr=subprocess.PIPE,
    )
    if kill_after is not None:
        time.sleep(kill_after)
        proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate(timeout=120)
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(err.decode())
    return proc.returncode


def change_source(env, round_: int) -> None:
    env.src(
        "update items set amount = amount + 1, updated_at = now() where id in "
        "(select id from items order by md5(id::text || %s) limit 50)",
        [str(round_)],
    )
    add_items(env, 100)
    env.src("insert into ledger (note) select 'r' || i from generate_series(1, 30) as i")
    env.src("update tiers set is_current = not is_current where id %% 3 = %s", [round_ % 3])


def assert_converged(env) -> None:
    assert_raw_equals_source(env)
    ledger_source = env.src("select id, note from ledger order by id")
    assert env.wh("select id, note from raw_test.ledger order by id") == ledger_source
    tiers_source = env.src("select id, tier, is_current from tiers order by id")
    assert env.wh("select id, tier, is_current from raw_test.tiers order by id") == tiers_source


POINTS = [
    f"{point}:{stream}"
    for stream in ("items", "ledger", "tiers")
    for point in ("before_copy", "mid_copy", "before_commit", "after_commit")
]


@pytest.mark.parametrize("first_sync", [True, False], ids=["initial", "incremental"])
def test_kill_at_every_named_point_then_rerun_converges(env, first_sync, figures):
    add_items(env, 300)
    env.src("insert into ledger (note) select 'n' || i from generate_series(1, 40) as i")
    env.src(
        "insert into tiers (tier, is_current) select 't' || i, i % 2 = 0 from generate_series(1, 20) as i"
    )
    if not first_sync:
        assert run_sync_process(env) == 0
    for round_, point in enumerate(POINTS):
        change_source(env, round_)
        assert run_sync_process(env, fault=point) == -signal.SIGKILL, point
        assert run_sync_process(env) == 0
        assert_converged(env)
        figures.add("sync kills survived (named points)")


def test_kill_at_random_times_then_rerun_converges(env, figures):
    rng = random.Random(7)
    add_items(env, 20_000)
    env.src("insert into ledger (note) select 'n' || i from generate_series(1, 20000) as i")
    env.src(
        "insert into tiers (tier, is_current) select 't' || i, true from generate_series(1, 5000) as i"
    )
    # How long a whole run takes here (process start included): the kills land at random
    # fractions of it, so they interrupt the run on a fast machine as on a slow one.
    assert run_sync_process(env) == 0
    change_source(env, 99)
    started = time.monotonic()
    assert run_sync_process(env) == 0
    whole = time.monotonic() - started
    killed = 0
    for round_ in range(6):
        change_source(env, round_)
        kill_after = rng.uniform(0.2, 0.9) * whole
        killed += run_sync_process(env, kill_after=kill_after) == -signal.SIGKILL
    assert run_sync_process(env) == 0
    assert_converged(env)
    assert killed >= 3  # most runs were really interrupted, not finished before the kill
    figures.add("sync kills survived (random times)", killed)
