"""Restaurant order events: a deterministic simulator of a 20,000-location chain's day.

Every party is a small story told by up to four events: `table_seated`, then (for about
97% of parties) `order_placed` with its items, `order_completed` with the kitchen time and
`payment`. Volume follows the day: about 1 order/s overnight and 100 orders/s through the
lunch and dinner rushes (11:30-14:00 and 18:00-20:30 UTC, with half-hour ramps), about
2.2M orders and 9M events a day at `scale` 1. The chain keeps one clock (UTC), so every
location peaks at the same time, as the specification's capacity figures assume.

What arrives is what real restaurant systems send:

* about 2% of events twice (same `event_id`, resent up to a minute later);
* arrival after the event: a fraction of a second usually, up to 5 minutes for about 7%
  (tablets that lost the network), so events arrive out of order;
* about 0.1% malformed: a missing field, a wrong type, a bad timestamp, broken JSON.

Determinism: parties are generated per UTC hour from `(seed, hour)`, and a window emits the
events that *arrive* within it. So consecutive windows (`--start 12:00 --hours 1`, then
`--start 13:00 --hours 1`) together emit exactly what one two-hour window emits, with
nothing missing and nothing twice; demos and tests replay "the next 30 minutes" that way.

Reference data is fixed (it does not depend on the seed): locations `loc_00001` …
named like "Chicago - River North", 120 tables each, eight servers each, and one menu of
48 items in 8 categories whose popularity shifts between lunch and dinner.
"""

from __future__ import annotations

import functools
import gzip
import logging
import math
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import numpy as np
import orjson
from psycopg import sql

from headwater import config, db, ingest
from headwater.errors import HeadwaterError

log = logging.getLogger(__name__)

LOCATIONS = 20_000
TABLES_PER_BLOCK = 40  # tables used by one hour's parties at a location; 3 blocks rotate
TABLES = 3 * TABLES_PER_BLOCK
SERVERS_PER_LOCATION = 8
DEFAULT_START = datetime(2025, 1, 15, tzinfo=UTC)
# Orders per second: the overnight base and the plateau of the two rushes (UTC hours).
BASE_RATE = 1.0
PEAK_RATE = 100.0
RUSHES = ((11.5, 14.0), (18.0, 20.5))
RAMP_HOURS = 0.5
NO_ORDER_SHARE = 0.03  # parties that leave before ordering
DUPLICATE_SHARE = 0.02
LATE_SHARE = 0.07
MAX_LATE_SECONDS = 300.0
MALFORMED_SHARE = 0.001
# A party leaves within two hours: tables are reused three hours later (see TABLES_PER_BLOCK).
MAX_VISIT_SECONDS = 2 * 3600
# How far before a window parties may have been seated and still send events into it.
_LOOKBEHIND_HOURS = 3

