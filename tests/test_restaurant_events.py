"""The restaurant simulator and the restaurant event spec with the shared ingestion.

The simulator: deterministic, consecutive windows continue each other exactly, the day
has its rushes, and the data-quality realities are there in the stated proportions.
Ingestion of its output: every line accepted, recognised as a duplicate or dead-lettered
with a reason, typed columns filled, the nested items kept; a second ingest adds nothing.
"""

from __future__ import annotations

import json
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import psycopg
import pytest
from click.testing import CliRunner

from headwater import db, ingest
from headwater.generators import restaurant
from headwater.sources.restaurant.events import SPEC

START = datetime(2025, 1, 15, 12, 0, tzinfo=UTC)
SMALL = {"seed": 5, "scale": 0.01, "locations": 400}


def lines(start=START, hours=0.25, **kwargs):
    return [line for _, line in restaurant.simulate(start, hours, **{**SMALL, **kwargs})]


def parsed(data):
    out = []
    for line in data:
        try:
            out.append(orjson.loads(line))
        except orjson.JSONDecodeError:
            out.append(None)
    return out


def test_the_same_seed_gives_the_same_events_and_another_seed_others():
    assert lines() == lines()
    other = lines(seed=6)
    assert other != lines()
    # Ids carry the seed: two seeds landed in one table never collide.
    ids = {e["event_id"] for e in parsed(lines()) if isinstance(e, dict) and "event_id" in e}
    assert not ids & {
        e["event_id"] for e in parsed(other) if isinstance(e, dict) and "event_id" in e
    }


def test_consecutive_windows_continue_each_other_exactly():
    whole = lines(hours=0.5)
    halves = lines(hours=0.25) + lines(START + timedelta(minutes=15), 0.25)
    assert Counter(whole) == Counter(halves)


def test_arrivals_are_in_order_and_events_are_not():
    arrivals = [a for a, _ in restaurant.simulate(START, 0.25, **SMALL)]
    assert arrivals == sorted(arrivals)
    assert all(START.timestamp() <= a < START.timestamp() + 900 for a in arrivals)
    stamps = [e["timestamp"] for e in parsed(lines()) if isinstance(e, dict) and "timestamp" in e]
    assert stamps != sorted(stamps)
    stats = restaurant.SimulationStats(START, 0.25, 5, 0.01, 400)
    list(restaurant.simulate(START, 0.25, **SMALL, stats=stats))
    late_share = stats.late / stats.lines
    assert 0.03 < late_share < 0.12, late_share  # about 7% more than 5 s late
    assert abs(stats.duplicates / stats.lines - 0.02) < 0.008
    assert 0 < stats.malformed / stats.lines < 0.004


def test_the_day_has_its_rushes_and_the_spec_volume():
    rate = restaurant.orders_per_second
    assert rate(3.0) == pytest.approx(1.0)
    assert rate(12.5) == pytest.approx(100.0) and rate(19.0) == pytest.approx(100.0)
    hours = [h / 60 for h in range(24 * 60)]
    orders_per_day = sum(float(rate(h)) * 60 for h in hours)
    # About 9M events a day: ~4 per order (and seatings without an order).
    assert 2.0e6 < orders_per_day < 2.5e6


def test_events_have_exactly_the_spec_fields():
    spec_fields = {
        "table_seated": {"party_size", "server_id"},
        "order_placed": {"order_id", "server_id", "items", "subtotal"},
        "order_completed": {"order_id", "kitchen_time_minutes"},
        "payment": {"order_id", "subtotal", "tax", "tip", "total_amount", "payment_method"},
    }
    common = {"event_id", "event_type", "timestamp", "location_id", "location_name", "table_id"}
    seen = Counter()
    for line, event in zip(lines(), parsed(lines()), strict=True):
        if event is None or not isinstance(event.get("event_type"), str):
            continue
        try:
            restaurant_model = SPEC.types[event["event_type"]].model
            restaurant_model.model_validate(event)
        except Exception:
            continue  # a malformed event
        assert set(event) == common | spec_fields[event["event_type"]], line
        seen[event["event_type"]] += 1
        if event["event_type"] == "order_placed":
            assert set(event["items"][0]) == {
                "item_id",
                "item_name",
                "category",
                "price",
                "quantity",
            }
            subtotal = sum(round(i["price"] * 100) * i["quantity"] for i in event["items"])
            assert round(event["subtotal"] * 100) == subtotal
        if event["event_type"] == "payment":
            cents = [round(event[k] * 100) for k in ("subtotal", "tax", "tip", "total_amount")]
            assert cents[0] + cents[1] + cents[2] == cents[3]
    assert set(seen) == set(spec_fields)
    names = restaurant.chain(20_000).location_names
    assert len(set(names)) == 20_000 and names[0].count(" - ") == 1
    assert restaurant.chain(20_000).location_ids[141] == "loc_00142"


