"""File sources for the sync engine: folders of Parquet files, read as Airbyte's S3 source does.

A connection whose source has `definition: s3` (airbyte/connections/betting.yaml) names, per
stream, the `globs` of its files. In production Airbyte's S3 source reads them from the
bucket; locally `headwater sync` reads the same globs under a folder ($<url_env>, else
HEADWATER_HOME/<default_path>) and writes the same Destinations V2 tables: the file's
columns, typed as Airbyte types Parquet, plus `_ab_source_file_url` and
`_ab_source_file_last_modified` (as the file-based connectors add them) and the four
`_airbyte_*` columns.

Incremental, like the file-based connectors:

* Files are the unit of change. `headwater.sync_files` remembers every file synced (size
  and modification time); a sync reads only files that are new or changed since. A changed
  file replaces the rows it brought before (append streams) or upserts them (deduped).
* Rows within files are ordered by the stream's cursor: a deduped stream keeps, per primary
  key, the row with the greatest cursor, so a file delivered late with an older version of
  a row never overwrites a newer one. The state's cursor is the greatest value loaded.
* Everything a stream does (rows, the file list, the state) commits in one warehouse
  transaction: a sync killed at any point leaves the previous state, and the rerun reads
  the same files again. Nothing is lost or doubled.
* Bad files stop the stream before anything is written, in one line naming the file and
  what is wrong: not Parquet, a key or cursor column missing or NULL, a column whose type
  differs from what raw holds.
* Rows of people erased under GDPR (headwater.gdpr) are pseudonymised as they load, so a
  full refresh cannot bring them back.

Rows move with COPY: each file becomes CSV bytes in memory (pyarrow) streamed to the server.
"""

from __future__ import annotations

import io
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from psycopg import sql

from headwater import config, db
from headwater.connection import FILE_MODIFIED_COLUMN, FILE_URL_COLUMN, Connection, Stream
from headwater.errors import HeadwaterError

FILES_DDL = """
create table if not exists {schema}.sync_files (
    connection text not null,
    stream text not null,
    file text not null,
    size_bytes bigint not null,
    modified_at timestamptz not null,
    rows bigint not null,
    sync_id bigint,
    synced_at timestamptz not null default now(),
    primary key (connection, stream, file)
);
"""


@dataclass(frozen=True)
class SourceFile:
    path: Path
    name: str  # relative to the source folder: what _ab_source_file_url holds
    size: int
    modified_at: datetime


def source_folder(conn_cfg: Connection, override: str | None = None) -> Path:
    """The folder the local engine reads: `override`, $<url_env>, or HEADWATER_HOME/<default_path>."""
    value = override or os.environ.get(conn_cfg.source.url_env)
    if not value:
        if not conn_cfg.source.default_path:
            raise HeadwaterError(
                f"connection {conn_cfg.name}: set {conn_cfg.source.url_env} to the folder of its files"
            )
        return config.home() / conn_cfg.source.default_path
    if value.startswith("s3://"):
        raise HeadwaterError(
            f"connection {conn_cfg.name}: {conn_cfg.source.url_env} is an s3:// URL; the local "
            "engine reads local folders (Airbyte's S3 source reads the bucket)"
        )
    return Path(value.removeprefix("file://"))


def list_files(folder: Path, stream: Stream) -> list[SourceFile]:
    """The stream's files, oldest first (modification time, then name), as the connector orders them."""
    found: dict[str, SourceFile] = {}
    for pattern in stream.globs:
        for path in folder.glob(pattern):
            if not path.is_file():
                continue
            stat = path.stat()
            name = path.relative_to(folder).as_posix()
            modified = datetime.fromtimestamp(stat.st_mtime, tz=UTC)
            found[name] = SourceFile(path, name, stat.st_size, modified)
    return sorted(found.values(), key=lambda f: (f.modified_at, f.name))


def _dest_type(arrow_type: pa.DataType) -> str | None:
    """Airbyte's typing of Parquet columns in a PostgreSQL destination."""
    if pa.types.is_integer(arrow_type):
        return "bigint"
    if pa.types.is_floating(arrow_type) or pa.types.is_decimal(arrow_type):
        return "numeric"
    if pa.types.is_boolean(arrow_type):
        return "boolean"
    if pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type):
        return "varchar"
    if pa.types.is_timestamp(arrow_type):
        return "timestamptz" if arrow_type.tz else "timestamp"
    if pa.types.is_date(arrow_type):
        return "date"
    return None


