"""Freshness of the hospitality marts in micro-batch mode under a sustained event stream:
seconds from a booking's ingestion (committed in the landing table) to its night showing
in marts.fct_hospitality_occupancy_nightly. Target: at most 60 s, at >= 100 events/s.

Setup: a baseline (20 properties, 30 days) synced and built from scratch, then
`headwater run hospitality --every <interval>` runs as a separate process with the
pipeline's micro_batch settings (dags/hospitality/pipeline.yaml; the interval can be
overridden). A feeder ingests simulated events (bookings, updates, cancellations, guest
CDC, rate updates, with the simulator's duplicates and malformed lines; late events arrive
with their old event times) at `rate` events per second, one batch a second, for the whole
run. Every `spacing` seconds a probe booking for a night of its own (far in the future)
is ingested; it is visible when that night's row in the occupancy mart counts it.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg

from headwater import config, dbt, ingest, sync
from headwater.generators import hospitality
from headwater.orchestration import load_pipeline
from headwater.sources.hospitality.events import SPEC

NAME = "hospitality_freshness"
# `make bench`: the full rate (100 events/s) and 5 probes; its size does not shrink.
QUICK = {"scale": 1.0, "repetitions": 5}
TARGET_SECONDS = 60.0
TARGET_RATE = 100.0
log = logging.getLogger(__name__)
PROBE_NIGHT = date(2030, 1, 1)


def _probe(n: int, at: datetime) -> tuple[date, bytes]:
    night = PROBE_NIGHT + timedelta(days=n)
    event = {
        "event_id": f"evt_probe_{time.time_ns()}_{n}",
        "event_type": "booking.created",
        "event_timestamp": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "operation": "INSERT",
        "source_system": "freshness-probe",
        "data": {
            "booking_id": f"BPROBE-{time.time_ns()}-{n}",
            "guest_id": "G00001",
            "property_id": "PROP001",
            "room_type": "Deluxe King",
            "check_in_date": night.isoformat(),
            "check_out_date": (night + timedelta(days=1)).isoformat(),
            "total_amount": 100.0,
            "currency": "USD",
            "booking_status": "Confirmed",
            "number_of_guests": 1,
        },
    }
    return night, ingest.dumps(event)


def _visible(url: str, night: date) -> bool:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "select rooms_sold from marts.fct_hospitality_occupancy_nightly "
            "where property_id = 'PROP001' and stay_date = %s",
            [night],
        ).fetchone()
    return bool(row and row[0] >= 1)


def run(*, scale: float = 1.0, repetitions: int = 5, smoke: bool = False) -> dict:
    properties, days = (5, 7) if smoke else (20, 30)
    rate = 20.0 if smoke else TARGET_RATE * scale
    interval = "5s" if smoke else os.environ.get("HEADWATER_BENCH_INTERVAL", "")
    probes = 1 if smoke else max(4, repetitions)
    spacing = 6.0 if smoke else 20.0
    source_url, warehouse_url = config.source_url("hospitality"), config.warehouse_url()

    hospitality.seed(source_url, properties, days)
    sync.reset("hospitality", warehouse_url=warehouse_url)
    sync.sync("hospitality", source_url=source_url, warehouse_url=warehouse_url)
    micro = load_pipeline("hospitality").micro_batch
    dbt.run(
        ["run", "--full-refresh", "--select", *micro.select],
        warehouse_url=warehouse_url,
        capture=True,
    )

    # The feed: enough events for the whole run (each probe waits up to an interval and a
    # build), released `rate` per second.
    interval_seconds = micro.every.total_seconds() if not interval else float(interval.rstrip("s"))
    seconds = probes * (spacing + interval_seconds + 30) + 60
    start = datetime(2024, 11, 1, 10, tzinfo=UTC)
    lines = [
        line
        for _, line in hospitality.simulate(
            int(rate * seconds),
            rate,
            start=start,
            properties=properties,
            days=days,
            knobs=hospitality.Knobs(burst_bookings=0),
        )
    ]
    stop = threading.Event()
    fed = {"events": 0, "seconds": 0.0, "behind": 0}

    def feed() -> None:
        began = time.monotonic()
        per_tick = max(1, round(rate))
        for second, first in enumerate(range(0, len(lines), per_tick)):
            if stop.is_set():
                break
            ingest.ingest(SPEC, lines[first : first + per_tick], source="feeder", url=source_url)
            fed["events"] += len(lines[first : first + per_tick])
            wait = began + second + 1 - time.monotonic()
            if wait > 0:
                time.sleep(wait)
            else:
                fed["behind"] += 1
        fed["seconds"] = time.monotonic() - began

    ticks: list[dict] = []
    loop = subprocess.Popen(
        [
            str(Path(sys.executable).parent / "headwater"),
            "run",
            "hospitality",
            "--every",
            interval,
            "--json",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, **config.TELEMETRY_OFF},
        start_new_session=True,
    )

    def read_ticks() -> None:
        for line in loop.stdout:
            try:
                ticks.append(json.loads(line))
            except ValueError:
                continue

    feeder = threading.Thread(target=feed, daemon=True)
    reader = threading.Thread(target=read_ticks, daemon=True)
    feeder.start()
    reader.start()
    latencies: list[float] = []
    rows = []
    try:
        while not ticks:
            time.sleep(0.5)
            if loop.poll() is not None:
                raise RuntimeError("the micro-batch loop stopped")
        for n in range(1, probes + 1):
            night, line = _probe(n, datetime.now(UTC))
            ingest.ingest(SPEC, [line], source="probe", url=source_url)
            committed = time.monotonic()
            seen = None
            while time.monotonic() - committed < 300:
                if _visible(warehouse_url, night):
                    seen = time.monotonic() - committed
                    break
                time.sleep(0.5)
            latencies.append(seen if seen is not None else float("inf"))
            rows.append({"probe": n, "seconds_to_visible": round(seen, 1) if seen else None})
            time.sleep(max(0.0, spacing - (seen or 0)))
    finally:
        stop.set()
        os.killpg(loop.pid, signal.SIGINT)
        try:
            loop.wait(timeout=120)
        except subprocess.TimeoutExpired:
            os.killpg(loop.pid, signal.SIGKILL)
        feeder.join(timeout=30)
    tick_seconds = [t["seconds"] for t in ticks if t.get("seconds") is not None]
    ordered = sorted(latencies)
    p95 = ordered[max(0, round(0.95 * len(ordered)) - 1)]
    sustained = fed["events"] / fed["seconds"] if fed["seconds"] else 0.0
    return {
        "parameters": {
            "properties": properties,
            "baseline_days": days,
            "target_events_per_second": rate,
            "probes": probes,
            "interval_seconds": interval_seconds,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        },
        "results": {
            "seconds_to_visible": {
                "min": round(ordered[0], 1),
                "median": round(statistics.median(ordered), 1),
                "p95": round(p95, 1),
                "max": round(ordered[-1], 1),
            },
            "events_fed": fed["events"],
            "events_per_second_sustained": round(sustained, 1),
            "feeder_seconds_behind": fed["behind"],
            "tick_seconds": {
                "min": min(tick_seconds) if tick_seconds else None,
                "median": statistics.median(tick_seconds) if tick_seconds else None,
                "max": max(tick_seconds) if tick_seconds else None,
            },
            "ticks": len(ticks),
        },
        "rows": rows,
        "targets": {
            "seconds_to_visible_max": {
                "target": f"<= {TARGET_SECONDS:g} s",
                "met": ordered[-1] <= TARGET_SECONDS,
            },
            "events_per_second_sustained": {
                "target": f">= {TARGET_RATE:g}",
                "met": smoke or sustained >= TARGET_RATE * 0.99,
            },
        },
    }


if __name__ == "__main__":  # pragma: no cover
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(
        json.dumps(run(scale=args.scale, repetitions=args.repetitions, smoke=args.smoke), indent=2)
    )
