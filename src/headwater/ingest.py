"""Event ingestion: JSON lines in, typed landing tables out, every line accounted for.

Event domains (hospitality, restaurant) receive their sources as streams of JSON events.
`headwater ingest <domain> FILE|-` lands them in the domain's source database, in tables
the sync engine then moves to `raw_<domain>` like any other source table. What a domain
brings is an `EventSpec` (`headwater.sources.<domain>.events.SPEC`): its event types, the
pydantic model that validates each, the landing table each goes to, and the DDL of those
tables. Everything else is here, written once:

* **Every line ends up somewhere.** A line is *accepted* (a new row in its landing table),
  a *duplicate* (a unique key of its table, such as `event_id`, is already there, or earlier
  in the same input), or *dead-lettered* (a row in `dead_letters` with the raw line and the
  reason). `received = accepted + duplicates + dead_lettered`, exactly; the report says so.
* **Idempotent.** Duplicates are decided by the landing tables' unique indexes, not by
  memory, so ingesting the same file twice, or resuming after a crash, adds nothing. Dead
  letters are keyed by the hash of the line for the same reason.
* **Schema evolution.** Models allow unknown fields and the landing row keeps the whole
  event as `payload` (jsonb), so a field that appears mid-stream is stored, and old events
  without it still load.
* **Bounded memory, backpressure.** A reader thread parses and validates lines into batches;
  a writer thread COPYs each batch into a staging table and inserts it into the landing
  table in one transaction. The queue between them holds a fixed number of batches: when
  the database is slower than the input, the reader waits instead of buffering without end.
* **Commit order is sequence order.** Each batch takes a per-domain advisory lock before it
  inserts, so the landing tables' `ingest_seq` identity values commit in increasing order.
  That makes `ingest_seq` a safe cursor for the sync engine: a sync never sees seq N+1
  committed while N is still to come.
* **A bad row cannot sink a batch.** If the database rejects a batch (a value the column
  type refuses), the batch is split and retried until the offending lines are isolated and
  dead-lettered with the database's message; the rest commit.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import importlib
import importlib.util
import io
import json
import logging
import queue
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, BinaryIO

import orjson
import psycopg
from psycopg import sql
from pydantic import AfterValidator, AwareDatetime, BaseModel, ConfigDict, ValidationError

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

DEAD_LETTERS = "dead_letters"
DEFAULT_BATCH_SIZE = 10_000
DEFAULT_MAX_PENDING = 4
# Event times outside this range are not believable for a live system: dead-lettered.
EARLIEST_EVENT = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_EVENT = datetime(2100, 1, 1, tzinfo=UTC)
_REASON_MAX = 500

DEAD_LETTER_DDL = """
create table if not exists {schema}.dead_letters (
    ingest_seq bigint generated always as identity primary key,
    received_at timestamptz not null default clock_timestamp(),
    domain text not null,
    source text,
    line_number bigint,
    reason text not null,
    event_type text,
    raw_payload text not null,
    payload_sha256 text not null unique
)
"""


# --- what a domain declares ------------------------------------------------------------------


class Event(BaseModel):
    """Base for event models: unknown fields are kept, not rejected (schema evolution)."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=False)


def _plausible(value: datetime) -> datetime:
    try:
        value = value.astimezone(UTC)
    except OverflowError:  # year 1 with a positive offset, year 9999 with a negative one
        raise ValueError(f"{value.isoformat()} is outside the range of dates") from None
    if not EARLIEST_EVENT <= value < LATEST_EVENT:
        raise ValueError(
            f"{value.isoformat()} is outside {EARLIEST_EVENT.year}-{LATEST_EVENT.year}"
        )
    return value


# A timestamp with a time zone, normalised to UTC and within believable years.
EventTime = Annotated[AwareDatetime, AfterValidator(_plausible)]


@dataclass(frozen=True)
class LandingTable:
    """A landing table: the typed columns ingestion fills, in order. `payload` follows them.

    The table itself (DDL in the spec) adds `ingest_seq` (identity, primary key: the sync
    cursor), `received_at`, and the unique indexes that define a duplicate.
    """

    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class EventType:
    """One kind of event: how to validate it, where it lands, and its typed columns."""

    name: str
    model: type[BaseModel]
    table: str
    # The values of the landing table's typed columns, from the validated event.
    row: Callable[[Any], Sequence[Any]]


def event_type_field(event: Mapping[str, Any]) -> str | None:
    """The default classifier: the event's `event_type` field."""
    value = event.get("event_type")
    return value if isinstance(value, str) else None


