"""Write-audit-publish: analysts read `analytics`, which changes only when a caller says so.

dbt writes the marts into schema `marts`; the marts gate audits them there; only then does
the caller (the CLI, the Airflow DAG) call `publish`, which copies the domain's marts into
`analytics` as one set. A failing gate therefore never reaches analysts: they keep the last
good marts, unchanged to the byte, until a build passes.

How a publish works on PostgreSQL:

1. Stage. Copy each mart into `analytics__next` (`create table ... (like ... including all)`
   plus an insert) and compute its row count and checksum there. Analysts are not affected:
   nothing they read is touched or locked.
2. Swap, in one short transaction: lock the domain's current `analytics` tables, move each
   into `analytics__previous` (dropping the version kept there before) and move its staged
   copy into `analytics`, carrying the old table's grants over, then record the publish in
   `headwater.publish_log`. A statement reading several marts either ran before the commit
   and saw the old set, or waits for it and sees the new set; a failure anywhere rolls the
   whole swap back and leaves the old set in place. The lock wait is bounded
   (`lock_timeout`), so a long analyst query makes the swap retry rather than queue every
   other reader behind it.

`restore` swaps `analytics` and `analytics__previous` back the same way, for the marts of
the domain's last publish; restoring twice returns to where you started.

A view built on an `analytics` table would follow the table into `analytics__previous` and
go on showing old data, so publish refuses to swap a table that has dependent views and names
them. (A repeatable-read transaction that began before a publish and reads a swapped table
after it sees that table empty: PostgreSQL's table renames are not MVCC-safe. Analysts'
tools use read committed.)

BigQuery, in production, has no transactional DDL, so the same contract is kept differently:

* Stage with zero-copy clones, `CREATE OR REPLACE TABLE analytics__next.fct_orders CLONE
  marts.fct_orders`, and keep the outgoing version with `CREATE OR REPLACE SNAPSHOT TABLE
  analytics__previous.fct_orders CLONE analytics.fct_orders` (time travel, `FOR SYSTEM_TIME
  AS OF`, covers the last seven days as well).
* Swap the contents of all the domain's `analytics` tables in one multi-statement
  transaction, which may span datasets and gives snapshot isolation:
  `BEGIN TRANSACTION; TRUNCATE TABLE analytics.fct_orders; INSERT INTO analytics.fct_orders
  SELECT * FROM analytics__next.fct_orders; ...; COMMIT TRANSACTION;`. Each query sees the
  tables either before or after the commit. DDL on permanent tables is not allowed inside a
  transaction, which is why the swap moves rows rather than renaming tables.
* Analysts get access to `analytics` only: either grant them that dataset, or publish
  authorized views (`analytics.fct_orders AS SELECT * FROM <private dataset>.fct_orders`,
  the views authorized on the private dataset), so that they never need access to `marts`
  or the raw datasets. Repointing several views is several DDL jobs and not atomic, so the
  views should read fixed tables whose contents the transaction above replaces.
* Record each publish in a `headwater.publish_log` table the same way; a table checksum is
  `BIT_XOR(FARM_FINGERPRINT(TO_JSON_STRING(t)))` over the rows.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg
from psycopg import errors, sql

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

SOURCE_SCHEMA = "marts"
ANALYTICS = "analytics"
NEXT = "analytics__next"
PREVIOUS = "analytics__previous"
LOG_SCHEMA = "headwater"
LOCK_TIMEOUT = "5s"
SWAP_ATTEMPTS = 5
# One publish or restore at a time, whatever the domain: they share the staging schemas.
_ADVISORY_KEY = "headwater.publish"

LOG_DDL = """
create table if not exists {schema}.publish_log (
    publish_id bigserial primary key,
    domain text not null,
    action text not null check (action in ('publish', 'restore')),
    published_at timestamptz not null default clock_timestamp(),
    published_by text not null default current_user,
    marts jsonb not null,
    row_counts jsonb not null,
    checksums jsonb not null,
    checksum text not null
)
"""


@dataclass
class PublishResult:
    domain: str
    action: str  # "publish" or "restore"
    publish_id: int
    published_at: datetime
    marts: list[str]
    row_counts: dict[str, int] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    checksum: str = ""
    seconds: float = 0.0

    def summary(self) -> str:
        verb = "published" if self.action == "publish" else "restored"
        rows = sum(self.row_counts.values())
        return (
            f"{self.domain}: {verb} {len(self.marts)} marts ({rows:,} rows) to {ANALYTICS} "
            f"as publish {self.publish_id}, checksum {self.checksum[:12]}"
        )

    def as_dict(self) -> dict:
        payload = asdict(self)
        payload["published_at"] = self.published_at.isoformat()
        payload["seconds"] = round(self.seconds, 3)
        return payload


def marts_of(domain: str) -> list[str]:
    """The marts a domain publishes, in the order they are copied and swapped: the `marts`
    list of its pipeline file (dags/<domain>/pipeline.yaml)."""
    from headwater.orchestration import load_pipeline

    return list(load_pipeline(domain).marts)


def publish(
    domain: str, *, marts: list[str] | None = None, warehouse_url: str | None = None
) -> PublishResult:
    """Replace the domain's marts in `analytics` with copies of the current `marts` tables.

    Call it only after the marts gate passed: publishing is the caller's decision. The
    previous version stays in `analytics__previous` for `restore`.
    """
    started = time.perf_counter()
    names = _dedupe(marts if marts is not None else marts_of(domain))
    if not names:
        raise ConfigError(f"nothing to publish for {domain}: the list of marts is empty")
    url = warehouse_url or config.warehouse_url()
    with _session(url) as conn:
        missing = [m for m in names if not _exists(conn, SOURCE_SCHEMA, m)]
        if missing:
            raise HeadwaterError(
                f"cannot publish {domain}: {', '.join(missing)} not found in schema "
                f"{SOURCE_SCHEMA}; build the marts (dbt) and pass the marts gate first"
            )
        row_counts, checksums = _stage(conn, names)
        return _swap_and_record(
            conn, domain, "publish", names, names, _swap_one, row_counts, checksums, started
        )


def restore(domain: str, *, warehouse_url: str | None = None) -> PublishResult:
    """Bring back the version of the domain's marts that the last publish replaced.

    The current version moves to `analytics__previous`, so a second restore undoes the first.
    """
    started = time.perf_counter()
    url = warehouse_url or config.warehouse_url()
    with _session(url) as conn:
        row = conn.execute(
            sql.SQL(
                "select marts from {}.publish_log where domain = %s "
                "order by publish_id desc limit 1"
            ).format(sql.Identifier(LOG_SCHEMA)),
            [domain],
        ).fetchone()
        if row is None:
            raise HeadwaterError(f"cannot restore {domain}: it was never published")
        names = list(row[0])
        kept = [m for m in names if _exists(conn, PREVIOUS, m)]
        if not kept:
            raise HeadwaterError(
                f"cannot restore {domain}: {PREVIOUS} holds no earlier version of its marts"
            )
        # What analysts will see after the swap: the kept versions, and no table for a mart
        # the last publish introduced.
        row_counts, checksums = {}, {}
        for mart in kept:
            row_counts[mart], checksums[mart] = _measure(conn, PREVIOUS, mart)

        return _swap_and_record(
            conn, domain, "restore", names, kept, _swap_back_one, row_counts, checksums, started
        )


def _swap_and_record(
    conn: psycopg.Connection,
    domain: str,
    action: str,
    names: list[str],
    recorded: list[str],
    swap_one: Callable[[psycopg.Connection, str], None],
    row_counts: dict[str, int],
    checksums: dict[str, str],
    started: float,
) -> PublishResult:
    """Swap every mart in `names` with `swap_one` in one transaction and log it."""

    def swap(conn: psycopg.Connection) -> None:
        _lock(conn, ANALYTICS, names)
        _refuse_dependent_views(conn, names)
        for mart in names:
            swap_one(conn, mart)

    publish_id, published_at = _in_swap_transaction(
        conn, swap, domain, action, recorded, row_counts, checksums
    )
    result = PublishResult(
        domain,
        action,
        publish_id,
        published_at,
        recorded,
        row_counts,
        checksums,
        _combined(checksums),
        time.perf_counter() - started,
    )
    log.info("%s (%.1f s)", result.summary(), result.seconds)
    return result


def analytics_checksums(
    domain: str,
    *,
    marts: list[str] | None = None,
    schema: str = ANALYTICS,
    warehouse_url: str | None = None,
) -> dict[str, str]:
    """Checksum of each of the domain's tables in `schema` as it is now (absent tables left out).

    The same checksum publish records: md5 over the sorted md5 of every row's text, so it
    changes with any value, row, column or column order, and not with physical row order.
    """
    names = marts if marts is not None else marts_of(domain)
    url = warehouse_url or config.warehouse_url()
    with db.connect(url, what="warehouse") as conn:
        return {m: _measure(conn, schema, m)[1] for m in names if _exists(conn, schema, m)}


def history(domain: str, *, limit: int = 10, warehouse_url: str | None = None) -> list[dict]:
    """The domain's latest publishes and restores, newest first."""
    url = warehouse_url or config.warehouse_url()
    with db.connect(url, what="warehouse") as conn:
        if not _exists(conn, LOG_SCHEMA, "publish_log"):
            return []
        cur = conn.execute(
            sql.SQL(
                "select publish_id, action, published_at, published_by, marts, row_counts, "
                "checksum from {}.publish_log where domain = %s order by publish_id desc limit %s"
            ).format(sql.Identifier(LOG_SCHEMA)),
            [domain, limit],
        )
        columns = [c.name for c in cur.description]
        return [dict(zip(columns, row, strict=True)) for row in cur.fetchall()]


