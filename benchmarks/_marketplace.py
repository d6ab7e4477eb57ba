"""Seeded marketplace sources for the benchmarks, made once and reused.

Seeding a million orders takes minutes, so each size is seeded once into its own database
(`bench_marketplace_<orders>`) and kept: a later run finds it by the row this module writes
into `headwater_bench.seeded` after the seed committed. Benchmarks that only read use it
directly; benchmarks that change the source work on a copy (`CREATE DATABASE … TEMPLATE`),
so the seeded one stays as seeded.
"""

from __future__ import annotations

import json
import logging
from typing import Any

import psycopg
from psycopg import sql

from headwater import bench, db
from headwater.generators import marketplace

log = logging.getLogger(__name__)

SEED = 42
MARKER_DDL = """
create schema if not exists headwater_bench;
create table if not exists headwater_bench.seeded (
    scale double precision not null,
    seed bigint not null,
    seeded_at timestamptz not null default now(),
    seconds double precision not null,
    counts jsonb not null
)
"""


def orders_to_scale(orders: int) -> float:
    """The generator's scale for about `orders` orders (scale 1 is 2,000 orders)."""
    return orders / marketplace.ORDERS_PER_SCALE


def label(orders: int) -> str:
    if orders >= 1_000_000 and orders % 1_000_000 == 0:
        return f"{orders // 1_000_000}M"
    if orders >= 1_000 and orders % 1_000 == 0:
        return f"{orders // 1_000}k"
    return str(orders)


def seeded_source(orders: int) -> tuple[str, dict[str, Any]]:
    """The URL of a marketplace source with about `orders` orders, seeded now if need be.

    Returns (url, info) where info has the scale, seed, row counts and how long the seed
    took when it ran (`reused` says whether this call seeded).
    """
    scale = orders_to_scale(orders)
    url = bench.database_url(f"bench_marketplace_{label(orders).lower()}")
    with db.connect(url, what="benchmark source", autocommit=True) as conn:
        conn.execute(MARKER_DDL)
        row = conn.execute(
            "select seconds, counts, seeded_at from headwater_bench.seeded "
            "where scale = %s and seed = %s order by seeded_at desc limit 1",
            [scale, SEED],
        ).fetchone()
    if row is not None:
        return url, {
            "orders": orders,
            "scale": scale,
            "seed": SEED,
            "counts": row[1],
            "seed_seconds": row[0],
            "seeded_at": row[2].isoformat(),
            "reused": True,
        }
    log.info("seeding a marketplace source with %s orders (scale %s)", orders, scale)
    with bench.timed() as t:
        counts = marketplace.seed(url, scale, seed=SEED)
    with db.connect(url, what="benchmark source", autocommit=True) as conn:
        conn.execute("delete from headwater_bench.seeded")
        conn.execute(
            "insert into headwater_bench.seeded (scale, seed, seconds, counts) "
            "values (%s, %s, %s, %s)",
            [scale, SEED, t.seconds, json.dumps(counts)],
        )
        conn.execute("vacuum analyze")
    return url, {
        "orders": orders,
        "scale": scale,
        "seed": SEED,
        "counts": counts,
        "seed_seconds": round(t.seconds, 1),
        "reused": False,
    }


def working_copy(seeded_url: str, name: str) -> str:
    """A fresh copy of a seeded source that a benchmark may change (replaces any old copy)."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(seeded_url)
    template = parts.path.lstrip("/")
    name = name if name.startswith("bench_") else f"bench_{name}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with db.connect(admin, what="benchmark server", autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )
        # FILE_COPY copies the files instead of WAL-logging every block: much faster for
        # gigabytes, at the price of a checkpoint.
        conn.execute(
            sql.SQL("create database {} template {} strategy file_copy").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        )
    return urlunsplit(parts._replace(path=f"/{name}"))


def fresh_database(name: str) -> str:
    """An empty database `name` (dropped first if it exists)."""
    url = bench.database_url(name)
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with db.connect(admin, what="benchmark server", autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(parts.path.lstrip("/"))
            )
        )
    return bench.database_url(name)


def drop_database(url: str) -> None:
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(
                sql.Identifier(parts.path.lstrip("/"))
            )
        )