CITIES = (
    ("New York", 0.08875),
    ("Chicago", 0.1025),
    ("Los Angeles", 0.095),
    ("Houston", 0.0825),
    ("Phoenix", 0.086),
    ("Philadelphia", 0.08),
    ("San Antonio", 0.0825),
    ("San Diego", 0.0775),
    ("Dallas", 0.0825),
    ("Austin", 0.0825),
    ("Seattle", 0.1035),
    ("Denver", 0.0881),
    ("Boston", 0.07),
    ("Nashville", 0.0925),
    ("Portland", 0.0),
    ("Atlanta", 0.089),
    ("Miami", 0.07),
    ("Minneapolis", 0.08875),
    ("San Francisco", 0.08625),
    ("Las Vegas", 0.08375),
    ("Detroit", 0.06),
    ("Charlotte", 0.0725),
    ("Columbus", 0.08),
    ("Indianapolis", 0.07),
    ("Kansas City", 0.0885),
    ("St. Louis", 0.09679),
    ("Pittsburgh", 0.07),
    ("Baltimore", 0.06),
    ("Salt Lake City", 0.0775),
    ("New Orleans", 0.0945),
)
NEIGHBOURHOODS = (
    "River North",
    "Downtown",
    "Midtown",
    "Old Town",
    "West Loop",
    "Riverside",
    "Uptown",
    "Harbor Point",
    "Union Station",
    "University District",
    "Arts District",
    "Lakeview",
    "Market Square",
    "Airport",
    "Northgate",
    "Southside",
    "Eastwood",
    "Westfield",
    "Financial District",
    "Chinatown",
    "Little Italy",
    "Park Slope",
    "Hillcrest",
    "Oak Park",
    "Capitol Hill",
    "Mill Creek",
    "Cedar Grove",
    "Bayview",
    "Greenwood",
    "Fairview",
    "Brookside",
    "Maple Heights",
    "Stone Bridge",
    "Willow Bend",
    "Central Plaza",
    "Convention Center",
    "Stadium",
    "Old Mill",
    "Waterfront",
    "Garden District",
)
# (category, lunch weight, dinner weight, ((item_id, name, price), ...))
MENU = (
    (
        "Pizza",
        1.2,
        1.0,
        (
            ("item_101", "Margherita Pizza", 18.99),
            ("item_102", "Pepperoni Pizza", 19.99),
            ("item_103", "Four Cheese Pizza", 20.49),
            ("item_104", "Mushroom & Truffle Pizza", 22.99),
            ("item_105", "Spicy Sausage Pizza", 21.49),
            ("item_106", "Veggie Garden Pizza", 19.49),
        ),
    ),
    (
        "Salad",
        1.6,
        0.6,
        (
            ("item_205", "Caesar Salad", 12.99),
            ("item_206", "Greek Salad", 12.49),
            ("item_207", "Cobb Salad", 14.99),
            ("item_208", "Kale & Quinoa Salad", 13.99),
            ("item_209", "Caprese Salad", 11.99),
            ("item_210", "House Salad", 8.99),
        ),
    ),
    (
        "Pasta",
        0.8,
        1.4,
        (
            ("item_301", "Spaghetti Carbonara", 17.99),
            ("item_302", "Fettuccine Alfredo", 16.99),
            ("item_303", "Penne Arrabbiata", 15.49),
            ("item_304", "Lasagna Bolognese", 18.49),
            ("item_305", "Shrimp Linguine", 21.99),
            ("item_306", "Mushroom Risotto", 19.49),
        ),
    ),
    (
        "Burger",
        1.5,
        0.9,
        (
            ("item_401", "Classic Cheeseburger", 14.99),
            ("item_402", "Bacon BBQ Burger", 16.49),
            ("item_403", "Mushroom Swiss Burger", 15.99),
            ("item_404", "Veggie Burger", 13.99),
            ("item_405", "Chicken Sandwich", 13.49),
            ("item_406", "Fish Tacos", 14.49),
        ),
    ),
    (
        "Entree",
        0.5,
        1.6,
        (
            ("item_501", "Grilled Salmon", 26.99),
            ("item_502", "Ribeye Steak", 34.99),
            ("item_503", "Roast Chicken", 22.49),
            ("item_504", "Pork Chop", 24.99),
            ("item_505", "Eggplant Parmesan", 19.99),
            ("item_506", "Short Rib", 29.99),
        ),
    ),
    (
        "Appetizer",
        1.0,
        1.2,
        (
            ("item_601", "Garlic Knots", 7.99),
            ("item_602", "Mozzarella Sticks", 9.49),
            ("item_603", "Calamari", 13.99),
            ("item_604", "Bruschetta", 9.99),
            ("item_605", "Chicken Wings", 12.99),
            ("item_606", "Soup of the Day", 6.99),
        ),
    ),
    (
        "Dessert",
        0.6,
        1.3,
        (
            ("item_701", "Tiramisu", 8.99),
            ("item_702", "Chocolate Lava Cake", 9.49),
            ("item_703", "New York Cheesecake", 8.49),
            ("item_704", "Gelato Trio", 7.49),
            ("item_705", "Cannoli", 6.99),
            ("item_706", "Apple Crumble", 7.99),
        ),
    ),
    (
        "Drinks",
        1.1,
        1.5,
        (
            ("item_801", "Iced Tea", 3.49),
            ("item_802", "Lemonade", 3.99),
            ("item_803", "Craft Beer", 7.49),
            ("item_804", "House Red Wine", 9.99),
            ("item_805", "Espresso", 3.29),
            ("item_806", "Sparkling Water", 2.99),
        ),
    ),
)
PAYMENT_METHODS = ("credit_card", "debit_card", "cash", "mobile_wallet", "gift_card")
PAYMENT_SHARES = (0.70, 0.15, 0.08, 0.06, 0.01)
TIP_RATES = (0.0, 0.10, 0.15, 0.18, 0.20, 0.22, 0.25)
TIP_SHARES = (0.06, 0.06, 0.22, 0.26, 0.26, 0.09, 0.05)
EVENT_TYPES = ("table_seated", "order_placed", "order_completed", "payment")


# --- reference data (fixed, independent of the seed) -------------------------------------------


@dataclass(frozen=True)
class Chain:
    location_ids: list[str]
    location_names: list[str]
    location_city: np.ndarray  # index into CITIES
    location_weight: np.ndarray  # relative busyness, sums to 1
    item_ids: list[str]
    item_names: list[str]
    item_categories: list[str]
    item_price_cents: np.ndarray
    item_lunch_weight: np.ndarray
    item_dinner_weight: np.ndarray


