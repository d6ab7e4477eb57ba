"""xmin change detection: a full-refresh stream kept equal to the source by moving only
the row versions written since the last sync (updates in place with no timestamp)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import sql

from headwater import sync
from sync_env import add_items

pytestmark = pytest.mark.integration


@pytest.fixture
def xenv(env):
    """The sync_env source, with its `tiers` stream (no cursor) on xmin change detection."""
    streams = [
        s.model_copy(update={"change_detection": "xmin"}) if s.name == "tiers" else s
        for s in env.connection.streams
    ]
    env.connection = env.connection.model_copy(update={"streams": streams})
    env.src(
        "insert into tiers (tier, is_current) "
        "select 'bronze', i % 2 = 0 from generate_series(1, 200) as i"
    )
    return env


def tiers(env) -> dict:
    return {s.stream: s for s in env.run(streams=["tiers"]).streams}["tiers"]


def assert_tiers_equal_source(env) -> None:
    source = env.src("select id::bigint, tier, is_current from tiers order by id")
    raw = env.wh("select id, tier, is_current from raw_test.tiers order by id")
    assert raw == source
    assert env.wh("select count(*) - count(distinct id) from raw_test.tiers") == [(0,)]


def test_only_changed_rows_move_and_unchanged_rows_keep_their_raw_row(xenv):
    first = tiers(xenv)
    assert first.rows_read == 200 and first.generation_id == 0
    before = dict(xenv.wh("select id, _airbyte_extracted_at from raw_test.tiers"))

    xenv.src("update tiers set tier = 'gold' where id <= 5")
    xenv.src("insert into tiers (tier, is_current) values ('silver', true), ('gold', false)")
    second = tiers(xenv)

    assert (second.rows_read, second.rows_written) == (7, 7)
    assert second.generation_id == 0  # no overwrite happened
    assert_tiers_equal_source(xenv)
    after = dict(xenv.wh("select id, _airbyte_extracted_at from raw_test.tiers"))
    unchanged = [i for i in before if i > 5]
    assert all(after[i] == before[i] for i in unchanged)
    assert all(after[i] > before[i] for i in range(1, 6))

    third = tiers(xenv)  # nothing changed since
    assert (third.rows_read, third.rows_written) == (0, 0)
    state = xenv.wh(
        "select cursor_value, change_bound from headwater.sync_state where stream = 'tiers'"
    )
    assert state[0][0] is None and int(state[0][1]) > 0


def test_a_change_committed_after_the_snapshot_is_read_next_time(xenv):
    tiers(xenv)
    late = psycopg.connect(xenv.source)
    try:
        late.execute("update tiers set tier = 'platinum' where id = 7")
        xenv.src("update tiers set tier = 'gold' where id = 8")
        during = tiers(xenv)  # the open transaction holds the snapshot's xmin back
        assert during.rows_written == 1
        late.commit()
    finally:
        late.close()

    after = tiers(xenv)

    assert after.rows_written == 1
    assert_tiers_equal_source(xenv)
    assert xenv.wh("select tier from raw_test.tiers where id = 7") == [("platinum",)]


def test_a_delete_at_the_source_reloads_the_stream(xenv):
    tiers(xenv)
    xenv.src("delete from tiers where id in (3, 4)")
    xenv.src("update tiers set tier = 'gold' where id = 9")

    report = tiers(xenv)

    assert report.generation_id == 1  # what a full overwrite does
    assert report.rows_written == 198
    assert_tiers_equal_source(xenv)


def test_full_refresh_overwrites_an_xmin_stream(xenv):
    tiers(xenv)
    refreshed = {s.stream: s for s in xenv.run(streams=["tiers"], full_refresh=True).streams}
    assert refreshed["tiers"].rows_read == 200 and refreshed["tiers"].generation_id == 1
    assert_tiers_equal_source(xenv)


def test_other_streams_are_untouched_by_the_option(xenv):
    add_items(xenv, 4)
    report = {s.stream: s for s in xenv.run().streams}
    assert report["items"].rows_written == 4 and report["tiers"].rows_written == 200


@pytest.mark.parametrize(
    ("bound", "xmax", "visible_xids", "expected"),
    [
        # No wraparound: versions written at or after the bound are selected.
        (1_000, 1_010, [990, 999, 1_000, 1_005, 1_009], [1_000, 1_005, 1_009]),
        # The 32-bit counter wrapped between the bound and now.
        (2**32 - 5, 2**32 + 5, [2**32 - 10, 2**32 - 5, 2**32 - 1, 2**32 + 2], None),
    ],
)
def test_the_xmin_condition_places_32_bit_ids_across_wraparound(
    pg_home, bound, xmax, visible_xids, expected
):
    from headwater import db

    condition = sync._xmin_since(str(bound), (bound, xmax))
    values = sql.SQL(", ").join(
        sql.SQL("({})").format(sql.Literal(x % 2**32)) for x in visible_xids
    )
    query = sql.SQL("select xmin from (values {}) as v(xmin) where {} order by 1").format(
        values, condition
    )
    with psycopg.connect(db.status().url()) as conn:
        selected = sorted(r[0] for r in conn.execute(query).fetchall())
    wanted = expected or [x for x in visible_xids if x >= bound]
    assert selected == sorted(x % 2**32 for x in wanted)


def test_too_many_transactions_since_the_bound_means_a_full_read():
    assert sync._xmin_since("100", (100, 100 + 2**31)) is None
    assert sync._xmin_since(None, (1, 2)) is None
    assert sync._xmin_since("100", (100, 200)) is not None


def test_the_option_is_refused_where_it_cannot_apply(tmp_path):
    from headwater.connection import load_connection
    from headwater.errors import ConfigError
    from sync_env import CONNECTION

    path = tmp_path / "c.yaml"
    deduped = "    sync_mode: incremental_append_deduped\n"
    path.write_text(
        CONNECTION.format(name="t").replace(deduped, deduped + "    change_detection: xmin\n", 1)
    )
    with pytest.raises(
        ConfigError,
        match="stream 'items': change_detection: xmin needs sync_mode full_refresh_overwrite",
    ):
        load_connection(path)
