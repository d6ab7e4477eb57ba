"""The `headwater` command line. Each command is a thin wrapper over a library module."""

from __future__ import annotations

import json
import logging
import sys

import click

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

config.disable_telemetry()


class _Group(click.Group):
    """Turn HeadwaterError into one line on stderr and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except HeadwaterError as exc:
            click.echo(f"error: {db.redact(str(exc))}", err=True)
            sys.exit(exc.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.version_option(package_name="headwater")
def main(verbose: int) -> None:
    """headwater: batch-incremental ELT from PostgreSQL and file sources to analytics marts.

    \b
    Typical local session:
      headwater db start                 start the embedded PostgreSQL
      headwater seed marketplace         create and fill the marketplace source
      headwater sync marketplace         sync it into raw_marketplace
      headwater mutate marketplace       apply a batch of application changes
      headwater sync marketplace         move only what changed

    Connection URLs come from the environment (HEADWATER_WAREHOUSE_URL,
    HEADWATER_<DOMAIN>_URL); without them everything runs on the embedded server.
    """
    level = [logging.WARNING, logging.INFO, logging.DEBUG][min(verbose, 2)]
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")


def console():
    """A rich console; when output goes to a file or CI log, wide enough for the summaries."""
    from rich.console import Console

    out = Console()
    return out if out.is_terminal else Console(width=120)


def emit_json(payload: object) -> None:
    click.echo(json.dumps(payload, indent=2, default=str))


# --- db --------------------------------------------------------------------------------------


@main.group("db")
def db_group() -> None:
    """Manage the embedded PostgreSQL server (data under .headwater/pgdata)."""


@db_group.command("start")
def db_start() -> None:
    """Start the server (idempotent) and create the source and warehouse databases."""
    status = db.start()
    click.echo(f"embedded PostgreSQL running (pid {status.pid}), socket in {status.socket_dir}")


@db_group.command("stop")
def db_stop() -> None:
    """Stop the server. Data stays in .headwater/pgdata."""
    click.echo("stopped" if db.stop() else "not running")


@db_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def db_status(as_json: bool) -> None:
    """Say whether the server runs, and where."""
    status = db.status()
    if as_json:
        emit_json(
            {
                "running": status.running,
                "pid": status.pid,
                "data_dir": str(status.data_dir),
                "socket_dir": str(status.socket_dir) if status.socket_dir else None,
            }
        )
    elif status.running:
        click.echo(
            f"running (pid {status.pid}), data in {status.data_dir}, socket in {status.socket_dir}"
        )
    else:
        click.echo(f"not running, data in {status.data_dir}")
    if not status.running:
        sys.exit(3)


@db_group.command("url")
@click.argument("database", default=config.WAREHOUSE_DB)
def db_url(database: str) -> None:
    """Print the URL of DATABASE (a domain name or `warehouse`), honouring the environment."""
    if database == config.WAREHOUSE_DB:
        click.echo(config.warehouse_url())
    elif database in config.DOMAINS:
        click.echo(config.source_url(database))
    else:
        click.echo(db.embedded_url(database))


# --- seed / mutate / simulate: one subcommand per domain -----------------------------------


class DomainCommands(click.Group):
    """`headwater <verb> <domain> [options]`, where each domain brings its own options.

    A domain's generator module (`headwater.generators.<domain>`) defines the click command
    as `<verb>_command` (`seed_command`, `mutate_command`, `simulate_command`); it is
    imported only when that domain's command runs, or for `--help`.
    """

    def __init__(self, *args, verb: str, **kwargs):
        super().__init__(*args, **kwargs)
        self.verb = verb

    def _command(self, domain: str) -> click.Command | None:
        import importlib

        try:
            module = importlib.import_module(f"headwater.generators.{domain}")
        except ModuleNotFoundError:
            return None
        return getattr(module, f"{self.verb}_command", None)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [d for d in config.DOMAINS if self._command(d) is not None]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        return self._command(name) if name in config.DOMAINS else None

    def resolve_command(self, ctx: click.Context, args: list[str]):
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            known = ", ".join(self.list_commands(ctx))
            raise ConfigError(f"no `{self.verb}` for domain {name!r} (domains: {known})")
        return super().resolve_command(ctx, args)


@main.group("seed", cls=DomainCommands, verb="seed")
def seed_group() -> None:
    """Create a domain's source and fill it with deterministic data (replaces what is there)."""


