"""The specification's five streaming scenarios, on the embedded PostgreSQL.

Each scenario lands its events, syncs, builds the hospitality models incrementally (with a
lookback of 0) and as a full refresh, and ends with every mart equal to its full refresh
row for row. They run in order on one shared build (hospitality_env.py), each on top of
the previous.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from headwater import ingest
from hospitality_env import FULL, INCREMENTAL, MARTS, PROPERTIES

pytestmark = [pytest.mark.integration, pytest.mark.slow]

INC = f"marts{INCREMENTAL}"


def _ts(value) -> str:
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def booking_created(event_id, booking_id, at, *, prop="PROP001", check_in=date(2024, 11, 20),
                    nights=2, amount=500.0, **extra) -> dict:  # fmt: skip
    data = {
        "booking_id": booking_id,
        "guest_id": "G00001",
        "property_id": prop,
        "room_type": "Deluxe King",
        "check_in_date": check_in.isoformat(),
        "check_out_date": (check_in + timedelta(days=nights)).isoformat(),
        "booking_date": at.date().isoformat(),
        "total_amount": amount,
        "currency": "USD",
        "booking_status": "Confirmed",
        "number_of_guests": 2,
        **extra,
    }
    return {
        "event_id": event_id,
        "event_type": "booking.created",
        "event_timestamp": _ts(at),
        "processing_timestamp": _ts(at + timedelta(milliseconds=120)),
        "operation": "INSERT",
        "source_system": "booking-api",
        "data": data,
    }


def watermark(env, mart: str):
    return env.query(f"select max(_loaded_at) from {INC}.{mart}")[0][0]


def loaded_since(env, mart: str, since) -> int:
    """Rows of `mart` whose inputs were loaded at or after `since` (the lower bound)."""
    return env.query(f"select count(*) from {INC}.{mart} where _loaded_at >= %s", [since])[0][0]


def nights_touched(env, since, properties=(), effective=None) -> int:
    """The nights the occupancy model must recompute: every night of every version of a
    booking rebuilt since `since`, the nights of each property with a rate loaded since
    then from that rate's effective date on, and those of `properties` from `effective`."""
    return env.query(
        f"""
        select count(*) from (
            select h.property_id, d::date
            from {INC}.fct_hospitality_booking_history as h,
                generate_series(h.check_in_date, h.check_out_date - 1, interval '1 day') as d
            where h._loaded_at >= %(since)s
            union
            select property_id, stay_date from {INC}.fct_hospitality_occupancy_nightly
            where property_id = any(%(props)s) and stay_date >= %(effective)s
            union
            select n.property_id, n.stay_date
            from {INC}.fct_hospitality_occupancy_nightly as n
            inner join (
                select property_id, min(effective_from) as changed_from
                from intermediate{INCREMENTAL}.int_hospitality__room_rate_changes
                where _loaded_at >= %(since)s
                group by property_id
            ) as r on n.property_id = r.property_id and n.stay_date >= r.changed_from
        ) as nights
        """,
        {"since": since, "props": list(properties), "effective": effective or date(9999, 1, 1)},
    )[0][0]


def test_first_build_passes_every_test_and_fills_every_mart(hospitality_built):
    env = hospitality_built
    statuses = env.first_build.statuses()
    assert set(statuses) <= {"success", "pass"}, statuses
    kinds = {n["unique_id"].split(".")[0] for n in env.first_build.results}
    assert kinds == {"model", "test", "unit_test", "snapshot"}
    for mart in MARTS:
        assert env.query(f"select count(*) from {INC}.{mart}")[0][0], mart
    report = env.first_report
    assert report.balanced and report.duplicates > 0 and report.dead_lettered > 0