# --- steps -----------------------------------------------------------------------------------


class _session:
    """A warehouse connection holding the publish lock, with the schemas and log in place."""

    def __init__(self, url: str):
        self.url = url

    def __enter__(self) -> psycopg.Connection:
        # Autocommit: each `conn.transaction()` below is a real transaction, not a savepoint.
        self.conn = db.connect(self.url, what="warehouse", autocommit=True)
        try:
            got = self.conn.execute(
                "select pg_try_advisory_lock(hashtext(%s))", [_ADVISORY_KEY]
            ).fetchone()[0]
            if not got:
                raise HeadwaterError(
                    "another publish or restore is running on this warehouse; "
                    "wait for it to finish and run this again"
                )
            with self.conn.transaction():
                for schema in (ANALYTICS, NEXT, PREVIOUS, LOG_SCHEMA):
                    self.conn.execute(
                        sql.SQL("create schema if not exists {}").format(sql.Identifier(schema))
                    )
                self.conn.execute(sql.SQL(LOG_DDL).format(schema=sql.Identifier(LOG_SCHEMA)))
        except BaseException:
            self.conn.close()
            raise
        return self.conn

    def __exit__(self, *exc) -> bool:
        try:
            if not self.conn.closed:
                self.conn.execute("select pg_advisory_unlock(hashtext(%s))", [_ADVISORY_KEY])
        except psycopg.Error:
            pass  # closing the session releases the lock as well
        finally:
            self.conn.close()
        return False