@main.group("mutate", cls=DomainCommands, verb="mutate")
def mutate_group() -> None:
    """Apply a realistic batch of application changes to a domain's source."""


@main.group("simulate", cls=DomainCommands, verb="simulate")
def simulate_group() -> None:
    """Generate a domain's event stream (late, duplicate, out-of-order and malformed events)."""


def print_counts(counts: dict[str, int], title: str, as_json: bool) -> None:
    if as_json:
        emit_json(counts)
        return
    from rich.table import Table

    table = Table(title=title)
    table.add_column("what")
    table.add_column("rows", justify="right")
    for key, value in counts.items():
        table.add_row(key, f"{value:,}")
    console().print(table)


class steps:
    """A spinner naming the current step of a long operation."""

    def __init__(self, title: str, quiet: bool = False):
        self.title, self.quiet = title, quiet

    def __enter__(self):
        if self.quiet:
            return lambda step: None
        from rich.console import Console

        self._status = Console(stderr=True).status(self.title)
        self._status.__enter__()
        return lambda step: self._status.update(f"{self.title}: {step}")

    def __exit__(self, *exc):
        if not self.quiet:
            self._status.__exit__(*exc)
        return False


# --- sync ------------------------------------------------------------------------------------


@main.command("sync")
@click.argument("domain")
@click.option("--stream", "streams", multiple=True, help="Only this stream (repeatable).")
@click.option(
    "--full-refresh",
    is_flag=True,
    help="Re-read incremental streams from scratch (bumps the generation).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def sync_cmd(domain: str, streams: tuple[str, ...], full_refresh: bool, as_json: bool) -> None:
    """Sync DOMAIN's source into raw_<domain>, as airbyte/connections/<domain>.yaml describes.

    Incremental streams move only rows changed since the last sync; state is kept in the
    warehouse (schema `headwater`) and commits with the rows, so an interrupted sync is
    resumed by running it again.
    """
    from headwater import sync

    with _SyncProgress(quiet=as_json) as progress:
        report = sync.sync(
            domain, streams=streams or None, full_refresh=full_refresh, progress=progress
        )
    if as_json:
        emit_json(report.as_dict())
    else:
        print_sync_report(report)


class _SyncProgress:
    """A rich progress bar per stream with rows and rows/s; silent when not a terminal."""

    def __init__(self, quiet: bool = False):
        self.quiet = quiet
        self._tasks: dict[str, int] = {}

    def __enter__(self):
        from rich.console import Console

        console = Console(stderr=True)
        if self.quiet or not console.is_terminal:
            return None
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
        )

        self._progress = Progress(
            TextColumn("{task.description:<22}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[rate]} rows/s"),
            TimeElapsedColumn(),
            console=console,
        )
        self._progress.__enter__()
        return self.update

    def update(self, stream: str, rows: int, total: int | None) -> None:
        if stream not in self._tasks:
            self._tasks[stream] = self._progress.add_task(stream, total=total, rate="-")
        task_id = self._tasks[stream]
        task = self._progress.tasks[task_id]
        rate = f"{rows / task.elapsed:,.0f}" if task.elapsed else "-"
        self._progress.update(
            task_id, completed=rows, total=max(total or 0, rows) or None, rate=rate
        )

    def __exit__(self, *exc):
        if hasattr(self, "_progress"):
            self._progress.__exit__(*exc)
        return False


_MODE_LABELS = {
    "incremental_append_deduped": "incr. deduped",
    "incremental_append": "incr. append",
    "full_refresh_overwrite": "full overwrite",
    "full_refresh_append": "full append",
}


def print_sync_report(report) -> None:
    from datetime import datetime

    from rich.table import Table

    table = Table(title=f"sync {report.connection} → {report.namespace} (sync {report.sync_id})")
    for name, justify in [
        ("stream", "left"),
        ("mode", "left"),
        ("read", "right"),
        ("written", "right"),
        ("cursor reached (UTC)", "left"),
        ("gen", "right"),
    ]:
        table.add_column(name, justify=justify, no_wrap=True)
    for s in report.streams:
        cursor = "-"
        if s.cursor_after:
            try:
                cursor = datetime.fromisoformat(s.cursor_after).strftime("%Y-%m-%d %H:%M:%S")
            except ValueError:
                cursor = s.cursor_after
        if s.columns_added:
            cursor += f" +cols: {', '.join(s.columns_added)}"
        table.add_row(
            s.stream,
            _MODE_LABELS.get(s.sync_mode, s.sync_mode),
            f"{s.rows_read:,}",
            f"{s.rows_written:,}",
            cursor,
            str(s.generation_id),
        )
    data = report.as_dict()
    rate = data["rows_read"] / report.seconds if report.seconds else 0
    table.caption = (
        f"{data['rows_read']:,} rows read, {data['rows_written']:,} written "
        f"in {report.seconds:.1f} s ({rate:,.0f} rows/s)"
    )
    console().print(table)


