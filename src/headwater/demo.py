"""`make demo`: the marketplace pipeline end to end on the embedded server, narrated."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from rich.console import Console
from rich.rule import Rule
from rich.table import Table

from headwater import config, db, pipeline, sync

DOMAIN = "marketplace"


def run(
    *,
    scale: float = 1.0,
    minutes: float = 60.0,
    console: Console | None = None,
    print_sync: Callable[[sync.SyncReport], None] | None = None,
) -> dict:
    """Seed; run the pipeline; apply changes; run it again incrementally; show the marts."""
    from headwater.generators import marketplace

    console = console or Console()
    steps: dict = {}

    def show_step(name: str) -> None:
        console.print(f"[bold]→ {name}[/bold]")

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

    console.print(Rule("3. sync → raw gate → dbt build → marts gate → publish"))
    first = pipeline.run(DOMAIN, full_refresh=True, on_step=show_step, on_sync=print_sync)
    steps["first_run"] = first.as_dict()
    _print_run(console, first)

    console.print(Rule(f"4. {minutes:g} minutes of application changes"))
    steps["mutate"] = marketplace.mutate(source_url, minutes, seed=7)
    console.print(", ".join(f"{kind} {n:,}" for kind, n in steps["mutate"].items() if n))

    console.print(Rule("5. the same pipeline, incrementally: only what changed moves"))
    second = pipeline.run(DOMAIN, on_step=show_step, on_sync=print_sync)
    steps["second_run"] = second.as_dict()
    _print_run(console, second)

    console.print(Rule("6. what analysts see in `analytics`"))
    steps["report"] = report(warehouse_url, console)
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


REPORT_QUERIES = {
    "GMV by buyer region (USD)": """
        select buyer_region, round(sum(gmv_usd), 2) as gmv_usd, sum(order_count) as orders,
               round(sum(gmv_usd) / nullif(sum(order_count), 0), 2) as avg_order_value_usd
        from analytics.fct_daily_sales
        group by buyer_region
        order by gmv_usd desc
    """,
    "Payment reconciliation": """
        select reconciliation_status, count(*) as orders,
               round(sum(difference_amount_usd), 2) as difference_usd
        from analytics.fct_payment_reconciliation
        group by reconciliation_status
        order by orders desc
    """,
    "Data freshness": """
        select 'raw_marketplace.' || stream as relation,
               to_char(updated_at at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS') as synced_at_utc,
               round(extract(epoch from now() - updated_at))::int as age_seconds
        from headwater.sync_state
        where connection = 'marketplace'
        union all
        select 'analytics (published)',
               to_char(max(published_at) at time zone 'UTC', 'YYYY-MM-DD HH24:MI:SS'),
               round(extract(epoch from now() - max(published_at)))::int
        from headwater.publish_log
        where domain = 'marketplace'
        order by 1
    """,
}


def report(warehouse_url: str, console: Console) -> dict[str, list[tuple]]:
    """Print GMV by region, reconciliation status counts and freshness; return the rows."""
    results = {}
    with db.connect(warehouse_url, what="warehouse") as conn:
        for title, query in REPORT_QUERIES.items():
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