@pytest.fixture
def source(pg_home):
    name = f"restaurant_{uuid.uuid4().hex[:8]}"
    admin = db.status().url()
    db.ensure_databases(admin, (name,))
    yield db.status().url(name)
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'drop database if exists "{name}" with (force)')


@pytest.mark.integration
def test_ingesting_simulated_events_accounts_for_every_line(source):
    stats = restaurant.SimulationStats(START, 0.25, 5, 0.01, 400)
    data = [line for _, line in restaurant.simulate(START, 0.25, **SMALL, stats=stats)]
    report = ingest.ingest(SPEC, data, url=source, batch_size=1000)
    assert report.balanced and report.received == len(data)
    assert report.dead_lettered == stats.malformed
    with psycopg.connect(source) as conn:
        landed, distinct = conn.execute(
            "select count(*), count(distinct event_id) from events"
        ).fetchone()
        reasons = conn.execute("select reason from dead_letters").fetchall()
        payment = conn.execute(
            "select total_amount, tax, payment_method, payload ->> 'total_amount' from events "
            "where event_type = 'payment' limit 1"
        ).fetchone()
        items = conn.execute(
            "select jsonb_array_length(payload -> 'items'), order_id from events "
            "where event_type = 'order_placed' limit 1"
        ).fetchone()
    assert landed == distinct == report.accepted
    # Resent copies of well-formed events are the duplicates.
    assert report.duplicates == len(data) - stats.malformed - report.accepted > 0
    assert all(r[0] for r in reasons)
    assert str(payment[0]) == payment[3] and payment[2]
    assert items[0] >= 1 and items[1].startswith("ord_")
    again = ingest.ingest(SPEC, data, url=source, batch_size=1000)
    assert again.accepted == 0 and again.duplicates == report.accepted + report.duplicates


@pytest.mark.integration
def test_each_kind_of_malformed_event_is_dead_lettered_with_its_reason(source):
    good = {
        "event_id": "evt_1",
        "event_type": "payment",
        "timestamp": "2025-01-15T19:05:45.123Z",
        "location_id": "loc_00142",
        "location_name": "Chicago - River North",
        "table_id": "table_12",
        "order_id": "ord_789xyz",
        "subtotal": 50.97,
        "tax": 4.58,
        "tip": 10,
        "total_amount": 65.55,
        "payment_method": "credit_card",
    }
    broken = [restaurant._break({**good, "event_id": f"evt_{n}"}, n) for n in range(6)]
    broken[4] = restaurant._break(good, 4)
    report = ingest.ingest(SPEC, [ingest.dumps(good), *broken], url=source)
    assert report.accepted == 1 and report.dead_lettered == 6
    with psycopg.connect(source) as conn:
        reasons = [
            r[0] for r in conn.execute("select reason from dead_letters order by line_number")
        ]
    assert "location_id" in reasons[0] and "Field required" in reasons[0]
    assert "total_amount" in reasons[1]
    assert "timestamp" in reasons[2] and "timezone" in reasons[2].lower()
    assert "timestamp" in reasons[3]
    assert "event_id" in reasons[4]
    assert reasons[5].startswith("not valid JSON")


@pytest.mark.integration
def test_simulate_cli_writes_a_file_and_ingests(source, tmp_path, monkeypatch):
    from headwater.cli import main

    out = tmp_path / "events.jsonl.gz"
    runner = CliRunner()
    args = ["--hours", "0.05", "--scale", "0.01", "--locations", "50", "--json"]
    result = runner.invoke(main, ["simulate", "restaurant", *args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.output)["simulated"]
    assert summary["lines"] > 0 and out.stat().st_size > 0
    monkeypatch.setenv("HEADWATER_RESTAURANT_URL", source)
    result = runner.invoke(main, ["ingest", "restaurant", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["received"] == summary["lines"]
    result = runner.invoke(main, ["simulate", "restaurant", *args, "--ingest"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["ingested"]["accepted"] == 0  # all there already
    bad = runner.invoke(main, ["simulate", "restaurant", "--hours", "-1", "--out", str(out)])
    assert bad.exit_code != 0 and "--hours must be positive" in bad.output


def test_paced_release_groups_events_by_wall_clock_second(monkeypatch):
    slept = []
    monkeypatch.setattr(restaurant, "_sleep_until", lambda moment: slept.append(moment))
    events = [(100.0 + t, f"{t}".encode()) for t in (0.1, 0.5, 30.2, 59.9, 61.0)]
    batches = list(restaurant._paced(iter(events), 100.0, speedup=30.0))
    # 30x: simulated seconds 0-30 are the first wall second, 30-60 the second, 61 the third.
    assert batches == [[b"0.1", b"0.5"], [b"30.2", b"59.9"], [b"61.0"]]
    assert len(slept) == 2