# --- ingest -----------------------------------------------------------------------------------


@main.command("ingest")
@click.argument("domain")
@click.argument("file", metavar="FILE|-")
@click.option(
    "--batch-size",
    type=click.IntRange(min=1),
    default=10_000,
    show_default=True,
    help="Events per COPY batch (one transaction each).",
)
@click.option(
    "--max-pending",
    type=click.IntRange(min=1),
    default=4,
    show_default=True,
    help="Batches that may wait for the database before reading pauses (backpressure).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def ingest_cmd(domain: str, file: str, batch_size: int, max_pending: int, as_json: bool) -> None:
    """Land DOMAIN's JSON-lines events from FILE (or - for standard input).

    Each line is validated against its event type, then accepted into its landing table,
    recognised as a duplicate (event id or idempotency key already there), or dead-lettered
    with the reason (table dead_letters). Ingesting the same file twice adds nothing. Prints
    received / accepted / duplicates / dead-lettered; they always add up.
    """
    from headwater import ingest

    with _Counter("ingesting", quiet=as_json) as progress:
        report = ingest.ingest_file(
            domain, file, batch_size=batch_size, max_pending=max_pending, progress=progress
        )
    if as_json:
        emit_json(report.as_dict())
        return
    from rich.table import Table

    table = Table(title=f"ingest {domain} ← {file}")
    table.add_column("landing table")
    table.add_column("accepted", justify="right")
    table.add_column("duplicates", justify="right")
    for name in sorted(set(report.accepted_by_table) | set(report.duplicates_by_table)):
        table.add_row(
            name,
            f"{report.accepted_by_table[name]:,}",
            f"{report.duplicates_by_table[name]:,}",
        )
    table.add_row("dead_letters", f"{report.dead_lettered:,}", "")
    table.caption = report.summary()
    console().print(table)
    if report.dead_letter_reasons:
        reasons = ", ".join(f"{r} {n:,}" for r, n in report.dead_letter_reasons.most_common(5))
        click.echo(f"dead-letter reasons: {reasons}")


class _Counter:
    """A live count with a rate (events of unknown total); silent when not a terminal."""

    def __init__(self, title: str, quiet: bool = False):
        self.title, self.quiet = title, quiet

    def __enter__(self):
        from rich.console import Console

        console = Console(stderr=True)
        if self.quiet or not console.is_terminal:
            return None
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        self._progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,.0f} events"),
            TextColumn("{task.fields[rate]} events/s"),
            TimeElapsedColumn(),
            console=console,
        )
        self._progress.__enter__()
        self._task = self._progress.add_task(self.title, total=None, rate="-")
        return self.update

    def update(self, count: int) -> None:
        task = self._progress.tasks[self._task]
        rate = f"{count / task.elapsed:,.0f}" if task.elapsed else "-"
        self._progress.update(self._task, completed=count, rate=rate)

    def __exit__(self, *exc):
        if hasattr(self, "_progress"):
            self._progress.__exit__(*exc)
        return False


# --- transform and run -------------------------------------------------------------------------

DBT_TARGETS = click.Choice(["local", "postgres", "bigquery", "bigquery_emulator"])


@main.command("dbt", context_settings={"ignore_unknown_options": True, "allow_extra_args": True})
@click.option(
    "--target", type=DBT_TARGETS, default="local", show_default=True, help="Profile target."
)
@click.argument("dbt_args", nargs=-1, type=click.UNPROCESSED)
def dbt_cmd(target: str, dbt_args: tuple[str, ...]) -> None:
    """Run dbt on dbt_project/ with the warehouse from the environment.

    \b
    Examples:
      headwater dbt build --select path:models/marts/marketplace
      headwater dbt build --full-refresh --select fct_orders
      headwater dbt --target bigquery_emulator build
      headwater dbt docs generate
    """
    from headwater import dbt

    if target == "bigquery_emulator":
        from headwater import bigquery

        bigquery.start_emulator()
    dbt.run(list(dbt_args), target=target)


