"""The local sync engine: what an Airbyte PostgreSQL → warehouse connection would write.

It reads a connection from `airbyte/connections/<domain>.yaml` and writes Destinations V2
tables into the connection's namespace: the source's columns (typed as Airbyte types them)
plus `_airbyte_raw_id`, `_airbyte_extracted_at`, `_airbyte_meta` and `_airbyte_generation_id`.

Guarantees, per stream:

* Rows and state commit in one warehouse transaction, so a crash at any point leaves the
  previous state and the previous rows: a rerun resumes and nothing is lost or doubled.
* Cursor windows are bounded by a *snapshot bound*, not by the largest cursor read. Before
  reading, the engine asks the source for the start time of its oldest open transaction;
  every row with a cursor value below that bound is already committed and visible to the
  read snapshot, so the next window starts at the bound. Rows tied on the cursor, rows that
  long transactions commit late with an older cursor value, and rows with a future cursor
  are all read again on the next sync (deduped streams upsert them, so re-reading is
  harmless). When the sync user may not see other sessions in `pg_stat_activity`, the
  bound falls back to `now() - safety_lag`.
* Rows move with COPY from server to server; Python only relays the byte stream.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import datetime

import psycopg
from psycopg import sql

from headwater import config, db
from headwater.connection import Connection, Stream, load_connection
from headwater.errors import HeadwaterError

log = logging.getLogger(__name__)

STATE_SCHEMA = "headwater"
AIRBYTE_COLUMNS = (
    ("_airbyte_raw_id", "varchar"),
    ("_airbyte_extracted_at", "timestamptz"),
    ("_airbyte_meta", "jsonb"),
    ("_airbyte_generation_id", "bigint"),
)
DEDUPED = "incremental_append_deduped"
APPEND = "incremental_append"
FULL_OVERWRITE = "full_refresh_overwrite"
FULL_APPEND = "full_refresh_append"

# Source type → (warehouse type, how to select it). Airbyte's PostgreSQL source emits uuid,
# text and unknown types as strings, arrays as JSON arrays, integers as 64-bit integers, and
# keeps numeric, booleans, dates and both kinds of timestamp typed.
_TYPE_MAP: dict[str, tuple[str, str]] = {
    "int2": ("bigint", "{}::bigint"),
    "int4": ("bigint", "{}::bigint"),
    "int8": ("bigint", "{}"),
    "numeric": ("numeric", "{}"),
    "float4": ("numeric", "{}::numeric"),
    "float8": ("numeric", "{}::numeric"),
    "money": ("numeric", "{}::numeric"),
    "bool": ("boolean", "{}"),
    "date": ("date", "{}"),
    "time": ("time", "{}"),
    "timetz": ("timetz", "{}"),
    "timestamp": ("timestamp", "{}"),
    "timestamptz": ("timestamptz", "{}"),
    "json": ("jsonb", "{}::jsonb"),
    "jsonb": ("jsonb", "{}"),
}
_STRING = ("varchar", "{}::varchar")
_ARRAY = ("jsonb", "to_jsonb({})")

STATE_DDL = """
create schema if not exists {schema};
create table if not exists {schema}.sync_state (
    connection text not null,
    stream text not null,
    sync_mode text not null,
    cursor_field text,
    cursor_value text,
    generation_id bigint not null default 0,
    last_sync_id bigint,
    updated_at timestamptz not null default now(),
    primary key (connection, stream)
);
-- xmin change detection: the source snapshot's xmin (a 64-bit transaction id) of the last sync.
alter table {schema}.sync_state add column if not exists change_bound text;
create table if not exists {schema}.sync_runs (
    sync_id bigserial primary key,
    connection text not null,
    started_at timestamptz not null default now(),
    finished_at timestamptz,
    status text not null default 'running',
    error text,
    streams jsonb
);
"""


@dataclass(frozen=True)
class Column:
    name: str
    source_type: str  # format_type() of the source column, e.g. numeric(12,2)
    dest_type: str
    select_expr: str  # a template with {} for the quoted column name


@dataclass
class StreamResult:
    stream: str
    sync_mode: str
    rows_read: int = 0
    rows_written: int = 0
    cursor_field: str | None = None
    cursor_before: str | None = None
    cursor_after: str | None = None
    generation_id: int = 0
    columns_added: list[str] = field(default_factory=list)
    seconds: float = 0.0
    # Where the seconds went: the COPY between the servers, index builds after a first
    # load, ANALYZE of a large load; the rest is catalog work and the state row.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def rows_per_second(self) -> float:
        return self.rows_read / self.seconds if self.seconds else 0.0


@dataclass
class SyncReport:
    connection: str
    sync_id: int
    namespace: str
    streams: list[StreamResult]
    seconds: float

    def as_dict(self) -> dict:
        return {
            "connection": self.connection,
            "sync_id": self.sync_id,
            "namespace": self.namespace,
            "seconds": round(self.seconds, 3),
            "rows_read": sum(s.rows_read for s in self.streams),
            "rows_written": sum(s.rows_written for s in self.streams),
            "streams": [
                {
                    **asdict(s),
                    "seconds": round(s.seconds, 3),
                    "rows_per_second": round(s.rows_per_second),
                }
                for s in self.streams
            ],
        }


# Called as progress(stream, rows_so_far, estimated_total); the CLI draws a bar with it.
Progress = Callable[[str, int, int | None], None]


def sync(
    connection: Connection | str,
    *,
    streams: Sequence[str] | None = None,
    full_refresh: bool = False,
    source_url: str | None = None,
    warehouse_url: str | None = None,
    progress: Progress | None = None,
) -> SyncReport:
    """Sync the connection's streams into the warehouse and return what moved.

    `full_refresh` re-reads incremental streams from scratch and bumps their generation,
    like an Airbyte "refresh". Raises HeadwaterError (one line, naming the stream) on any
    problem; a failed stream keeps its previous rows and state.
    """
    conn_cfg = load_connection(connection) if isinstance(connection, str) else connection
    selected = _select_streams(conn_cfg, streams)
    if conn_cfg.source.is_file:
        # A folder of files (Airbyte's S3 source): its own code path; `source_url` is the folder.
        from headwater import files

        return files.sync(
            conn_cfg,
            selected,
            full_refresh=full_refresh,
            warehouse_url=warehouse_url or config.warehouse_url(),
            folder=source_url,
            progress=progress,
        )
    source_url = source_url or config.url_from_env(conn_cfg.source.url_env, conn_cfg.name)
    warehouse_url = warehouse_url or config.warehouse_url()
    started = time.perf_counter()

    source = db.connect(source_url, what=f"source {conn_cfg.source.name}", autocommit=True)
    warehouse = db.connect(warehouse_url, what="warehouse", autocommit=True)
    with source, warehouse:
        try:
            _ensure_state_tables(warehouse)
        except psycopg.Error as exc:
            raise HeadwaterError(
                f"warehouse: cannot create the sync state tables: {_first_line(exc)}"
            ) from exc
        if not _try_lock(warehouse, conn_cfg.name):
            raise HeadwaterError(
                f"connection {conn_cfg.name}: another sync is running; try again when it ends"
            )
        # Discover every stream before writing anything: a missing table or column fails
        # the whole run up front instead of leaving some streams synced.
        try:
            plans = [_discover(source, conn_cfg, stream) for stream in selected]
        except psycopg.Error as exc:
            raise HeadwaterError(
                f"connection {conn_cfg.name}: cannot read the source catalog: {_first_line(exc)}"
            ) from exc
        sync_id = warehouse.execute(
            f"insert into {STATE_SCHEMA}.sync_runs (connection) values (%s) returning sync_id",  # noqa: S608
            [conn_cfg.name],
        ).fetchone()[0]
        results: list[StreamResult] = []
        try:
            for plan in plans:
                try:
                    results.append(
                        _sync_stream(
                            source, warehouse, conn_cfg, plan, sync_id, full_refresh, progress
                        )
                    )
                except psycopg.Error as exc:
                    # The stream's transaction has rolled back: its rows and state are as
                    # they were. Say which stream, in one line, without the traceback.
                    raise HeadwaterError(
                        f"connection {conn_cfg.name}: stream {plan.stream.name!r}: "
                        f"{_first_line(exc)}; its rows and state are unchanged"
                    ) from exc
        except BaseException as exc:
            _finish_run(warehouse, sync_id, "failed", results, error=db.redact(str(exc)))
            raise
        _finish_run(warehouse, sync_id, "succeeded", results)
    return SyncReport(
        conn_cfg.name, sync_id, conn_cfg.namespace, results, time.perf_counter() - started
    )


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return db.redact(text.splitlines()[0] if text else type(exc).__name__)


def _select_streams(conn_cfg: Connection, names: Sequence[str] | None) -> list[Stream]:
    if not names:
        return list(conn_cfg.streams)
    known = {s.name: s for s in conn_cfg.streams}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise HeadwaterError(
            f"connection {conn_cfg.name}: no stream named {unknown[0]!r} (streams: {', '.join(known)})"
        )
    return [known[n] for n in names]


def _ensure_state_tables(warehouse: psycopg.Connection) -> None:
    warehouse.execute(STATE_DDL.format(schema=STATE_SCHEMA))


def _try_lock(warehouse: psycopg.Connection, name: str) -> bool:
    """A session-level advisory lock: one sync per connection at a time."""
    return warehouse.execute(
        "select pg_try_advisory_lock(hashtext('headwater.sync.' || %s))", [name]
    ).fetchone()[0]


def _finish_run(
    warehouse, sync_id: int, status: str, results: list[StreamResult], error: str | None = None
) -> None:
    try:
        warehouse.execute(
            f"update {STATE_SCHEMA}.sync_runs set finished_at = now(), status = %s, error = %s, "  # noqa: S608
            "streams = %s where sync_id = %s",
            [status, error, json.dumps([asdict(r) for r in results], default=str), sync_id],
        )
    except psycopg.Error:  # the warehouse may be what failed; the run row is only a log
        log.warning("could not record the end of sync run %s", sync_id)


@dataclass
class _Plan:
    stream: Stream
    columns: list[Column]
    cursor: Column | None
    source_pk_matches: bool


def _discover(source: psycopg.Connection, conn_cfg: Connection, stream: Stream) -> _Plan:
    schema = conn_cfg.source.schema_name
    rows = source.execute(
        """
        select a.attname, format_type(a.atttypid, a.atttypmod), t.typname, t.typcategory
        from pg_attribute as a
        inner join pg_class as c on c.oid = a.attrelid
        inner join pg_namespace as n on n.oid = c.relnamespace
        inner join pg_type as t on t.oid = a.atttypid
        where n.nspname = %s and c.relname = %s and a.attnum > 0 and not a.attisdropped
        order by a.attnum
        """,
        [schema, stream.name],
    ).fetchall()
    where = f"stream {stream.name!r}"
    if not rows:
        raise HeadwaterError(
            f"{where}: table {schema}.{stream.name} does not exist in the source "
            f"({source.info.dbname}@{source.info.host})"
        )
    columns = [_map_column(name, fmt, typname, category) for name, fmt, typname, category in rows]
    by_name = {c.name: c for c in columns}
    for key in stream.primary_key:
        if key not in by_name:
            raise HeadwaterError(
                f"{where}: primary key column {key!r} is not in {schema}.{stream.name}"
            )
    cursor = None
    if stream.sync_mode in (DEDUPED, APPEND):
        cursor = by_name.get(stream.cursor_field or "")
        if cursor is None:
            raise HeadwaterError(
                f"{where}: cursor column {stream.cursor_field!r} is not in {schema}.{stream.name}"
            )
    pk = source.execute(
        """
        select array_agg(a.attname::text order by a.attname)
        from pg_index as i
        inner join pg_attribute as a on a.attrelid = i.indrelid and a.attnum = any(i.indkey)
        where i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text)) and i.indisprimary
        """,
        [schema, stream.name],
    ).fetchone()[0]
    return _Plan(stream, columns, cursor, sorted(pk or []) == sorted(stream.primary_key))


def _map_column(name: str, fmt: str, typname: str, category: str) -> Column:
    if category == "A":
        dest, expr = _ARRAY
    else:
        dest, expr = _TYPE_MAP.get(typname, _STRING)
    return Column(name, fmt, dest, expr)


def _sync_stream(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    conn_cfg: Connection,
    plan: _Plan,
    sync_id: int,
    full_refresh: bool,
    progress: Progress | None,
) -> StreamResult:
    stream = plan.stream
    started = time.perf_counter()
    result = StreamResult(stream.name, stream.sync_mode, cursor_field=stream.cursor_field)
    raw = sql.Identifier(conn_cfg.namespace, stream.name)

    with warehouse.transaction():
        state = warehouse.execute(
            f"select cursor_value, generation_id, change_bound from {STATE_SCHEMA}.sync_state "  # noqa: S608
            "where connection = %s and stream = %s for update",
            [conn_cfg.name, stream.name],
        ).fetchone()
        cursor_before, generation, change_before = state if state else (None, 0, None)
        table_existed = _ensure_raw_table(warehouse, conn_cfg.namespace, plan, result)

        is_full = stream.sync_mode in (FULL_OVERWRITE, FULL_APPEND)
        refresh = full_refresh and not is_full
        # xmin change detection: only row versions written since the last sync's snapshot,
        # upserted by key; a full overwrite when there is no bound yet or on --full-refresh.
        by_xmin = (
            stream.change_detection == "xmin"
            and change_before is not None
            and table_existed
            and not full_refresh
        )
        if (is_full and not by_xmin) or refresh:
            generation = generation + 1 if (state or table_existed) else generation
        lower = None if (refresh or is_full) else cursor_before
        result.cursor_before = cursor_before
        result.generation_id = generation

        # Replace the contents when the stream overwrites, is refreshed, or is loaded for the
        # first time: TRUNCATE is transactional and keeps dbt's views on the table intact.
        replace = (stream.sync_mode == FULL_OVERWRITE and not by_xmin) or refresh
        landing_is_raw = replace or (not by_xmin and not _has_rows(warehouse, raw))
        if replace:
            warehouse.execute(sql.SQL("truncate {}").format(raw))

        extracted_at = warehouse.execute("select now()").fetchone()[0]
        meta = json.dumps({"sync_id": sync_id, "changes": []})
        _set_airbyte_defaults(warehouse, raw, extracted_at, meta, generation)
        rebuild_indexes: list[str] = []
        if landing_is_raw:
            landing = raw
            # Loading an empty table: its indexes are built once after the COPY (a sort)
            # instead of row by row during it. Same transaction, so a crash keeps them.
            rebuild_indexes = _drop_plain_indexes(warehouse, conn_cfg.namespace, stream.name)
        else:
            landing = sql.Identifier("_headwater_stage")
            warehouse.execute(
                sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
                    landing, raw
                )
            )

        select, bound = _source_query(source, conn_cfg, plan, lower)
        column_list = sql.SQL(", ").join(sql.Identifier(c.name) for c in plan.columns)
        estimate = _estimate_rows(source, conn_cfg, stream) if progress and lower is None else None
        _fault(f"before_copy:{stream.name}")
        try:
            snapshot = _snapshot_xids(source) if stream.change_detection == "xmin" else None
            # None when too many transactions passed to place a row's xmin: then every row
            # is read and upserted (unchanged ones are skipped), and the count still checks.
            changed = _xmin_since(change_before, snapshot) if by_xmin else None
            with _phase(result, "copy"):
                rows = _copy_rows(
                    source,
                    warehouse,
                    _select(conn_cfg, plan, [changed]) if changed is not None else select,
                    landing,
                    column_list,
                    stream.name,
                    progress,
                    estimate,
                )
            if landing_is_raw:
                result.rows_written = rows
            else:
                result.rows_written = _merge(
                    warehouse, raw, landing, plan, column_list, upsert=by_xmin or None
                )
            source_table = sql.Identifier(conn_cfg.source.schema_name, stream.name)
            if by_xmin and _count(source, source_table) != _count(warehouse, raw):
                # Rows were deleted at the source: no xmin shows a delete, so read it all
                # again, as a full overwrite would (same snapshot, same transaction).
                log.info("stream %s: rows deleted at the source, reloading it", stream.name)
                generation += 1
                result.generation_id = generation
                warehouse.execute(sql.SQL("truncate {}").format(raw))
                _set_airbyte_defaults(warehouse, raw, extracted_at, meta, generation)
                with _phase(result, "copy"):
                    rows += _copy_rows(
                        source, warehouse, select, raw, column_list, stream.name, progress, None
                    )
                result.rows_written = _count(warehouse, raw)
        finally:
            source.execute("rollback")  # end the read-only snapshot
        result.rows_read = rows

        if rebuild_indexes:
            with _phase(result, "indexes"):
                for definition in rebuild_indexes:
                    warehouse.execute(definition)
        _drop_airbyte_defaults(warehouse, raw)
        if result.rows_written > 10_000:
            with _phase(result, "analyze"):
                warehouse.execute(sql.SQL("analyze {}").format(raw))

        cursor_after = _next_cursor(plan, bound, cursor_before, warehouse, raw)
        result.cursor_after = cursor_after
        warehouse.execute(
            f"""
            insert into {STATE_SCHEMA}.sync_state as s
                (connection, stream, sync_mode, cursor_field, cursor_value, generation_id, last_sync_id, updated_at, change_bound)
            values (%s, %s, %s, %s, %s, %s, %s, now(), %s)
            on conflict (connection, stream) do update set
                sync_mode = excluded.sync_mode, cursor_field = excluded.cursor_field,
                cursor_value = excluded.cursor_value, generation_id = excluded.generation_id,
                last_sync_id = excluded.last_sync_id, updated_at = excluded.updated_at,
                change_bound = excluded.change_bound
            """,  # noqa: S608
            [
                conn_cfg.name,
                stream.name,
                stream.sync_mode,
                stream.cursor_field,
                cursor_after,
                generation,
                sync_id,
                str(snapshot[0]) if snapshot else None,
            ],
        )
        _fault(f"before_commit:{stream.name}")
    _fault(f"after_commit:{stream.name}")
    result.seconds = time.perf_counter() - started
    if progress:
        progress(stream.name, rows, rows)
    return result


@contextmanager
def _phase(result: StreamResult, name: str) -> Iterator[None]:
    """Add the seconds of the block to the stream's `phases[name]`."""
    started = time.perf_counter()
    try:
        yield
    finally:
        result.phases[name] = round(result.phases.get(name, 0.0) + time.perf_counter() - started, 3)