@dataclass(frozen=True)
class EventSpec:
    domain: str
    tables: tuple[LandingTable, ...]
    types: Mapping[str, EventType]
    landing_ddl: str
    classify: Callable[[Mapping[str, Any]], str | None] = event_type_field
    schema: str = "public"
    # A few valid events, one or more per event type: documentation, and the seeds the
    # ingestion fuzz tests mutate.
    examples: tuple[Mapping[str, Any], ...] = ()

    def table(self, name: str) -> LandingTable:
        for table in self.tables:
            if table.name == name:
                return table
        raise ConfigError(f"{self.domain} events: no landing table {name!r}")


def load_spec(domain: str) -> EventSpec:
    """The event spec of a domain (`headwater.sources.<domain>.events.SPEC`)."""
    try:
        module = importlib.import_module(f"headwater.sources.{domain}.events")
    except ModuleNotFoundError:
        known = ", ".join(d for d in config.DOMAINS if has_events(d))
        raise ConfigError(
            f"domain {domain!r} does not ingest events (event domains: {known or 'none'})"
        ) from None
    return module.SPEC


def has_events(domain: str) -> bool:
    try:
        return importlib.util.find_spec(f"headwater.sources.{domain}.events") is not None
    except ModuleNotFoundError:  # no headwater.sources.<domain> package at all
        return False


# --- what ingestion reports --------------------------------------------------------------------


@dataclass
class IngestReport:
    domain: str
    source: str
    received: int = 0
    accepted: int = 0
    duplicates: int = 0
    dead_lettered: int = 0
    received_by_type: Counter = field(default_factory=Counter)
    accepted_by_table: Counter = field(default_factory=Counter)
    duplicates_by_table: Counter = field(default_factory=Counter)
    dead_letter_reasons: Counter = field(default_factory=Counter)
    batches: int = 0
    seconds: float = 0.0

    @property
    def balanced(self) -> bool:
        return self.received == self.accepted + self.duplicates + self.dead_lettered

    @property
    def events_per_second(self) -> float:
        return self.received / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "domain": self.domain,
            "source": self.source,
            "received": self.received,
            "accepted": self.accepted,
            "duplicates": self.duplicates,
            "dead_lettered": self.dead_lettered,
            "balanced": self.balanced,
            "received_by_type": dict(self.received_by_type),
            "accepted_by_table": dict(self.accepted_by_table),
            "duplicates_by_table": dict(self.duplicates_by_table),
            "dead_letter_reasons": dict(self.dead_letter_reasons.most_common(20)),
            "batches": self.batches,
            "seconds": round(self.seconds, 3),
            "events_per_second": round(self.events_per_second),
        }

    def summary(self) -> str:
        return (
            f"{self.domain}: {self.received:,} received, {self.accepted:,} accepted, "
            f"{self.duplicates:,} duplicates, {self.dead_lettered:,} dead-lettered "
            f"in {self.seconds:.1f} s ({self.events_per_second:,.0f} events/s)"
        )


# --- parsing and validation (the reader side) --------------------------------------------------


@dataclass
class _Batch:
    rows: dict[str, list[tuple]] = field(default_factory=dict)
    dead: list[tuple] = field(default_factory=list)  # (line_no, reason, event_type, text, sha)
    size: int = 0