@main.command("run")
@click.argument("domain")
@click.option("--full-refresh", is_flag=True, help="Rebuild incremental models from scratch.")
@click.option(
    "--target", type=DBT_TARGETS, default="local", show_default=True, help="dbt profile target."
)
@click.option(
    "--every",
    metavar="DURATION",
    default=None,
    is_flag=False,
    flag_value="",
    help="Micro-batch mode: keep the marts at most DURATION behind ingestion (e.g. 60s, 5m; "
    "without a value, the pipeline's micro_batch.every). Ticks start DURATION apart less the "
    "time a tick takes. Ctrl-C stops.",
)
@click.option(
    "--iterations", type=click.IntRange(min=1), default=None, help="With --every: stop after N."
)
@click.option(
    "--from",
    "start",
    type=click.Choice(["sync", "raw_gate", "marts_gate"]),
    default="sync",
    show_default=True,
    help="Start at this step on what the warehouse holds (release after fixing a gate failure).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable report.")
def run_cmd(
    domain: str,
    full_refresh: bool,
    target: str,
    every: str | None,
    iterations: int | None,
    start: str,
    as_json: bool,
) -> None:
    """Run DOMAIN's pipeline once: sync → raw gate → dbt build → marts gate → publish.

    Stops at the first failure; `analytics` then keeps the last good marts. Airflow runs the
    same steps as separate tasks (dags/). With --every DURATION, runs the pipeline's
    micro-batch selection in a loop that keeps the marts at most DURATION behind ingestion
    (each tick starts DURATION after the previous one, less the time a tick takes) and
    prints one line per tick; a failed tick is reported and the next one retries.
    """
    from headwater import pipeline

    if every is not None:
        _run_every(domain, every, iterations, target, as_json, full_refresh)
        return

    def on_step(name: str) -> None:
        if not as_json:
            click.echo(f"→ {name}", err=True)

    report = pipeline.run(
        domain,
        full_refresh=full_refresh,
        target=target,
        start=start,
        on_step=on_step,
        on_sync=None if as_json else print_sync_report,
    )
    if as_json:
        emit_json(report.as_dict())
    else:
        steps = report.steps
        if "raw_gate" in steps:
            click.echo(f"raw gate: {steps['raw_gate']}")
            click.echo(f"dbt build: {steps['dbt']['statuses']}")
        click.echo(f"marts gate: {steps['marts_gate']}")
        click.echo(f"published: {', '.join(steps['publish']['marts'])}")


def _run_every(
    domain: str, every: str, iterations: int | None, target: str, as_json: bool, full_refresh: bool
) -> None:
    from headwater import pipeline
    from headwater.connection import parse_duration
    from headwater.orchestration import load_pipeline

    if full_refresh:
        raise HeadwaterError("--full-refresh does not combine with --every")
    try:
        interval = parse_duration(every) if every else load_pipeline(domain).micro_batch.every
    except ValueError as exc:
        raise HeadwaterError(f"--every: {exc}") from None

    def on_tick(tick: pipeline.Tick) -> None:
        if as_json:
            click.echo(
                json.dumps(
                    {
                        "tick": tick.number,
                        "seconds": tick.seconds,
                        "error": tick.error,
                        "report": tick.report.as_dict() if tick.report else None,
                    },
                    default=str,
                )
            )
        elif tick.error:
            click.echo(f"tick {tick.number}: failed after {tick.seconds:g} s: {tick.error}")
        else:
            synced = tick.report.steps.get("sync", {"rows_written": 0})
            done = "published" if "publish" in tick.report.steps else "done"
            click.echo(
                f"tick {tick.number}: {synced['rows_written']:,} rows synced, "
                f"{done} in {tick.seconds:g} s ("
                + ", ".join(f"{k} {v:g}" for k, v in tick.report.seconds.items())
                + ")"
            )

    try:
        ticks = pipeline.run_every(
            domain, interval, iterations=iterations, target=target, on_tick=on_tick
        )
    except KeyboardInterrupt:
        click.echo("stopped", err=True)
        return
    if any(t.error for t in ticks):
        sys.exit(1)