def _copy_rows(
    source: psycopg.Connection,
    warehouse: psycopg.Connection,
    select: sql.Composable,
    landing: sql.Identifier,
    column_list: sql.Composable,
    stream: str,
    progress: Progress | None,
    estimate: int | None,
) -> int:
    """COPY the rows of `select` from the source into `landing`; return how many.

    Python only relays the byte stream. The server sends one message per row; the loop
    does no more per row than it must (the fault and progress checks are armed once).
    """
    rows = 0
    mid_fault = (os.environ.get("HEADWATER_FAULT") or "").partition("@")[0] == f"mid_copy:{stream}"
    next_report = 0.0
    with (
        source.cursor().copy(sql.SQL("copy ({}) to stdout").format(select)) as copy_out,
        warehouse.cursor().copy(
            sql.SQL("copy {} ({}) from stdin").format(landing, column_list)
        ) as copy_in,
    ):
        # Rows arrive one message each; they leave in blocks of about 128 kB, so the
        # warehouse side costs one call per block instead of one per row.
        block = bytearray()
        for chunk in copy_out:
            block += chunk
            if len(block) >= _COPY_BLOCK:
                rows += block.count(b"\n")
                copy_in.write(block)
                block = bytearray()
                if mid_fault:
                    _fault(f"mid_copy:{stream}")
                if progress and (now := time.monotonic()) >= next_report:
                    progress(stream, rows, estimate)
                    next_report = now + 0.1
        if block:
            rows += block.count(b"\n")
            copy_in.write(block)
            if mid_fault:
                _fault(f"mid_copy:{stream}")
    return rows


