"""Hospitality: a deterministic baseline (bookings, guests, room inventory) and an event
simulator that speaks the specification's streams on top of it.

The baseline is `days` of booking history for `properties` hotels ending at `as_of`
(00:00 UTC): 4 bookings per property and day, 60 guest profiles per property, four room
types per property with an older and a current rate period. Historical bookings have no
`booking_source` (the field appears later, in events). The same (properties, days, seed,
as_of) gives identical rows, in the database and in the exercise's files (`bookings.csv`,
`guests.json`, `room_inventory.sql`), which `seed --from DIR` reads back.

The simulator continues from the baseline at `start` (default `as_of` 10:00): booking
lifecycles (created → modified → confirmed → checked-in → checked-out, cancellations,
no-shows; check-ins and check-outs of the baseline's stays of that day), guest creations,
contact and loyalty changes and deletes (flat CDC events and Debezium envelopes), and
room-rate updates. What arrives is what real systems send, each with a knob:

* late: `late_share` (default 7%) of events arrive 30 minutes to 2 hours after they
  happened; lines are written in arrival order, so event times go out of order;
* duplicates: `duplicate_share` (2.5%) re-sent with the same event_id and a processing
  timestamp 100-500 ms later; a third of the booking ones are retries with a fresh
  event_id but the same booking_id + event_timestamp (the idempotency key);
* bursts: `burst_bookings` bookings (default 1,000) created within `burst_minutes` (10),
  starting a third of the way into the stream;
* schema evolution: `booking_source` (web / mobile / phone) appears in booking.created
  from `booking_source_from` (half-way) on, and `extra_field_share` (5%) of events carry
  fields nobody has a column for;
* malformed: `malformed_share` (0.5%) of lines are broken (a missing id, an amount as a
  string, a time without a zone, an unknown status, check-out before check-in, cut JSON).
"""

from __future__ import annotations

import csv
import json
import logging
import random
import sys
import time as _time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import click
import orjson
from psycopg import sql

from headwater import config, db, ingest
from headwater.errors import HeadwaterError
from headwater.sources import schema_sql

log = logging.getLogger(__name__)

DEFAULT_AS_OF = date(2024, 11, 1)
DEFAULT_PROPERTIES = 20
DEFAULT_DAYS = 30
DEFAULT_SEED = 7
BOOKINGS_PER_PROPERTY_DAY = 4
GUESTS_PER_PROPERTY = 60
# (room type, base room count, base nightly rate, booking weight)
ROOM_TYPES = (
    ("Standard Queen", 40, 120.0, 0.45),
    ("Deluxe King", 30, 180.0, 0.33),
    ("Junior Suite", 12, 260.0, 0.15),
    ("Executive Suite", 6, 420.0, 0.07),
)
COUNTRIES = (
    ("USA", 0.30),
    ("United Kingdom", 0.12),
    ("Germany", 0.10),
    ("France", 0.09),
    ("Spain", 0.07),
    ("Czech Republic", 0.06),
    ("Netherlands", 0.06),
    ("Italy", 0.06),
    ("Canada", 0.05),
    ("Japan", 0.05),
    ("Australia", 0.04),
)
FIRST_NAMES = (
    "Sarah", "John", "Emma", "Liam", "Olivia", "Noah", "Ava", "Lucas", "Mia", "Jakub",
    "Tereza", "Hugo", "Chloe", "Mateo", "Sofia", "Yuki", "Hannah", "Leon", "Amelia", "Oscar",
)  # fmt: skip
LAST_NAMES = (
    "Martinez", "Doe", "Smith", "Novak", "Dubois", "Garcia", "Muller", "Rossi", "Tanaka",
    "Brown", "Jansen", "Wilson", "Svoboda", "Lopez", "Taylor", "Schmidt", "Moreau", "Kim",
)  # fmt: skip
LOYALTY_TIERS = (("None", 0.55), ("Silver", 0.25), ("Gold", 0.14), ("Platinum", 0.06))
BOOKING_SOURCES = ("web", "mobile", "phone")
BOOKING_COLUMNS = (
    "booking_id",
    "guest_id",
    "property_id",
    "room_type",
    "check_in_date",
    "check_out_date",
    "booking_date",
    "total_amount",
    "currency",
    "booking_status",
    "number_of_guests",
)
GUEST_COLUMNS = (
    "guest_id",
    "name",
    "email",
    "phone",
    "country",
    "loyalty_tier",
    "created_at",
    "updated_at",
)
INVENTORY_COLUMNS = (
    "property_id",
    "room_type",
    "room_count",
    "nightly_rate",
    "effective_from",
    "effective_to",
)
SOURCE_TABLES = ("bookings", "guests", "room_inventory")
LANDING_TABLES = ("booking_events", "guest_events", "room_rate_events", "dead_letters")


def _weighted(rng: random.Random, options) -> str:
    return rng.choices([o[0] for o in options], weights=[o[-1] for o in options])[0]


def _money(value: float) -> float:
    return float(Decimal(str(value)).quantize(Decimal("0.01")))


# --- the baseline -------------------------------------------------------------------------------


@dataclass
class Baseline:
    properties: int
    days: int
    seed: int
    as_of: date
    guests: list[dict] = field(default_factory=list)
    room_inventory: list[dict] = field(default_factory=list)
    bookings: list[dict] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        return {
            "bookings": len(self.bookings),
            "guests": len(self.guests),
            "room_inventory": len(self.room_inventory),
        }

    def current_rates(self) -> dict[tuple[str, str], float]:
        return {
            (r["property_id"], r["room_type"]): r["nightly_rate"]
            for r in self.room_inventory
            if r["effective_to"] is None
        }


def property_ids(properties: int) -> list[str]:
    return [f"PROP{i:03d}" for i in range(1, properties + 1)]