def _stage(conn: psycopg.Connection, names: list[str]) -> tuple[dict[str, int], dict[str, str]]:
    """Copy the marts into `analytics__next`, and measure the copies."""
    row_counts, checksums = {}, {}
    with conn.transaction():
        for mart in names:
            source, staged = sql.Identifier(SOURCE_SCHEMA, mart), sql.Identifier(NEXT, mart)
            conn.execute(sql.SQL("drop table if exists {}").format(staged))
            conn.execute(sql.SQL("create table {} (like {} including all)").format(staged, source))
            conn.execute(sql.SQL("insert into {} select * from {}").format(staged, source))
            comment = conn.execute(
                "select obj_description(%s::regclass, 'pg_class')",
                [f"{_quote(SOURCE_SCHEMA)}.{_quote(mart)}"],
            ).fetchone()[0]
            if comment:
                conn.execute(sql.SQL("comment on table {} is {}").format(staged, comment))
            row_counts[mart], checksums[mart] = _measure(conn, NEXT, mart)
    return row_counts, checksums


def _swap_one(conn: psycopg.Connection, mart: str) -> None:
    """Inside the swap transaction: the staged copy becomes the live table."""
    live, staged, kept = (sql.Identifier(s, mart) for s in (ANALYTICS, NEXT, PREVIOUS))
    conn.execute(sql.SQL("drop table if exists {}").format(kept))
    if _exists(conn, ANALYTICS, mart):
        conn.execute(sql.SQL("alter table {} set schema {}").format(live, sql.Identifier(PREVIOUS)))
        conn.execute(
            sql.SQL("alter table {} set schema {}").format(staged, sql.Identifier(ANALYTICS))
        )
        _copy_grants(conn, PREVIOUS, ANALYTICS, mart)
    else:
        conn.execute(
            sql.SQL("alter table {} set schema {}").format(staged, sql.Identifier(ANALYTICS))
        )


