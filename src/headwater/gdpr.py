"""GDPR erasure ("right to be forgotten") across every layer of a domain's warehouse tables.

`headwater gdpr erase <subject id> --domain betting` pseudonymises one person everywhere the
domain keeps rows about them, in one transaction:

* raw (`raw_<domain>`): in every stream with an `erasure:` section in the connection file,
  the subject column becomes a pseudonym and the personal columns (`clear`) become NULL;
* every table of the domain's dbt models and snapshots, in every schema a build or a publish
  writes (staging, intermediate, snapshots, marts, analytics and their suffixed copies): the
  subject column becomes the same pseudonym, personal and derived columns (`derived`: the
  hashes the models compute) become NULL. Views need nothing: they read the tables below.

Pseudonymising rather than deleting keeps every aggregate as it was (a person's bets still
count in the day's revenue) while nothing links them to the person any more. The pseudonym
is `erased-` and 16 hex digits of a keyed hash (SHA-256 of $HEADWATER_GDPR_KEY, ':', the
id): the same person always gets the same pseudonym, and without the key the id cannot be
recovered by hashing candidate ids.

The erasure list (`headwater.gdpr_erasures`) holds only that keyed hash, never the id. The
file sync (headwater.files) pseudonymises every row whose subject hashes to an entry as it
loads, so a later sync or full refresh of the same files does not bring the person back.
Each request writes a row to `headwater.gdpr_audit` (who asked, when, how many rows each
table changed). A second request for the same person changes nothing and says so.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field

import psycopg
from psycopg import sql

from headwater import config, db
from headwater.connection import Connection, Stream, load_connection
from headwater.errors import HeadwaterError

SCHEMA = "headwater"
DEV_KEY = "headwater-development-key"  # set HEADWATER_GDPR_KEY in production
LAYER_PREFIXES = ("staging", "intermediate", "snapshots", "marts", "analytics")

DDL = f"""
create schema if not exists {SCHEMA};
create table if not exists {SCHEMA}.gdpr_erasures (
    subject_hash text primary key,
    domain text not null,
    first_requested_at timestamptz not null default now()
);
create table if not exists {SCHEMA}.gdpr_audit (
    audit_id bigserial primary key,
    domain text not null,
    subject_hash text not null,
    pseudonym text not null,
    requested_at timestamptz not null default now(),
    requested_by text not null,
    outcome text not null,
    rows_changed jsonb not null
);
"""


def key() -> str:
    return os.environ.get("HEADWATER_GDPR_KEY") or DEV_KEY


def _hash_sql(column: sql.Composable) -> sql.Composable:
    return sql.SQL("encode(sha256(convert_to({} || ':' || {}, 'UTF8')), 'hex')").format(
        sql.Literal(key()), column
    )


def _pseudonym_sql(column: sql.Composable) -> sql.Composable:
    return sql.SQL("'erased-' || left({}, 16)").format(_hash_sql(column))


@dataclass
class ErasureReport:
    domain: str
    pseudonym: str
    outcome: str
    rows_changed: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "domain": self.domain,
            "pseudonym": self.pseudonym,
            "outcome": self.outcome,
            "rows_changed": self.rows_changed,
        }


def _erasure_streams(conn_cfg: Connection) -> list[Stream]:
    streams = [s for s in conn_cfg.streams if s.erasure is not None]
    if not streams:
        raise HeadwaterError(
            f"connection {conn_cfg.name}: no stream has an erasure section; nothing says "
            "which columns name or describe a person"
        )
    return streams


def model_names(domain: str) -> set[str]:
    """The domain's dbt models and snapshots, by file name (models/*/<domain>/, snapshots/<domain>/)."""
    root = config.project_dir() / "dbt_project"
    names = {p.stem for p in (root / "models").glob(f"*/{domain}/*.sql")}
    for path in (root / "snapshots" / domain).glob("*.yml"):
        names |= {
            line.split(":", 1)[1].strip()
            for line in path.read_text().splitlines()
            if line.strip().startswith("- name:") and line.startswith("  - name:")
        }
    names |= {p.stem for p in (root / "snapshots" / domain).glob("*.sql")}
    return names