_COPY_BLOCK = 128 * 1024


def _snapshot_xids(source: psycopg.Connection) -> tuple[int, int]:
    """(xmin, xmax) of the read snapshot, as 64-bit transaction ids."""
    row = source.execute(
        "select pg_snapshot_xmin(s)::text::bigint, pg_snapshot_xmax(s)::text::bigint "
        "from pg_current_snapshot() as s"
    ).fetchone()
    return row[0], row[1]


# How many transaction ids a sync may lag behind before the 32-bit xmin of a row can no
# longer be placed (it wraps at 2^32); past this the stream is read in full.
_XID_HORIZON = 2**31 - 10_000_000


def _xmin_since(bound: str | None, snapshot: tuple[int, int] | None) -> sql.Composable | None:
    """A condition selecting the row versions written by transactions at or after `bound`.

    A row's xmin is the 32-bit id of the transaction that wrote this version (an insert or
    an update; an update writes a new version). Its 64-bit id is recovered from the
    snapshot's xmax: age = (xmax mod 2^32 - xmin) mod 2^32, id = xmax - age. The previous
    snapshot's xmin is below every transaction that was still open then, so a version that
    snapshot could not see has an id at or above it and is read now. Rows frozen long ago
    may look recent after 2^32 transactions and are read again, which is harmless.
    """
    if bound is None or snapshot is None:
        return None
    span = snapshot[1] - int(bound)
    if span < 0 or span > _XID_HORIZON:
        return None
    low32 = snapshot[1] % 2**32
    return sql.SQL(
        "(({} - xmin::text::bigint) % 4294967296 + 4294967296) % 4294967296 <= {}"
    ).format(sql.Literal(low32), sql.Literal(span))


