"""Faults injected into the pipeline: whatever fails, a rerun converges and nothing is lost.

* kill -9 of the sync at random points across streams and sync modes (during the COPY,
  between the batch and its state commit, during a full refresh); after each, a rerun
  leaves raw equal to the source: every row once, none missing;
* kill -9 of a dbt build in the middle, twice; the rerun gives marts identical (table
  checksums) to a clean build;
* the source down, the warehouse down, a wrong password, permission denied, a table dropped
  at the source: one clear line each, a non-zero exit, sync state untouched, nothing
  published;
* a batch the warehouse rejects half-way through its COPY rolls back as a unit: raw and the
  stream's state stay as they were.

`pytest --long` injects more kills.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time

import psycopg
import pytest
from psycopg import sql

from headwater import config, db, dbt, publish, sync
from headwater.errors import HeadwaterError
from sync_env import add_items, assert_raw_equals_source

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

SYNC = """
import sys
from headwater import sync
sync.sync(sys.argv[1], source_url=sys.argv[2], warehouse_url=sys.argv[3],
          full_refresh=sys.argv[4] == "full")
"""
STREAMS = ("items", "ledger", "tiers")
POINTS = ("before_copy", "mid_copy", "before_commit", "after_commit")
KILLS, LONG_KILLS = 24, 120


def sync_process(env, *, full_refresh: bool = False, fault: str | None = None) -> int:
    child = {**os.environ, **({"HEADWATER_FAULT": fault} if fault else {})}
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            SYNC,
            str(env.connection.path),
            env.source,
            env.warehouse,
            "full" if full_refresh else "incremental",
        ],
        env=child,
        capture_output=True,
        timeout=180,
        check=False,
    )
    if proc.returncode not in (0, -signal.SIGKILL):
        raise AssertionError(proc.stderr.decode())
    return proc.returncode


def change(env, rng: random.Random) -> None:
    """Updates, inserts and flips on all three streams, of random sizes."""
    env.src(
        "update items set amount = amount + 1, updated_at = now() where id in "
        "(select id from items order by random() limit %s)",
        [rng.randint(1, 400)],
    )
    add_items(env, rng.randint(0, 300))
    env.src(
        "insert into ledger (note) select 'r' || i from generate_series(1, %s) as i",
        [rng.randint(1, 300)],
    )
    env.src("update tiers set is_current = not is_current where id %% 7 = %s", [rng.randint(0, 6)])


def assert_converged(env) -> int:
    """Raw equals the source on every stream, no key twice; the number of rows compared."""
    assert_raw_equals_source(env)
    rows = env.src("select count(*) from items")[0][0]
    for table, columns in (("ledger", "id, note"), ("tiers", "id, tier, is_current")):
        source = env.src(f"select {columns} from {table} order by id")
        raw = env.wh(f"select {columns} from raw_test.{table} order by id")
        assert raw == source, table
        dupes = env.wh(f"select count(*) - count(distinct id) from raw_test.{table}")[0][0]
        assert dupes == 0, table
        rows += len(source)
    return rows


def test_kill_at_random_points_across_streams_and_modes(env, long_run, figures):
    rng = random.Random(2026)
    add_items(env, 3000)
    env.src("insert into ledger (note) select 'n' || i from generate_series(1, 3000) as i")
    env.src(
        "insert into tiers (tier, is_current) "
        "select 't' || i, i % 2 = 0 from generate_series(1, 1000) as i"
    )
    assert sync_process(env) == 0
    planned = LONG_KILLS if long_run else KILLS
    killed: list[str] = []
    for n in range(planned):
        change(env, rng)
        full = n % 4 == 3  # every fourth run is a full refresh of every stream
        stream, point = rng.choice(STREAMS), rng.choice(POINTS)
        # Mid-COPY kills land after a block of the stream's copy (about 128 kB each): a
        # random one of the first three in a full refresh, the first in an incremental run.
        nth = rng.randint(1, 3) if full else 1
        fault = f"{point}:{stream}" + (f"@{nth}" if point == "mid_copy" else "")
        outcome = sync_process(env, full_refresh=full, fault=fault)
        if outcome == -signal.SIGKILL:
            killed.append(f"{'full' if full else 'incr'} {fault}")
        # The rerun is an ordinary sync, whatever the killed one was.
        assert sync_process(env) == 0
        rows = assert_converged(env)
        if outcome == -signal.SIGKILL:
            figures.add("sync kills survived (random points)")
            figures.add("raw rows checked against the source after a kill", rows)
    # Almost every planned kill happened (a mid-COPY kill beyond the rows read does not).
    assert len(killed) >= planned * 0.8, killed
    assert sum(k.startswith("full") for k in killed) >= planned // 6
    assert {k.split()[1].split(":")[0] for k in killed} == set(POINTS)


# --- dbt killed mid-build ----------------------------------------------------------------------

CLEAN, KILLED = "_t_clean", "_t_killed"


@pytest.fixture(scope="module")
def marketplace_raw(pg_home):
    from headwater.generators import marketplace

    source_url, warehouse_url = config.source_url("marketplace"), config.warehouse_url()
    marketplace.seed(source_url, 0.2, seed=11)
    sync.reset("marketplace", warehouse_url=warehouse_url)
    sync.sync("marketplace", source_url=source_url, warehouse_url=warehouse_url)
    return warehouse_url


def _tables(url: str, schema: str) -> set[str]:
    with psycopg.connect(url) as conn:
        return {
            r[0]
            for r in conn.execute(
                "select table_name from information_schema.tables where table_schema = %s",
                [schema],
            )
        }


def _build(url: str, suffix: str, tmp_path, *, kill_when=None) -> int:
    """A `dbt build` of the marketplace into schemas with `suffix`; SIGKILL it as soon as
    `kill_when()` is true. Returns the exit code."""
    from headwater.pipeline import dbt_selection

    command, env, _ = dbt.invocation(
        ["build", *dbt_selection("marketplace")],
        warehouse_url=url,
        env={"HEADWATER_DBT_SCHEMA_SUFFIX": suffix},
        target_path=tmp_path / f"target{suffix}",
    )
    proc = subprocess.Popen(
        command, env=env, cwd=dbt.PROJECT_DIR, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 600
    while proc.poll() is None and time.monotonic() < deadline:
        if kill_when is not None and kill_when():
            proc.send_signal(signal.SIGKILL)
            break
        time.sleep(0.2)
    proc.wait(timeout=60)
    return proc.returncode


def test_dbt_build_killed_twice_then_rerun_equals_a_clean_build(marketplace_raw, tmp_path, figures):
    url = marketplace_raw
    assert _build(url, CLEAN, tmp_path) == 0
    clean = publish.analytics_checksums("marketplace", schema=f"marts{CLEAN}", warehouse_url=url)
    assert clean, "the clean build produced marts"

    # First kill: as soon as the intermediate layer has started (staging done, marts not yet).
    first = _build(
        url,
        KILLED,
        tmp_path,
        kill_when=lambda: bool(_tables(url, f"intermediate{KILLED}")),
    )
    assert first == -signal.SIGKILL
    # Second kill: after some marts exist but before all of them do.
    second = _build(
        url,
        KILLED,
        tmp_path,
        kill_when=lambda: 0 < len(_tables(url, f"marts{KILLED}") & set(clean)) < len(clean),
    )
    assert second == -signal.SIGKILL
    assert len(_tables(url, f"marts{KILLED}") & set(clean)) < len(clean)

    assert _build(url, KILLED, tmp_path) == 0
    rebuilt = publish.analytics_checksums("marketplace", schema=f"marts{KILLED}", warehouse_url=url)
    assert rebuilt == clean
    figures.add("dbt builds killed, rerun equal to a clean build (table checksums)", 2)


# --- one clear error per failure ---------------------------------------------------------------

CLI = [sys.executable, "-m", "headwater.cli"]
PASSWORD = "hw-Wrong-9d3f"


@pytest.fixture(scope="module")
def roles(pg_home, marketplace_raw):
    """A role that needs a password (scram on the socket) and one without SELECT on the source."""
    status = db.status()
    hba = status.data_dir / "pg_hba.conf"
    original = hba.read_text()
    admin = status.url()
    with psycopg.connect(admin, autocommit=True) as conn:
        for role, options in (("hw_secret", "password 'right-one'"), ("hw_noaccess", "")):
            conn.execute(f"drop role if exists {role}")
            conn.execute(f"create role {role} login {options}")
        hba.write_text(f"local all hw_secret scram-sha-256\n{original}")
        conn.execute("select pg_reload_conf()")
    yield status
    hba.write_text(original)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute("select pg_reload_conf()")


def _state(url: str) -> tuple:
    with psycopg.connect(url) as conn:
        sync_state = conn.execute(
            "select stream, cursor_value, generation_id, last_sync_id from headwater.sync_state "
            "where connection = 'marketplace' order by stream"
        ).fetchall()
        published = conn.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'headwater' and table_name = 'publish_log'"
        ).fetchone()[0]
        log = (
            conn.execute("select count(*) from headwater.publish_log").fetchone()[0]
            if published
            else 0
        )
        orders = conn.execute("select count(*) from raw_marketplace.orders").fetchone()[0]
    return sync_state, log, orders


def _socket_url(status, user: str, database: str, password: str | None = None) -> str:
    auth = f"{user}:{password}" if password else user
    return f"postgresql://{auth}@/{database}?host={status.socket_dir}&port={status.port}"


def _run_pipeline(env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, "run", "marketplace"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize(
    "case",
    ["source down", "warehouse down", "wrong password", "permission denied", "table dropped"],
)
def test_each_failure_is_one_clear_line_and_changes_nothing(case, roles, marketplace_raw):
    status = roles
    warehouse = marketplace_raw
    source = config.source_url("marketplace")
    env = {"HEADWATER_WAREHOUSE_URL": warehouse, "HEADWATER_MARKETPLACE_URL": source}
    expect = {
        "source down": "cannot connect to source marketplace-postgres (marketplace@127.0.0.1)",
        "warehouse down": "cannot connect to warehouse (warehouse@127.0.0.1)",
        "wrong password": 'password authentication failed for user "hw_secret"',
        "permission denied": "permission denied for table",
        "table dropped": "table public.reviews does not exist in the source",
    }[case]
    if case == "source down":
        env["HEADWATER_MARKETPLACE_URL"] = f"postgresql://etl:{PASSWORD}@127.0.0.1:1/marketplace"
    elif case == "warehouse down":
        env["HEADWATER_WAREHOUSE_URL"] = f"postgresql://etl:{PASSWORD}@127.0.0.1:1/warehouse"
    elif case == "wrong password":
        env["HEADWATER_MARKETPLACE_URL"] = _socket_url(status, "hw_secret", "marketplace", PASSWORD)
    elif case == "permission denied":
        env["HEADWATER_MARKETPLACE_URL"] = _socket_url(status, "hw_noaccess", "marketplace")
    before = _state(warehouse)
    if case == "table dropped":
        with psycopg.connect(source, autocommit=True) as conn:
            conn.execute("alter table reviews rename to reviews_gone")
    try:
        result = _run_pipeline(env)
    finally:
        if case == "table dropped":
            with psycopg.connect(source, autocommit=True) as conn:
                conn.execute("alter table reviews_gone rename to reviews")
    lines = result.stderr.strip().splitlines()
    errors = [line for line in lines if line.startswith("error: ")]
    assert result.returncode != 0
    assert len(errors) == 1 and errors[0] == lines[-1], result.stderr
    assert "Traceback" not in result.stderr
    assert expect in errors[0]
    assert PASSWORD not in result.stderr + result.stdout
    assert _state(warehouse) == before  # state, publish log and raw untouched


def test_a_failed_sync_is_retried_by_airflow_not_failed_for_good(monkeypatch):
    """Extract-load raises a plain error (retried with backoff); only gates skip retries."""
    from headwater import orchestration

    monkeypatch.setenv("HEADWATER_MARKETPLACE_URL", f"postgresql://etl:{PASSWORD}@127.0.0.1:1/x")
    with pytest.raises(HeadwaterError) as raised:
        orchestration.run_local_sync("marketplace")
    assert type(raised.value).__name__ != "AirflowFailException"
    assert PASSWORD not in str(raised.value)
    assert orchestration.load_pipeline("marketplace").retries >= 2


# --- a batch the warehouse rejects ---------------------------------------------------------------


def test_a_batch_rejected_mid_copy_rolls_back_and_keeps_the_state(env):
    add_items(env, 500)
    env.run(streams=["items"])
    raw_before = env.wh("select id, amount, _airbyte_raw_id from raw_test.items order by id")
    state_before = env.wh("select cursor_value, last_sync_id from headwater.sync_state")
    # The source column becomes text; most new values still look numeric, one does not,
    # and it comes after a few hundred good rows of the same COPY.
    env.src("alter table items alter column amount type text using amount::text")
    env.src("update items set amount = amount || '0', updated_at = now()")
    env.src(
        "update items set amount = 'lots', updated_at = now() + interval '1 second' "
        "where id = (select id from items order by id desc limit 1)"
    )
    with pytest.raises(HeadwaterError, match=r"stream 'items': .*numeric.*unchanged") as raised:
        env.run(streams=["items"])
    assert "\n" not in str(raised.value)
    assert (
        env.wh("select id, amount, _airbyte_raw_id from raw_test.items order by id") == raw_before
    )
    assert env.wh("select cursor_value, last_sync_id from headwater.sync_state") == state_before
    failed = env.wh("select status, error from headwater.sync_runs order by sync_id desc limit 1")
    assert failed[0][0] == "failed" and "items" in failed[0][1]


def test_identifiers_from_configuration_cannot_inject_sql(env, tmp_path):
    """A table and column whose names hold quotes and semicolons sync as exactly those names."""
    evil_table = 'evil"; drop table items; --'
    evil_column = "amount'); delete from items; --"
    env.src(
        sql.SQL("create table {} (id int primary key, {} int, updated_at timestamptz)")
        .format(sql.Identifier(evil_table), sql.Identifier(evil_column))
        .as_string(None)
    )
    env.src(
        sql.SQL("insert into {} values (1, 10, now()), (2, 20, now())")
        .format(sql.Identifier(evil_table))
        .as_string(None)
    )
    add_items(env, 3)
    text = env.connection.path.read_text().replace(
        "  - name: tiers\n",
        f"  - name: '{evil_table.replace(chr(39), chr(39) * 2)}'\n"
        "    sync_mode: incremental_append_deduped\n"
        "    cursor_field: updated_at\n"
        "    primary_key: [id]\n"
        "    reason: test\n"
        "  - name: tiers\n",
    )
    path = tmp_path / "evil.yaml"
    path.write_text(text)
    from headwater.connection import load_connection

    report = sync.sync(load_connection(path), source_url=env.source, warehouse_url=env.warehouse)
    assert {s.stream for s in report.streams} >= {evil_table, "items"}
    rows = env.wh(
        sql.SQL("select id, {} from raw_test.{} order by id")
        .format(sql.Identifier(evil_column), sql.Identifier(evil_table))
        .as_string(None)
    )
    assert rows == [(1, 10), (2, 20)]
    assert env.src("select count(*) from items")[0][0] == 3
    assert env.wh("select count(*) from raw_test.items")[0][0] == 3