def baseline(
    properties: int = DEFAULT_PROPERTIES,
    days: int = DEFAULT_DAYS,
    *,
    seed: int = DEFAULT_SEED,
    as_of: date = DEFAULT_AS_OF,
) -> Baseline:
    """The baseline as rows (dicts), the same for the same arguments."""
    if not 1 <= properties <= 999:
        raise HeadwaterError(f"properties must be between 1 and 999, got {properties}")
    if not 1 <= days <= 3650:
        raise HeadwaterError(f"days must be between 1 and 3,650, got {days}")
    rng = random.Random(f"hospitality:{seed}:{properties}:{days}:{as_of}")
    out = Baseline(properties, days, seed, as_of)
    start = datetime.combine(as_of, datetime.min.time(), tzinfo=UTC) - timedelta(days=days)

    for n in range(1, properties * GUESTS_PER_PROPERTY + 1):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        created = start - timedelta(days=rng.uniform(30, 900))
        updated = created + timedelta(days=rng.uniform(0, (start - created).days))
        out.guests.append(
            {
                "guest_id": f"G{n:05d}",
                "name": f"{first} {last}",
                "email": f"{first.lower()}.{last.lower()}{n}@example.com",
                "phone": f"+1-555-{rng.randrange(10_000):04d}",
                "country": _weighted(rng, COUNTRIES),
                "loyalty_tier": _weighted(rng, LOYALTY_TIERS),
                "created_at": created.replace(microsecond=0),
                "updated_at": updated.replace(microsecond=0),
            }
        )

    for prop in property_ids(properties):
        size = rng.uniform(0.5, 2.0)
        price = rng.uniform(0.7, 1.6)
        for room_type, count, rate, _ in ROOM_TYPES:
            current = _money(rate * price)
            change = as_of - timedelta(days=rng.randint(20, 60))
            out.room_inventory.append(
                {
                    "property_id": prop,
                    "room_type": room_type,
                    "room_count": max(1, round(count * size)),
                    "nightly_rate": _money(current * rng.uniform(0.85, 0.98)),
                    "effective_from": as_of - timedelta(days=days + 400),
                    "effective_to": change,
                }
            )
            out.room_inventory.append(
                {
                    "property_id": prop,
                    "room_type": room_type,
                    "room_count": max(1, round(count * size)),
                    "nightly_rate": current,
                    "effective_from": change,
                    "effective_to": None,
                }
            )
    rates = out.current_rates()

    props = property_ids(properties)
    weights = [t[3] for t in ROOM_TYPES]
    for n in range(1, properties * days * BOOKINGS_PER_PROPERTY_DAY + 1):
        booked = as_of - timedelta(days=rng.randint(1, days))
        lead = min(int(rng.gammavariate(1.2, 18)), 180)
        nights = rng.choices(range(1, 8), weights=(30, 25, 18, 10, 7, 5, 5))[0]
        check_in = booked + timedelta(days=lead)
        check_out = check_in + timedelta(days=nights)
        prop = rng.choice(props)
        room_type = rng.choices([t[0] for t in ROOM_TYPES], weights=weights)[0]
        amount = _money(nights * rates[prop, room_type] * rng.uniform(0.85, 1.15))
        roll = rng.random()
        if check_out < as_of:
            status = "Checked-Out" if roll < 0.88 else "Cancelled" if roll < 0.97 else "No-Show"
        elif check_in < as_of:  # in house, leaving on or after as_of
            status = "Checked-In" if roll < 0.92 else "Cancelled"
        else:
            status = "Confirmed" if roll < 0.88 else "Cancelled"
        out.bookings.append(
            {
                "booking_id": f"B{n:06d}",
                "guest_id": f"G{rng.randint(1, len(out.guests)):05d}",
                "property_id": prop,
                "room_type": room_type,
                "check_in_date": check_in,
                "check_out_date": check_out,
                "booking_date": booked,
                "total_amount": amount,
                "currency": "USD",
                "booking_status": status,
                "number_of_guests": rng.choices((1, 2, 3, 4), weights=(30, 50, 12, 8))[0],
            }
        )
    return out


# --- the exercise's files -----------------------------------------------------------------------