# --- gates and publish -------------------------------------------------------------------------


@main.command("gate")
@click.argument("domain")
@click.argument("layer", type=click.Choice(["raw", "marts"]))
@click.option("--json", "as_json", is_flag=True, help="Machine-readable result.")
def gate_cmd(domain: str, layer: str, as_json: bool) -> None:
    """Run DOMAIN's Soda contracts for LAYER; exit 1 and name the failing checks if any fail.

    Contracts live in soda/<domain>/<layer>/. See runbooks/gate-failed.md when one fails.
    """
    from headwater import gates

    result = gates.run_gate(domain, layer)
    if as_json:
        emit_json(result.as_dict())
        sys.exit(0 if result.passed else 1)
    if not result.passed:
        raise gates.GateFailed(result)
    click.echo(result.summary())


@main.command("publish")
@click.argument("domain")
@click.option("--restore", is_flag=True, help="Bring back the previously published marts.")
@click.option("--history", "show_history", is_flag=True, help="List recent publishes.")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def publish_cmd(domain: str, restore: bool, show_history: bool, as_json: bool) -> None:
    """Publish DOMAIN's marts to the `analytics` schema analysts read (atomic swap).

    Run it only after `headwater gate DOMAIN marts` passed; the DAG and `headwater run` do.
    """
    from headwater import publish

    if show_history:
        rows = publish.history(domain)
        if as_json:
            emit_json(rows)
        else:
            for row in rows:
                click.echo("  ".join(f"{k}={v}" for k, v in row.items()))
        return
    result = publish.restore(domain) if restore else publish.publish(domain)
    if as_json:
        emit_json(result.as_dict())
    else:
        click.echo(result.summary())


@main.group("grants")
def grants_group() -> None:
    """Warehouse access: analysts read `analytics` and nothing else (PostgreSQL roles).

    The BigQuery equivalent (dataset IAM, authorized views, policy tags) is in
    docs/security.md.
    """


