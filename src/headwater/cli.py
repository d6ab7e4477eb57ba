"""The `headwater` command line. Each command is a thin wrapper over a library module."""

from __future__ import annotations

import json
import logging
import sys

import click

from headwater import config, db
from headwater.errors import HeadwaterError

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


if __name__ == "__main__":  # pragma: no cover
    main()