@functools.cache
def chain(locations: int = LOCATIONS) -> Chain:
    """The chain's locations and menu. The first N locations are the same for any N."""
    if not 1 <= locations <= 99_999:
        raise HeadwaterError(f"locations must be between 1 and 99,999, got {locations:,}")
    rng = np.random.default_rng(20250115)
    full = 99_999
    city = rng.integers(0, len(CITIES), full)[:locations]
    hood = rng.integers(0, len(NEIGHBOURHOODS), full)[:locations]
    busy = rng.lognormal(0.0, 0.35, full)[:locations]
    seen: Counter = Counter()
    names = []
    for c, h in zip(city.tolist(), hood.tolist(), strict=True):
        base = f"{CITIES[c][0]} - {NEIGHBOURHOODS[h]}"
        seen[base] += 1
        names.append(base if seen[base] == 1 else f"{base} {seen[base]}")
    items = [(cat, lw, dw, item) for cat, lw, dw, entries in MENU for item in entries]
    # A long tail: the first items of each category sell far more than the last.
    rank = np.array([i % 6 for i in range(len(items))], dtype=float)
    base = 1.0 / (1.0 + rank) ** 0.9
    return Chain(
        location_ids=[f"loc_{i:05d}" for i in range(1, locations + 1)],
        location_names=names,
        location_city=city,
        location_weight=busy / busy.sum(),
        item_ids=[item[0] for _, _, _, item in items],
        item_names=[item[1] for _, _, _, item in items],
        item_categories=[cat for cat, _, _, _ in items],
        item_price_cents=np.array([round(item[2] * 100) for _, _, _, item in items]),
        item_lunch_weight=base * np.array([lw for _, lw, _, _ in items]),
        item_dinner_weight=base * np.array([dw for _, _, dw, _ in items]),
    )


def orders_per_second(hour_of_day: np.ndarray | float) -> np.ndarray:
    """The chain's order rate at a UTC hour of day (fractional hours)."""
    h = np.asarray(hour_of_day, dtype=float) % 24
    rate = np.full_like(h, BASE_RATE)
    for start, end in RUSHES:
        up = np.clip((h - (start - RAMP_HOURS)) / RAMP_HOURS, 0, 1)
        down = np.clip(((end + RAMP_HOURS) - h) / RAMP_HOURS, 0, 1)
        rate = np.maximum(rate, BASE_RATE + (PEAK_RATE - BASE_RATE) * np.minimum(up, down))
    return rate


# --- one hour of parties --------------------------------------------------------------------------


@dataclass
class _Parties:
    """Parties seated in a span of hours, as columns."""

    key: np.ndarray  # globally unique party number: hour * 1e6 + index
    location: np.ndarray
    table: np.ndarray
    server: np.ndarray
    party_size: np.ndarray
    has_order: np.ndarray
    seated: np.ndarray  # epoch seconds
    placed: np.ndarray
    completed: np.ndarray
    paid: np.ndarray
    kitchen_minutes: np.ndarray
    line_start: np.ndarray  # first line of the party in the line arrays
    line_count: np.ndarray
    line_item: np.ndarray
    line_quantity: np.ndarray
    subtotal_cents: np.ndarray
    tax_cents: np.ndarray
    tip_cents: np.ndarray
    method: np.ndarray