def _file_columns(file: SourceFile, stream: Stream) -> list[tuple[str, str]]:
    """(name, warehouse type) of the file's columns, or one error line naming the file."""
    where = f"stream {stream.name!r}: file {file.name}"
    try:
        schema = pq.read_schema(file.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise HeadwaterError(f"{where}: not a readable Parquet file ({_short(exc)})") from None
    columns = []
    for field in schema:
        dest = _dest_type(field.type)
        if dest is None:
            raise HeadwaterError(
                f"{where}: column {field.name!r} has type {field.type}, which the file source "
                "cannot load (integers, numbers, strings, booleans, dates, timestamps)"
            )
        columns.append((field.name, dest))
    names = {n for n, _ in columns}
    needed = [*stream.primary_key]
    if stream.cursor_field and stream.cursor_field != FILE_MODIFIED_COLUMN:
        needed.append(stream.cursor_field)
    for column in needed:
        if column not in names:
            raise HeadwaterError(
                f"{where}: column {column!r} (a key or the cursor) is missing; "
                f"the file has {', '.join(sorted(names))}"
            )
    return columns


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def sync(
    conn_cfg: Connection,
    selected: Sequence[Stream],
    *,
    full_refresh: bool,
    warehouse_url: str,
    folder: str | None,
    progress,
):
    """Sync a file connection's streams (see the module doc); called by headwater.sync.sync."""
    from headwater import sync as engine

    base = source_folder(conn_cfg, folder)
    if not base.is_dir():
        raise HeadwaterError(
            f"connection {conn_cfg.name}: source folder {base} does not exist "
            f"(set {conn_cfg.source.url_env}, or write the files first)"
        )
    started = time.perf_counter()
    with db.connect(warehouse_url, what="warehouse", autocommit=True) as warehouse:
        try:
            engine._ensure_state_tables(warehouse)
            warehouse.execute(FILES_DDL.format(schema=engine.STATE_SCHEMA))
        except psycopg.Error as exc:
            raise HeadwaterError(
                f"warehouse: cannot create the sync state tables: {engine._first_line(exc)}"
            ) from exc
        if not engine._try_lock(warehouse, conn_cfg.name):
            raise HeadwaterError(
                f"connection {conn_cfg.name}: another sync is running; try again when it ends"
            )
        listed = [(stream, list_files(base, stream)) for stream in selected]
        sync_id = warehouse.execute(
            f"insert into {engine.STATE_SCHEMA}.sync_runs (connection) values (%s) returning sync_id",  # noqa: S608
            [conn_cfg.name],
        ).fetchone()[0]
        results = []
        try:
            for stream, found in listed:
                try:
                    results.append(
                        _sync_stream(
                            warehouse, conn_cfg, stream, found, sync_id, full_refresh, progress
                        )
                    )
                except psycopg.Error as exc:
                    raise HeadwaterError(
                        f"connection {conn_cfg.name}: stream {stream.name!r}: "
                        f"{engine._first_line(exc)}; its rows and state are unchanged"
                    ) from exc
        except BaseException as exc:
            engine._finish_run(warehouse, sync_id, "failed", results, error=db.redact(str(exc)))
            raise
        engine._finish_run(warehouse, sync_id, "succeeded", results)
    return engine.SyncReport(
        conn_cfg.name, sync_id, conn_cfg.namespace, results, time.perf_counter() - started
    )


def _sync_stream(warehouse, conn_cfg, stream: Stream, found, sync_id, full_refresh, progress):
    from headwater import gdpr
    from headwater import sync as engine

    schema = engine.STATE_SCHEMA
    started = time.perf_counter()
    result = engine.StreamResult(stream.name, stream.sync_mode, cursor_field=stream.cursor_field)
    raw = sql.Identifier(conn_cfg.namespace, stream.name)
    with warehouse.transaction():
        state = warehouse.execute(
            f"select cursor_value, generation_id from {schema}.sync_state "  # noqa: S608
            "where connection = %s and stream = %s for update",
            [conn_cfg.name, stream.name],
        ).fetchone()
        cursor_before, generation = state if state else (None, 0)
        table_exists = _table_exists(warehouse, conn_cfg.namespace, stream.name)
        is_full = stream.sync_mode in (engine.FULL_OVERWRITE, engine.FULL_APPEND)
        # The file list is trusted only with the state and the table it describes: after a
        # reset (raw dropped) or a refresh, every file is read again.
        restart = full_refresh or is_full or state is None or not table_exists
        known = {}
        if not restart:
            known = {
                name: (size, modified)
                for name, size, modified in warehouse.execute(
                    f"select file, size_bytes, modified_at from {schema}.sync_files "  # noqa: S608
                    "where connection = %s and stream = %s",
                    [conn_cfg.name, stream.name],
                ).fetchall()
            }
        else:
            warehouse.execute(
                f"delete from {schema}.sync_files where connection = %s and stream = %s",  # noqa: S608
                [conn_cfg.name, stream.name],
            )
            if state is not None or table_exists:
                generation += 1
        todo = [f for f in found if known.get(f.name) != (f.size, f.modified_at)]
        result.cursor_before = cursor_before
        result.generation_id = generation

        if not todo and not table_exists:
            # No file yet and nothing loaded before: nothing to create (the raw gate says so).
            result.seconds = time.perf_counter() - started
            return result
        # Check every new file before writing anything.
        file_columns = {f.name: _file_columns(f, stream) for f in todo}
        columns = _stream_columns(warehouse, conn_cfg, stream, todo, file_columns)
        cursor = next((c for c in columns if c.name == stream.cursor_field), None)
        plan = engine._Plan(stream, columns, cursor, source_pk_matches=False)
        engine._ensure_raw_table(warehouse, conn_cfg.namespace, plan, result)
        if restart and table_exists:
            warehouse.execute(sql.SQL("truncate {}").format(raw))
        extracted_at = warehouse.execute("select now()").fetchone()[0]
        meta = json.dumps({"sync_id": sync_id, "changes": []})
        engine._set_airbyte_defaults(warehouse, raw, extracted_at, meta, generation)
        stage = sql.Identifier("_headwater_file_stage")
        warehouse.execute(
            sql.SQL("create temp table {} (like {} including defaults) on commit drop").format(
                stage, raw
            )
        )
        engine._fault(f"before_copy:{stream.name}")
        rows = 0
        per_file: dict[str, int] = {}
        for file in todo:
            per_file[file.name] = _copy_file(warehouse, stage, file, stream)
            rows += per_file[file.name]
            if progress:
                progress(stream.name, rows, None)
        result.rows_read = rows
        gdpr.pseudonymise_stage(warehouse, conn_cfg, stream, stage)
        column_list = sql.SQL(", ").join(sql.Identifier(c.name) for c in columns)
        # Loading an empty table: build its indexes once after the insert (a sort) instead
        # of row by row during it. Same transaction, so a crash keeps them.
        rebuild = []
        if restart or not table_exists:
            rebuild = engine._drop_plain_indexes(warehouse, conn_cfg.namespace, stream.name)
        changed_files = [f.name for f in todo if f.name in known]
        if stream.sync_mode == engine.DEDUPED:
            if cursor is not None:
                # A row older (by cursor) than the one raw holds for its key never wins.
                match = sql.SQL(" and ").join(
                    sql.SQL("r.{0} = s.{0}").format(sql.Identifier(k)) for k in stream.primary_key
                )
                warehouse.execute(
                    sql.SQL("delete from {} as s using {} as r where {} and r.{c} > s.{c}").format(
                        stage, raw, match, c=sql.Identifier(cursor.name)
                    )
                )
            result.rows_written = engine._merge(warehouse, raw, stage, plan, column_list)
        else:
            if changed_files:  # a rewritten file replaces the rows it brought before
                warehouse.execute(
                    sql.SQL("delete from {} where {} = any(%s)").format(
                        raw, sql.Identifier(FILE_URL_COLUMN)
                    ),
                    [changed_files],
                )
            result.rows_written = warehouse.execute(
                sql.SQL("insert into {} select * from {}").format(raw, stage)
            ).rowcount
        for definition in rebuild:
            warehouse.execute(definition)
        engine._drop_airbyte_defaults(warehouse, raw)
        if result.rows_written > 10_000:
            warehouse.execute(sql.SQL("analyze {}").format(raw))
        with warehouse.cursor() as cur:
            cur.executemany(
                f"""
                insert into {schema}.sync_files as f
                    (connection, stream, file, size_bytes, modified_at, rows, sync_id)
                values (%s, %s, %s, %s, %s, %s, %s)
                on conflict (connection, stream, file) do update set
                    size_bytes = excluded.size_bytes, modified_at = excluded.modified_at,
                    rows = excluded.rows, sync_id = excluded.sync_id, synced_at = now()
                """,  # noqa: S608
                [
                    (
                        conn_cfg.name,
                        stream.name,
                        f.name,
                        f.size,
                        f.modified_at,
                        per_file[f.name],
                        sync_id,
                    )
                    for f in todo
                ],
            )
        cursor_after = engine._next_cursor(plan, None, cursor_before, warehouse, raw)
        result.cursor_after = cursor_after
        warehouse.execute(
            f"""
            insert into {schema}.sync_state as s
                (connection, stream, sync_mode, cursor_field, cursor_value, generation_id,
                 last_sync_id, updated_at)
            values (%s, %s, %s, %s, %s, %s, %s, now())
            on conflict (connection, stream) do update set
                sync_mode = excluded.sync_mode, cursor_field = excluded.cursor_field,
                cursor_value = excluded.cursor_value, generation_id = excluded.generation_id,
                last_sync_id = excluded.last_sync_id, updated_at = excluded.updated_at
            """,  # noqa: S608
            [
                conn_cfg.name,
                stream.name,
                stream.sync_mode,
                stream.cursor_field,
                cursor_after,
                generation,
                sync_id,
            ],
        )
        engine._fault(f"before_commit:{stream.name}")
    engine._fault(f"after_commit:{stream.name}")
    result.seconds = time.perf_counter() - started
    return result


def _table_exists(warehouse, namespace: str, table: str) -> bool:
    return warehouse.execute(
        "select to_regclass(format('%%I.%%I', %s::text, %s::text)) is not null",
        [namespace, table],
    ).fetchone()[0]


def _stream_columns(warehouse, conn_cfg, stream, todo, file_columns):
    """The raw table's columns: what it has, plus new file columns; a type conflict between a
    file and raw (or between two new files) is one error line naming the file."""
    from headwater import sync as engine

    have = dict(
        warehouse.execute(
            """
            select column_name, case when data_type = 'character varying' then 'varchar'
                when data_type = 'timestamp with time zone' then 'timestamptz'
                when data_type = 'timestamp without time zone' then 'timestamp'
                else data_type end
            from information_schema.columns
            where table_schema = %s and table_name = %s and column_name not like '\\_airbyte\\_%%'
            order by ordinal_position
            """,
            [conn_cfg.namespace, stream.name],
        ).fetchall()
    )
    columns: dict[str, str] = {k: v for k, v in have.items() if not k.startswith("_ab_")}
    origin: dict[str, str] = {k: f"{conn_cfg.namespace}.{stream.name}" for k in columns}
    for file in todo:
        for name, dest in file_columns[file.name]:
            if name in columns and columns[name] != dest:
                raise HeadwaterError(
                    f"stream {stream.name!r}: file {file.name}: column {name!r} is {dest} "
                    f"here but {columns[name]} in {origin[name]}"
                )
            columns.setdefault(name, dest)
            origin.setdefault(name, f"file {file.name}")
    if not columns:
        raise HeadwaterError(
            f"stream {stream.name!r}: no files match {', '.join(stream.globs)} yet"
        )
    columns[FILE_URL_COLUMN] = "varchar"
    columns[FILE_MODIFIED_COLUMN] = "timestamptz"
    return [engine.Column(n, t, t, "{}") for n, t in columns.items()]


def _copy_file(warehouse, stage, file: SourceFile, stream: Stream) -> int:
    """COPY one file's rows into the stage; returns how many."""
    from headwater import sync as engine

    where = f"stream {stream.name!r}: file {file.name}"
    try:
        table = pq.read_table(file.path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise HeadwaterError(f"{where}: not a readable Parquet file ({_short(exc)})") from None
    for key in stream.primary_key:
        nulls = table[key].null_count
        if nulls:
            raise HeadwaterError(f"{where}: {nulls} rows have no {key} (a primary key column)")
    n = table.num_rows
    table = table.append_column(FILE_URL_COLUMN, pa.repeat(pa.scalar(file.name, pa.string()), n))
    table = table.append_column(
        FILE_MODIFIED_COLUMN,
        pa.repeat(pa.scalar(file.modified_at, pa.timestamp("us", tz="UTC")), n),
    )
    # Arrow formats zoned timestamps slowly (a zone lookup per value): write the UTC wall
    # time instead, which the session (set to UTC for the COPY) reads back as the instant.
    table = pa.table(
        [
            column.cast(pa.timestamp(column.type.unit))
            if pa.types.is_timestamp(column.type) and column.type.tz
            else column
            for column in table.columns
        ],
        names=table.column_names,
    )
    buffer = io.BytesIO()
    pacsv.write_csv(table, buffer, pacsv.WriteOptions(include_header=False))
    warehouse.execute("set local time zone 'UTC'")
    names = sql.SQL(", ").join(sql.Identifier(c) for c in table.column_names)
    with warehouse.cursor().copy(
        sql.SQL("copy {} ({}) from stdin (format csv)").format(stage, names)
    ) as copy:
        view = buffer.getbuffer()
        for start in range(0, len(view), engine._COPY_BLOCK):
            copy.write(view[start : start + engine._COPY_BLOCK])
            engine._fault(f"mid_copy:{stream.name}")
    return n
