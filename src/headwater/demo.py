"""`make demo`: the marketplace pipeline end to end on the embedded server, narrated."""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console
from rich.rule import Rule

from headwater import config, db, sync

DOMAIN = "marketplace"


def run(
    *,
    scale: float = 1.0,
    minutes: float = 60.0,
    console: Console | None = None,
    print_sync: Callable[[sync.SyncReport], None] | None = None,
) -> dict:
    """Seed, sync, mutate and sync again; return what each step did."""
    from headwater.generators import marketplace

    console = console or Console()
    steps: dict = {}

    console.print(Rule("1. embedded PostgreSQL"))
    warehouse_url = config.warehouse_url()
    source_url = config.source_url(DOMAIN)
    if db.is_embedded_url(warehouse_url):
        status = db.start()
        console.print(f"running (pid {status.pid}), data in {status.data_dir}")
    console.print(f"source    {db.describe(source_url)}\nwarehouse {db.describe(warehouse_url)}")

    console.print(Rule(f"2. seed the {DOMAIN} source (scale {scale:g})"))
    with console.status("seeding"):
        steps["seed"] = marketplace.seed(source_url, scale)
    console.print(", ".join(f"{table} {rows:,}" for table, rows in steps["seed"].items()))
    sync.reset(DOMAIN, warehouse_url=warehouse_url)

    console.print(Rule("3. first sync into raw_marketplace"))
    first = sync.sync(DOMAIN)
    steps["first_sync"] = first.as_dict()
    (print_sync or _print_plain)(first)

    console.print(Rule(f"4. {minutes:g} minutes of application changes"))
    steps["mutate"] = marketplace.mutate(source_url, minutes, seed=7)
    console.print(", ".join(f"{kind} {n:,}" for kind, n in steps["mutate"].items() if n))

    console.print(Rule("5. incremental sync: only what changed moves"))
    second = sync.sync(DOMAIN)
    steps["second_sync"] = second.as_dict()
    (print_sync or _print_plain)(second)
    return steps


def _print_plain(report: sync.SyncReport) -> None:
    for s in report.streams:
        print(
            f"{s.stream:<22} {s.sync_mode:<28} read {s.rows_read:>9,} written {s.rows_written:>9,}"
        )