def _count(conn: psycopg.Connection, table: sql.Identifier) -> int:
    return conn.execute(sql.SQL("select count(*) from {}").format(table)).fetchone()[0]


_fault_hits: Counter[str] = Counter()


def _fault(point: str) -> None:
    """Fault injection for tests: HEADWATER_FAULT=<point>[@N] kills this process (like kill -9)
    the Nth time (default the first) it reaches `point`, e.g. `mid_copy:orders@3`."""
    wanted = os.environ.get("HEADWATER_FAULT")
    if not wanted:
        return
    target, _, nth = wanted.partition("@")
    if target != point:
        return
    _fault_hits[point] += 1
    if _fault_hits[point] >= int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)


def _has_rows(warehouse: psycopg.Connection, raw: sql.Identifier) -> bool:
    return warehouse.execute(sql.SQL("select exists (select from {})").format(raw)).fetchone()[0]


def _ensure_raw_table(
    warehouse: psycopg.Connection, namespace: str, plan: _Plan, result: StreamResult
) -> bool:
    """Create the raw table, or add source columns it lacks. Returns whether it existed."""
    name = plan.stream.name
    existing = warehouse.execute(
        """
        select column_name from information_schema.columns
        where table_schema = %s and table_name = %s
        """,
        [namespace, name],
    ).fetchall()
    raw = sql.Identifier(namespace, name)
    if not existing:
        warehouse.execute(
            sql.SQL("create schema if not exists {}").format(sql.Identifier(namespace))
        )
        defs = [
            sql.SQL("{} {}").format(sql.Identifier(c.name), sql.SQL(c.dest_type))
            for c in plan.columns
        ]
        defs += [sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in AIRBYTE_COLUMNS]
        warehouse.execute(sql.SQL("create table {} ({})").format(raw, sql.SQL(", ").join(defs)))
        if plan.stream.primary_key:
            warehouse.execute(
                sql.SQL("create index {} on {} ({})").format(
                    sql.Identifier(f"{name}_pk_idx"),
                    raw,
                    sql.SQL(", ").join(sql.Identifier(k) for k in plan.stream.primary_key),
                )
            )
        warehouse.execute(
            sql.SQL("create index {} on {} (_airbyte_extracted_at)").format(
                sql.Identifier(f"{name}_extracted_at_idx"), raw
            )
        )
        return False
    have = {r[0] for r in existing}
    for column in plan.columns:
        if column.name not in have:
            # Schema evolution: a new source column appears in raw, empty for older rows.
            warehouse.execute(
                sql.SQL("alter table {} add column {} {}").format(
                    raw, sql.Identifier(column.name), sql.SQL(column.dest_type)
                )
            )
            result.columns_added.append(column.name)
    return True


