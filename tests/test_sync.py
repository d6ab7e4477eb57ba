"""The local sync engine on the embedded server: windows, ties, late commits, refresh, evolution."""

from __future__ import annotations

import psycopg
import pytest

from headwater import sync
from headwater.errors import HeadwaterError
from sync_env import add_items, assert_raw_equals_source

pytestmark = pytest.mark.integration


def test_first_sync_copies_everything_with_airbyte_columns_and_types(env):
    add_items(env, 50)
    env.src("insert into ledger (note) select 'n' || i from generate_series(1, 20) as i")
    env.src("insert into tiers (tier, is_current) values ('bronze', false), ('gold', true)")

    report = env.run()

    by_stream = {s.stream: s for s in report.streams}
    assert by_stream["items"].rows_read == 50 and by_stream["items"].rows_written == 50
    assert by_stream["ledger"].rows_written == 20
    assert by_stream["tiers"].rows_written == 2
    assert_raw_equals_source(env)
    types = dict(
        env.wh("""select column_name, data_type from information_schema.columns
                           where table_schema = 'raw_test' and table_name = 'items'""")
    )
    assert types == {
        "id": "character varying",
        "name": "character varying",
        "amount": "numeric",
        "currency": "character varying",
        "tags": "jsonb",
        "attributes": "jsonb",
        "local_time": "timestamp without time zone",
        "updated_at": "timestamp with time zone",
        "_airbyte_raw_id": "character varying",
        "_airbyte_extracted_at": "timestamp with time zone",
        "_airbyte_meta": "jsonb",
        "_airbyte_generation_id": "bigint",
    }
    meta, generation, raw_ids = env.wh(
        "select min(_airbyte_meta::text), max(_airbyte_generation_id), count(distinct _airbyte_raw_id) from raw_test.items"
    )[0]
    assert meta == f'{{"changes": [], "sync_id": {report.sync_id}}}'
    assert generation == 0 and raw_ids == 50
    assert (
        env.wh("select tags from raw_test.items limit 1")[0][0][0] == "a"
    )  # arrays become JSON arrays


def test_incremental_sync_moves_only_changed_rows(env):
    add_items(env, 200)
    env.run()
    env.src(
        "update items set name = 'renamed', updated_at = now() where id in (select id from items order by id limit 7)"
    )
    add_items(env, 3)

    report = env.run(streams=["items"])

    items = report.streams[0]
    assert items.rows_read == 10 and items.rows_written == 10
    assert_raw_equals_source(env)
    assert env.wh("select count(*) from raw_test.items where name = 'renamed'")[0][0] == 7


def test_rows_tied_with_the_saved_cursor_are_not_missed(env):
    add_items(env, 5)
    first = env.run(streams=["items"]).streams[0]
    # Rows committed afterwards carrying exactly the cursor value the last sync saved.
    add_items(env, 4, updated_at=f"'{first.cursor_after}'::timestamptz")

    second = env.run(streams=["items"]).streams[0]

    assert second.rows_written == 4
    assert_raw_equals_source(env)


def test_long_transaction_committing_an_older_cursor_late_is_not_missed(env):
    add_items(env, 5)
    env.run()
    late = psycopg.connect(env.source)
    try:
        # The application's long transaction stamps updated_at = now() (its start) ...
        late.execute(
            "insert into items select gen_random_uuid(), 'late', 1, 'USD', '{}', '{}', null, now()"
        )
        late.execute("insert into ledger (note) values ('late ledger row')")
        # ... while other transactions commit rows with later cursor values, and a sync runs.
        add_items(env, 3)
        env.src("insert into ledger (note) values ('on time')")
        during = {s.stream: s for s in env.run().streams}
        assert during["items"].rows_written == 3
        late.commit()
    finally:
        late.close()

    after = {s.stream: s for s in env.run().streams}

    assert env.wh("select count(*) from raw_test.items where name = 'late'")[0][0] == 1
    assert_raw_equals_source(env)
    # The append stream got the late row exactly once and the on-time row exactly once.
    notes = [r[0] for r in env.wh("select note from raw_test.ledger order by note")]
    assert notes == ["late ledger row", "on time"]
    assert after["ledger"].rows_written + during["ledger"].rows_written == 2


def test_future_cursor_values_do_not_poison_the_cursor(env):
    add_items(env, 2, updated_at="now() + interval '30 days'")
    env.run(streams=["items"])
    add_items(env, 3)  # normal changes after a row dated in the future

    second = env.run(streams=["items"]).streams[0]

    assert_raw_equals_source(env)
    # The future rows are read again, but unchanged rows are not rewritten.
    assert second.rows_read == 5 and second.rows_written == 3


def test_rereading_unchanged_rows_keeps_their_raw_rows(env):
    add_items(env, 3, updated_at="now() + interval '1 day'")
    env.run(streams=["items"])
    before = env.wh(
        "select id, _airbyte_raw_id, _airbyte_extracted_at from raw_test.items order by id"
    )

    again = env.run(streams=["items"]).streams[0]

    assert again.rows_read == 3 and again.rows_written == 0
    assert (
        env.wh("select id, _airbyte_raw_id, _airbyte_extracted_at from raw_test.items order by id")
        == before
    )


