"""Property-based fuzzing of event ingestion: bad input never crashes it, and every line is
accounted for.

Each example starts from a spec's valid example events and breaks them: wrong types,
missing and extra fields, huge strings, invalid UTF-8, nested junk, impossible timestamps
and time zones, negative and absurd amounts, unknown event types, broken JSON lines,
duplicates. Whatever comes in, ingestion must finish, and
`received = accepted + duplicates + dead_lettered` must hold in the report and in the
database: the landing tables grew by exactly `accepted`, every dead-lettered line is in
`dead_letters` with a reason. Runs over the test spec and every domain's event spec
(`headwater.sources.<domain>.events`). `pytest --long` tries ten times more examples.
"""

from __future__ import annotations

import hashlib
import json

import orjson
import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from headwater import config, ingest
from test_ingest import SPEC as TEST_SPEC

pytestmark = [pytest.mark.integration, pytest.mark.faults, pytest.mark.slow]

SPECS = [TEST_SPEC] + [
    ingest.load_spec(domain) for domain in config.DOMAINS if ingest.has_events(domain)
]
EXAMPLES, LONG_EXAMPLES = 60, 600

JUNK = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**30), max_value=10**30)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=40),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
BAD_TIMES = st.sampled_from(
    [
        "2024-13-45T99:99:99Z",
        "2024-02-30T10:00:00Z",
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59-23:59",
        "2024-11-03T10:30:00+25:00",
        "2024-11-03T10:30:00",
        "",
        "yesterday",
        "1e10",
        "2500-01-01T00:00:00Z",
    ]
)
BAD_AMOUNTS = st.sampled_from(
    [-1, -0.01, -(10**30), 10**40, 1e308, "NaN", "Infinity", "-", "12,50", "1e999", ""]
)
HUGE = st.integers(min_value=1_000, max_value=200_000).map(lambda n: "x" * n)


def _paths(value, prefix=()):
    """Every (path) to a leaf or a sub-object of a JSON value."""
    if isinstance(value, dict):
        for key, inner in value.items():
            yield (*prefix, key)
            yield from _paths(inner, (*prefix, key))
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            yield (*prefix, i)
            yield from _paths(inner, (*prefix, i))


def _set(value, path, new):
    target = value
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = new


def _delete(value, path):
    target = value
    for part in path[:-1]:
        target = target[part]
    del target[path[-1]]


def _dumps(value, ascii_only: bool = False) -> bytes:
    """JSON as a producer might send it: big integers and lone surrogates included (raw, or
    as `\\udxxx` escapes when `ascii_only`)."""
    text = json.dumps(value, ensure_ascii=ascii_only)
    return text.encode("utf-8", errors="surrogatepass")


@st.composite
def broken_line(draw, example: dict) -> bytes:
    event = orjson.loads(orjson.dumps(example))
    event["event_id"] = f"fz_{draw(st.uuids()).hex}" if "event_id" in event else None
    if event["event_id"] is None:
        del event["event_id"]
    paths = list(_paths(event))
    kind = draw(
        st.sampled_from(
            [
                "valid",
                "drop",
                "junk",
                "extra",
                "time",
                "amount",
                "huge",
                "type",
                "truncate",
                "bytes",
                "nesting",
                "not_object",
                "surrogate",
            ]
        )
    )
    if kind == "drop" and paths:
        _delete(event, draw(st.sampled_from(paths)))
    elif kind == "junk" and paths:
        _set(event, draw(st.sampled_from(paths)), draw(JUNK))
    elif kind == "extra":
        event[draw(st.text(min_size=1, max_size=12))] = draw(JUNK)
    elif kind == "time":
        stamps = [p for p in paths if "time" in str(p[-1]) or str(p[-1]).endswith("_at")]
        if stamps:
            _set(event, draw(st.sampled_from(stamps)), draw(BAD_TIMES))
    elif kind == "amount":
        amounts = [
            p
            for p in paths
            if any(w in str(p[-1]) for w in ("amount", "price", "rate", "total", "tip", "tax"))
        ]
        if amounts:
            _set(event, draw(st.sampled_from(amounts)), draw(BAD_AMOUNTS))
    elif kind == "huge" and paths:
        _set(event, draw(st.sampled_from(paths)), draw(HUGE))
    elif kind == "type":
        event["event_type"] = draw(st.text(max_size=20))
    elif kind == "surrogate" and paths:
        _set(event, draw(st.sampled_from(paths)), "a\ud800b")
    line = _dumps(event, ascii_only=draw(st.booleans()))
    if kind == "truncate":
        line = line[: draw(st.integers(min_value=0, max_value=max(0, len(line) - 1)))]
    elif kind == "bytes":
        at = draw(st.integers(min_value=0, max_value=len(line)))
        line = line[:at] + draw(st.binary(min_size=1, max_size=6)) + line[at:]
    elif kind == "nesting":
        depth = draw(st.integers(min_value=100, max_value=5000))
        line = b'{"data": ' + b"[" * depth + b"]" * depth + b"}"
    elif kind == "not_object":
        line = _dumps(draw(JUNK))
    return line.replace(b"\n", b" ").replace(b"\r", b" ")