def _swap_back_one(conn: psycopg.Connection, mart: str) -> None:
    """Inside the restore transaction: live and previous trade places (via `analytics__next`)."""
    live, scratch = sql.Identifier(ANALYTICS, mart), sql.Identifier(NEXT, mart)
    has_live, has_kept = _exists(conn, ANALYTICS, mart), _exists(conn, PREVIOUS, mart)
    conn.execute(sql.SQL("drop table if exists {}").format(scratch))
    if has_live:
        conn.execute(sql.SQL("alter table {} set schema {}").format(live, sql.Identifier(NEXT)))
    if has_kept:
        conn.execute(
            sql.SQL("alter table {} set schema {}").format(
                sql.Identifier(PREVIOUS, mart), sql.Identifier(ANALYTICS)
            )
        )
        if has_live:
            _copy_grants(conn, NEXT, ANALYTICS, mart)
    if has_live:
        conn.execute(
            sql.SQL("alter table {} set schema {}").format(scratch, sql.Identifier(PREVIOUS))
        )


def _in_swap_transaction(
    conn: psycopg.Connection,
    swap,
    domain: str,
    action: str,
    names: list[str],
    row_counts: dict[str, int],
    checksums: dict[str, str],
) -> tuple[int, datetime]:
    """Run `swap` and log it in one transaction, retrying when readers hold the tables too long."""
    for attempt in range(1, SWAP_ATTEMPTS + 1):
        try:
            with conn.transaction():
                conn.execute(sql.SQL("set local lock_timeout = {}").format(LOCK_TIMEOUT))
                swap(conn)
                return conn.execute(
                    sql.SQL(
                        "insert into {}.publish_log "
                        "(domain, action, marts, row_counts, checksums, checksum) "
                        "values (%s, %s, %s, %s, %s, %s) returning publish_id, published_at"
                    ).format(sql.Identifier(LOG_SCHEMA)),
                    [
                        domain,
                        action,
                        json.dumps(names),
                        json.dumps(row_counts),
                        json.dumps(checksums),
                        _combined(checksums),
                    ],
                ).fetchone()
        except (errors.LockNotAvailable, errors.DeadlockDetected) as exc:
            if attempt == SWAP_ATTEMPTS:
                raise HeadwaterError(
                    f"{action} of {domain} gave up after {attempt} attempts: readers kept the "
                    f"{ANALYTICS} tables locked ({type(exc).__name__}); {ANALYTICS} is unchanged, "
                    "run it again"
                ) from None
            wait = 0.5 * 2 ** (attempt - 1)
            log.warning("%s of %s: tables busy, retrying in %.1f s", action, domain, wait)
            time.sleep(wait)
        except psycopg.Error as exc:
            raise HeadwaterError(
                f"{action} of {domain} failed and was rolled back, {ANALYTICS} is unchanged: "
                f"{db.redact(str(exc).strip().splitlines()[0])}"
            ) from None
    raise AssertionError("unreachable")


