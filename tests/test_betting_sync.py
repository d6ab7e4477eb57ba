"""The sync engine's file source: Parquet folders read incrementally into raw, as Airbyte's
S3 source would, and what happens with bad files and with a sync killed mid-way.

A copy of airbyte/connections/betting.yaml under another name and namespace keeps these
tests apart from the shared betting build.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from headwater import config, sync
from headwater.connection import load_connection
from headwater.errors import HeadwaterError
from headwater.generators import betting

pytestmark = [pytest.mark.integration]

NAMESPACE = "raw_betting_files_test"


@pytest.fixture
def files_env(pg_home, tmp_path):
    spec = yaml.safe_load((config.project_dir() / "airbyte/connections/betting.yaml").read_text())
    spec["name"], spec["namespace"] = "betting_files_test", NAMESPACE
    path = tmp_path / "betting_files_test.yaml"
    path.write_text(yaml.safe_dump(spec))
    folder = tmp_path / "files"
    betting.seed(folder, days=2, bets_per_day=40, seed=3, horizon_days=6)
    conn = load_connection(path)
    sync.reset(conn)
    yield conn, folder
    sync.reset(conn)


def _query(statement: str, params=None):
    with psycopg.connect(config.warehouse_url()) as c:
        return c.execute(statement, params).fetchall()


def _wait_for_lock_release(seconds: float = 20) -> None:
    """The killed child's server process ends (and frees the sync lock) a moment after it."""
    deadline = time.monotonic() + seconds
    while _query("select count(*) from pg_locks where locktype = 'advisory'")[0][0]:
        assert time.monotonic() < deadline, "the killed sync's lock was never released"
        time.sleep(0.1)


def _rows(folder: Path, dataset: str) -> int:
    return sum(pq.read_metadata(p).num_rows for p in (folder / dataset).glob("*.parquet"))


def _raw_matches_files(folder: Path) -> None:
    for dataset in ("bets_placed", "bet_settlements"):
        [(rows, keys)] = _query(
            f"select count(*), count(distinct {'bet_id' if dataset == 'bets_placed' else 'settlement_id'}) "
            f"from {NAMESPACE}.{dataset}"
        )
        assert rows == keys == _rows(folder, dataset), dataset
    profiles = {
        r["customer_id"]: r
        for p in sorted((folder / "customer_profiles").glob("*.parquet"))
        for r in pq.read_table(p).to_pylist()
    }
    assert dict(_query(f"select customer_id, email from {NAMESPACE}.customer_profiles")) == {
        k: v["email"] for k, v in profiles.items()
    }


def test_new_files_only_then_nothing_then_changed_files(files_env):
    conn, folder = files_env
    first = sync.sync(conn, source_url=str(folder))
    _raw_matches_files(folder)
    assert first.as_dict()["rows_read"] == sum(
        _rows(folder, d) for d in ("bets_placed", "bet_settlements", "customer_profiles")
    )
    again = sync.sync(conn, source_url=str(folder))
    assert again.as_dict()["rows_read"] == 0

    written = betting.mutate(folder, hours=24)
    third = {s.stream: s for s in sync.sync(conn, source_url=str(folder)).streams}
    assert third["bet_settlements"].rows_read == written["bet_settlements"] > 0
    assert third["bets_placed"].rows_read == written["bets_placed"]
    _raw_matches_files(folder)

    # A file rewritten in place replaces what it brought (append stream): drop half its rows.
    path = sorted((folder / "bets_placed").glob("*.parquet"))[0]
    table = pq.read_table(path)
    pq.write_table(table.slice(0, table.num_rows // 2), path)
    fourth = {s.stream: s for s in sync.sync(conn, source_url=str(folder)).streams}
    assert fourth["bets_placed"].rows_read == table.num_rows // 2
    _raw_matches_files(folder)
    [(url,)] = _query(f"select min(_ab_source_file_url) from {NAMESPACE}.bets_placed")
    assert url.startswith("bets_placed/") and url.endswith(".parquet")


def test_an_older_profile_delivered_late_never_overwrites_a_newer_one(files_env):
    conn, folder = files_env
    sync.sync(conn, source_url=str(folder))
    [(customer, email, updated)] = _query(
        f"select customer_id, email, updated_at from {NAMESPACE}.customer_profiles "
        "order by customer_id limit 1"
    )
    stale = pa.table(
        {
            "customer_id": [customer],
            "name": ["Stale Name"],
            "email": ["stale@example.com"],
            "date_of_birth": pa.array([0], pa.date32()),
            "country": ["GB"],
            "kyc_status": ["pending"],
            "self_exclusion": [False],
            "marketing_consent": [False],
            "created_at": pa.array([updated], pa.timestamp("us", tz="UTC")),
            "updated_at": pa.array(
                [updated.replace(year=updated.year - 1)], pa.timestamp("us", tz="UTC")
            ),
        }
    )
    pq.write_table(stale, folder / "customer_profiles" / "updated_redelivered.parquet")
    report = {s.stream: s for s in sync.sync(conn, source_url=str(folder)).streams}
    assert report["customer_profiles"].rows_read == 1
    assert _query(
        f"select email from {NAMESPACE}.customer_profiles where customer_id = %s", [customer]
    ) == [(email,)]


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        ("not_parquet", "not a readable Parquet file"),
        ("missing_key", "column 'settlement_id' (a key or the cursor) is missing"),
        ("null_key", "rows have no settlement_id (a primary key column)"),
        ("wrong_type", "column 'payout' is varchar here but numeric in"),
    ],
)
def test_a_bad_file_fails_in_one_line_naming_it_and_changes_nothing(files_env, damage, message):
    conn, folder = files_env
    sync.sync(conn, source_url=str(folder))
    before = _query(f"select count(*) from {NAMESPACE}.bet_settlements")
    bad = folder / "bet_settlements" / "recorded_bad.parquet"
    good = pq.read_table(sorted((folder / "bet_settlements").glob("*.parquet"))[0]).slice(0, 3)
    if damage == "not_parquet":
        bad.write_text("settlement_id,bet_id\nS1,B1\n")
    elif damage == "missing_key":
        pq.write_table(good.drop_columns(["settlement_id"]), bad)
    elif damage == "null_key":
        ids = pa.array([None, "S-x", None], pa.string())
        pq.write_table(good.set_column(0, "settlement_id", ids), bad)
    else:
        index = good.schema.get_field_index("payout")
        pq.write_table(good.set_column(index, "payout", pa.array(["1", "2", "3"])), bad)
    with pytest.raises(HeadwaterError) as raised:
        sync.sync(conn, source_url=str(folder))
    text = str(raised.value)
    assert "\n" not in text and "file bet_settlements/recorded_bad.parquet" in text
    assert message in text, text
    assert _query(f"select count(*) from {NAMESPACE}.bet_settlements") == before

    cli = subprocess.run(
        [str(Path(sys.executable).with_name("headwater")), "sync", str(conn.path)],
        capture_output=True,
        text=True,
        env={**os.environ, "HEADWATER_BETTING_FILES": str(folder)},
        check=False,
    )
    assert cli.returncode != 0
    assert cli.stderr.strip().count("\n") == 0 and "recorded_bad.parquet" in cli.stderr