def _tables_with(conn: psycopg.Connection, columns: set[str], domain: str, namespace: str):
    """(schema, table, [its columns]) of the domain's base tables that have a subject column."""
    models = sorted(model_names(domain))
    rows = conn.execute(
        """
        select n.nspname, c.relname, array_agg(a.attname::text order by a.attnum)
        from pg_class as c
        inner join pg_namespace as n on n.oid = c.relnamespace
        inner join pg_attribute as a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped
        where c.relkind in ('r', 'p')
            and (
                n.nspname = %s
                or (c.relname = any(%s) and n.nspname ~ %s)
            )
        group by n.nspname, c.relname
        order by n.nspname, c.relname
        """,
        [namespace, models, "^(" + "|".join(LAYER_PREFIXES) + ")"],
    ).fetchall()
    return [(s, t, cols) for s, t, cols in rows if columns & set(cols)]


def ensure_tables(conn: psycopg.Connection) -> None:
    conn.execute(DDL)


def erase(
    domain: str,
    subject_id: str,
    *,
    warehouse_url: str | None = None,
    requested_by: str | None = None,
) -> ErasureReport:
    """Pseudonymise `subject_id` in every layer of `domain` (see the module doc)."""
    subject_id = subject_id.strip()
    if not subject_id:
        raise HeadwaterError("gdpr erase: the subject id is empty")
    conn_cfg = load_connection(domain)
    streams = _erasure_streams(conn_cfg)
    subjects = {s.erasure.subject for s in streams}
    clear = {c for s in streams for c in (*s.erasure.clear, *s.erasure.derived)}
    requested_by = requested_by or os.environ.get("USER") or "unknown"
    with db.connect(warehouse_url or config.warehouse_url(), what="warehouse") as conn:
        ensure_tables(conn)
        subject_hash, pseudonym = conn.execute(
            sql.SQL("select {}, {}").format(
                _hash_sql(sql.Literal(subject_id)), _pseudonym_sql(sql.Literal(subject_id))
            )
        ).fetchone()
        conn.execute(
            f"insert into {SCHEMA}.gdpr_erasures (subject_hash, domain) values (%s, %s) "  # noqa: S608
            "on conflict do nothing",
            [subject_hash, conn_cfg.name],
        )
        changed: dict[str, int] = {}
        for schema, table, columns in _tables_with(conn, subjects, domain, conn_cfg.namespace):
            present = set(columns)
            for subject in sorted(subjects & present):
                sets = [sql.SQL("{} = %s").format(sql.Identifier(subject))]
                sets += [
                    sql.SQL("{} = null").format(sql.Identifier(c)) for c in sorted(clear & present)
                ]
                count = conn.execute(
                    sql.SQL("update {} set {} where {} = %s").format(
                        sql.Identifier(schema, table),
                        sql.SQL(", ").join(sets),
                        sql.Identifier(subject),
                    ),
                    [pseudonym, subject_id],
                ).rowcount
                if count:
                    changed[f"{schema}.{table}"] = changed.get(f"{schema}.{table}", 0) + count
        outcome = "erased" if changed else "nothing left to erase"
        conn.execute(
            f"insert into {SCHEMA}.gdpr_audit (domain, subject_hash, pseudonym, requested_by, "  # noqa: S608
            "outcome, rows_changed) values (%s, %s, %s, %s, %s, %s)",
            [conn_cfg.name, subject_hash, pseudonym, requested_by, outcome, json.dumps(changed)],
        )
    return ErasureReport(conn_cfg.name, pseudonym, outcome, changed)


def pseudonymise_stage(
    conn: psycopg.Connection, conn_cfg: Connection, stream: Stream, stage: sql.Identifier
) -> int:
    """Pseudonymise the staged rows of erased subjects before they reach raw (file sync)."""
    if stream.erasure is None:
        return 0
    exists = conn.execute(
        "select to_regclass(%s) is not null", [f"{SCHEMA}.gdpr_erasures"]
    ).fetchone()[0]
    if not exists:
        return 0
    staged = {
        r[0]
        for r in conn.execute(
            "select attname::text from pg_attribute where attrelid = %s::regclass and attnum > 0",
            [stage.as_string(conn)],
        ).fetchall()
    }
    subject = sql.Identifier(stream.erasure.subject)
    sets = [sql.SQL("{} = {}").format(subject, _pseudonym_sql(subject))]
    sets += [
        sql.SQL("{} = null").format(sql.Identifier(c)) for c in stream.erasure.clear if c in staged
    ]
    return conn.execute(
        sql.SQL(
            "update {} set {} where {} in (select subject_hash from {}.gdpr_erasures "
            "where domain = %s)"
        ).format(stage, sql.SQL(", ").join(sets), _hash_sql(subject), sql.Identifier(SCHEMA)),
        [conn_cfg.name],
    ).rowcount