def write_files(data: Baseline, directory: Path) -> dict[str, Path]:
    """Write bookings.csv, guests.json and room_inventory.sql into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = {
        "bookings": directory / "bookings.csv",
        "guests": directory / "guests.json",
        "room_inventory": directory / "room_inventory.sql",
    }
    with paths["bookings"].open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=BOOKING_COLUMNS, lineterminator="\n")
        writer.writeheader()
        for row in data.bookings:
            writer.writerow({k: row[k] for k in BOOKING_COLUMNS})
    guests = [
        {**g, "created_at": _iso(g["created_at"]), "updated_at": _iso(g["updated_at"])}
        for g in data.guests
    ]
    paths["guests"].write_text(json.dumps(guests, indent=2) + "\n")
    lines = [
        "-- Room inventory: rooms and nightly rate per property and room type, by period.",
        "CREATE TABLE IF NOT EXISTS room_inventory (",
        "    property_id text NOT NULL,",
        "    room_type text NOT NULL,",
        "    room_count integer NOT NULL,",
        "    nightly_rate numeric(10, 2) NOT NULL,",
        "    effective_from date NOT NULL,",
        "    effective_to date,",
        "    PRIMARY KEY (property_id, room_type, effective_from)",
        ");",
        "",
        f"INSERT INTO room_inventory ({', '.join(INVENTORY_COLUMNS)}) VALUES",
    ]
    values = []
    for r in data.room_inventory:
        to = f"'{r['effective_to']}'" if r["effective_to"] else "NULL"
        values.append(
            f"    ('{r['property_id']}', '{r['room_type']}', {r['room_count']}, "
            f"{r['nightly_rate']:.2f}, '{r['effective_from']}', {to})"
        )
    paths["room_inventory"].write_text("\n".join(lines) + "\n" + ",\n".join(values) + ";\n")
    return paths


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def read_files(directory: Path) -> tuple[list[dict], list[dict], str]:
    """bookings.csv and guests.json as rows, room_inventory.sql as its text."""
    paths = [directory / n for n in ("bookings.csv", "guests.json", "room_inventory.sql")]
    for path in paths:
        if not path.is_file():
            raise HeadwaterError(f"{path}: no such file (seed --from needs all three files)")
    with paths[0].open(newline="") as f:
        reader = csv.DictReader(f)
        missing = set(BOOKING_COLUMNS) - set(reader.fieldnames or ())
        if missing:
            raise HeadwaterError(f"{paths[0]}: missing columns {', '.join(sorted(missing))}")
        bookings = [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]
    try:
        guests = json.loads(paths[1].read_text())
    except ValueError as exc:
        raise HeadwaterError(f"{paths[1]}: not valid JSON: {exc}") from None
    if not isinstance(guests, list) or not all(isinstance(g, dict) for g in guests):
        raise HeadwaterError(f"{paths[1]}: expected a JSON array of guest objects")
    return bookings, guests, paths[2].read_text()


# --- loading ------------------------------------------------------------------------------------


def _copy(conn, table: str, columns: Iterable[str], rows: Iterable[Iterable]) -> None:
    columns = list(columns)
    with conn.cursor().copy(
        sql.SQL("copy {} ({}) from stdin").format(
            sql.Identifier(table), sql.SQL(", ").join(sql.Identifier(c) for c in columns)
        )
    ) as copy:
        for row in rows:
            copy.write_row(row)


def load(
    url: str,
    bookings: list[dict],
    guests: list[dict],
    room_inventory: list[dict] | str,
) -> dict[str, int]:
    """Replace the source tables' contents (and empty the landing tables), in one transaction.

    `room_inventory` is rows, or the text of room_inventory.sql, which runs as SQL in a
    scratch schema (as `psql -f` would run it) and is copied from there.
    """
    from headwater.sources.hospitality.events import SPEC

    with db.connect(url, what="hospitality source", autocommit=True) as conn:
        ingest.prepare(conn, SPEC)
        with conn.transaction():
            conn.execute(schema_sql("hospitality"))
            conn.execute(
                sql.SQL("truncate {} restart identity").format(
                    sql.SQL(", ").join(sql.Identifier(t) for t in SOURCE_TABLES + LANDING_TABLES)
                )
            )
            try:
                _copy(
                    conn,
                    "guests",
                    GUEST_COLUMNS,
                    ([g.get(c) for c in GUEST_COLUMNS] for g in guests),
                )
                _copy(
                    conn,
                    "bookings",
                    (*BOOKING_COLUMNS, "booking_source"),
                    ([b.get(c) for c in (*BOOKING_COLUMNS, "booking_source")] for b in bookings),
                )
                if isinstance(room_inventory, str):
                    conn.execute("create schema if not exists _hospitality_import")
                    conn.execute("drop table if exists _hospitality_import.room_inventory")
                    conn.execute("set local search_path = _hospitality_import")
                    conn.execute(room_inventory)
                    conn.execute("set local search_path = public")
                    conn.execute(
                        "insert into public.room_inventory select {} from "
                        "_hospitality_import.room_inventory".replace(
                            "{}", ", ".join(INVENTORY_COLUMNS)
                        )
                    )
                    conn.execute("drop schema _hospitality_import cascade")
                else:
                    _copy(
                        conn,
                        "room_inventory",
                        INVENTORY_COLUMNS,
                        ([r[c] for c in INVENTORY_COLUMNS] for r in room_inventory),
                    )
            except Exception as exc:  # psycopg errors: a value or statement the database refused
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc)
                raise HeadwaterError(
                    f"hospitality seed: the source refused the data: {first}"
                ) from None
        return {
            t: conn.execute(
                sql.SQL("select count(*) from {}").format(sql.Identifier(t))
            ).fetchone()[0]
            for t in SOURCE_TABLES
        }


def seed(
    url: str | None = None,
    properties: int = DEFAULT_PROPERTIES,
    days: int = DEFAULT_DAYS,
    *,
    seed: int = DEFAULT_SEED,
    as_of: date = DEFAULT_AS_OF,
) -> dict[str, int]:
    """Generate the baseline and load it into the source (replacing what is there)."""
    data = baseline(properties, days, seed=seed, as_of=as_of)
    return load(
        url or config.source_url("hospitality"), data.bookings, data.guests, data.room_inventory
    )


def reset_landing(url: str | None = None) -> None:
    """Empty the landing tables (events, dead letters), keeping the baseline."""
    from headwater.sources.hospitality.events import SPEC

    url = url or config.source_url("hospitality")
    with db.connect(url, what="hospitality source", autocommit=True) as conn:
        ingest.prepare(conn, SPEC)
        conn.execute(
            sql.SQL("truncate {} restart identity").format(
                sql.SQL(", ").join(sql.Identifier(t) for t in LANDING_TABLES)
            )
        )


# --- the simulator ------------------------------------------------------------------------------


@dataclass
class SimulationStats:
    events: int = 0
    lines: int = 0
    duplicates: int = 0
    idempotency_retries: int = 0
    late: int = 0
    malformed: int = 0
    burst_bookings: int = 0
    with_booking_source: int = 0
    with_extra_fields: int = 0
    by_type: Counter = field(default_factory=Counter)
    first_event_at: str | None = None
    last_event_at: str | None = None

    def as_dict(self) -> dict:
        return {
            "events": self.events,
            "lines": self.lines,
            "duplicates": self.duplicates,
            "idempotency_retries": self.idempotency_retries,
            "late": self.late,
            "malformed": self.malformed,
            "burst_bookings": self.burst_bookings,
            "with_booking_source": self.with_booking_source,
            "with_extra_fields": self.with_extra_fields,
            "by_type": dict(sorted(self.by_type.items())),
            "first_event_at": self.first_event_at,
            "last_event_at": self.last_event_at,
        }


def _ts(value: datetime) -> str:
    return value.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Knobs:
    late_share: float = 0.07
    max_late_hours: float = 2.0
    duplicate_share: float = 0.025
    malformed_share: float = 0.005
    burst_bookings: int = 1000
    burst_minutes: float = 10.0
    booking_source_from: float = 0.5
    extra_field_share: float = 0.05


class _World:
    """What the simulator knows of the source while it invents the next event."""

    def __init__(self, base: Baseline, rng: random.Random, tag: str):
        self.rng = rng
        self.tag = tag
        self.base = base
        self.rates = base.current_rates()
        self.guests = [g["guest_id"] for g in base.guests]
        self.tiers = {g["guest_id"]: g["loyalty_tier"] for g in base.guests}
        self.guest_rows = {g["guest_id"]: g for g in base.guests}
        self.open: list[dict] = [
            dict(b) for b in base.bookings if b["booking_status"] == "Confirmed"
        ]
        self.in_house: list[dict] = [
            dict(b) for b in base.bookings if b["booking_status"] == "Checked-In"
        ]
        self.n_booking = 0
        self.n_guest = 0
        self.n_event = 0

    def event_id(self) -> str:
        self.n_event += 1
        return f"evt_{self.tag}_{self.n_event:08d}"


def simulate(
    events: int,
    rate: float,
    *,
    start: datetime | None = None,
    seed: int = 1,
    properties: int = DEFAULT_PROPERTIES,
    days: int = DEFAULT_DAYS,
    baseline_seed: int = DEFAULT_SEED,
    as_of: date = DEFAULT_AS_OF,
    knobs: Knobs | None = None,
    stats: SimulationStats | None = None,
) -> Iterator[tuple[float, bytes]]:
    """Yield (arrival epoch seconds, JSON line) in arrival order: `events` distinct events
    (before duplicates) at `rate` events per second of event time."""
    if events < 0:
        raise HeadwaterError(f"events must not be negative, got {events}")
    if not rate > 0:
        raise HeadwaterError(f"rate must be positive, got {rate}")
    knobs = knobs or Knobs()
    stats = stats if stats is not None else SimulationStats()
    base = baseline(properties, days, seed=baseline_seed, as_of=as_of)
    start = start or datetime.combine(as_of, datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    rng = random.Random(f"hospitality-simulate:{seed}:{start.isoformat()}")
    world = _World(base, rng, f"{start:%Y%m%d%H%M}s{seed}")
    # A third of the way in, or from the start when the burst is (almost) all there is.
    burst = min(knobs.burst_bookings, events)
    burst_at = max(0, min(events // 3, events - burst))
    burst_gap = knobs.burst_minutes * 60 / burst if burst else 0
    clock = start
    out: list[tuple[float, bytes]] = []
    for i in range(events):
        in_burst = burst_at <= i < burst_at + burst
        gap = burst_gap if in_burst else rng.expovariate(rate)
        clock += timedelta(milliseconds=max(1, round(gap * 1000)))
        if in_burst:
            event = _new_booking(
                world, clock, i / max(1, events) >= knobs.booking_source_from, stats
            )
            stats.burst_bookings += 1
        else:
            event = _next_event(
                world, clock, i / max(1, events) >= knobs.booking_source_from, stats
            )
        if rng.random() < knobs.extra_field_share:
            event["trace_id"] = f"{rng.getrandbits(64):016x}"
            if "data" in event:
                event["data"]["channel_manager"] = rng.choice(("siteminder", "d-edge", "none"))
            stats.with_extra_fields += 1
        stats.events += 1
        stats.by_type[event.get("event_type", "guest.debezium")] += 1
        stats.first_event_at = stats.first_event_at or _ts(clock)
        stats.last_event_at = _ts(clock)
        delay = rng.uniform(0.05, 0.5)
        if rng.random() < knobs.late_share:
            delay = rng.uniform(0.5, knobs.max_late_hours) * 3600
            stats.late += 1
        arrival = clock + timedelta(seconds=delay)
        if "event_type" in event and event["event_type"].startswith("booking."):
            event["processing_timestamp"] = _ts(arrival)
        if rng.random() < knobs.malformed_share:
            out.append((arrival.timestamp(), _malformed(rng, event)))
            stats.malformed += 1
            continue
        out.append((arrival.timestamp(), ingest.dumps(event)))
        if rng.random() < knobs.duplicate_share:
            again = json.loads(json.dumps(event))
            later = arrival + timedelta(milliseconds=rng.randint(100, 500))
            if "processing_timestamp" in again:
                again["processing_timestamp"] = _ts(later)
                if rng.random() < 1 / 3:  # a retry: new event id, same idempotency key
                    again["event_id"] = world.event_id()
                    stats.idempotency_retries += 1
            out.append((later.timestamp(), ingest.dumps(again)))
            stats.duplicates += 1
    out.sort(key=lambda item: item[0])
    stats.lines += len(out)
    yield from out


def _new_booking(world: _World, at: datetime, with_source: bool, stats: SimulationStats) -> dict:
    rng = world.rng
    world.n_booking += 1
    booking_id = f"BK{world.tag}-{world.n_booking:06d}"
    prop = rng.choice(property_ids(world.base.properties))
    room_type = rng.choices([t[0] for t in ROOM_TYPES], weights=[t[3] for t in ROOM_TYPES])[0]
    lead = min(int(rng.gammavariate(1.2, 18)), 180)
    nights = rng.choices(range(1, 8), weights=(30, 25, 18, 10, 7, 5, 5))[0]
    check_in = at.date() + timedelta(days=lead)
    data = {
        "booking_id": booking_id,
        "guest_id": rng.choice(world.guests),
        "property_id": prop,
        "room_type": room_type,
        "check_in_date": check_in.isoformat(),
        "check_out_date": (check_in + timedelta(days=nights)).isoformat(),
        "booking_date": at.date().isoformat(),
        "total_amount": _money(nights * world.rates[prop, room_type] * rng.uniform(0.85, 1.15)),
        "currency": "USD",
        "booking_status": "Confirmed",
        "number_of_guests": rng.choices((1, 2, 3, 4), weights=(30, 50, 12, 8))[0],
    }
    if with_source:
        data["booking_source"] = rng.choice(BOOKING_SOURCES)
        stats.with_booking_source += 1
    world.open.append(
        {
            **data,
            "check_in_date": check_in,
            "check_out_date": check_in + timedelta(days=nights),
        }
    )
    return {
        "event_id": world.event_id(),
        "event_type": "booking.created",
        "event_timestamp": _ts(at),
        "operation": "INSERT",
        "source_system": rng.choice(("booking-api", "channel-manager", "pms-frontend")),
        "data": data,
    }


def _booking_update(world: _World, at: datetime, kind: str, booking: dict, data: dict) -> dict:
    event = {
        "event_id": world.event_id(),
        "event_type": kind,
        "event_timestamp": _ts(at),
        "operation": "UPDATE",
        "source_system": "pms-frontend" if "checked" in kind else "booking-api",
        "data": {"booking_id": booking["booking_id"], **data},
        "changed_fields": sorted(k for k in data if k not in ("updated_at", "cancelled_at")),
    }
    return event


def _pop(rng: random.Random, pool: list[dict], when=None) -> dict | None:
    candidates = [i for i, b in enumerate(pool) if when is None or when(b)]
    if not candidates:
        return None
    return pool.pop(
        rng.choice(candidates[-200:]) if len(candidates) > 200 else rng.choice(candidates)
    )


def _next_event(world: _World, at: datetime, with_source: bool, stats: SimulationStats) -> dict:
    rng = world.rng
    roll = rng.random()
    today = at.date()
    if roll < 0.34:
        return _new_booking(world, at, with_source, stats)
    if roll < 0.44 and world.open:  # modification: dates and amount
        b = rng.choice(world.open)
        shift = rng.choice((-2, -1, 1, 2, 3))
        check_in = max(today, b["check_in_date"] + timedelta(days=shift))
        nights = (b["check_out_date"] - b["check_in_date"]).days + rng.choice((0, 0, 1))
        b["check_in_date"], b["check_out_date"] = check_in, check_in + timedelta(days=nights)
        amount = _money(
            nights * world.rates[b["property_id"], b["room_type"]] * rng.uniform(0.9, 1.2)
        )
        return _booking_update(
            world,
            at,
            "booking.updated",
            b,
            {
                "check_in_date": check_in.isoformat(),
                "check_out_date": b["check_out_date"].isoformat(),
                "total_amount": amount,
                "updated_at": _ts(at),
            },
        )
    if roll < 0.52 and world.open:
        b = _pop(rng, world.open)
        return _booking_update(
            world,
            at,
            "booking.cancelled",
            b,
            {
                "booking_status": "Cancelled",
                "cancellation_reason": rng.choice(("guest_request", "payment_failed", "duplicate")),
                "cancelled_at": _ts(at),
                "refund_amount": b["total_amount"],
            },
        )
    if roll < 0.56 and world.open:
        b = rng.choice(world.open)
        return _booking_update(world, at, "booking.confirmed", b, {"booking_status": "Confirmed"})
    if roll < 0.62:
        b = _pop(rng, world.open, lambda b: b["check_in_date"] <= today)
        if b is not None:
            world.in_house.append(b)
            return _booking_update(
                world,
                at,
                "booking.checked_in",
                b,
                {
                    "booking_status": "Checked-In",
                    "actual_check_in": _ts(at),
                    "room_number": str(rng.randint(101, 999)),
                },
            )
    if roll < 0.68:
        b = _pop(rng, world.in_house, lambda b: b["check_out_date"] <= today)
        if b is not None:
            return _booking_update(
                world, at, "booking.checked_out", b, {"booking_status": "Checked-Out"}
            )
    if roll < 0.69:
        b = _pop(rng, world.open, lambda b: b["check_in_date"] <= today)
        if b is not None:
            return _booking_update(world, at, "booking.no_show", b, {"booking_status": "No-Show"})
    if roll < 0.75:
        return _guest_created(world, at)
    if roll < 0.82:
        return _guest_flat_update(world, at)
    if roll < 0.92:
        return _guest_debezium(world, at)
    return _price_update(world, at)


def _guest_created(world: _World, at: datetime) -> dict:
    rng = world.rng
    world.n_guest += 1
    guest_id = f"GN{world.tag}-{world.n_guest:05d}"
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    row = {
        "guest_id": guest_id,
        "name": f"{first} {last}",
        "email": f"{first.lower()}.{last.lower()}.{world.n_guest}@email.com",
        "phone": f"+1-555-{rng.randrange(10_000):04d}",
        "country": _weighted(rng, COUNTRIES),
        "loyalty_tier": "None",
        "created_at": _ts(at),
        "updated_at": _ts(at),
    }
    world.guests.append(guest_id)
    world.tiers[guest_id] = "None"
    world.guest_rows[guest_id] = row
    return {
        "event_id": world.event_id(),
        "event_type": "guest.created",
        "event_timestamp": _ts(at),
        "operation": "INSERT",
        "table": "guests",
        "data": row,
    }


def _next_tier(rng: random.Random, tier: str) -> str:
    order = [t[0] for t in LOYALTY_TIERS]
    i = order.index(tier)
    return order[min(len(order) - 1, i + 1)] if rng.random() < 0.8 or i == 0 else order[i - 1]


def _guest_flat_update(world: _World, at: datetime) -> dict:
    rng = world.rng
    guest_id = rng.choice(world.guests)
    old = world.tiers[guest_id]
    if rng.random() < 0.7:
        new = _next_tier(rng, old)
        world.tiers[guest_id] = new
        data, before, changed = {"loyalty_tier": new}, {"loyalty_tier": old}, ["loyalty_tier"]
    else:
        phone = f"+1-555-{rng.randrange(10_000):04d}"
        data, before, changed = {"phone": phone}, {"phone": None}, ["phone"]
    return {
        "event_id": world.event_id(),
        "event_type": "guest.updated",
        "event_timestamp": _ts(at),
        "operation": "UPDATE",
        "table": "guests",
        "data": {"guest_id": guest_id, **data, "updated_at": _ts(at)},
        "before": before,
        "changed_fields": changed,
    }


def _guest_debezium(world: _World, at: datetime) -> dict:
    rng = world.rng
    roll = rng.random()
    guest_id = rng.choice(world.guests)
    row = world.guest_rows[guest_id]
    before = {k: (_iso(v) if isinstance(v, datetime) else v) for k, v in row.items()}
    before["loyalty_tier"] = world.tiers[guest_id]
    if roll < 0.1 and len(world.guests) > 10:  # a real delete (GDPR erasure)
        op, after = "d", None
        world.guests.remove(guest_id)
    else:
        op = "u"
        after = dict(before)
        if roll < 0.6:
            after["email"] = f"{guest_id.lower()}.{rng.randrange(1000)}@mail.example"
        else:
            after["loyalty_tier"] = _next_tier(rng, before["loyalty_tier"])
            world.tiers[guest_id] = after["loyalty_tier"]
        after["updated_at"] = _ts(at)
        world.guest_rows[guest_id] = {**row, "email": after["email"]}
    ms = int(at.timestamp() * 1000)
    return {
        "schema": {
            "type": "struct",
            "fields": [{"field": k, "type": "string"} for k in GUEST_COLUMNS],
        },
        "payload": {
            "before": before,
            "after": after,
            "source": {
                "version": "2.5",
                "connector": "postgresql",
                "name": "mews-guests-db",
                "ts_ms": ms,
                "snapshot": "false",
                "db": "production",
                "table": "guests",
                "lsn": ms * 10 + rng.randrange(10),
            },
            "op": op,
            "ts_ms": ms + rng.randint(50, 200),
        },
    }


def _price_update(world: _World, at: datetime) -> dict:
    rng = world.rng
    prop = rng.choice(property_ids(world.base.properties))
    room_type = rng.choice([t[0] for t in ROOM_TYPES])
    return price_update_event(
        world, at, prop, room_type, at.date() + timedelta(days=rng.randint(0, 14))
    )


def price_update_event(
    world: _World, at: datetime, prop: str, room_type: str, effective: date
) -> dict:
    rng = world.rng
    old = world.rates[prop, room_type]
    new = _money(old * rng.uniform(0.9, 1.15))
    world.rates[prop, room_type] = new
    return {
        "event_id": world.event_id(),
        "event_type": "room.price_updated",
        "event_timestamp": _ts(at),
        "operation": "UPDATE",
        "source": "revenue-management-system",
        "data": {
            "property_id": prop,
            "room_type": room_type,
            "nightly_rate": new,
            "effective_date": effective.isoformat(),
            "previous_rate": old,
            "reason": rng.choice(("demand_surge", "seasonal", "competitor_match", "event")),
        },
    }


def rate_updates(
    properties: list[str],
    at: datetime,
    effective: date,
    *,
    seed: int = 1,
    base: Baseline | None = None,
) -> list[bytes]:
    """One price update per property and room type at `at`: many properties at once."""
    base = base or baseline()
    world = _World(
        base, random.Random(f"rates:{seed}:{at.isoformat()}"), f"rates{at:%Y%m%d%H%M}s{seed}"
    )
    lines = []
    for i, prop in enumerate(properties):
        for room_type, *_ in ROOM_TYPES:
            moment = at + timedelta(milliseconds=i)
            lines.append(
                ingest.dumps(price_update_event(world, moment, prop, room_type, effective))
            )
    return lines


def _malformed(rng: random.Random, event: dict) -> bytes:
    how = rng.randrange(6)
    event = json.loads(json.dumps(event))
    if "event_type" not in event:  # a Debezium envelope: an unknown op, or cut JSON
        how = 2 if how < 3 else 5
    data = event.get("data") or event.get("payload", {}).get("after") or {}
    if how == 0:
        data.pop("booking_id", None)
        data.pop("guest_id", None)
        data.pop("property_id", None)
    elif how == 1:
        if "total_amount" in data:
            data["total_amount"] = f"{data['total_amount']} USD"
        else:
            event["event_timestamp"] = "not a time"
    elif how == 2:
        if "event_timestamp" in event:
            event["event_timestamp"] = event["event_timestamp"].rstrip("Z")
        else:
            event["payload"]["op"] = "x"
    elif how == 3:
        if "booking_status" in data:
            data["booking_status"] = "Pending"
        else:
            event.pop("event_type", None)
            event.pop("payload", None)
    elif how == 4:
        if "check_in_date" in data:
            data["check_out_date"] = data["check_in_date"]
        else:
            event["event_id"] = 12345
    else:
        line = orjson.dumps(event)
        return line[: max(1, len(line) // 2)] + b"\n"
    return orjson.dumps(event) + b"\n"


def ingest_stream(
    events: int,
    rate: float,
    *,
    url: str | None = None,
    realtime: bool = False,
    progress: Callable[[int], None] | None = None,
    **kwargs,
) -> tuple[SimulationStats, ingest.IngestReport]:
    """Simulate and ingest; with `realtime`, `rate` lines a second of wall-clock time."""
    from headwater.generators.restaurant import _add
    from headwater.sources.hospitality.events import SPEC

    url = url or config.source_url("hospitality")
    stats = SimulationStats()
    stream = simulate(events, rate, stats=stats, **kwargs)
    if not realtime:
        report = ingest.ingest(
            SPEC, (line for _, line in stream), source="simulate", url=url, progress=progress
        )
        return stats, report
    # Lines go out in arrival order, `rate` a second: a late event arrives now, with its
    # old event time (a 2-hour-late event does not hold the stream back for 2 hours).
    total = ingest.IngestReport(SPEC.domain, "simulate")
    lines = [line for _, line in stream]
    per_second = max(1, round(rate))
    began = _time.monotonic()
    for second, first in enumerate(range(0, len(lines), per_second)):
        _add(
            total,
            ingest.ingest(SPEC, lines[first : first + per_second], source="simulate", url=url),
        )
        if progress:
            progress(total.received)
        wait = began + second + 1 - _time.monotonic()
        if wait > 0:
            _time.sleep(wait)
    return stats, total


# --- CLI ----------------------------------------------------------------------------------------


def _parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise click.BadParameter(f"{value!r} is not a date (YYYY-MM-DD)") from None


def _parse_start(value: str | None) -> datetime | None:
    if value is None:
        return None
    if value == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (or `now`)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("hospitality")
@click.option(
    "--properties",
    type=click.IntRange(1, 999),
    default=DEFAULT_PROPERTIES,
    show_default=True,
    help="Number of hotels.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=DEFAULT_DAYS,
    show_default=True,
    help="Days of booking history before --as-of.",
)
@click.option(
    "--seed",
    "rng_seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="Random seed: same seed, same data.",
)
@click.option(
    "--as-of",
    default=DEFAULT_AS_OF.isoformat(),
    show_default=True,
    help="The day the history ends (00:00 UTC).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Also write bookings.csv, guests.json and room_inventory.sql here.",
)
@click.option(
    "--from",
    "from_dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Load these three files instead of generating.",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def seed_command(
    properties: int,
    days: int,
    rng_seed: int,
    as_of: str,
    out_dir: str | None,
    from_dir: str | None,
    as_json: bool,
) -> None:
    """Create the hospitality source and fill it with a deterministic baseline (bookings,
    guests, room inventory), replacing what is there and emptying the landing tables.

    \b
    Examples:
      headwater seed hospitality --properties 20 --days 30
      headwater seed hospitality --properties 5 --days 7 --out baseline/
      headwater seed hospitality --from baseline/
    """
    from headwater import cli

    url = config.source_url("hospitality")
    if from_dir and out_dir:
        raise HeadwaterError("--from and --out exclude each other: choose one")
    with cli.steps("seeding hospitality", quiet=as_json) as step:
        if from_dir:
            step("reading files")
            bookings, guests, inventory = read_files(Path(from_dir))
            step("loading")
            counts = load(url, bookings, guests, inventory)
        else:
            data = baseline(properties, days, seed=rng_seed, as_of=_parse_day(as_of))
            if out_dir:
                step("writing files")
                write_files(data, Path(out_dir))
            step("loading")
            counts = load(url, data.bookings, data.guests, data.room_inventory)
    cli.print_counts(counts, "hospitality source seeded", as_json)


@click.command("hospitality")
@click.option(
    "--events",
    type=click.IntRange(0, 100_000_000),
    required=True,
    help="Distinct events to simulate (duplicates come on top).",
)
@click.option(
    "--rate",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Events per second of event time.",
)
@click.option(
    "--start",
    default=None,
    help="Event time of the first event (ISO 8601 or `now`; default: --as-of 10:00 UTC).",
)
@click.option("--out", "out", default=None, help="Write JSON lines here (- is stdout).")
@click.option("--ingest", "do_ingest", is_flag=True, help="Ingest into the landing tables instead.")
@click.option(
    "--realtime", is_flag=True, help="Release events at their arrival times (with --ingest)."
)
@click.option("--seed", type=int, default=1, show_default=True, help="Random seed of the stream.")
@click.option(
    "--properties",
    type=click.IntRange(1, 999),
    default=DEFAULT_PROPERTIES,
    show_default=True,
    help="The baseline's --properties.",
)
@click.option(
    "--days",
    type=click.IntRange(1, 3650),
    default=DEFAULT_DAYS,
    show_default=True,
    help="The baseline's --days.",
)
@click.option(
    "--baseline-seed",
    type=int,
    default=DEFAULT_SEED,
    show_default=True,
    help="The baseline's --seed.",
)
@click.option(
    "--as-of", default=DEFAULT_AS_OF.isoformat(), show_default=True, help="The baseline's --as-of."
)
@click.option(
    "--late-share",
    type=click.FloatRange(0, 1),
    default=0.07,
    show_default=True,
    help="Share of events arriving 30 min to --max-late-hours late.",
)
@click.option("--max-late-hours", type=click.FloatRange(0.5, 48), default=2.0, show_default=True)
@click.option(
    "--duplicate-share",
    type=click.FloatRange(0, 1),
    default=0.025,
    show_default=True,
    help="Share of events sent twice.",
)
@click.option(
    "--malformed-share",
    type=click.FloatRange(0, 1),
    default=0.005,
    show_default=True,
    help="Share of lines broken.",
)
@click.option(
    "--burst-bookings",
    type=click.IntRange(0),
    default=1000,
    show_default=True,
    help="Bookings created in one burst.",
)
@click.option(
    "--burst-minutes", type=click.FloatRange(min=0, min_open=True), default=10.0, show_default=True
)
@click.option(
    "--booking-source-from",
    type=click.FloatRange(0, 1),
    default=0.5,
    show_default=True,
    help="Where in the stream booking_source appears (0: from the start, 1: never).",
)
@click.option(
    "--extra-field-share",
    type=click.FloatRange(0, 1),
    default=0.05,
    show_default=True,
    help="Share of events with fields nobody has a column for.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def simulate_command(
    events: int,
    rate: float,
    start: str | None,
    out: str | None,
    do_ingest: bool,
    realtime: bool,
    seed: int,
    properties: int,
    days: int,
    baseline_seed: int,
    as_of: str,
    late_share: float,
    max_late_hours: float,
    duplicate_share: float,
    malformed_share: float,
    burst_bookings: int,
    burst_minutes: float,
    booking_source_from: float,
    extra_field_share: float,
    as_json: bool,
) -> None:
    """Simulate the hospitality event streams on top of the baseline: bookings through
    their lifecycle, guest CDC (flat and Debezium, with deletes) and room-rate updates,
    with late, duplicated and malformed events, a booking burst and schema evolution.
    Lines are in arrival order. Deterministic for a seed.

    \b
    Examples:
      headwater simulate hospitality --events 5000 --rate 20 --out events.jsonl
      headwater simulate hospitality --events 5000 --rate 100 --ingest
      headwater simulate hospitality --events 600 --rate 100 --ingest --realtime
    """
    from headwater.cli import _Counter, print_counts

    if out and do_ingest:
        raise HeadwaterError("--out and --ingest exclude each other: choose one")
    if realtime and not do_ingest:
        raise HeadwaterError("--realtime needs --ingest")
    knobs = Knobs(
        late_share=late_share,
        max_late_hours=max_late_hours,
        duplicate_share=duplicate_share,
        malformed_share=malformed_share,
        burst_bookings=burst_bookings,
        burst_minutes=burst_minutes,
        booking_source_from=booking_source_from,
        extra_field_share=extra_field_share,
    )
    kwargs = dict(
        start=_parse_start(start),
        seed=seed,
        properties=properties,
        days=days,
        baseline_seed=baseline_seed,
        as_of=_parse_day(as_of),
        knobs=knobs,
    )
    if do_ingest:
        with _Counter("ingesting", quiet=as_json) as progress:
            stats, report = ingest_stream(
                events, rate, realtime=realtime, progress=progress, **kwargs
            )
        summary = {"simulated": stats.as_dict(), "ingested": report.as_dict()}
    else:
        if out is None and sys.stdout.isatty():
            raise HeadwaterError("give --out FILE or --ingest (or redirect standard output)")
        stats = SimulationStats()
        stream = sys.stdout.buffer if out in (None, "-") else open(out, "wb")  # noqa: SIM115
        try:
            buffer = []
            for _, line in simulate(events, rate, stats=stats, **kwargs):
                buffer.append(line)
                if len(buffer) >= 10_000:
                    stream.write(b"".join(buffer))
                    buffer = []
            stream.write(b"".join(buffer))
            stream.flush()
        finally:
            if stream is not sys.stdout.buffer:
                stream.close()
        summary = {"simulated": stats.as_dict()}
    if as_json:
        click.echo(
            orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode(),
            err=out in (None, "-") and not do_ingest,
        )
        return
    counts = {f"{k} events": v for k, v in stats.by_type.items()}
    counts |= {
        "lines written": stats.lines,
        "duplicates": stats.duplicates,
        "late (30 min - 2 h)": stats.late,
        "malformed": stats.malformed,
        "burst bookings": stats.burst_bookings,
    }
    if do_ingest:
        counts |= {
            "accepted": report.accepted,
            "recognised duplicates": report.duplicates,
            "dead-lettered": report.dead_lettered,
        }
    if out in (None, "-") and not do_ingest:
        click.echo(orjson.dumps(summary).decode(), err=True)
    else:
        print_counts(counts, "hospitality events", False)


# --- demo ---------------------------------------------------------------------------------------

DEMO_DAYS = 14


def _demo_properties(scale: float) -> int:
    return max(3, min(999, round(10 * scale)))


def demo_seed(scale: float) -> dict[str, int]:
    """A baseline and the first 2,000 events of the day (with a 300-booking burst)."""
    url = config.source_url("hospitality")
    properties = _demo_properties(scale)
    counts = seed(url, properties, DEMO_DAYS)
    _, report = ingest_stream(
        max(500, round(2000 * scale)),
        5.0,
        url=url,
        properties=properties,
        days=DEMO_DAYS,
        knobs=Knobs(burst_bookings=300, malformed_share=0.02),
    )
    return {**counts, "events accepted": report.accepted, "dead-lettered": report.dead_lettered}


def demo_change(scale: float) -> dict[str, int]:
    """The next stretch of the day: new bookings, late cancellations, rate changes."""
    properties = _demo_properties(scale)
    n = max(500, round(2000 * scale))
    start = datetime.combine(DEFAULT_AS_OF, datetime.min.time(), tzinfo=UTC) + timedelta(
        hours=10, seconds=n / 5.0 + 60
    )
    _, report = ingest_stream(
        n // 2,
        5.0,
        start=start,
        seed=2,
        properties=properties,
        days=DEMO_DAYS,
        knobs=Knobs(burst_bookings=0),
    )
    return {
        "new events": report.accepted,
        "duplicates recognised": report.duplicates,
        "dead-lettered": report.dead_lettered,
    }


DEMO_REPORT = {
    "Tonight and the next nights: occupancy, ADR, RevPAR (all properties)": """
        select stay_date, sum(rooms_sold) as rooms_sold, sum(rooms_available) as rooms,
               round(sum(rooms_sold) * 100.0 / nullif(sum(rooms_available), 0), 1) as occupancy_pct,
               round(sum(room_revenue) / nullif(sum(rooms_sold), 0), 2) as adr,
               round(sum(room_revenue) / nullif(sum(rooms_available), 0), 2) as revpar
        from analytics.fct_hospitality_occupancy_nightly
        where stay_date between date '2024-11-01' and date '2024-11-07'
        group by stay_date
        order by stay_date
    """,
    "Booking funnel (last hour and day of events)": """
        select property_id, created_last_hour, cancelled_last_hour, checked_in_last_hour,
               created_last_day, cancelled_last_day, checked_in_last_day
        from analytics.fct_hospitality_booking_funnel
        order by created_last_day desc, property_id
        limit 5
    """,
    "Bookings by source (booking_source appeared mid-stream)": """
        select booking_source, count(*) as bookings, sum(total_amount) as amount
        from analytics.fct_hospitality_bookings
        group by booking_source
        order by bookings desc
    """,
}