@st.composite
def batch(draw, spec: ingest.EventSpec) -> list[bytes]:
    lines = draw(
        st.lists(
            st.sampled_from(spec.examples).flatmap(lambda e: broken_line(e)),
            min_size=1,
            max_size=25,
        )
    )
    if draw(st.booleans()):  # replay some lines: duplicates of good and bad ones
        lines += draw(st.lists(st.sampled_from(lines), max_size=5))
    return lines


@pytest.fixture
def database(make_database):
    return make_database("fuzz")


def _counts(url: str, spec: ingest.EventSpec) -> tuple[dict[str, int], set[str], bool]:
    with psycopg.connect(url) as conn:
        exists = conn.execute(
            "select to_regclass(%s) is not null", [f"{spec.schema}.{ingest.DEAD_LETTERS}"]
        ).fetchone()[0]
        if not exists:
            return {t.name: 0 for t in spec.tables}, set(), True
        landing = {
            t.name: conn.execute(f'select count(*) from "{spec.schema}"."{t.name}"').fetchone()[0]
            for t in spec.tables
        }
        dead = conn.execute(
            f'select payload_sha256, reason from "{spec.schema}".dead_letters'
        ).fetchall()
    return landing, {sha for sha, _ in dead}, all(reason.strip() for _, reason in dead)


@pytest.mark.parametrize("spec", SPECS, ids=[s.domain for s in SPECS])
def test_bad_input_never_crashes_and_every_line_is_accounted_for(spec, database, long_run, figures):
    if not spec.examples:
        pytest.fail(f"{spec.domain}: the event spec has no examples to fuzz from")
    seen = {"lines": 0, "dead": 0}

    @settings(
        max_examples=LONG_EXAMPLES if long_run else EXAMPLES,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(lines=batch(spec))
    def check(lines):
        before, dead_before, _ = _counts(database, spec)
        report = ingest.ingest(spec, lines, url=database, batch_size=7)
        after, dead_after, reasons_ok = _counts(database, spec)
        assert report.balanced, report.as_dict()
        assert report.received == sum(1 for line in lines if line.strip(b"\r\n").strip())
        assert sum(after.values()) - sum(before.values()) == report.accepted
        assert reasons_ok
        # Every line dead-lettered by this run is in the table (new or seen before).
        assert len(dead_after) >= len(dead_before)
        assert report.dead_lettered >= len(dead_after) - len(dead_before)
        seen["lines"] += report.received
        seen["dead"] += report.dead_lettered

    check()
    assert seen["dead"] > 0 and seen["lines"] > seen["dead"]
    figures.add("fuzzed lines ingested, every one accounted for", seen["lines"])
    figures.add("fuzzed lines dead-lettered with a reason", seen["dead"])


def test_a_dead_lettered_line_is_stored_as_it_came(database):
    line = b'{"event_id": "evt_1", "event_type": "thing.created", "data": {"thing_id": 1}'
    report = ingest.ingest(TEST_SPEC, [line, b"\xc3\x28 broken"], url=database)
    assert report.dead_lettered == 2
    with psycopg.connect(database) as conn:
        rows = conn.execute(
            "select raw_payload, payload_sha256 from dead_letters order by line_number"
        ).fetchall()
    assert rows[0] == (line.decode(), hashlib.sha256(line).hexdigest())
    assert rows[1][0] == "\\xc3( broken"  # the invalid byte kept, escaped


@pytest.mark.parametrize("spec", SPECS, ids=[s.domain for s in SPECS])
def test_every_example_of_a_spec_is_accepted_as_it_stands(spec, database):
    """The fuzzing starts from the examples: each must be a valid event of its type (some
    examples show a duplicate on purpose: the same key another way)."""
    lines = [json.dumps(example).encode() for example in spec.examples]
    report = ingest.ingest(spec, lines, url=database)
    assert report.dead_lettered == 0, report.dead_letter_reasons
    assert report.accepted > 0 and report.accepted + report.duplicates == len(lines)
    covered = {spec.classify(example) for example in spec.examples}
    assert covered == set(spec.types), "one example per event type at least"
