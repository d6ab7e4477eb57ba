"""The shared event ingestion, on a small spec of its own: accounting, dedup, dead letters.

The domains' own specs (hospitality, restaurant) are tested with their events in their own
test modules; here the machinery is tested once, with a spec that has the same features:
an event id, an idempotency key, a typed amount, a nested field, extra fields.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal

import psycopg
import pytest
from pydantic import Field

from headwater import ingest
from headwater.errors import HeadwaterError

pytestmark = pytest.mark.integration

LANDING = """
create table if not exists thing_events (
    ingest_seq bigint generated always as identity primary key,
    received_at timestamptz not null default clock_timestamp(),
    event_id text not null,
    event_type text not null,
    thing_id text not null,
    event_timestamp timestamptz not null,
    amount numeric(8, 2),
    payload jsonb not null
);
create unique index if not exists thing_events_event_id on thing_events (event_id);
create unique index if not exists thing_events_idempotency on thing_events (thing_id, event_timestamp);
"""


class ThingData(ingest.Event):
    thing_id: str = Field(min_length=1)
    amount: Decimal | None = None


class ThingEvent(ingest.Event):
    event_id: str = Field(min_length=1)
    event_type: str
    event_timestamp: ingest.EventTime
    data: ThingData


def _row(event: ThingEvent) -> tuple:
    return (
        event.event_id,
        event.event_type,
        event.data.thing_id,
        event.event_timestamp,
        event.data.amount,
    )


SPEC = ingest.EventSpec(
    domain="things",
    tables=(
        ingest.LandingTable(
            "thing_events", ("event_id", "event_type", "thing_id", "event_timestamp", "amount")
        ),
    ),
    types={
        name: ingest.EventType(name, ThingEvent, "thing_events", _row)
        for name in ("thing.created", "thing.updated")
    },
    landing_ddl=LANDING,
    examples=(
        {
            "event_id": "evt_ex1",
            "event_type": "thing.created",
            "event_timestamp": "2026-11-03T10:00:00.000Z",
            "data": {"thing_id": "T1", "amount": "12.50"},
        },
        {
            "event_id": "evt_ex2",
            "event_type": "thing.updated",
            "event_timestamp": "2026-11-03T11:00:00+01:00",
            "data": {"thing_id": "T1", "amount": 13},
        },
    ),
)


def event(n: int, **overrides) -> dict:
    base = {
        "event_id": f"evt_{n:05d}",
        "event_type": "thing.created",
        "event_timestamp": f"2026-11-03T10:{n // 60 % 60:02d}:{n % 60:02d}.000Z",
        "data": {"thing_id": f"T{n:05d}", "amount": f"{n}.50"},
    }
    base.update(overrides)
    return base


def lines(*events) -> list[bytes]:
    return [e if isinstance(e, bytes) else ingest.dumps(e) for e in events]


@pytest.fixture
def source(make_database):
    return make_database("ingest")


def query(url: str, text: str):
    with psycopg.connect(url) as conn:
        return conn.execute(text).fetchall()


MALFORMED = [
    b'{"event_id": "evt_x1", "event_type": "thing.created"',  # broken JSON
    b"\xff\xfe not utf-8",
    b"[1, 2, 3]",
    ingest.dumps(event(901, event_type="thing.exploded")),
    ingest.dumps({k: v for k, v in event(902).items() if k != "event_type"}),
    ingest.dumps(event(903, data={"thing_id": "T903", "amount": "lots"})),
    ingest.dumps(event(904, event_timestamp="2026-11-03T10:00:00")),  # no time zone
    ingest.dumps(event(905, event_timestamp="2026-02-30T10:00:00Z")),  # no such day
    ingest.dumps(event(906, event_timestamp="2999-01-01T00:00:00Z")),  # implausible
    ingest.dumps(event(907, data={"thing_id": "T\u0000907"})),
    ingest.dumps(event(908, data={})),  # missing thing_id
    b'{"event_id": 1e999, "event_type": "thing.created"}',
    b'{"event_id": NaN}',
]


def test_every_line_is_accepted_duplicate_or_dead_lettered(source):
    good = [event(n) for n in range(1, 51)]
    duplicate_id = {**event(7), "processing_timestamp": "2026-11-03T10:00:09Z"}
    same_key = event(999, event_timestamp=good[3]["event_timestamp"], data=good[3]["data"])
    same_key["event_id"] = "evt_other"
    report = ingest.ingest(
        SPEC, lines(*good, duplicate_id, same_key, *MALFORMED), url=source, batch_size=16
    )
    assert report.received == 50 + 2 + len(MALFORMED)
    assert report.accepted == 50
    assert report.duplicates == 2
    assert report.dead_lettered == len(MALFORMED)
    assert report.balanced
    assert query(source, "select count(*) from thing_events")[0][0] == 50
    dead = query(source, "select line_number, reason from dead_letters order by line_number")
    assert [n for n, _ in dead] == list(range(53, 53 + len(MALFORMED)))
    reasons = dict(dead)
    assert reasons[53].startswith("not valid JSON")
    assert reasons[54].startswith("invalid UTF-8")
    assert reasons[55].startswith("not a JSON object")
    assert "unknown event type 'thing.exploded'" in reasons[56]
    assert reasons[57].startswith("no event type")
    assert "data.amount" in reasons[58]
    assert "event_timestamp" in reasons[59] and "timezone" in reasons[59].lower()
    assert "event_timestamp" in reasons[60]
    assert "outside" in reasons[61]
    assert "NUL" in reasons[62]
    assert "data.thing_id" in reasons[63]
    assert all(reason for reason in reasons.values())


def test_ingesting_the_same_input_twice_adds_nothing(source):
    data = lines(*(event(n) for n in range(1, 30)), *MALFORMED)
    first = ingest.ingest(SPEC, data, url=source, batch_size=7)
    counts = query(
        source, "select (select count(*) from thing_events), (select count(*) from dead_letters)"
    )
    second = ingest.ingest(SPEC, data, url=source, batch_size=7)
    assert first.accepted == 29 and first.dead_lettered == len(MALFORMED)
    assert second.accepted == 0
    assert second.duplicates == 29
    assert second.dead_lettered == len(MALFORMED) and second.balanced
    assert (
        query(
            source,
            "select (select count(*) from thing_events), (select count(*) from dead_letters)",
        )
        == counts
    )


def test_unknown_fields_are_kept_and_sequence_follows_input_order(source):
    evolved = event(2, data={"thing_id": "T2", "amount": "3.00", "colour": "teal"})
    evolved["booking_source"] = "mobile"
    ingest.ingest(SPEC, lines(event(1), evolved, event(3)), url=source)
    rows = query(
        source,
        "select event_id, payload -> 'data' ->> 'colour', payload ->> 'booking_source' "
        "from thing_events order by ingest_seq",
    )
    assert rows == [
        ("evt_00001", None, None),
        ("evt_00002", "teal", "mobile"),
        ("evt_00003", None, None),
    ]


def test_a_value_the_database_refuses_is_dead_lettered_alone(source):
    # numeric(8, 2) holds less than a million: the model accepts it, the column does not.
    too_big = event(5, data={"thing_id": "T5", "amount": "12345678.00"})
    data = lines(*(event(n) for n in range(1, 5)), too_big, *(event(n) for n in range(6, 12)))
    report = ingest.ingest(SPEC, data, url=source, batch_size=100)
    assert report.accepted == 10 and report.dead_lettered == 1 and report.balanced
    reason = query(source, "select reason from dead_letters")[0][0]
    assert "refused by the database" in reason and "numeric field overflow" in reason


def test_the_reader_waits_for_a_slow_writer(source, monkeypatch):
    """Backpressure: the reader never runs more than the queue's worth ahead of the writer."""
    batch_size, max_pending = 20, 2
    written = {"rows": 0}
    lead = []
    original = ingest._Writer.write

    def slow_write(self, batch, report):
        time.sleep(0.02)
        original(self, batch, report)
        written["rows"] += batch.size

    monkeypatch.setattr(ingest._Writer, "write", slow_write)

    def produce():
        for n in range(1, 401):
            lead.append(n - written["rows"])
            yield ingest.dumps(event(n))

    report = ingest.ingest(
        SPEC, produce(), url=source, batch_size=batch_size, max_pending=max_pending
    )
    assert report.accepted == 400
    # One batch being written, `max_pending` queued, one being filled.
    assert max(lead) <= (max_pending + 2) * batch_size


