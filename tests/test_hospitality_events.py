"""The hospitality baseline, simulator and event spec with the shared ingestion.

* The baseline is deterministic, its files round-trip through `seed --from`, and historical
  bookings have no booking_source.
* The simulator meets the specification's validation checklist (≥ 1,000 events, inserts
  and updates, 5-10% late, 2-3% duplicates, a burst, arrival order ≠ event order, extra
  fields, booking_source appearing mid-stream) and is deterministic.
* Ingestion with malformed input balances exactly (received = accepted + duplicates +
  dead-lettered), dead letters carry reasons, both guest CDC forms land, the idempotency
  key refuses a retried booking, and ingesting the same input again adds nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from headwater import ingest
from headwater.generators import hospitality
from headwater.sources.hospitality.events import SPEC

pytestmark = [pytest.mark.integration]

SMALL = {"properties": 8, "days": 5}


def stream(events=2000, rate=20.0, **kwargs) -> list[tuple[float, bytes]]:
    return list(hospitality.simulate(events, rate, **{**SMALL, **kwargs}))


def test_the_baseline_is_deterministic_and_sized_by_properties_and_days():
    a, b = hospitality.baseline(8, 5), hospitality.baseline(8, 5)
    assert a.bookings == b.bookings and a.guests == b.guests
    assert a.counts() == {"bookings": 8 * 5 * 4, "guests": 8 * 60, "room_inventory": 8 * 4 * 2}
    assert hospitality.baseline(8, 5, seed=8).bookings != a.bookings
    assert all(b.get("booking_source") is None for b in a.bookings)
    assert {b["booking_status"] for b in a.bookings} <= {
        "Confirmed", "Cancelled", "Checked-In", "Checked-Out", "No-Show"
    }  # fmt: skip
    assert all(b["check_out_date"] > b["check_in_date"] for b in a.bookings)


def test_the_simulator_meets_the_validation_checklist():
    stats = hospitality.SimulationStats()
    items = list(hospitality.simulate(3000, 20.0, stats=stats, **SMALL))
    assert stats.events >= 1000
    assert 0.05 <= stats.late / stats.events <= 0.10
    assert 0.02 <= stats.duplicates / stats.events <= 0.03
    assert stats.burst_bookings == 1000
    assert 0 < stats.with_booking_source < stats.by_type["booking.created"]
    assert stats.with_extra_fields > 0 and stats.malformed > 0
    assert stats.by_type["booking.created"] and stats.by_type["booking.cancelled"]
    assert stats.by_type["guest.debezium"] and stats.by_type["room.price_updated"]
    arrivals = [a for a, _ in items]
    assert arrivals == sorted(arrivals)
    events = []
    for _, line in items:
        try:
            events.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            continue
    times = [e["event_timestamp"] for e in events if isinstance(e.get("event_timestamp"), str)]
    assert times != sorted(times), "late events arrive out of event-time order"
    ops = Counter(e.get("operation") for e in events)
    assert ops["INSERT"] and ops["UPDATE"]
    # booking_source appears mid-stream, never before.
    created = [e for e in events if e.get("event_type") == "booking.created" and "data" in e]
    created.sort(key=lambda e: e["event_timestamp"])
    first = next(i for i, e in enumerate(created) if "booking_source" in e["data"])
    assert 0 < first < len(created) and all(
        "booking_source" not in e["data"] for e in created[:first]
    )
    # Deterministic.
    assert [line for _, line in stream(3000)] == [line for _, line in items]


def test_the_burst_is_a_thousand_bookings_in_ten_minutes():
    start = datetime(2024, 11, 1, 12, 0, tzinfo=UTC)
    knobs = hospitality.Knobs(burst_bookings=1000, burst_minutes=10, late_share=0, duplicate_share=0, malformed_share=0)  # fmt: skip
    events = [orjson.loads(line) for _, line in stream(1000, start=start, knobs=knobs)]
    assert len(events) == 1000 and {e["event_type"] for e in events} == {"booking.created"}
    times = sorted(datetime.fromisoformat(e["event_timestamp"]) for e in events)
    assert times[-1] - times[0] <= timedelta(minutes=10)


@pytest.fixture(scope="module")
def source(make_module_database):
    url = make_module_database("hospitality_events")
    hospitality.seed(url, **SMALL)
    return url


def counts(url) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {
            t: conn.execute(f"select count(*) from {t}").fetchone()[0]
            for t in ("booking_events", "guest_events", "room_rate_events", "dead_letters")
        }


def test_ingestion_balances_with_malformed_input_and_a_rerun_adds_nothing(source):
    knobs = hospitality.Knobs(malformed_share=0.05)
    lines = [line for _, line in stream(2000, knobs=knobs, seed=3)]
    garbage = [
        b"not json at all\n",
        b'{"event_type": "booking.created"}\n',
        b'["a", "list"]\n',
        b'{"event_type": "booking.teleported", "event_id": "x"}\n',
        b'{"payload": {"op": "d", "source": {"name": "db", "table": "guests", "ts_ms": 1}, "ts_ms": 1}}\n',
    ]
    report = ingest.ingest(SPEC, lines + garbage, source="test", url=source)
    assert report.received == len(lines) + len(garbage)
    assert report.received == report.accepted + report.duplicates + report.dead_lettered
    assert report.dead_lettered >= len(garbage) + 50
    assert report.duplicates > 0
    landed = counts(source)
    assert landed["dead_letters"] == report.dead_lettered
    assert (
        sum(report.accepted_by_table.values())
        == report.accepted
        == (landed["booking_events"] + landed["guest_events"] + landed["room_rate_events"])
    )
    with psycopg.connect(source) as conn:
        reasons = dict(conn.execute("select raw_payload, reason from dead_letters").fetchall())
    assert reasons["not json at all"].startswith("not valid JSON")
    assert "op d needs `before`" in reasons[garbage[4].decode().strip()]
    assert "unknown event type 'booking.teleported'" in reasons[garbage[3].decode().strip()]
    again = ingest.ingest(SPEC, lines + garbage, source="test", url=source)
    assert again.accepted == 0 and again.balanced
    assert counts(source) == landed


def test_guest_cdc_lands_in_both_forms_and_the_idempotency_key_refuses_a_retry(source):
    by_type = {}
    for example in SPEC.examples:
        by_type.setdefault(example.get("event_type", "guest.debezium"), example)
    flat, dbz = by_type["guest.updated"], by_type["guest.debezium"]
    created = {**by_type["booking.created"], "event_id": "evt_idem_1"}
    retry = {**created, "event_id": "evt_idem_2"}
    redelivered = json.loads(json.dumps(dbz))
    redelivered["payload"]["ts_ms"] += 5000  # the connector's clock, not the change's
    lines = [ingest.dumps(e) for e in (flat, dbz, created, retry, redelivered)]
    report = ingest.ingest(SPEC, lines, source="cdc", url=source)
    assert (report.accepted, report.duplicates, report.dead_lettered) == (3, 2, 0)
    with psycopg.connect(source) as conn:
        forms = conn.execute(
            "select cdc_format, operation from guest_events where guest_id in ('G00890', 'G00123') "
            "order by cdc_format"
        ).fetchall()
    assert forms == [("debezium", "UPDATE"), ("flat", "UPDATE")]


def test_seed_writes_and_reads_the_exercise_files(source, tmp_path):
    from headwater.generators.hospitality import read_files, write_files

    data = hospitality.baseline(**SMALL)
    paths = write_files(data, tmp_path)
    assert sorted(p.name for p in paths.values()) == [
        "bookings.csv",
        "guests.json",
        "room_inventory.sql",
    ]
    assert "booking_source" not in paths["bookings"].read_text().splitlines()[0]
    with psycopg.connect(source) as conn:
        before = {
            t: conn.execute(
                f"select md5(string_agg(t::text, '|' order by t::text)) from {t} as t"
            ).fetchone()
            for t in ("bookings", "guests", "room_inventory")
        }
    bookings, guests, inventory = read_files(tmp_path)
    assert hospitality.load(source, bookings, guests, inventory) == data.counts()
    with psycopg.connect(source) as conn:
        after = {
            t: conn.execute(
                f"select md5(string_agg(t::text, '|' order by t::text)) from {t} as t"
            ).fetchone()
            for t in ("bookings", "guests", "room_inventory")
        }
    assert after == before
    assert counts(source) == dict.fromkeys(counts(source), 0), "seeding empties the landing tables"


def test_seed_from_a_broken_file_is_one_clear_error(tmp_path):
    (tmp_path / "bookings.csv").write_text("booking_id,guest_id\nB1,G1\n")
    (tmp_path / "guests.json").write_text("[]")
    (tmp_path / "room_inventory.sql").write_text("")
    result = CliRunner().invoke(hospitality.seed_command, ["--from", str(tmp_path)])
    assert result.exit_code != 0
    assert "bookings.csv: missing columns" in str(result.exception)


def test_simulate_writes_json_lines(tmp_path):
    out = tmp_path / "events.jsonl"
    result = CliRunner().invoke(
        hospitality.simulate_command,
        [
            "--events",
            "300",
            "--rate",
            "50",
            "--properties",
            "8",
            "--days",
            "5",
            "--out",
            str(out),
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["simulated"]
    assert summary["lines"] == len(out.read_bytes().splitlines()) >= 300


def test_realtime_ingestion_releases_rate_lines_a_second(source):
    import time

    began = time.monotonic()
    stats, report = hospitality.ingest_stream(
        300,
        100.0,
        url=source,
        realtime=True,
        seed=9,
        knobs=hospitality.Knobs(burst_bookings=0),
        **SMALL,
    )
    elapsed = time.monotonic() - began
    assert report.received == stats.lines and report.balanced
    assert report.batches >= 3 and 2.5 <= elapsed < 30