@grants_group.command("apply")
@click.option(
    "--role",
    default="headwater_analyst",
    show_default=True,
    help="The group role that may read `analytics`.",
)
@click.option("--login", default=None, help="Also create this login role, a member of --role.")
@click.option(
    "--password-env",
    default=None,
    metavar="VAR",
    help="Set --login's password from this environment variable (never from the command line).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def grants_apply(role: str, login: str | None, password_env: str | None, as_json: bool) -> None:
    """Create or repair the analyst role: USAGE and SELECT on `analytics` (now and after every
    publish), everything revoked on every other schema (raw, staging, marts, snapshots,
    headwater's state). Idempotent; run it as the role that publishes.
    """
    from headwater import access

    report = access.apply(role=role, login=login, password_env=password_env)
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(report.summary())


@grants_group.command("show")
@click.option("--role", default="headwater_analyst", show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def grants_show(role: str, as_json: bool) -> None:
    """Which schemas ROLE can use now, and which it is denied."""
    from headwater import access

    report = access.show(role=role)
    if as_json:
        emit_json(report.as_dict())
    else:
        click.echo(report.summary())


# --- governance -----------------------------------------------------------------------------


@main.group("gdpr")
def gdpr_group() -> None:
    """Data-subject requests under the GDPR (runbooks/gdpr-erasure.md)."""


@gdpr_group.command("erase")
@click.argument("subject_id")
@click.option(
    "--domain", default="betting", show_default=True, help="The domain holding the subject."
)
@click.option(
    "--requested-by", default=None, help="Who asked (the ticket or the DPO), for the audit row."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def gdpr_erase(subject_id: str, domain: str, requested_by: str | None, as_json: bool) -> None:
    """Pseudonymise SUBJECT_ID in every layer of DOMAIN (raw, staging, snapshots, marts,
    analytics) and keep later syncs from bringing it back. Idempotent; audited."""
    from headwater import gdpr

    report = gdpr.erase(domain, subject_id, requested_by=requested_by)
    if as_json:
        emit_json(report.as_dict())
        return
    total = sum(report.rows_changed.values())
    click.echo(
        f"{report.domain}: {report.outcome}: {total:,} rows in {len(report.rows_changed)} tables now say {report.pseudonym}"
    )
    for table, rows in report.rows_changed.items():
        click.echo(f"  {table}: {rows:,}")


@main.command("cost")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def cost_cmd(as_json: bool) -> None:
    """Estimated monthly cost of the betting platform at 1M and 10M bets a day (docs/cost.md)."""
    from headwater import cost

    estimates = cost.estimate_all()
    if as_json:
        emit_json(estimates)
    else:
        click.echo(cost.render(estimates))


# --- bigquery emulator ----------------------------------------------------------------------


@main.group("bq")
def bq_group() -> None:
    """Run the local BigQuery emulator (bqemulator) and load raw tables into it."""


@bq_group.command("start")
@click.option("--port", type=int, default=None, help="REST port (default 9050, or a free one).")
def bq_start(port: int | None) -> None:
    """Start the emulator in the background (idempotent)."""
    from headwater import bigquery

    status = bigquery.start_emulator(rest_port=port)
    click.echo(
        f"BigQuery emulator running (pid {status.pid}) at {status.api_endpoint}, project {status.project}"
    )


@bq_group.command("stop")
def bq_stop() -> None:
    """Stop the emulator."""
    from headwater import bigquery

    click.echo("stopped" if bigquery.stop_emulator() else "not running")


@bq_group.command("status")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def bq_status(as_json: bool) -> None:
    """Say whether the emulator runs, and where."""
    from headwater import bigquery

    status = bigquery.emulator_status()
    if as_json:
        emit_json(status.to_dict())
    else:
        click.echo(
            f"running at {status.api_endpoint} (pid {status.pid})"
            if status.running
            else "not running"
        )
    if not status.running:
        sys.exit(3)


@bq_group.command("load")
@click.argument("domain", default="marketplace")
def bq_load(domain: str) -> None:
    """Copy raw_<DOMAIN> from the warehouse into the emulator, typed as Airbyte's BigQuery destination."""
    from headwater import bigquery

    status = bigquery.start_emulator()
    counts = bigquery.load_raw_from_warehouse(
        config.warehouse_url(), f"raw_{domain}", status=status
    )
    print_counts(counts, f"raw_{domain} loaded into the emulator", as_json=False)


# --- airflow -----------------------------------------------------------------------------------


@main.group("airflow", invoke_without_command=True)
@click.option(
    "--unpause", is_flag=True, help="Unpause the DAGs once registered (they start paused)."
)
@click.option("--port", type=int, default=None, help="UI port (default 8080, or a free one).")
@click.pass_context
def airflow_group(ctx: click.Context, unpause: bool, port: int | None) -> None:
    """Start Airflow 3 locally (api-server, scheduler, dag-processor, triggerer).

    Metadata lives in the `airflow` database of the embedded PostgreSQL; the DAGs come from
    dags/. Prints the UI address and the admin credentials. `headwater airflow stop` stops it.
    """
    if ctx.invoked_subcommand is not None:
        return
    from headwater import airflow_local

    info = airflow_local.start(unpause=unpause, port=port, echo=click.echo)
    click.echo(f"Airflow UI: {info.url}  user: {info.username}  password: {info.password}")
    if info.unpaused:
        click.echo(f"unpaused: {', '.join(info.unpaused)}")


@airflow_group.command("stop")
def airflow_stop() -> None:
    """Stop the local Airflow components."""
    from headwater import airflow_local

    click.echo("stopped" if airflow_local.stop(echo=click.echo) else "not running")


@airflow_group.command("status")
def airflow_status() -> None:
    """List the local Airflow components and their pids."""
    from headwater import airflow_local

    for component, pid in airflow_local.status().items():
        click.echo(f"{component:<14} {'running (pid ' + str(pid) + ')' if pid else 'stopped'}")


# --- airbyte -----------------------------------------------------------------------------------


@main.group("airbyte")
def airbyte_group() -> None:
    """Drive a real Airbyte server from airbyte/connections/ (see runbooks/airbyte.md)."""


@airbyte_group.command("apply")
@click.argument("domain", default="marketplace")
@click.option(
    "--target",
    type=click.Choice(["production", "local"]),
    default="production",
    show_default=True,
    help="Which destination of the connection file to use.",
)
@click.option(
    "--dry-run", is_flag=True, help="Read the workspace and say what would change; write nothing."
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
def airbyte_apply(domain: str, target: str, dry_run: bool, as_json: bool) -> None:
    """Create or update DOMAIN's source, destination and connection in an Airbyte workspace.

    Idempotent by name. Server and credentials come from AIRBYTE_API_URL, AIRBYTE_CLIENT_ID /
    AIRBYTE_CLIENT_SECRET (or AIRBYTE_USERNAME / AIRBYTE_PASSWORD) and AIRBYTE_WORKSPACE_ID;
    connector settings from the variables the connection file names.
    """
    from headwater import airbyte

    actions = airbyte.apply_domain(domain, target=target, dry_run=dry_run)
    if as_json:
        emit_json([a.to_dict() for a in actions])
    else:
        for action in actions:
            click.echo(action.describe())


# --- dashboards ----------------------------------------------------------------------------------


@main.command("dashboard")
@click.argument("domain")
@click.argument("name", required=False)
@click.option(
    "--now", default=None, help="The query's 'now' (ISO 8601; default: the newest event)."
)
@click.option(
    "--limit",
    type=click.IntRange(min=1),
    default=None,
    help="At most this many rows (default: the query's page, e.g. 100 locations).",
)
@click.option(
    "--var",
    "variables",
    multiple=True,
    metavar="KEY=VALUE",
    help="Another parameter of the query (repeatable), e.g. --var location=loc_00142.",
)
@click.option("--json", "as_json", is_flag=True, help="Rows as JSON.")
def dashboard_cmd(
    domain: str,
    name: str | None,
    now: str | None,
    limit: int | None,
    variables: tuple[str, ...],
    as_json: bool,
) -> None:
    """Run dashboard query NAME of DOMAIN (dbt_project/analyses/<domain>/<name>.sql).

    Without NAME, lists the domain's queries. Results are printed as a table, or as JSON
    with --json; the time the query took goes to standard error.
    """
    from datetime import datetime

    from headwater import analyses

    if name is None:
        queries = analyses.available(domain)
        if not queries:
            raise ConfigError(
                f"no dashboard queries for {domain!r} (dbt_project/analyses/{domain}/)"
            )
        for query, title in queries.items():
            click.echo(f"{query:<20} {title}")
        return
    parameters: dict[str, object] = {}
    for item in variables:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--var {item!r}: expected KEY=VALUE")
        parameters[key] = value
    if now is not None:
        try:
            parameters["now"] = datetime.fromisoformat(now.replace("Z", "+00:00")).isoformat()
        except ValueError:
            raise ConfigError(f"--now {now!r} is not an ISO 8601 time") from None
    if limit is not None:
        parameters["limit"] = limit
    result = analyses.run(domain, name, parameters)
    if as_json:
        emit_json(result.as_dicts())
    else:
        from rich.table import Table

        table = Table(title=f"{domain} · {name}")
        for column in result.columns:
            table.add_column(column)
        for row in result.rows:
            table.add_row(
                *("" if v is None else f"{v:,}" if isinstance(v, int) else str(v) for v in row)
            )
        table.caption = f"{len(result.rows):,} rows"
        console().print(table)
    click.echo(f"{name}: {len(result.rows):,} rows in {result.seconds * 1000:.1f} ms", err=True)


@main.command("demo")
@click.option(
    "--domain",
    "domains",
    multiple=True,
    type=click.Choice(config.DOMAINS),
    help="Only this domain (repeatable). Default: every domain with a demo.",
)
@click.option("--scale", default=1.0, show_default=True, help="Size of the generated sources.")
def demo_cmd(domains: tuple[str, ...], scale: float) -> None:
    """Run each domain's pipeline end to end on the embedded server (what `make demo` runs).

    Per domain: fill the source, run the pipeline from scratch, apply a batch of changes, run
    it again incrementally, and show the published marts. Re-seeds the sources and resets
    their raw tables, so every run starts clean.
    """
    from headwater import demo

    if scale <= 0:
        raise HeadwaterError(f"--scale must be positive, got {scale}")
    demo.run(domains=domains or None, scale=scale, print_sync=print_sync_report)


@main.command("bench")
@click.argument("names", nargs=-1, metavar="[NAME|all]...")
@click.option(
    "--scale",
    type=float,
    default=None,
    help="Size factor; each benchmark says what 1 means (its --list line). Default: 1.",
)
@click.option(
    "--repetitions",
    "-n",
    type=click.IntRange(min=1),
    default=None,
    help="Repetitions of each measurement (default: the benchmark's own).",
)
@click.option("--smoke", is_flag=True, help="The tiniest run of every code path (seconds).")
@click.option(
    "--quick",
    is_flag=True,
    help="Each benchmark at its quick size (its QUICK; shown by --list): what `make bench` "
    "runs, every benchmark in under 30 minutes on 2 cores. --scale and -n override it.",
)
@click.option("--list", "list_only", is_flag=True, help="List the benchmarks and exit.")
@click.option("--json", "as_json", is_flag=True, help="Print the result records as JSON.")
def bench_cmd(
    names: tuple[str, ...],
    scale: float | None,
    repetitions: int | None,
    smoke: bool,
    quick: bool,
    list_only: bool,
    as_json: bool,
) -> None:
    """Run benchmarks from benchmarks/ (one module each; `all` runs every one).

    Each run prints a table and writes a JSON record to benchmarks/results/ with the
    machine (cores, memory, load, PostgreSQL and package versions) and the exact
    parameters. Comparisons are interleaved in one process and reported as ratios with
    min / median / max over the repetitions. Without NAME, lists the benchmarks.

    \b
    Examples:
      headwater bench --list
      headwater bench sync_throughput --scale 1 --repetitions 5
      headwater bench all --quick    (what `make bench` runs)
      headwater bench all            (every benchmark at scale 1: hours)
    """
    from headwater import bench

    if list_only or not names:
        benchmarks = bench.select([])
        if as_json:
            emit_json(
                [{"name": b.name, "summary": b.summary, "quick": b.quick} for b in benchmarks]
            )
        else:
            for b in benchmarks:
                click.echo(f"{b.name:<24} {b.summary} (quick: {_quick_size(b.quick)})")
        return
    failed: list[str] = []
    records = []
    for benchmark in bench.select(names):
        if not as_json:
            click.echo(f"→ benchmark {benchmark.name}", err=True)
        try:
            record = bench.run(
                benchmark, scale=scale, repetitions=repetitions, smoke=smoke, quick=quick
            )
        except HeadwaterError as exc:
            if len(names) == 1 and names[0] != "all":
                raise
            failed.append(benchmark.name)
            click.echo(f"error: benchmark {benchmark.name}: {db.redact(str(exc))}", err=True)
            continue
        records.append(record)
        if not as_json:
            print_bench_record(record)
    if as_json:
        emit_json(records if len(records) != 1 else records[0])
    if failed:
        raise HeadwaterError(f"{len(failed)} benchmark(s) failed: {', '.join(failed)}")


def _quick_size(quick: dict) -> str:
    size = f"--scale {quick['scale']:g}"
    return size + (f" -n {quick['repetitions']}" if "repetitions" in quick else "")


def _format_number(value) -> str:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return str(value)
    if abs(value) >= 1000 or isinstance(value, int):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def _format_metric(value) -> str:
    if isinstance(value, dict) and {"min", "median", "max"} <= set(value):
        return " / ".join(_format_number(value[k]) for k in ("min", "median", "max"))
    return _format_number(value)


def print_bench_record(record: dict) -> None:
    from rich.table import Table

    out = console()
    rows = record["rows"]
    columns: list[str] = []
    for row in rows:
        columns += [key for key in row if key not in columns]
    table = Table(title=f"{record['benchmark']}: {record['summary']}", title_justify="left")
    for column in columns:
        numeric = all(isinstance(row.get(column), int | float | dict | None) for row in rows)
        table.add_column(column, justify="right" if numeric else "left")
    for row in rows:
        table.add_row(*("" if row.get(c) is None else _format_metric(row.get(c)) for c in columns))
    machine = record["machine"]
    table.caption = (
        f"{machine['cores']} cores, {machine['memory_gib']} GiB, load "
        f"{machine['load_average_before']} → {machine['load_average_after']}; "
        f"{record['seconds']:.0f} s; {record.get('file', '')}"
    )
    out.print(table)
    if record["results"]:
        results = Table(title="results (min / median / max)", title_justify="left")
        results.add_column("metric")
        results.add_column("value", justify="right")
        for metric, value in record["results"].items():
            results.add_row(metric, "" if value is None else _format_metric(value))
        out.print(results)
    for metric, target in (record.get("targets") or {}).items():
        mark = "met" if target["met"] else "MISSED"
        detail = f" ({target['detail']})" if target.get("detail") else ""
        out.print(f"target {metric} {target['target']}: {mark}{detail}")


if __name__ == "__main__":  # pragma: no cover
    main()