def test_an_unreachable_database_is_one_clear_error():
    with pytest.raises(HeadwaterError, match="cannot connect to things source"):
        ingest.ingest(SPEC, lines(event(1)), url="postgresql://nobody:secret@127.0.0.1:9/none")


def test_concurrent_ingests_commit_in_sequence_order(source):
    """Two writers at once; a poller reading `ingest_seq > last seen`, as the sync engine
    does, collects every row. Out-of-order commits would hide rows below its cursor."""
    ingest.ingest(SPEC, lines(event(0)), url=source)  # tables exist before the race
    collected: set[int] = set()
    stop = threading.Event()

    def poll(conn, last: int) -> int:
        rows = conn.execute(
            "select ingest_seq from thing_events where ingest_seq > %s order by 1", [last]
        ).fetchall()
        collected.update(r[0] for r in rows)
        return rows[-1][0] if rows else last

    def watch():
        last = 0
        with psycopg.connect(source, autocommit=True) as conn:
            while not stop.is_set():
                last = poll(conn, last)
            poll(conn, last)

    watcher = threading.Thread(target=watch)
    watcher.start()
    workers = [
        threading.Thread(
            target=ingest.ingest,
            args=(SPEC, lines(*(event(n) for n in range(start, start + 400)))),
            kwargs={"url": source, "batch_size": 25},
        )
        for start in (1, 1001)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    stop.set()
    watcher.join()
    everything = {r[0] for r in query(source, "select ingest_seq from thing_events")}
    assert len(everything) == 801
    assert collected == everything
