"""Sustained ingestion rate of `headwater ingest restaurant`: validation, dedup by event id
and dead-lettering, against a plain COPY of the same already-valid rows.

Input: `scale` × 500,000 simulated lunch-rush lines (2% resent, 0.1% malformed), read
from memory. A: `headwater.ingest.ingest` into an empty landing table (parse, pydantic
validation, COPY batches, unique-index dedup, dead letters). B: the rows A accepted,
already rendered as COPY text, copied into an identical empty table with the same
indexes: the floor any PostgreSQL loader pays. Runs interleave (A B A B …) in one
process. Target: A ≥ 50,000 events/s.
"""

from __future__ import annotations

import io
import logging
import statistics
import time
from datetime import timedelta

from psycopg import sql

from headwater import config, db, ingest
from headwater.generators import restaurant
from headwater.sources.restaurant.events import COLUMNS, SPEC

NAME = "ingest_throughput"
# `make bench`: about 90k lines (a lunch-rush window sized for 100k), three interleaved repetitions.
QUICK = {"scale": 0.2, "repetitions": 3}
TARGET = 50_000
log = logging.getLogger(__name__)


def _reset(url: str, table: str) -> None:
    with db.connect(url, what="restaurant source", autocommit=True) as conn:
        ingest.prepare(conn, SPEC)
        conn.execute("truncate events, dead_letters restart identity")
        conn.execute(sql.SQL("drop table if exists {}").format(sql.Identifier(table)))
        conn.execute(
            sql.SQL("create table {} (like events including all)").format(sql.Identifier(table))
        )


def _copy_text(url: str) -> bytes:
    """The accepted rows as COPY text, exactly what A wrote."""
    buffer = io.BytesIO()
    with db.connect(url, what="restaurant source") as conn, conn.cursor() as cur:
        names = sql.SQL(", ").join(sql.Identifier(c) for c in (*COLUMNS, "payload"))
        with cur.copy(sql.SQL("copy (select {} from events) to stdout").format(names)) as copy:
            for chunk in copy:
                buffer.write(chunk)
    return buffer.getvalue()


def _plain_copy(url: str, table: str, text: bytes) -> float:
    names = sql.SQL(", ").join(sql.Identifier(c) for c in (*COLUMNS, "payload"))
    with db.connect(url, what="restaurant source") as conn:
        started = time.perf_counter()
        with conn.cursor().copy(
            sql.SQL("copy {} ({}) from stdin").format(sql.Identifier(table), names)
        ) as copy:
            view = memoryview(text)
            for offset in range(0, len(view), 1 << 20):
                copy.write(view[offset : offset + (1 << 20)])
        conn.commit()
        return time.perf_counter() - started


def _bench_database() -> str:
    """A landing database of its own, so the runs never touch the restaurant source that
    other benchmarks (and the sync cursor) rely on: $HEADWATER_RESTAURANT_BENCH_URL, or a
    `restaurant_bench` database on the embedded server."""
    url = config.url_from_env("HEADWATER_RESTAURANT_BENCH_URL", "restaurant_bench")
    if db.is_embedded_url(url):
        db.ensure_databases(db.status().url(), ("restaurant_bench",))
    return url


def run(*, scale: float = 1.0, repetitions: int = 5, smoke: bool = False) -> dict:
    url = _bench_database()
    target_lines = 2_000 if smoke else int(500_000 * scale)
    # A lunch-rush window long enough for the number of lines wanted (~390 lines/s at 1).
    start = restaurant.DEFAULT_START + timedelta(hours=12)
    hours = target_lines / (390 * 3600)
    lines = [line for _, line in restaurant.simulate(start, hours, seed=11)][:target_lines]
    repetitions = 1 if smoke else repetitions
    plain_table = "events_plain_copy"
    a_rates, b_rates, rows = [], [], []
    text = b""
    for repetition in range(1, repetitions + 1):
        _reset(url, plain_table)
        report = ingest.ingest(SPEC, lines, url=url, source="bench")
        a_rate = report.received / report.seconds
        if not text:
            text = _copy_text(url)
        b_seconds = _plain_copy(url, plain_table, text)
        b_rate = report.accepted / b_seconds
        a_rates.append(a_rate)
        b_rates.append(b_rate)
        rows.append(
            {
                "repetition": repetition,
                "headwater ingest (events/s)": round(a_rate),
                "plain COPY of valid rows (rows/s)": round(b_rate),
                "ratio": round(a_rate / b_rate, 2),
                "accepted": report.accepted,
                "duplicates": report.duplicates,
                "dead_lettered": report.dead_lettered,
            }
        )
    _reset(url, plain_table)
    with db.connect(url, what="restaurant source", autocommit=True) as conn:
        conn.execute(sql.SQL("drop table {}").format(sql.Identifier(plain_table)))

    def spread(values):
        return {
            "min": round(min(values)),
            "median": round(statistics.median(values)),
            "max": round(max(values)),
        }

    ratios = [a / b for a, b in zip(a_rates, b_rates, strict=True)]
    return {
        "parameters": {"lines": len(lines), "batch_size": ingest.DEFAULT_BATCH_SIZE},
        "results": {
            "ingest_events_per_second": spread(a_rates),
            "plain_copy_rows_per_second": spread(b_rates),
            "ratio": {
                "min": round(min(ratios), 2),
                "median": round(statistics.median(ratios), 2),
                "max": round(max(ratios), 2),
            },
        },
        "rows": rows,
        "targets": {
            "ingest_events_per_second": {
                "target": f">= {TARGET:,}",
                "met": statistics.median(a_rates) >= TARGET,
            }
        },
    }


if __name__ == "__main__":  # pragma: no cover
    import argparse
    import json

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--repetitions", type=int, default=5)
    parser.add_argument("--smoke", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO)
    print(
        json.dumps(run(scale=args.scale, repetitions=args.repetitions, smoke=args.smoke), indent=2)
    )