def _lock(conn: psycopg.Connection, schema: str, names: Iterable[str]) -> None:
    present = [sql.Identifier(schema, m) for m in names if _exists(conn, schema, m)]
    if present:
        conn.execute(
            sql.SQL("lock table {} in access exclusive mode").format(sql.SQL(", ").join(present))
        )


def _refuse_dependent_views(conn: psycopg.Connection, names: list[str]) -> None:
    rows = conn.execute(
        """
        select distinct dependent.oid::regclass::text, referenced.oid::regclass::text
        from pg_depend as d
        join pg_rewrite as r on r.oid = d.objid
        join pg_class as dependent on dependent.oid = r.ev_class
        join pg_class as referenced on referenced.oid = d.refobjid
        join pg_namespace as n on n.oid = referenced.relnamespace
        where d.classid = 'pg_rewrite'::regclass
          and d.refclassid = 'pg_class'::regclass
          and dependent.oid <> referenced.oid
          and n.nspname = %s
          and referenced.relname = any(%s)
        order by 1
        """,
        [ANALYTICS, names],
    ).fetchall()
    if rows:
        pairs = ", ".join(f"{view} (on {table})" for view, table in rows)
        raise HeadwaterError(
            f"views depend on {ANALYTICS} tables: {pairs}; swapping the tables would leave "
            "them showing the old version. Drop them (and recreate them after publishing) "
            "or build them in dbt, then run this again"
        )


def _copy_grants(conn: psycopg.Connection, from_schema: str, to_schema: str, mart: str) -> None:
    """Give the table now in `to_schema` the privileges the one in `from_schema` had."""
    grants = conn.execute(
        """
        select case when a.grantee = 0 then null else a.grantee::regrole::text end,
               a.privilege_type, a.is_grantable
        from pg_class as c
        join pg_namespace as n on n.oid = c.relnamespace
        cross join lateral aclexplode(c.relacl) as a
        where n.nspname = %s and c.relname = %s and a.grantee <> c.relowner
        """,
        [from_schema, mart],
    ).fetchall()
    target = sql.Identifier(to_schema, mart)
    for grantee, privilege, grantable in grants:
        conn.execute(
            sql.SQL("grant {} on table {} to {}{}").format(
                sql.SQL(privilege),  # from aclexplode: SELECT, INSERT, ... never user input
                target,
                sql.SQL("public") if grantee is None else sql.SQL(grantee),  # regrole text, quoted
                sql.SQL(" with grant option" if grantable else ""),
            )
        )


def _measure(conn: psycopg.Connection, schema: str, mart: str) -> tuple[int, str]:
    count, digest = conn.execute(
        sql.SQL(
            "select count(*), md5(coalesce(string_agg(h, '' order by h), '')) "
            "from (select md5(t::text) as h from {} as t) as rows"
        ).format(sql.Identifier(schema, mart))
    ).fetchone()
    return int(count), digest


def _exists(conn: psycopg.Connection, schema: str, name: str) -> bool:
    return (
        conn.execute(
            "select 1 from pg_class as c join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = %s and c.relname = %s and c.relkind in ('r', 'p', 'v', 'm', 'f')",
            [schema, name],
        ).fetchone()
        is not None
    )


def _combined(checksums: dict[str, str]) -> str:
    text = ";".join(f"{name}:{checksums[name]}" for name in sorted(checksums))
    return hashlib.md5(text.encode(), usedforsecurity=False).hexdigest()


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _dedupe(names: list[str]) -> list[str]:
    return list(dict.fromkeys(names))