def _reason(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= _REASON_MAX else text[: _REASON_MAX - 3] + "..."


def _validation_reason(kind: str, exc: ValidationError) -> str:
    errors = exc.errors(include_url=False, include_input=False)
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "event"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return _reason(f"{kind}: {where}: {first['msg']}{more}")


def _parse_json(raw: bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass

    # orjson refuses integers beyond 64 bits, which are valid JSON; the stdlib takes them.
    # It also takes NaN and Infinity, which are not: refuse those.
    def no_constants(name: str) -> Any:
        raise ValueError(f"{name} is not valid JSON")

    event = json.loads(raw, parse_constant=no_constants)
    # ... and lone surrogates (`"\ud800"`), which no UTF-8 text or jsonb column can hold.
    json.dumps(event, ensure_ascii=False).encode("utf-8")
    return event


class _Parser:
    """Turns lines into landing rows or dead letters. Pure Python; no database."""

    def __init__(self, spec: EventSpec):
        self.spec = spec
        self.columns = {t.name: len(t.columns) for t in spec.tables}

    def parse(self, line_no: int, raw: bytes, batch: _Batch, report: IngestReport) -> None:
        """Add one line to the batch, as a landing row or a dead letter."""
        kind = None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            text = raw.decode("utf-8", errors="backslashreplace")
            self._dead(batch, report, line_no, f"invalid UTF-8 at byte {exc.start}", None, text)
            return
        if "\x00" in text or "\\u0000" in text:
            # PostgreSQL text and jsonb cannot hold NUL.
            self._dead(batch, report, line_no, "contains a NUL character", None, text)
            return
        try:
            event = _parse_json(raw)
        except (ValueError, RecursionError) as exc:
            self._dead(batch, report, line_no, f"not valid JSON: {exc}", None, text)
            return
        if not isinstance(event, dict):
            self._dead(
                batch, report, line_no, f"not a JSON object ({type(event).__name__})", None, text
            )
            return
        try:
            kind = self.spec.classify(event)
        except Exception as exc:  # a classifier is domain code; any failure is the line's
            self._dead(batch, report, line_no, f"cannot classify: {exc}", None, text)
            return
        event_type = self.spec.types.get(kind) if kind else None
        if event_type is None:
            shown = repr(event.get("event_type")) if "event_type" in event else "missing"
            reason = (
                f"unknown event type {kind!r}" if kind else f"no event type (event_type {shown})"
            )
            self._dead(batch, report, line_no, _reason(reason), None, text)
            return
        report.received_by_type[kind] += 1
        try:
            model = event_type.model.model_validate(event)
        except ValidationError as exc:
            self._dead(batch, report, line_no, _validation_reason(kind, exc), kind, text)
            return
        except Exception as exc:  # a validator is domain code; whatever it raises is the line's
            self._dead(batch, report, line_no, _reason(f"{kind}: {exc}"), kind, text)
            return
        try:
            values = tuple(event_type.row(model))
        except Exception as exc:  # row builders are domain code: a failure dead-letters the line
            self._dead(
                batch, report, line_no, _reason(f"{kind}: cannot be stored: {exc}"), kind, text
            )
            return
        expected = self.columns[event_type.table]
        if len(values) != expected:
            raise ConfigError(
                f"{self.spec.domain} event {kind}: row has {len(values)} values, "
                f"landing table {event_type.table} has {expected} typed columns"
            )
        batch.rows.setdefault(event_type.table, []).append((*values, text, line_no))
        batch.size += 1

    @staticmethod
    def _dead(batch, report, line_no, reason, kind, text) -> None:
        # PostgreSQL text cannot hold NUL: keep the line, with NUL written as \x00.
        text = text.replace("\x00", "\\x00")
        sha = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
        batch.dead.append((line_no, reason, kind, text, sha))
        batch.size += 1
        report.dead_lettered += 1
        report.dead_letter_reasons[
            reason.split(":")[0] if kind is None else f"{kind}: invalid"
        ] += 1


# --- writing (the writer side) -------------------------------------------------------------------


class _Writer:
    """Writes batches: COPY into a staging table, insert new rows, all in one transaction."""

    def __init__(self, conn: psycopg.Connection, spec: EventSpec, source: str):
        self.conn = conn
        self.spec = spec
        self.source = source
        # Session-lived staging tables, created outside any batch transaction so that a
        # rolled-back batch cannot take them with it.
        for table in spec.tables:
            columns = sql.SQL(", ").join(sql.Identifier(c) for c in (*table.columns, "payload"))
            conn.execute(
                sql.SQL(
                    "create temp table if not exists {} as "
                    "select {}, 0::bigint as _line from {} with no data"
                ).format(self._stage(table), columns, sql.Identifier(spec.schema, table.name))
            )

    @staticmethod
    def _stage(table: LandingTable) -> sql.Identifier:
        return sql.Identifier(f"_ingest_{table.name}")

    def write(self, batch: _Batch, report: IngestReport) -> None:
        pending = dict(batch.rows)
        dead = list(batch.dead)
        while True:
            try:
                accepted = self._commit(pending, dead)
            except psycopg.errors.DataError as exc:
                # Find the lines the database refuses and dead-letter them; keep the rest.
                pending, refused = self._isolate(pending, exc)
                dead.extend(refused)
                report.dead_lettered += len(refused)
                report.dead_letter_reasons["refused by the database"] += len(refused)
                continue
            break
        for table, rows in pending.items():
            new = accepted[table]
            report.accepted += new
            report.duplicates += len(rows) - new
            report.accepted_by_table[table] += new
            report.duplicates_by_table[table] += len(rows) - new
        report.batches += 1

    def _commit(self, rows_by_table: dict[str, list[tuple]], dead: list[tuple]) -> dict[str, int]:
        accepted: dict[str, int] = {}
        with self.conn.transaction():
            # Serialise batches of one domain: identity values then commit in order.
            self.conn.execute(
                "select pg_advisory_xact_lock(hashtext('headwater.ingest.' || %s))",
                [self.spec.domain],
            )
            for name, rows in rows_by_table.items():
                table = self.spec.table(name)
                accepted[name] = self._insert(table, rows) if rows else 0
            if dead:
                self._dead_letters(dead)
        return accepted

    def _insert(self, table: LandingTable, rows: list[tuple]) -> int:
        stage = self._stage(table)
        names = (*table.columns, "payload", "_line")
        with self.conn.cursor().copy(
            sql.SQL("copy {} ({}) from stdin").format(
                stage, sql.SQL(", ").join(sql.Identifier(c) for c in names)
            )
        ) as copy:
            for row in rows:
                copy.write_row(row)
        target = sql.SQL(", ").join(sql.Identifier(c) for c in (*table.columns, "payload"))
        inserted = self.conn.execute(
            sql.SQL(
                "insert into {} ({}) select {} from {} order by _line on conflict do nothing"
            ).format(sql.Identifier(self.spec.schema, table.name), target, target, stage)
        ).rowcount
        self.conn.execute(sql.SQL("truncate {}").format(stage))
        return inserted

    def _dead_letters(self, dead: list[tuple]) -> None:
        with self.conn.cursor().copy(
            sql.SQL(
                "copy _ingest_dead_letters (line_number, reason, event_type, raw_payload, "
                "payload_sha256) from stdin"
            )
        ) as copy:
            for row in dead:
                copy.write_row(row)
        self.conn.execute(
            sql.SQL(
                "insert into {} (domain, source, line_number, reason, event_type, raw_payload, "
                "payload_sha256) select %s, %s, line_number, reason, event_type, raw_payload, "
                "payload_sha256 from _ingest_dead_letters order by line_number "
                "on conflict (payload_sha256) do nothing"
            ).format(sql.Identifier(self.spec.schema, DEAD_LETTERS)),
            [self.spec.domain, self.source],
        )
        self.conn.execute("truncate _ingest_dead_letters")

    def _isolate(
        self, rows_by_table: dict[str, list[tuple]], exc: Exception
    ) -> tuple[dict[str, list[tuple]], list[tuple]]:
        """Split the batch until each refused line stands alone; returns (kept, dead letters)."""
        kept: dict[str, list[tuple]] = {}
        refused: list[tuple] = []
        for name, rows in rows_by_table.items():
            table = self.spec.table(name)
            good, bad = self._bisect(table, rows)
            kept[name] = good
            refused.extend(bad)
        if not refused:  # the batch failed, yet every part passes alone: not a row's fault
            raise HeadwaterError(
                f"ingest {self.spec.domain}: the database refused a batch: {db.redact(str(exc))}"
            )
        return kept, refused

    def _bisect(self, table: LandingTable, rows: list[tuple]) -> tuple[list[tuple], list[tuple]]:
        try:
            with self.conn.transaction(force_rollback=True):
                self._insert(table, rows)
            return rows, []
        except psycopg.errors.DataError as exc:
            if len(rows) == 1:
                row = rows[0]
                text, line_no = row[-2], row[-1]
                first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
                reason = _reason(f"{table.name}: refused by the database: {first}")
                sha = hashlib.sha256(text.encode("utf-8", errors="surrogatepass")).hexdigest()
                return [], [(line_no, reason, None, text, sha)]
        middle = len(rows) // 2
        good_a, bad_a = self._bisect(table, rows[:middle])
        good_b, bad_b = self._bisect(table, rows[middle:])
        return good_a + good_b, bad_a + bad_b


# --- the pipeline: reader → bounded queue → writer -----------------------------------------------

_DONE = object()


def ingest(
    domain: str | EventSpec,
    lines: Iterable[bytes],
    *,
    source: str = "-",
    url: str | None = None,
    batch_size: int = DEFAULT_BATCH_SIZE,
    max_pending: int = DEFAULT_MAX_PENDING,
    progress: Callable[[int], None] | None = None,
) -> IngestReport:
    """Land JSON-lines events in the domain's source database; return what happened to each.

    `lines` yields raw lines (bytes, newline optional); blank lines are skipped and not
    counted. `max_pending` batches may wait for the writer; beyond that the reader blocks.
    Raises HeadwaterError when the database is unreachable or refuses a batch for a reason
    that is not one line's fault; batches committed before that stay committed, and a rerun
    of the same input adds only what is missing.
    """
    spec = domain if isinstance(domain, EventSpec) else load_spec(domain)
    if batch_size < 1 or max_pending < 1:
        raise ConfigError("batch_size and max_pending must be at least 1")
    url = url or config.source_url(spec.domain)
    report = IngestReport(spec.domain, source)
    started = time.perf_counter()
    conn = db.connect(url, what=f"{spec.domain} source", autocommit=True)
    with conn:
        prepare(conn, spec)
        writer = _Writer(conn, spec, source)
        pending: queue.Queue = queue.Queue(maxsize=max_pending)
        failure: list[BaseException] = []

        def write_batches() -> None:
            while True:
                batch = pending.get()
                if batch is _DONE:
                    return
                if failure:
                    continue  # drain, so the reader never blocks on a dead writer
                try:
                    writer.write(batch, report)
                except BaseException as exc:
                    failure.append(exc)

        thread = threading.Thread(target=write_batches, name=f"ingest-{spec.domain}", daemon=True)
        thread.start()
        parser = _Parser(spec)
        batch = _Batch()
        try:
            for line_no, raw in enumerate(lines, start=1):
                raw = raw.strip(b"\r\n")
                if not raw.strip():
                    continue
                report.received += 1
                parser.parse(line_no, raw, batch, report)
                if batch.size >= batch_size:
                    pending.put(batch)
                    batch = _Batch()
                    if failure:
                        break
                    if progress:
                        progress(report.received)
            if batch.size and not failure:
                pending.put(batch)
        finally:
            pending.put(_DONE)
            thread.join()
        if failure:
            exc = failure[0]
            if isinstance(exc, HeadwaterError):
                raise exc
            raise HeadwaterError(
                f"ingest {spec.domain}: writing to the source database failed: "
                f"{db.redact(str(exc).strip().splitlines()[0] if str(exc).strip() else repr(exc))}"
            ) from exc
    report.seconds = time.perf_counter() - started
    if progress:
        progress(report.received)
    if not report.balanced:  # a bug, never expected: say so loudly rather than report wrong counts
        raise HeadwaterError(
            f"ingest {spec.domain}: accounting does not balance: {report.as_dict()}"
        )
    log.info("%s", report.summary())
    return report


def prepare(conn: psycopg.Connection, spec: EventSpec) -> None:
    """Create the landing tables, the dead-letter table and the staging tables. Idempotent."""
    with conn.transaction():
        conn.execute(
            "select pg_advisory_xact_lock(hashtext('headwater.ingest.ddl.' || %s))", [spec.domain]
        )
        conn.execute(sql.SQL("create schema if not exists {}").format(sql.Identifier(spec.schema)))
        conn.execute(spec.landing_ddl)
        conn.execute(DEAD_LETTER_DDL.format(schema=sql.Identifier(spec.schema).as_string(conn)))
    conn.execute(
        "create temp table if not exists _ingest_dead_letters (line_number bigint, reason text, "
        "event_type text, raw_payload text, payload_sha256 text)"
    )


def open_input(path: str) -> tuple[BinaryIO, int | None]:
    """`-` is standard input; a `.gz` file is read decompressed. Returns (stream, size)."""
    if path == "-":
        return sys.stdin.buffer, None
    file = Path(path)
    if not file.exists():
        raise HeadwaterError(f"{path}: no such file")
    if file.is_dir():
        raise HeadwaterError(f"{path}: is a directory, not a file of JSON lines")
    size = file.stat().st_size
    if file.suffix == ".gz":
        return gzip.open(file, "rb"), None
    return open(file, "rb"), size  # noqa: SIM115 - closed by the caller


def ingest_file(domain: str, path: str, **kwargs: Any) -> IngestReport:
    """`ingest` over a file (or `-` for standard input)."""
    spec = load_spec(domain)
    stream, _ = open_input(path)
    with contextlib.closing(stream) if path != "-" else contextlib.nullcontext(stream):
        return ingest(spec, _lines(stream), source=path, **kwargs)


def _lines(stream: BinaryIO) -> Iterator[bytes]:
    if isinstance(stream, io.TextIOBase):  # pragma: no cover - callers pass binary streams
        raise TypeError("binary stream expected")
    yield from stream


def dumps(event: Mapping[str, Any]) -> bytes:
    """One event as a JSON line (what simulators write)."""
    return orjson.dumps(event, option=orjson.OPT_NON_STR_KEYS) + b"\n"