def _drop_plain_indexes(warehouse: psycopg.Connection, namespace: str, table: str) -> list[str]:
    """Drop the raw table's indexes that back no constraint; return how to create them again."""
    rows = warehouse.execute(
        """
        select i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid)
        from pg_index as i
        where i.indrelid = to_regclass(format('%%I.%%I', %s::text, %s::text))
            and not exists (select from pg_constraint as c where c.conindid = i.indexrelid)
        """,
        [namespace, table],
    ).fetchall()
    for name, _ in rows:
        warehouse.execute(sql.SQL("drop index {}").format(sql.SQL(name)))
    return [definition for _, definition in rows]


def _set_airbyte_defaults(
    warehouse, raw, extracted_at: datetime, meta: str, generation: int
) -> None:
    warehouse.execute(
        sql.SQL(
            "alter table {} alter column _airbyte_raw_id set default gen_random_uuid()::varchar, "
            "alter column _airbyte_extracted_at set default {}, "
            "alter column _airbyte_meta set default {}, "
            "alter column _airbyte_generation_id set default {}"
        ).format(
            raw,
            sql.Literal(extracted_at),
            sql.SQL("{}::jsonb").format(sql.Literal(meta)),
            sql.Literal(generation),
        )
    )


def _drop_airbyte_defaults(warehouse, raw) -> None:
    warehouse.execute(
        sql.SQL(
            "alter table {} alter column _airbyte_raw_id drop default, "
            "alter column _airbyte_extracted_at drop default, "
            "alter column _airbyte_meta drop default, "
            "alter column _airbyte_generation_id drop default"
        ).format(raw)
    )