def test_full_refresh_equals_incremental_and_bumps_generation(env):
    add_items(env, 100)
    env.run()
    for round_ in range(3):
        env.src(
            "update items set amount = amount + 1, updated_at = now() where id in "
            "(select id from items order by md5(id::text || %s) limit 10)",
            [str(round_)],
        )
        add_items(env, 5)
        env.run()
    columns = "id, name, amount, currency, tags, attributes, local_time, updated_at"
    incremental = env.wh(f"select {columns} from raw_test.items order by id")

    report = env.run(full_refresh=True)

    assert env.wh(f"select {columns} from raw_test.items order by id") == incremental
    items = {s.stream: s for s in report.streams}["items"]
    assert items.generation_id == 1 and items.rows_read == 115
    assert env.wh("select distinct _airbyte_generation_id from raw_test.items") == [(1,)]


def test_full_refresh_overwrite_stream_replaces_rows_and_keeps_dependent_views(env):
    env.src("insert into tiers (tier, is_current) values ('bronze', true)")
    env.run(streams=["tiers"])
    env.wh("create view public.v_tiers as select * from raw_test.tiers")
    env.src(
        "update tiers set is_current = false; insert into tiers (tier, is_current) values ('silver', true)"
    )

    report = env.run(streams=["tiers"])

    assert env.wh("select tier, is_current from public.v_tiers order by id") == [
        ("bronze", False),
        ("silver", True),
    ]
    assert report.streams[0].generation_id == 1


def test_new_source_column_appears_in_raw(env):
    add_items(env, 3)
    env.run(streams=["items"])
    env.src("alter table items add column warranty_months int")
    env.src(
        "update items set warranty_months = 24, updated_at = now() where id = (select id from items order by id limit 1)"
    )

    report = env.run(streams=["items"])

    assert report.streams[0].columns_added == ["warranty_months"]
    assert env.wh(
        "select count(*), count(warranty_months), max(warranty_months) from raw_test.items"
    ) == [(3, 1, 24)]
    kind = env.wh("""select data_type from information_schema.columns
                     where table_schema = 'raw_test' and table_name = 'items' and column_name = 'warranty_months'""")
    assert kind == [("bigint",)]


def test_missing_source_table_fails_before_writing_anything(env):
    add_items(env, 3)
    env.src("drop table tiers")

    with pytest.raises(HeadwaterError, match=r"stream 'tiers': table public.tiers does not exist"):
        env.run()

    assert env.wh("select count(*) from headwater.sync_state") == [(0,)]
    assert env.wh("select to_regclass('raw_test.items')") == [(None,)]


def test_unreachable_source_is_one_clear_error(env):
    bad = env.source.replace("/src_", "/no_such_db_")
    with pytest.raises(
        HeadwaterError, match=r"cannot connect to source test-source \(no_such_db_\w+@"
    ):
        sync.sync(env.connection, source_url=bad, warehouse_url=env.warehouse)


def test_a_second_concurrent_sync_is_refused(env):
    add_items(env, 1)
    env.run()
    holder = psycopg.connect(env.warehouse, autocommit=True)
    try:
        holder.execute(
            "select pg_advisory_lock(hashtext('headwater.sync.' || %s))", [env.connection.name]
        )
        with pytest.raises(HeadwaterError, match="another sync is running"):
            env.run()
    finally:
        holder.close()


def test_a_batch_the_warehouse_rejects_rolls_back_and_keeps_state(env):
    add_items(env, 5)
    env.run(streams=["items"])
    state_before = env.wh("select cursor_value from headwater.sync_state")
    # The warehouse now rejects one value: the whole batch must roll back as a unit.
    env.wh("alter table raw_test.items add constraint small check (amount < 1000)")
    env.src(
        "update items set amount = 5000, updated_at = now() where id = (select id from items order by id limit 1)"
    )
    add_items(env, 2)

    with pytest.raises(HeadwaterError, match="stream 'items': .*check constraint \"small\""):
        env.run(streams=["items"])

    assert env.wh("select cursor_value from headwater.sync_state") == state_before
    assert env.wh("select count(*) from raw_test.items") == [(5,)]


def test_summary_json_shape(env):
    add_items(env, 3)
    data = env.run(streams=["items"]).as_dict()
    assert data["rows_read"] == 3 and data["streams"][0]["cursor_after"]
    assert set(data["streams"][0]) >= {
        "stream",
        "sync_mode",
        "rows_read",
        "rows_written",
        "cursor_before",
        "cursor_after",
        "generation_id",
        "seconds",
        "rows_per_second",
    }


def test_a_stream_reports_where_its_seconds_went(env):
    add_items(env, 10_500)
    first = env.run(streams=["items"]).streams[0]
    # A first load of more than 10,000 rows: the COPY, the index builds after it, ANALYZE.
    assert set(first.phases) == {"copy", "indexes", "analyze"}
    assert all(seconds >= 0 for seconds in first.phases.values())
    assert sum(first.phases.values()) <= first.seconds
    add_items(env, 3)
    later = env.run(streams=["items"]).streams[0]
    assert set(later.phases) == {"copy"} and later.rows_read == 3