def _hour(hour_number: int, seed: int, scale: float, chain_: Chain) -> dict[str, np.ndarray]:
    rng = np.random.default_rng([seed, hour_number, 6])
    start = hour_number * 3600
    seconds = np.arange(3600)
    rates = orders_per_second((hour_number % 24) + seconds / 3600.0) * scale / (1 - NO_ORDER_SHARE)
    per_second = rng.poisson(rates)
    seated = start + np.repeat(seconds, per_second) + rng.random(per_second.sum())
    n = len(seated)
    location = rng.choice(len(chain_.location_ids), size=n, p=chain_.location_weight)
    # Tables: the k-th party of the hour at a location takes the k-th table of this hour's
    # block of 40; blocks rotate every three hours, longer than any visit.
    order = np.lexsort((seated, location))
    rank = np.empty(n, dtype=np.int64)
    if n:
        sorted_loc = location[order]
        first = np.r_[0, np.flatnonzero(np.diff(sorted_loc)) + 1]
        starts = np.repeat(first, np.diff(np.r_[first, n]))
        rank[order] = np.arange(n) - starts
    table = (hour_number % 3) * TABLES_PER_BLOCK + rank % TABLES_PER_BLOCK
    wait = np.clip(rng.lognormal(np.log(8 * 60), 0.45, n), 60, 45 * 60)
    kitchen_minutes = np.clip(np.rint(rng.lognormal(np.log(18), 0.35, n)), 5, 55).astype(np.int64)
    placed = seated + wait
    completed = placed + kitchen_minutes * 60 + rng.random(n) * 59
    linger = np.clip(rng.lognormal(np.log(20 * 60), 0.5, n), 3 * 60, 90 * 60)
    paid = np.minimum(completed + linger, seated + MAX_VISIT_SECONDS)
    party_size = np.clip(1 + rng.binomial(5, 0.3, n) + (rng.random(n) < 0.02) * 6, 1, 12)
    line_count = np.clip(1 + rng.poisson(1.4, n) + party_size // 3, 1, 10)
    lines = int(line_count.sum())
    lunch = abs((hour_number % 24) + 0.5 - 12.75) < abs((hour_number % 24) + 0.5 - 19.25)
    weights = chain_.item_lunch_weight if lunch else chain_.item_dinner_weight
    line_item = rng.choice(len(weights), size=lines, p=weights / weights.sum())
    line_quantity = 1 + rng.binomial(3, 0.15, lines)
    line_start = np.r_[0, np.cumsum(line_count)[:-1]] if n else np.zeros(0, dtype=np.int64)
    amounts = chain_.item_price_cents[line_item] * line_quantity
    subtotal = np.add.reduceat(amounts, line_start) if n else np.zeros(0, dtype=np.int64)
    tax_rate = np.array([c[1] for c in CITIES])[chain_.location_city[location]]
    tax = np.rint(subtotal * tax_rate).astype(np.int64)
    tip = np.rint(subtotal * rng.choice(TIP_RATES, size=n, p=TIP_SHARES)).astype(np.int64)
    return {
        "key": hour_number * 1_000_000 + np.arange(n),
        "location": location,
        "table": table,
        "server": rng.integers(0, SERVERS_PER_LOCATION, n),
        "party_size": party_size,
        "has_order": rng.random(n) >= NO_ORDER_SHARE,
        "seated": seated,
        "placed": placed,
        "completed": completed,
        "paid": paid,
        "kitchen_minutes": kitchen_minutes,
        "line_start": line_start,
        "line_count": line_count,
        "line_item": line_item,
        "line_quantity": line_quantity,
        "subtotal_cents": subtotal,
        "tax_cents": tax,
        "tip_cents": tip,
        "method": rng.choice(len(PAYMENT_METHODS), size=n, p=PAYMENT_SHARES),
    }


def _parties(first_hour: int, last_hour: int, seed: int, scale: float, chain_: Chain) -> _Parties:
    hours = [_hour(h, seed, scale, chain_) for h in range(first_hour, last_hour + 1)]
    merged: dict[str, np.ndarray] = {}
    offset = 0
    for name in hours[0]:
        parts = []
        offset = 0
        for h in hours:
            part = h[name]
            if name == "line_start":
                part = part + offset
                offset += int(h["line_count"].sum())
            parts.append(part)
        merged[name] = np.concatenate(parts)
    return _Parties(**merged)


# --- events in arrival order --------------------------------------------------------------------


@dataclass
class SimulationStats:
    start: datetime
    hours: float
    seed: int
    scale: float
    locations: int
    lines: int = 0
    events_by_type: Counter = field(default_factory=Counter)
    duplicates: int = 0
    late: int = 0
    malformed: int = 0
    orders: int = 0

    def as_dict(self) -> dict:
        return {
            "start": self.start.isoformat(),
            "hours": self.hours,
            "seed": self.seed,
            "scale": self.scale,
            "locations": self.locations,
            "lines": self.lines,
            "events": sum(self.events_by_type.values()),
            "events_by_type": dict(self.events_by_type),
            "orders": self.orders,
            "duplicates": self.duplicates,
            "late_over_5s": self.late,
            "malformed": self.malformed,
        }


def _iso(seconds: np.ndarray) -> list[str]:
    stamps = np.datetime_as_string((seconds * 1000).astype("datetime64[ms]"), unit="ms")
    return [s + "Z" for s in stamps.tolist()]


def simulate(
    start: datetime = DEFAULT_START,
    hours: float = 1.0,
    *,
    seed: int = 0,
    scale: float = 1.0,
    locations: int = LOCATIONS,
    stats: SimulationStats | None = None,
) -> Iterator[tuple[float, bytes]]:
    """Yield (arrival time as epoch seconds, JSON line) for the events arriving in the window."""
    if hours <= 0:
        raise HeadwaterError(f"--hours must be positive, got {hours:g}")
    if scale <= 0:
        raise HeadwaterError(f"--scale must be positive, got {scale:g}")
    if start.tzinfo is None:
        raise HeadwaterError("the start of a simulation needs a time zone")
    chain_ = chain(locations)
    stats = stats if stats is not None else SimulationStats(start, hours, seed, scale, locations)
    begin = start.timestamp()
    end = begin + hours * 3600
    first_hour = math.floor(begin / 3600) - _LOOKBEHIND_HOURS
    last_hour = math.ceil(end / 3600)
    p = _parties(first_hour, last_hour, seed, scale, chain_)
    n = len(p.key)

    # Four candidate events per party; parties without an order send only the seating.
    party = np.tile(np.arange(n), 4)
    kind = np.repeat(np.arange(4), n)
    occurred = np.concatenate([p.seated, p.placed, p.completed, p.paid])
    keep = (kind == 0) | np.tile(p.has_order, 4)
    party, kind, occurred = party[keep], kind[keep], occurred[keep]
    # Everything about an event's delivery is drawn from its own key, not from the
    # window, so that any window sees the same delays, copies and breakage.
    event_key = p.key[party] * 4 + kind
    # Arrival: a network delay, and for some events minutes of an offline tablet.
    delay = -0.4 * np.log1p(-_uniform(event_key, seed, 1))
    late = _uniform(event_key, seed, 2) < LATE_SHARE
    delay[late] = 5 + _uniform(event_key[late], seed, 3) * (MAX_LATE_SECONDS - 5)
    arrival = occurred + delay
    # Resent events: the same event again, a little later.
    resent = _uniform(event_key, seed, 4) < DUPLICATE_SHARE
    copies = np.flatnonzero(resent)
    event = np.r_[np.arange(len(occurred)), copies]
    arrival = np.r_[arrival, arrival[copies] + 0.1 + _uniform(event_key[copies], seed, 5) * 60]
    is_copy = np.r_[np.zeros(len(occurred), bool), np.ones(len(copies), bool)]
    inside = (arrival >= begin) & (arrival < end)
    event, arrival, is_copy = event[inside], arrival[inside], is_copy[inside]
    order = np.lexsort((is_copy, event_key[event], arrival))
    event, arrival, is_copy = event[order], arrival[order], is_copy[order]
    # Malformed: decided per event, so the copy of a broken event is broken the same way.
    malformed = _uniform(event_key, seed, 6) < MALFORMED_SHARE
    malformed_kind = (_uniform(event_key, seed, 7) * 6).astype(np.int64)

    stats.orders += int(
        np.count_nonzero((kind[event] == 1) & ~is_copy)
    )  # orders placed in the window
    stats.duplicates += int(is_copy.sum())
    stats.late += int(np.count_nonzero(arrival - occurred[event] > 5))
    chunk = 50_000
    for lo in range(0, len(event), chunk):
        idx = event[lo : lo + chunk]
        yield from _lines(
            p, party[idx], kind[idx], occurred[idx], arrival[lo : lo + chunk],
            malformed[idx], malformed_kind[idx], seed, chain_, stats,
        )  # fmt: skip


def _uniform(keys: np.ndarray, seed: int, salt: int) -> np.ndarray:
    """Uniform [0, 1) numbers, one per key, from a splitmix64 hash of (key, seed, salt)."""
    with np.errstate(over="ignore"):
        x = keys.astype(np.uint64) * np.uint64(0x9E3779B97F4A7C15)
        x ^= np.uint64((seed * 1_000_003 + salt) * 0xBF58476D1CE4E5B9 % 2**64)
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        x ^= x >> np.uint64(31)
    return (x >> np.uint64(11)).astype(np.float64) / float(2**53)


def _lines(p, party, kind, occurred, arrival, malformed, malformed_kind, seed, chain_, stats):
    stamps = _iso(occurred)
    keys = p.key[party].tolist()
    loc = p.location[party].tolist()
    tables = p.table[party].tolist()
    servers = p.server[party].tolist()
    sizes = p.party_size[party].tolist()
    kitchen = p.kitchen_minutes[party].tolist()
    subtotal = p.subtotal_cents[party].tolist()
    tax = p.tax_cents[party].tolist()
    tip = p.tip_cents[party].tolist()
    method = p.method[party].tolist()
    line_start = p.line_start[party].tolist()
    line_count = p.line_count[party].tolist()
    line_item = p.line_item
    line_quantity = p.line_quantity
    ids, names = chain_.location_ids, chain_.location_names
    item_ids, item_names, categories = chain_.item_ids, chain_.item_names, chain_.item_categories
    prices = chain_.item_price_cents
    prefix = f"{seed % 4096:03x}"
    for i, k in enumerate(kind.tolist()):
        key = keys[i]
        location = loc[i]
        event = {
            "event_id": f"evt_{prefix}{key * 4 + k:011x}",
            "event_type": EVENT_TYPES[k],
            "timestamp": stamps[i],
            "location_id": ids[location],
            "location_name": names[location],
            "table_id": f"table_{tables[i] + 1}",
        }
        if k == 0:
            event["party_size"] = sizes[i]
            event["server_id"] = f"server_{location * SERVERS_PER_LOCATION + servers[i] + 1}"
        else:
            event["order_id"] = f"ord_{prefix}{key:09x}"
            if k == 1:
                event["server_id"] = f"server_{location * SERVERS_PER_LOCATION + servers[i] + 1}"
                first = line_start[i]
                items = []
                for line in range(first, first + line_count[i]):
                    item = int(line_item[line])
                    items.append(
                        {
                            "item_id": item_ids[item],
                            "item_name": item_names[item],
                            "category": categories[item],
                            "price": int(prices[item]) / 100,
                            "quantity": int(line_quantity[line]),
                        }
                    )
                event["items"] = items
                event["subtotal"] = subtotal[i] / 100
            elif k == 2:
                event["kitchen_time_minutes"] = kitchen[i]
            else:
                event["subtotal"] = subtotal[i] / 100
                event["tax"] = tax[i] / 100
                event["tip"] = tip[i] / 100
                event["total_amount"] = (subtotal[i] + tax[i] + tip[i]) / 100
                event["payment_method"] = PAYMENT_METHODS[method[i]]
        stats.lines += 1
        stats.events_by_type[EVENT_TYPES[k]] += 1
        if malformed[i]:
            stats.malformed += 1
            yield float(arrival[i]), _break(event, int(malformed_kind[i]))
        else:
            yield float(arrival[i]), orjson.dumps(event) + b"\n"


def _break(event: dict, how: int) -> bytes:
    """One of the ways events arrive broken; every one must be dead-lettered."""
    event = dict(event)
    if how == 0:  # a required field missing
        event.pop("location_id")
    elif how == 1:  # a number sent as text
        field_ = {
            "table_seated": "party_size",
            "order_placed": "subtotal",
            "order_completed": "kitchen_time_minutes",
            "payment": "total_amount",
        }[event["event_type"]]
        event[field_] = f"{event[field_]} units"
    elif how == 2:  # a timestamp without a time zone
        event["timestamp"] = event["timestamp"].rstrip("Z")
    elif how == 3:  # a timestamp that is no time at all
        event["timestamp"] = "yesterday evening"
    elif how == 4:  # an id of the wrong type
        event["event_id"] = 12345
    else:  # cut off mid-line: not JSON
        line = orjson.dumps(event)
        return line[: max(1, len(line) // 2)] + b"\n"
    return orjson.dumps(event) + b"\n"


# --- landing --------------------------------------------------------------------------------------


def reset_landing(url: str | None = None) -> None:
    """Empty the landing tables (events, dead letters): the demo and tests start clean."""
    from headwater.sources.restaurant.events import SPEC

    url = url or config.source_url("restaurant")
    with db.connect(url, what="restaurant source", autocommit=True) as conn:
        ingest.prepare(conn, SPEC)
        conn.execute(
            sql.SQL("truncate {}, {} restart identity").format(
                sql.Identifier(SPEC.schema, "events"), sql.Identifier(SPEC.schema, "dead_letters")
            )
        )


def ingest_window(
    start: datetime,
    hours: float,
    *,
    seed: int = 0,
    scale: float = 1.0,
    locations: int = LOCATIONS,
    url: str | None = None,
    speedup: float | None = None,
    progress: Callable[[int], None] | None = None,
) -> tuple[SimulationStats, ingest.IngestReport]:
    """Simulate a window and ingest it. With `speedup`, events are ingested as they arrive
    (simulated time runs `speedup` times faster than the clock), one batch per second."""
    from headwater.sources.restaurant.events import SPEC

    url = url or config.source_url("restaurant")
    stats = SimulationStats(start, hours, seed, scale, locations)
    events = simulate(start, hours, seed=seed, scale=scale, locations=locations, stats=stats)
    if not speedup:
        report = ingest.ingest(
            SPEC, (line for _, line in events), source="simulate", url=url, progress=progress
        )
        return stats, report
    total = ingest.IngestReport(SPEC.domain, "simulate")
    for batch in _paced(events, start.timestamp(), speedup):
        part = ingest.ingest(SPEC, batch, source="simulate", url=url)
        _add(total, part)
        if progress:
            progress(total.received)
    return stats, total


def _paced(events, begin: float, speedup: float, tick: float = 1.0) -> Iterator[list[bytes]]:
    """Group events into one batch per `tick` seconds of wall-clock time, released when due."""
    started = time.monotonic()
    batch: list[bytes] = []
    due = tick
    for arrival, line in events:
        wall = (arrival - begin) / speedup
        while wall >= due:
            if batch:
                yield batch
                batch = []
            _sleep_until(started + due)
            due += tick
        batch.append(line)
    if batch:
        yield batch


def _sleep_until(moment: float) -> None:
    wait = moment - time.monotonic()
    if wait > 0:
        time.sleep(wait)


def _add(total: ingest.IngestReport, part: ingest.IngestReport) -> None:
    for name in ("received", "accepted", "duplicates", "dead_lettered", "batches", "seconds"):
        setattr(total, name, getattr(total, name) + getattr(part, name))
    for name in (
        "received_by_type",
        "accepted_by_table",
        "duplicates_by_table",
        "dead_letter_reasons",
    ):
        getattr(total, name).update(getattr(part, name))


def write_window(
    out: str,
    start: datetime,
    hours: float,
    *,
    seed: int = 0,
    scale: float = 1.0,
    locations: int = LOCATIONS,
    speedup: float | None = None,
) -> SimulationStats:
    """Simulate a window into a JSON-lines file (`.gz` compressed; `-` for standard output)."""
    stats = SimulationStats(start, hours, seed, scale, locations)
    events = simulate(start, hours, seed=seed, scale=scale, locations=locations, stats=stats)
    if out == "-":
        stream, close = sys.stdout.buffer, False
    else:
        path = Path(out)
        if path.is_dir():
            raise HeadwaterError(f"{out}: is a directory")
        stream = (
            gzip.open(path, "wb", compresslevel=3) if path.suffix == ".gz" else open(path, "wb")
        )  # noqa: SIM115
        close = True
    try:
        if speedup:
            for batch in _paced(events, start.timestamp(), speedup):
                stream.write(b"".join(batch))
                stream.flush()
        else:
            buffer: list[bytes] = []
            for _, line in events:
                buffer.append(line)
                if len(buffer) >= 10_000:
                    stream.write(b"".join(buffer))
                    buffer = []
            stream.write(b"".join(buffer))
        stream.flush()
    finally:
        if close:
            stream.close()
    return stats


# --- CLI -----------------------------------------------------------------------------------------


def _parse_start(value: str) -> datetime:
    if value == "now":
        return datetime.now(UTC).replace(microsecond=0)
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(f"{value!r} is not an ISO 8601 time (or `now`)") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@click.command("restaurant")
@click.option(
    "--hours", type=float, required=True, help="Length of the window of arrivals to simulate."
)
@click.option(
    "--start",
    default=DEFAULT_START.isoformat(),
    show_default=True,
    help="Start of the window (ISO 8601, UTC unless it says otherwise; `now` for now).",
)
@click.option(
    "--speedup",
    type=click.FloatRange(min=0, min_open=True),
    default=None,
    help="Release events in real time, this many times faster (e.g. 60: an hour a minute).",
)
@click.option(
    "--out", "out", default=None, help="Write JSON lines here (.gz compresses; - is stdout)."
)
@click.option("--ingest", "do_ingest", is_flag=True, help="Ingest into the landing tables instead.")
@click.option("--seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--scale",
    type=click.FloatRange(min=0, min_open=True),
    default=1.0,
    show_default=True,
    help="Fraction of the specification's volume (1 ≈ 9M events a day).",
)
@click.option(
    "--locations",
    type=click.IntRange(1, 99_999),
    default=LOCATIONS,
    show_default=True,
    help="Number of restaurants.",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def simulate_command(
    hours: float,
    start: str,
    speedup: float | None,
    out: str | None,
    do_ingest: bool,
    seed: int,
    scale: float,
    locations: int,
    as_json: bool,
) -> None:
    """Simulate the restaurant chain's order events (table_seated, order_placed,
    order_completed, payment) arriving in a window: realistic daily volume (about 9M
    events a day at --scale 1), 2% resent, up to 5 minutes late, out of order, 0.1%
    malformed. Deterministic for a seed; consecutive windows continue each other.

    \b
    Examples:
      headwater simulate restaurant --hours 24 --out day.jsonl.gz
      headwater simulate restaurant --hours 1 --scale 0.01 --ingest
      headwater simulate restaurant --hours 2 --start now --speedup 60 --ingest
    """
    from headwater.cli import _Counter, print_counts

    if out and do_ingest:
        raise HeadwaterError("--out and --ingest exclude each other: choose one")
    begin = _parse_start(start)
    if do_ingest:
        with _Counter("ingesting", quiet=as_json) as progress:
            stats, report = ingest_window(
                begin,
                hours,
                seed=seed,
                scale=scale,
                locations=locations,
                speedup=speedup,
                progress=progress,
            )
        summary = {"simulated": stats.as_dict(), "ingested": report.as_dict()}
    else:
        if out is None and sys.stdout.isatty():
            raise HeadwaterError("give --out FILE or --ingest (or redirect standard output)")
        stats = write_window(
            out or "-", begin, hours, seed=seed, scale=scale, locations=locations, speedup=speedup
        )
        summary = {"simulated": stats.as_dict()}
    if as_json:
        click.echo(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode(), err=out == "-")
        return
    counts = {f"{k} events": v for k, v in stats.events_by_type.items()}
    counts |= {
        "lines written": stats.lines,
        "resent (duplicates)": stats.duplicates,
        "late (> 5 s)": stats.late,
        "malformed": stats.malformed,
    }
    if do_ingest:
        counts |= {
            "accepted": report.accepted,
            "recognised duplicates": report.duplicates,
            "dead-lettered": report.dead_lettered,
        }
    if out == "-" or out is None:
        click.echo(orjson.dumps(summary).decode(), err=True)
    else:
        print_counts(counts, f"restaurant events {begin:%Y-%m-%d %H:%M} + {hours:g} h", False)


# --- demo -----------------------------------------------------------------------------------------

DEMO_START = datetime(2025, 1, 15, 11, 0, tzinfo=UTC)
DEMO_LOCATIONS = 200


def _demo_scale(scale: float) -> float:
    return 0.002 * scale


def demo_seed(scale: float) -> dict[str, int]:
    """An hour of the lunch rush at 200 locations, ingested into an empty landing table."""
    url = config.source_url("restaurant")
    reset_landing(url)
    _, report = ingest_window(
        DEMO_START, 1.0, seed=1, scale=_demo_scale(scale), locations=DEMO_LOCATIONS, url=url
    )
    # At demo sizes the simulator's 0.1% of malformed lines may round to none: one line cut
    # short by a sender, so the dead-letter table and its checks always have something.
    from headwater.sources.restaurant.events import SPEC

    cut = ingest.ingest(SPEC, [DEMO_MALFORMED_LINE], url=url, source="demo")
    return {
        "events accepted": report.accepted,
        "duplicates recognised": report.duplicates,
        "dead-lettered": report.dead_lettered + cut.dead_lettered,
    }


DEMO_MALFORMED_LINE = (
    b'{"event_id": "evt_demo_cut_short", "event_type": "payment", "timestamp": "2025-01-15T12:3'
)


def demo_change(scale: float) -> dict[str, int]:
    """The next 30 minutes: new parties, and late events of the previous hour."""
    _, report = ingest_window(
        DEMO_START + timedelta(hours=1),
        0.5,
        seed=1,
        scale=_demo_scale(scale),
        locations=DEMO_LOCATIONS,
    )
    return {
        "new events": report.accepted,
        "duplicates recognised": report.duplicates,
        "dead-lettered": report.dead_lettered,
    }


DEMO_REPORT = {
    "Revenue by location (top 5, all time)": """
        select
            l.location_name,
            sum(m.payments) as payments,
            sum(m.revenue) as revenue
        from analytics.fct_restaurant_location_minutes as m
        inner join analytics.dim_restaurant_locations as l on l.location_id = m.location_id
        group by l.location_name
        order by revenue desc, l.location_name
        limit 5
    """,
    "Orders: seated → placed → completed → paid": """
        select
            count(*) as orders,
            count(seated_at) as seated,
            count(completed_at) as completed,
            count(paid_at) as paid,
            round(avg(seated_to_placed_minutes), 1) as avg_wait_minutes,
            round(avg(kitchen_minutes), 1) as avg_kitchen_minutes,
            sum(total_amount) as revenue
        from analytics.fct_restaurant_orders
    """,
    "Best-selling items": """
        select items.item_name, items.category, sum(minutes.quantity) as quantity,
            sum(minutes.order_count) as orders
        from analytics.fct_restaurant_item_minutes as minutes
        inner join analytics.dim_restaurant_menu_items as items
            on minutes.item_id = items.item_id
        group by items.item_name, items.category
        order by quantity desc, items.item_name
        limit 5
    """,
}


# --- a loaded day, for benchmarks ---------------------------------------------------------------


def load_day(
    start: datetime = DEFAULT_START,
    hours: float = 24.0,
    *,
    scale: float = 1.0,
    seed: int = 0,
    locations: int = LOCATIONS,
    source_url: str | None = None,
    warehouse_url: str | None = None,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Land, sync and build a simulated window from scratch; return what each step took.

    Skips everything when the warehouse already holds exactly this window (recorded in
    `headwater.restaurant_loads`), so several benchmarks can share one loaded day.
    """
    import json

    from headwater import dbt, sync

    source_url = source_url or config.source_url("restaurant")
    warehouse_url = warehouse_url or config.warehouse_url()
    key = json.dumps(
        {"start": start.isoformat(), "hours": hours, "scale": scale, "seed": seed, "loc": locations}
    )
    with db.connect(warehouse_url, what="warehouse", autocommit=True) as conn:
        conn.execute(
            "create schema if not exists headwater; create table if not exists "
            "headwater.restaurant_loads (parameters text primary key, report jsonb not null)"
        )
        done = conn.execute(
            "select report from headwater.restaurant_loads where parameters = %s", [key]
        ).fetchone()
    if done:
        with db.connect(source_url, what="restaurant source") as conn:
            landed = conn.execute("select count(*) from events").fetchone()[0]
        if landed == done[0]["accepted"]:
            return done[0]
    say = progress or (lambda step: log.info("%s", step))
    timings: dict[str, float] = {}
    say("landing")
    reset_landing(source_url)
    sync.reset("restaurant", warehouse_url=warehouse_url)
    started = time.perf_counter()
    stats, report = ingest_window(
        start, hours, seed=seed, scale=scale, locations=locations, url=source_url
    )
    timings["ingest_seconds"] = round(time.perf_counter() - started, 1)
    say("syncing")
    started = time.perf_counter()
    sync.sync("restaurant", source_url=source_url, warehouse_url=warehouse_url)
    timings["sync_seconds"] = round(time.perf_counter() - started, 1)
    say("building")
    started = time.perf_counter()
    dbt.run(
        [
            "run",
            "--full-refresh",
            "--select",
            "path:models/staging/restaurant",
            "path:models/intermediate/restaurant",
            "path:models/marts/restaurant",
        ],
        warehouse_url=warehouse_url,
        capture=True,
    )
    timings["dbt_seconds"] = round(time.perf_counter() - started, 1)
    with db.connect(warehouse_url, what="warehouse", autocommit=True) as conn:
        conn.execute("vacuum analyze raw_restaurant.events")
    summary = {**stats.as_dict(), **timings, "accepted": report.accepted}
    with db.connect(warehouse_url, what="warehouse", autocommit=True) as conn:
        conn.execute("delete from headwater.restaurant_loads")
        conn.execute(
            "insert into headwater.restaurant_loads values (%s, %s)", [key, json.dumps(summary)]
        )
    return summary