def _source_query(
    source: psycopg.Connection, conn_cfg: Connection, plan: _Plan, lower: str | None
) -> tuple[sql.Composable, datetime | None]:
    """Open the read snapshot and build the SELECT for this window. Returns (select, bound)."""
    stream = plan.stream
    bound = None
    if plan.cursor is not None and plan.cursor.dest_type == "timestamptz":
        bound = _snapshot_bound(source, conn_cfg)
    # The source connection is in autocommit mode; this is the one explicit transaction.
    source.execute("begin isolation level repeatable read read only")
    source.execute("select 1")  # take the snapshot now, after the bound was computed
    conditions: list[sql.Composable] = []
    if plan.cursor is not None:
        cursor = sql.Identifier(plan.cursor.name)
        cast = sql.SQL(plan.cursor.source_type)
        if lower is not None:
            # Inclusive: rows tied with the last bound are read again. Deduped streams upsert
            # them; append streams are bounded on both sides below, so ties cannot double.
            op = (
                sql.SQL(">=")
                if (bound is not None or stream.sync_mode == DEDUPED)
                else sql.SQL(">")
            )
            conditions.append(sql.SQL("{} {} {}::{}").format(cursor, op, sql.Literal(lower), cast))
        if stream.sync_mode == APPEND and bound is not None:
            conditions.append(sql.SQL("{} < {}").format(cursor, sql.Literal(bound)))
    return _select(conn_cfg, plan, conditions), bound


