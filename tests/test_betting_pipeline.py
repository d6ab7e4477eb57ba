"""The betting domain end to end: files → raw_betting → dbt, checked against the files.

One session-scoped build (betting_env.py) serves every test: point-in-time answers right
before and after a late settlement and a resettlement, a day's report as known at its
close and as known now, incremental == full refresh after rounds of late settlements, no
PII in the marts, and, last (it changes the warehouse), GDPR erasure.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from betting_env import FULL, INCREMENTAL, MARTS, known_state
from dbt_env import environ
from headwater import analyses, gdpr

pytestmark = [pytest.mark.integration]

CENT = Decimal("0.01")


def _as_known(name: str, **parameters) -> list[dict]:
    with environ({"HEADWATER_DBT_SCHEMA_SUFFIX": INCREMENTAL}):
        return analyses.run("betting", name, {k: str(v) for k, v in parameters.items()}).as_dicts()


def _close(day) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC) + timedelta(days=1)


def _late_and_resettled(env):
    settlements = env.files("bet_settlements")
    bets = {b["bet_id"]: b for b in env.files("bets_placed")}
    late = [
        s
        for s in settlements
        if not s["is_resettlement"] and s["recorded_at"] >= _close(bets[s["bet_id"]]["placed_at"])
    ]
    resettled = [s for s in settlements if s["is_resettlement"]]
    return settlements, bets, late, resettled


def test_rounds_brought_late_settlements_and_resettlements_of_reported_days(betting_built):
    env = betting_built
    for written, synced, _ in env.rounds:
        by_stream = {s.stream: s for s in synced.streams}
        assert by_stream["bet_settlements"].rows_written == written["bet_settlements"] > 0
        assert by_stream["bets_placed"].rows_written == written["bets_placed"] > 0
    kinds = dict(
        env.query(
            f"select correction_kind, count(*) from marts{INCREMENTAL}.fct_settlement_corrections "
            "group by 1"
        )
    )
    assert kinds.get("late_settlement", 0) > 0 and kinds.get("resettlement", 0) > 0, kinds


def test_point_in_time_before_and_after_a_late_settlement(betting_built):
    settlements, bets, late, _ = _late_and_resettled(betting_built)
    record = max(late, key=lambda s: s["recorded_at"] - s["settled_at"])
    before = record["recorded_at"] - timedelta(seconds=1)
    # Its result took effect long before we learned it: at settled_at it was still open.
    assert record["settled_at"] < before
    [then] = _as_known("bets_as_known", bet_id=record["bet_id"], known_at=before.isoformat())
    assert then["settlement_status"] == "open" and then["payout"] is None
    [after] = _as_known("bets_as_known", bet_id=record["bet_id"], known_at=record["recorded_at"])
    assert after["settlement_id"] == record["settlement_id"]
    assert after["settlement_status"] == record["result"]
    assert after["payout"] == pytest.approx(Decimal(str(record["payout"])))


def test_point_in_time_before_and_after_a_resettlement(betting_built):
    settlements, bets, _, resettled = _late_and_resettled(betting_built)
    record = resettled[0]
    original = next(
        s for s in settlements if s["settlement_id"] == record["supersedes_settlement_id"]
    )
    assert record["settled_at"] == original["settled_at"]  # same valid time, new knowledge
    assert record["result"] != original["result"]
    before = record["recorded_at"] - timedelta(seconds=1)
    [then] = _as_known("bets_as_known", bet_id=record["bet_id"], known_at=before.isoformat())
    assert (then["settlement_id"], then["settlement_status"]) == (
        original["settlement_id"],
        original["result"],
    )
    [now] = _as_known("bets_as_known", bet_id=record["bet_id"])
    assert (now["settlement_id"], now["settlement_status"]) == (
        record["settlement_id"],
        record["result"],
    )
    current = betting_built.query(
        f"select settlement_status, is_resettled, payout from marts{INCREMENTAL}.fct_bets "
        "where bet_id = %s",
        [record["bet_id"]],
    )
    assert current == [(record["result"], True, pytest.approx(Decimal(str(record["payout"]))))]


def _truth_ggr(settlements, bets, day, known_at) -> dict[str, Decimal]:
    """GGR per currency of the bets placed on `day`, as known at `known_at`, from the files."""
    ggr: dict[str, Decimal] = defaultdict(Decimal)
    for bet in bets.values():
        if bet["placed_at"].date() != day or bet["placed_at"] > known_at:
            continue
        state = known_state(settlements, bet["bet_id"], known_at)
        ggr[bet["currency"]] += (
            Decimal(str(bet["stake"])) - Decimal(str(state["payout"])) if state else Decimal(0)
        )
    return dict(ggr)


def test_mondays_report_as_known_on_monday_and_as_known_today(betting_built):
    env = betting_built
    settlements, bets, late, _ = _late_and_resettled(env)
    monday = env.start.date()
    assert any(bets[s["bet_id"]]["placed_at"].date() == monday for s in late)
    on_monday = {
        r["currency"]: r["ggr"]
        for r in _as_known(
            "daily_ggr_as_known", report_date=monday, known_at=_close(monday).isoformat()
        )
    }
    today = {r["currency"]: r["ggr"] for r in _as_known("daily_ggr_as_known", report_date=monday)}
    assert on_monday == _truth_ggr(settlements, bets, monday, _close(monday))
    assert today == _truth_ggr(settlements, bets, monday, datetime.now(UTC))
    assert on_monday != today  # late settlements changed Monday
    mart = {
        currency: (ggr, as_reported, corrections)
        for currency, ggr, as_reported, corrections in env.query(
            f"select currency, ggr, ggr_as_reported, ggr_corrections from marts{INCREMENTAL}.fct_daily_ggr "
            "where bet_date = %s",
            [monday],
        )
    }
    assert {c: v[0] for c, v in mart.items()} == today
    assert {c: v[1] for c, v in mart.items()} == on_monday
    changes = dict(
        env.query(
            f"select currency, sum(ggr_change) from marts{INCREMENTAL}.fct_settlement_corrections "
            "where bet_date = %s group by 1",
            [monday],
        )
    )
    for currency, (ggr, as_reported, corrections) in mart.items():
        assert corrections == ggr - as_reported == changes.get(currency, 0)


def test_open_liability_is_the_open_bets_potential_payouts(betting_built):
    env = betting_built
    settlements, bets, _, _ = _late_and_resettled(env)
    settled = {s["bet_id"] for s in settlements}
    expected = sum(
        (Decimal(str(b["stake"])) * Decimal(str(b["odds"]))).quantize(CENT, ROUND_HALF_UP)
        - Decimal(str(b["stake"]))
        for b in bets.values()
        if b["bet_id"] not in settled
    )
    [(liability,)] = env.query(
        f"select sum(liability) from marts{INCREMENTAL}.fct_open_liability_by_market"
    )
    assert expected > 0 and liability == expected


def test_incremental_equals_full_refresh_after_rounds_of_late_settlements(betting_built):
    env = betting_built
    assert len(env.rounds) >= 2
    env.assert_equal("at the end")  # the fixture compared after every round too
    [(rows,)] = env.query(f"select count(*) from marts{FULL}.fct_bets")
    assert rows == len(env.files("bets_placed"))


def test_an_incremental_run_merges_only_the_bets_that_changed(betting_built):
    env = betting_built
    *_, built = env.rounds[-1]
    [merged] = [
        r["adapter_response"]["rows_affected"]
        for r in built.results
        if r["unique_id"] == "model.headwater.fct_bets"
    ]
    # The bets the last sync brought, or brought a settlement record for, however old.
    [(touched, old)] = env.query(
        """
        with last_bets as (
            select bet_id from raw_betting.bets_placed
            where _airbyte_extracted_at = (select max(_airbyte_extracted_at) from raw_betting.bets_placed)
        ),
        last_settled as (
            select bet_id from raw_betting.bet_settlements
            where _airbyte_extracted_at = (
                select max(_airbyte_extracted_at) from raw_betting.bet_settlements
            )
        )
        select
            (select count(*) from (select bet_id from last_bets union select bet_id from last_settled) as t),
            (select count(*) from last_settled where bet_id not in (select bet_id from last_bets))
        """
    )
    assert old > 0  # late settlements of bets from earlier files
    assert touched <= merged < len(env.files("bets_placed")) / 2


def _pii(env) -> dict[str, set[str]]:
    profiles = env.files("customer_profiles")
    return {
        "email": {p["email"] for p in profiles},
        "name": {p["name"] for p in profiles},
        "date_of_birth": {p["date_of_birth"].isoformat() for p in profiles},
    }


def _tables(env, schema_pattern: str, kinds=("r", "p", "v")) -> list[str]:
    return [
        f"{s}.{t}"
        for s, t in env.query(
            "select n.nspname, c.relname from pg_class as c "
            "inner join pg_namespace as n on n.oid = c.relnamespace "
            "where c.relkind = any(%s) and n.nspname ~ %s order by 1, 2",
            [list(kinds), schema_pattern],
        )
    ]


def _hits(env, table: str, needles: set[str]) -> int:
    """Rows of `table` whose text (every column) contains one of `needles`."""
    patterns = [f"%{n}%" for n in needles]
    return env.query(f"select count(*) from {table} as t where t::text like any(%s)", [patterns])[
        0
    ][0]


def test_no_pii_in_clear_in_the_marts(betting_built):
    env = betting_built
    pii = _pii(env)
    marts = _tables(env, f"^marts({INCREMENTAL}|{FULL})$")
    assert {t.split(".")[1] for t in marts} >= set(MARTS)
    for table in marts:
        for kind, values in pii.items():
            assert _hits(env, table, values) == 0, f"{table} holds customer {kind}s in clear"
    # The check itself finds PII where it is: staging still has it.
    assert _hits(env, f"staging{INCREMENTAL}.stg_betting__customer_profiles", pii["email"]) > 0
    bands = {
        r[0] for r in env.query(f"select distinct age_band from marts{INCREMENTAL}.dim_customers")
    }
    assert bands and bands <= {"18-24", "25-34", "35-44", "45-54", "55-64", "65+"}


def _aggregates(env) -> list[tuple]:
    return [
        env.query(
            f"select count(*), sum(stake), sum(ggr), count(distinct customer_id) from marts{suffix}.fct_bets"
        )[0]
        + env.query(f"select sum(ggr), sum(ggr_as_reported) from marts{suffix}.fct_daily_ggr")[0]
        + env.query(
            f"select sum(lifetime_ggr), count(*) from marts{suffix}.fct_customer_lifetime_value"
        )[0]
        for suffix in (INCREMENTAL, FULL)
    ]


def test_gdpr_erasure_leaves_no_trace_and_keeps_aggregates(betting_built):
    env = betting_built
    profiles = env.files("customer_profiles")
    names = defaultdict(set)
    for p in profiles:
        names[p["name"]].add(p["customer_id"])
    bettors = {b["customer_id"] for b in env.files("bets_placed")}
    versions = defaultdict(int)
    for p in profiles:
        versions[p["customer_id"]] += 1
    subject = max(
        (
            p["customer_id"]
            for p in profiles
            if len(names[p["name"]]) == 1 and p["customer_id"] in bettors
        ),
        key=lambda c: (versions[c], c),
    )
    mine = [p for p in profiles if p["customer_id"] == subject]
    needles = {subject, *(p["email"] for p in mine), mine[0]["name"]}
    everywhere = _tables(
        env, r"^(raw_betting|staging|intermediate|snapshots|marts|analytics|headwater)"
    )
    assert sum(_hits(env, t, needles) for t in everywhere) > 0  # the scan finds them before
    before = _aggregates(env)

    report = gdpr.erase("betting", subject, requested_by="test")
    assert report.outcome == "erased"
    changed = set(report.rows_changed)
    assert {"raw_betting.customer_profiles", "raw_betting.bets_placed"} <= changed
    assert f"snapshots{INCREMENTAL}.snap_betting__customers" in changed
    assert f"marts{INCREMENTAL}.fct_bets" in changed and f"marts{FULL}.dim_customers" in changed

    def traces() -> dict[str, int]:
        found = {t: _hits(env, t, needles) for t in everywhere}
        return {t: n for t, n in found.items() if n}

    assert traces() == {}
    assert _aggregates(env) == before

    again = gdpr.erase("betting", subject, requested_by="test")
    assert (again.outcome, again.rows_changed, again.pseudonym) == (
        "nothing left to erase",
        {},
        report.pseudonym,
    )
    audit = env.query(
        "select outcome, requested_by from headwater.gdpr_audit where pseudonym = %s order by audit_id",
        [report.pseudonym],
    )
    assert audit == [("erased", "test"), ("nothing left to erase", "test")]

    # A full refresh re-reads every file, which still name the subject: the erasure list
    # pseudonymises them as they load, and the models rebuilt on top stay clean and equal.
    refreshed = env.sync(full_refresh=True)
    assert all(s.rows_read > 0 for s in refreshed.streams)
    assert traces() == {}
    env.build()
    env.full_refresh()
    assert traces() == {}
    env.assert_equal("after the erasure and a full refresh")
    assert _aggregates(env) == before
    [(pseudonymised,)] = env.query(
        f"select count(*) from marts{INCREMENTAL}.fct_bets where customer_id = %s",
        [report.pseudonym],
    )
    assert pseudonymised == sum(1 for b in env.files("bets_placed") if b["customer_id"] == subject)