def test_scenario_1_a_thousand_bookings_in_ten_minutes_nothing_dropped(hospitality_built):
    env = hospitality_built
    before = env.query(f"select count(*) from {INC}.fct_hospitality_bookings")[0][0]
    sold_before = env.query(f"select sum(rooms_sold) from {INC}.fct_hospitality_occupancy_nightly")
    since = watermark(env, "fct_hospitality_bookings")
    lines = env.simulate(
        1000,
        env.clock,
        seed=11,
        burst_bookings=1000,
        burst_minutes=10,
        late_share=0.07,
        duplicate_share=0,
        malformed_share=0,
    )
    events = [ingest._parse_json(line) for line in lines]
    assert len(events) == 1000 and {e["event_type"] for e in events} == {"booking.created"}
    times = sorted(e["event_timestamp"] for e in events)
    assert times[-1][:16] <= _ts(env.clock + timedelta(minutes=10))[:16]
    report, merged = env.step(lines)
    assert report.accepted == 1000 and report.duplicates == 0 and report.dead_lettered == 0
    ids = [e["data"]["booking_id"] for e in events]
    found = env.query(
        f"select count(*) from {INC}.fct_hospitality_bookings where booking_id = any(%s)", [ids]
    )[0][0]
    assert found == 1000
    assert env.query(f"select count(*) from {INC}.fct_hospitality_bookings")[0][0] == before + 1000
    nights = sum(
        (
            date.fromisoformat(e["data"]["check_out_date"])
            - date.fromisoformat(e["data"]["check_in_date"])
        ).days
        for e in events
    )
    sold_after = env.query(f"select sum(rooms_sold) from {INC}.fct_hospitality_occupancy_nightly")
    assert sold_after[0][0] - sold_before[0][0] == nights
    newest = env.query(
        f"select count(*) from {INC}.fct_hospitality_bookings "
        f"where _loaded_at = (select max(_loaded_at) from {INC}.fct_hospitality_bookings)"
    )[0][0]
    assert newest == 1000
    assert merged["fct_hospitality_bookings"] == loaded_since(
        env, "fct_hospitality_bookings", since
    )
    env.assert_equal("after the burst")
    env.clock += timedelta(minutes=15)


def test_scenario_2_a_late_cancellation_corrects_revenue_and_occupancy(hospitality_built):
    env = hospitality_built
    day = env.clock.replace(hour=10, minute=0, second=0, microsecond=0) + timedelta(days=1)
    created = booking_created("evt_s2_create", "BS2-LATE", day, prop="PROP007", amount=640.0)
    env.step([ingest.dumps(created)], full_refresh=False)

    def revenue():
        return env.query(
            f"select running_net_amount from {INC}.fct_hospitality_revenue_hourly "
            "where property_id = 'PROP007' and hour_at = %s",
            [day],
        )[0][0]

    def sold():
        return env.query(
            f"select stay_date, rooms_sold, room_revenue from {INC}.fct_hospitality_occupancy_nightly "
            "where property_id = 'PROP007' and stay_date in ('2024-11-20', '2024-11-21') order by 1"
        )

    first_revenue = revenue()
    assert first_revenue >= 640
    # Other events of 10:00-14:00 arrive and are built first: the marts move on.
    env.step(
        env.simulate(
            400, day + timedelta(minutes=6), seed=12, rate=400 / (4 * 3600), burst_bookings=0
        ),
        full_refresh=False,
    )
    revenue_before, sold_before = revenue(), sold()
    cancel = {
        "event_id": "evt_s2_cancel",
        "event_type": "booking.cancelled",
        "event_timestamp": _ts(day + timedelta(minutes=5)),
        "processing_timestamp": _ts(day + timedelta(hours=4)),
        "operation": "UPDATE",
        "data": {"booking_id": "BS2-LATE", "booking_status": "Cancelled", "cancelled_at": _ts(day + timedelta(minutes=5))},
        "changed_fields": ["booking_status"],
    }  # fmt: skip
    newest = env.query(f"select max(valid_from) from {INC}.fct_hospitality_booking_history")[0][0]
    assert newest > day + timedelta(hours=2), "the cancellation arrives well after later events"
    since = watermark(env, "fct_hospitality_bookings")
    nights_since = watermark(env, "fct_hospitality_occupancy_nightly")
    report, merged = env.step([ingest.dumps(cancel)])
    assert report.accepted == 1
    assert revenue() == revenue_before - 640
    after = sold()
    assert [(d, n + 1, r + 320) for d, n, r in after] == [(d, n, r) for d, n, r in sold_before]
    status = env.query(
        f"select booking_status, cancelled_at, version_count from {INC}.fct_hospitality_bookings "
        "where booking_id = 'BS2-LATE'"
    )
    assert status == [("Cancelled", day + timedelta(minutes=5), 2)]
    alert = env.query(
        f"select cancelled_at from {INC}.fct_hospitality_cancellation_alerts "
        "where cancellation_event_id = 'evt_s2_cancel'"
    )
    assert alert == [(day + timedelta(minutes=5),)]
    # Only what the loads since the watermark touch was recomputed.
    total = env.query(f"select count(*) from {INC}.fct_hospitality_bookings")[0][0]
    assert merged["fct_hospitality_bookings"] == loaded_since(
        env, "fct_hospitality_bookings", since
    )
    assert merged["fct_hospitality_bookings"] < total / 5
    assert merged["fct_hospitality_occupancy_nightly"] == nights_touched(env, nights_since)
    env.assert_equal("after the late cancellation")
    env.scenario_2 = created


