"""`make demo`: every domain's pipeline end to end on the embedded server, narrated.

For each domain: fill its source, run the whole pipeline once from scratch (sync → raw gate
→ dbt build → marts gate → publish), apply a batch of changes, run it again incrementally,
then show what analysts see in `analytics` and how fresh it is. A domain takes part by
giving its generator module (`headwater.generators.<domain>`) three things:

* `demo_seed(scale) -> counts`: fill the source for the first run;
* `demo_change(scale) -> counts`: what happens next (application changes, new events);
* `DEMO_REPORT`: title → SQL on the warehouse, the tables printed at the end.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import ModuleType

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from headwater import config, db, pipeline, sync


def demo_module(domain: str) -> ModuleType | None:
    """The domain's generator module if it takes part in the demo."""
    try:
        module = importlib.import_module(f"headwater.generators.{domain}")
    except ModuleNotFoundError:
        return None
    return module if hasattr(module, "demo_seed") else None


def demo_domains() -> list[str]:
    return [d for d in config.DOMAINS if demo_module(d) is not None]


def run(
    *,
    domains: Sequence[str] | None = None,
    scale: float = 1.0,
    console: Console | None = None,
    print_sync: Callable[[sync.SyncReport], None] | None = None,
) -> dict:
    """Run the demo for `domains` (default: all that take part); return what each step did."""
    console = console or Console()
    domains = list(domains or demo_domains())
    steps: dict = {}

    console.print(Rule("embedded PostgreSQL"))
    warehouse_url = config.warehouse_url()
    if db.is_embedded_url(warehouse_url):
        status = db.start()
        console.print(f"running (pid {status.pid}), data in {status.data_dir}")
    console.print(f"warehouse {db.describe(warehouse_url)}")
    for domain in domains:
        steps[domain] = run_domain(domain, scale=scale, console=console, print_sync=print_sync)
    return steps


def run_domain(
    domain: str,
    *,
    scale: float,
    console: Console,
    print_sync: Callable[[sync.SyncReport], None] | None = None,
) -> dict:
    module = demo_module(domain)
    if module is None:
        from headwater.errors import ConfigError

        raise ConfigError(
            f"domain {domain!r} has no demo (demo domains: {', '.join(demo_domains())})"
        )
    steps: dict = {}
    warehouse_url = config.warehouse_url()

    def show_step(name: str) -> None:
        console.print(f"[bold]→ {name}[/bold]")

    console.print(Rule(f"{domain}: fill the source (scale {scale:g})"))
    with console.status(f"seeding {domain}"):
        steps["seed"] = module.demo_seed(scale)
    console.print(", ".join(f"{table} {rows:,}" for table, rows in steps["seed"].items()))
    sync.reset(domain, warehouse_url=warehouse_url)

    console.print(Rule(f"{domain}: sync → raw gate → dbt build → marts gate → publish"))
    first = pipeline.run(domain, full_refresh=True, on_step=show_step, on_sync=print_sync)
    steps["first_run"] = first.as_dict()
    _print_run(console, first)

    console.print(Rule(f"{domain}: what happens next"))
    with console.status(f"changing {domain}"):
        steps["change"] = module.demo_change(scale)
    console.print(", ".join(f"{kind} {n:,}" for kind, n in steps["change"].items() if n))

    console.print(Rule(f"{domain}: the same pipeline, incrementally: only what changed moves"))
    second = pipeline.run(domain, on_step=show_step, on_sync=print_sync)
    steps["second_run"] = second.as_dict()
    _print_run(console, second)

    console.print(Rule(f"{domain}: what analysts see in `analytics`"))
    queries = {**module.DEMO_REPORT, "Data freshness": _freshness_query(domain)}
    steps["report"] = report(warehouse_url, console, queries)
    return steps


def _print_run(console: Console, run: pipeline.RunReport) -> None:
    dbt_statuses = ", ".join(f"{n} {s}" for s, n in sorted(run.steps["dbt"]["statuses"].items()))
    console.print(f"raw gate: {run.steps['raw_gate']}")
    console.print(f"dbt build: {dbt_statuses}")
    console.print(f"marts gate: {run.steps['marts_gate']}")
    published = run.steps["publish"]
    rows = sum(published["row_counts"].values())
    console.print(f"published {len(published['marts'])} marts ({rows:,} rows) to analytics")
    console.print("seconds: " + ", ".join(f"{k} {v:g}" for k, v in run.seconds.items()))


def _freshness_query(domain: str) -> str:
    literal = domain.replace("'", "''")
    return f"""
        select 'raw_{literal}.' || stream as relation,
               to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as synced_at_utc,
               round(extract(epoch from now() - updated_at))::int as age_seconds
        from headwater.sync_state
        where connection = '{literal}'
        union all
        select 'analytics (published)',
               to_char(max(published_at) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
               round(extract(epoch from now() - max(published_at)))::int
        from headwater.publish_log
        where domain = '{literal}'
        order by 1
    """  # noqa: S608 - the domain is one of config.DOMAINS


def report(warehouse_url: str, console: Console, queries: dict[str, str]) -> dict[str, list]:
    """Print each query's result as a table; return the rows."""
    results = {}
    with db.connect(warehouse_url, what="warehouse") as conn:
        for title, query in queries.items():
            cur = conn.execute(query)
            rows = cur.fetchall()
            table = Table(title=title)
            numeric = [isinstance(v, int | float | Decimal) for v in (rows[0] if rows else ())]
            for i, column in enumerate(cur.description):
                table.add_column(
                    column.name, justify="right" if i < len(numeric) and numeric[i] else "left"
                )
            for row in rows:
                table.add_row(
                    *(f"{v:,}" if isinstance(v, int | float | Decimal) else str(v) for v in row)
                )
            console.print(table)
            results[title] = rows
    return results