@pytest.mark.parametrize(
    "fault",
    ["mid_copy:bet_settlements", "before_commit:customer_profiles", "after_commit:bets_placed"],
)
def test_a_sync_killed_mid_way_resumes_with_nothing_lost_or_doubled(files_env, fault):
    conn, folder = files_env
    sync.sync(conn, source_url=str(folder))
    betting.mutate(folder, hours=24)
    child = subprocess.run(
        [str(Path(sys.executable).with_name("headwater")), "sync", str(conn.path)],
        capture_output=True,
        env={**os.environ, "HEADWATER_BETTING_FILES": str(folder), "HEADWATER_FAULT": fault},
        check=False,
    )
    assert child.returncode == -signal.SIGKILL
    _wait_for_lock_release()
    sync.sync(conn, source_url=str(folder))
    _raw_matches_files(folder)
    assert sync.sync(conn, source_url=str(folder)).as_dict()["rows_read"] == 0


def test_airbyte_apply_describes_the_same_files_as_an_s3_source():
    from headwater import airbyte

    conn = load_connection("betting")
    env = {name: "value" for name in conn.source.airbyte_config_env.values()}
    source = airbyte._s3_source(conn, airbyte._Env(env).values(conn.source.airbyte_config_env))
    assert source.bucket == "value"
    assert {s.name: s.globs for s in source.streams} == {s.name: s.globs for s in conn.streams}
    request = airbyte._connection_request(conn, "source-id", "destination-id")
    streams = {s.name: s for s in request.configurations.streams}
    # File-based sources define their own cursor: none is sent.
    assert all(s.cursor_field is None for s in streams.values())
    assert streams["customer_profiles"].primary_key == [["customer_id"]]


def test_a_file_stream_without_globs_is_refused(tmp_path):
    spec = yaml.safe_load((config.project_dir() / "airbyte/connections/betting.yaml").read_text())
    del spec["streams"][0]["globs"]
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(spec))
    with pytest.raises(
        HeadwaterError, match="stream 'bets_placed': a file source stream needs globs"
    ):
        load_connection(path)


def test_a_stream_with_no_files_yet_loads_nothing_and_creates_nothing(files_env):
    conn, folder = files_env
    for path in (folder / "customer_profiles").glob("*.parquet"):
        path.unlink()
    report = {s.stream: s for s in sync.sync(conn, source_url=str(folder)).streams}
    assert report["customer_profiles"].rows_read == 0
    assert _query("select to_regclass(%s) is null", [f"{NAMESPACE}.customer_profiles"]) == [(True,)]
    assert report["bets_placed"].rows_read == _rows(folder, "bets_placed") > 0


def test_a_missing_source_folder_is_one_line(files_env, tmp_path):
    conn, _ = files_env
    with pytest.raises(HeadwaterError, match=r"source folder .*nowhere does not exist"):
        sync.sync(conn, source_url=str(tmp_path / "nowhere"))