def test_scenario_3_a_duplicate_booking_event_changes_nothing(hospitality_built):
    env = hospitality_built
    created = env.scenario_2
    retry = {
        **created,
        "event_id": "evt_s2_create_retry",
        "processing_timestamp": "2024-11-02T10:00:01.000Z",
    }
    checksums = {
        mart: env.query(
            f"select md5(string_agg(t::text, '|' order by t::text)) from {INC}.{mart} as t"
        )
        for mart in MARTS
    }
    since = watermark(env, "fct_hospitality_booking_history")
    report, merged = env.step([ingest.dumps(created), ingest.dumps(retry)])
    assert (report.received, report.accepted, report.duplicates) == (2, 0, 2)
    assert report.duplicates_by_table["booking_events"] == 2
    # Nothing new was loaded: the build re-reads only the previous load (the lower bound
    # is inclusive), the late cancellation's booking, and rewrites it unchanged.
    assert merged["fct_hospitality_booking_history"] == loaded_since(
        env, "fct_hospitality_booking_history", since
    )
    assert merged["fct_hospitality_booking_history"] == 2
    for mart in MARTS:
        now = env.query(
            f"select md5(string_agg(t::text, '|' order by t::text)) from {INC}.{mart} as t"
        )
        assert now == checksums[mart], mart
    env.assert_equal("after the duplicates")


def test_scenario_4_booking_source_appears_and_old_rows_still_load(hospitality_built):
    env = hospitality_built
    at = env.clock + timedelta(days=1, hours=5)
    old = booking_created("evt_s4_old", "BS4-OLD", at, prop="PROP003")
    new = booking_created(
        "evt_s4_new", "BS4-NEW", at + timedelta(seconds=1), prop="PROP003",
        booking_source="mobile", loyalty_points_earned=120,
    )  # fmt: skip
    new["device"] = {"os": "ios", "app_version": "5.2"}
    report, _ = env.step([ingest.dumps(old), ingest.dumps(new)])
    assert report.accepted == 2
    rows = dict(
        env.query(
            f"select booking_id, booking_source from {INC}.fct_hospitality_bookings "
            "where booking_id in ('BS4-OLD', 'BS4-NEW')"
        )
    )
    assert rows == {"BS4-OLD": None, "BS4-NEW": "mobile"}
    baseline = env.query(
        f"select count(*), count(booking_source) from {INC}.fct_hospitality_bookings "
        "where booking_id like 'B0%%'"
    )[0]
    assert baseline[0] > 0 and baseline[1] == 0
    payload = env.query(
        "select payload -> 'device' ->> 'os' from raw_hospitality.booking_events "
        "where event_id = 'evt_s4_new'"
    )
    assert payload == [("ios",)]
    env.assert_equal("after booking_source appeared")


def test_scenario_5_a_hundred_properties_update_rates_only_their_partitions(hospitality_built):
    from headwater.generators import hospitality

    env = hospitality_built
    changed = hospitality.property_ids(100)
    effective = date(2024, 11, 10)
    base = hospitality.baseline(PROPERTIES, 3)
    lines = hospitality.rate_updates(
        changed, env.clock + timedelta(days=1, hours=6), effective, base=base
    )
    assert len(lines) == 400
    untouched_before = env.query(
        f"select md5(string_agg(t::text, '|' order by t::text)) from {INC}.fct_hospitality_occupancy_nightly "
        "as t where property_id > 'PROP100'"
    )
    rates_since = watermark(env, "fct_hospitality_room_rates")
    nights_since = watermark(env, "fct_hospitality_occupancy_nightly")
    report, merged = env.step(lines)
    assert report.accepted == 400
    series_rows = env.query(
        f"select count(*) from {INC}.fct_hospitality_room_rates "
        "where property_id <= 'PROP100' or _loaded_at >= %s",
        [rates_since],
    )[0][0]
    all_rates = env.query(f"select count(*) from {INC}.fct_hospitality_room_rates")[0][0]
    assert merged["fct_hospitality_room_rates"] == series_rows < all_rates
    nights = nights_touched(env, nights_since, changed, effective)
    all_nights = env.query(f"select count(*) from {INC}.fct_hospitality_occupancy_nightly")[0][0]
    assert merged["fct_hospitality_occupancy_nightly"] == nights < all_nights
    # The rates' own nights: those 100 properties from the effective date, no others.
    from_rates = env.query(
        f"select count(*) from {INC}.fct_hospitality_occupancy_nightly "
        "where property_id <= 'PROP100' and stay_date >= %s",
        [effective],
    )[0][0]
    assert from_rates <= nights <= from_rates + 10
    untouched_after = env.query(
        f"select md5(string_agg(t::text, '|' order by t::text)) from {INC}.fct_hospitality_occupancy_nightly "
        "as t where property_id > 'PROP100'"
    )
    assert untouched_after == untouched_before
    rack = env.query(
        f"select count(*) from {INC}.fct_hospitality_room_rates where property_id <= 'PROP100' "
        "and effective_from = %s and rate_source = 'price_update'",
        [effective],
    )[0][0]
    assert rack == 400
    env.assert_equal("after 100 properties changed their rates")