def _select(conn_cfg: Connection, plan: _Plan, conditions: list[sql.Composable]) -> sql.Composable:
    """SELECT the stream's columns, typed for the warehouse, from the source table."""
    table = sql.Identifier(conn_cfg.source.schema_name, plan.stream.name)
    fields = sql.SQL(", ").join(
        sql.SQL(c.select_expr).format(sql.Identifier(c.name))
        + sql.SQL(" as {}").format(sql.Identifier(c.name))
        for c in plan.columns
    )
    where = sql.SQL(" where ") + sql.SQL(" and ").join(conditions) if conditions else sql.SQL("")
    return sql.SQL("select {} from {}{}").format(fields, table, where)


def _snapshot_bound(source: psycopg.Connection, conn_cfg: Connection) -> datetime:
    """The cursor value below which every source row is committed (see the module doc)."""
    row = source.execute(
        """
        select
            clock_timestamp(),
            (
                select min(xact_start) from pg_stat_activity
                where datname = current_database() and pid <> pg_backend_pid()
                    and xact_start is not null and backend_type = 'client backend'
            ),
            (select rolsuper from pg_roles where rolname = current_user)
                or pg_has_role(current_user, 'pg_read_all_stats', 'usage')
        """
    ).fetchone()
    now, oldest_open, sees_all = row
    if not sees_all:
        return now - conn_cfg.safety_lag
    return min(now, oldest_open) if oldest_open is not None else now


def _next_cursor(
    plan: _Plan, bound: datetime | None, before: str | None, warehouse, raw
) -> str | None:
    if plan.cursor is None:
        return None
    if bound is not None:
        return bound.isoformat()
    # Cursor types without a snapshot bound (integers, naive timestamps): the largest value
    # loaded, as Airbyte's standard cursor does.
    value = warehouse.execute(
        sql.SQL("select max({})::text from {}").format(sql.Identifier(plan.cursor.name), raw)
    ).fetchone()[0]
    return value if value is not None else before


def _merge(warehouse, raw, stage, plan: _Plan, column_list, upsert: bool | None = None) -> int:
    """Append or upsert (deduped streams, or `upsert`) the staged rows into raw. Returns rows
    written."""
    stream = plan.stream
    all_columns = (
        column_list
        + sql.SQL(", ")
        + sql.SQL(", ").join(sql.Identifier(n) for n, _ in AIRBYTE_COLUMNS)
    )
    if not (upsert or stream.sync_mode == DEDUPED):
        return warehouse.execute(
            sql.SQL("insert into {} select * from {}").format(raw, stage)
        ).rowcount
    keys = [sql.Identifier(k) for k in stream.primary_key]
    match = sql.SQL(" and ").join(sql.SQL("r.{0} = s.{0}").format(k) for k in keys)
    # Rows read again unchanged (ties at the bound, future cursors) keep their raw row and
    # its _airbyte_extracted_at: downstream sees no change, and reruns leave marts identical.
    same = sql.SQL(" and ").join(
        sql.SQL("r.{0} is not distinct from s.{0}").format(sql.Identifier(c.name))
        for c in plan.columns
    )
    warehouse.execute(
        sql.SQL("delete from {} as s using {} as r where {} and {}").format(stage, raw, match, same)
    )
    warehouse.execute(
        sql.SQL("delete from {} as r using {} as s where {}").format(raw, stage, match)
    )
    if plan.source_pk_matches:
        source_rows = sql.SQL("select {} from {}").format(all_columns, stage)
    elif plan.cursor is None:
        source_rows = sql.SQL("select distinct on ({k}) {c} from {s}").format(
            k=sql.SQL(", ").join(keys), c=all_columns, s=stage
        )
    else:
        # The configured key is not the source's primary key: keep the newest row per key.
        source_rows = sql.SQL(
            "select distinct on ({k}) {c} from {s} order by {k}, {cur} desc nulls last"
        ).format(
            k=sql.SQL(", ").join(keys), c=all_columns, s=stage, cur=sql.Identifier(plan.cursor.name)
        )
    return warehouse.execute(
        sql.SQL("insert into {} ({}) {}").format(raw, all_columns, source_rows)
    ).rowcount


def _estimate_rows(source: psycopg.Connection, conn_cfg: Connection, stream: Stream) -> int | None:
    row = source.execute(
        "select reltuples::bigint from pg_class where oid = to_regclass(format('%%I.%%I', %s::text, %s::text))",
        [conn_cfg.source.schema_name, stream.name],
    ).fetchone()
    return row[0] if row and row[0] and row[0] > 0 else None


def reset(connection: Connection | str, *, warehouse_url: str | None = None) -> None:
    """Forget a connection: drop its raw tables and its state, so the next sync starts over.

    Needed after re-seeding a source with older timestamps, which no cursor would pick up.
    Objects that depend on the raw tables (dbt's staging views) are dropped with them and
    come back with the next dbt build.
    """
    conn_cfg = load_connection(connection) if isinstance(connection, str) else connection
    warehouse_url = warehouse_url or config.warehouse_url()
    with db.connect(warehouse_url, what="warehouse", autocommit=True) as warehouse:
        _ensure_state_tables(warehouse)
        if not _try_lock(warehouse, conn_cfg.name):
            raise HeadwaterError(
                f"connection {conn_cfg.name}: a sync is running; try again when it ends"
            )
        with warehouse.transaction():
            warehouse.execute(
                sql.SQL("drop schema if exists {} cascade").format(
                    sql.Identifier(conn_cfg.namespace)
                )
            )
            warehouse.execute(
                f"delete from {STATE_SCHEMA}.sync_state where connection = %s",  # noqa: S608
                [conn_cfg.name],
            )