def test_the_comparison_sees_a_wrong_row(hospitality_built):
    env = hospitality_built
    table = f"{INC}.fct_hospitality_occupancy_nightly"
    import psycopg

    with psycopg.connect(env.warehouse_url) as conn:
        conn.execute(
            f"update {table} set rooms_sold = rooms_sold + 1 where (property_id, stay_date) = "
            f"(select property_id, stay_date from {table} order by stay_date desc, property_id limit 1)"
        )
    assert env.differences("fct_hospitality_occupancy_nightly")["only_incremental"]
    env.dbt(["run", "--full-refresh", "--select", "fct_hospitality_occupancy_nightly"])
    env.assert_equal("after the repair")
    copies = env.query(
        "select count(*) from information_schema.tables where table_schema in (%s, %s) "
        "and table_name = 'fct_hospitality_bookings'",
        [INC, f"marts{FULL}"],
    )
    assert copies[0][0] == 2


def test_guest_cdc_deletes_are_real_and_the_snapshot_keeps_their_history(hospitality_built):
    env = hospitality_built
    at = int(datetime(2024, 11, 3, 9, 0, tzinfo=UTC).timestamp() * 1000)
    before = env.query(
        "select guest_id, name, email, loyalty_tier from raw_hospitality.guests "
        "where guest_id in ('G00005', 'G00006', 'G00007') order by 1"
    )
    (g5, n5, e5, t5), (g6, _, _, _), (g7, _, _, _) = before
    # The tier as the events so far left it (the first stream may have changed it).
    t7 = env.query(
        f"select loyalty_tier from {INC}.dim_hospitality_guests where guest_id = 'G00007'"
    )[0][0]
    tier = "Gold" if t7 != "Gold" else "Platinum"
    events = [
        {
            "payload": {
                "before": {"guest_id": g5, "name": n5, "email": e5, "loyalty_tier": t5},
                "after": None,
                "source": {"name": "mews-guests-db", "table": "guests", "ts_ms": at, "lsn": 1},
                "op": "d",
                "ts_ms": at + 80,
            }
        },
        {
            "event_id": "evt_gdel_6",
            "event_type": "guest.deleted",
            "event_timestamp": "2024-11-03T09:00:01.000Z",
            "operation": "DELETE",
            "data": {"guest_id": g6},
        },
        {
            "event_id": "evt_gupd_7",
            "event_type": "guest.updated",
            "event_timestamp": "2024-11-03T09:00:02.000Z",
            "operation": "UPDATE",
            "data": {"guest_id": g7, "loyalty_tier": tier},
            "before": {"loyalty_tier": t7},
            "changed_fields": ["loyalty_tier"],
        },
    ]
    report, _ = env.step([ingest.dumps(e) for e in events])
    assert report.accepted == 3
    env.dbt(["snapshot", "--select", "snap_hospitality__guests"])
    dim = dict(
        env.query(
            f"select guest_id, loyalty_tier from {INC}.dim_hospitality_guests "
            "where guest_id in ('G00005', 'G00006', 'G00007')"
        )
    )
    assert dim == {"G00007": tier}
    history = env.query(
        f"select guest_id, loyalty_tier, dbt_valid_to is null, dbt_is_deleted "
        f"from snapshots{INCREMENTAL}.snap_hospitality__guests "
        "where guest_id in ('G00005', 'G00006', 'G00007') order by guest_id, dbt_valid_from"
    )
    assert [(g, deleted) for g, _, current, deleted in history if current] == [
        ("G00005", "True"),
        ("G00006", "True"),
        ("G00007", "False"),
    ]
    assert [t for g, t, _, _ in history if g == "G00007"] == [t7, tier]
    masked = env.query(
        f"select email_masked, email_hash, phone_masked from {INC}.dim_hospitality_guests "
        "where guest_id = 'G00007'"
    )[0]
    assert "@" in masked[0] and "***" in masked[0] and len(masked[1]) == 32
    assert masked[2].startswith("***") and len(masked[2]) == 7
    env.assert_equal("after guest deletes")
