"""Betting source data: Parquet files as the betting platform drops them, window by window.

Three datasets, each a folder of Parquet files under the output directory (the S3 prefix in
production), one file per dataset and arrival window, so new files arrive over time:

* `bets_placed/placed_<window>.parquet`: the bets placed in the window (immutable);
* `bet_settlements/recorded_<window>.parquet`: the settlement records the settlement system
  booked in the window. `settled_at` is when the result took effect (the event's end, or
  the cash-out); `recorded_at` is when the record was booked. Most arrive minutes after the
  event; about 12% hours to three days later (late settlements: the bet's day was already
  reported as open); about 3% of settled bets are resettled one to four days later (a new
  record with `is_resettlement` true and `supersedes_settlement_id` pointing at the record
  it corrects, with the same `settled_at` and another result);
* `customer_profiles/updated_<window>.parquet`: every customer created or changed in the
  window, as a whole row (name, email and date of birth are PII), `updated_at` its cursor.

Determinism: the whole history is a function of (seed, start, days, bets per day). A bet's
settlement records depend on the bet alone, so `seed` followed by `mutate` rounds writes
exactly the files one longer `seed` would, window for window. `seed` records what it wrote
in `_betting.json`; `mutate` reads it and writes the next window (new bets, the settlements
booked in it, late ones and resettlements of earlier days, profile updates).

At full scale (`--bets-per-day 1000000`) there are half as many customers as bets a day.
"""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import click
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from headwater import config
from headwater.errors import HeadwaterError

DEFAULT_START = datetime(2025, 1, 13, tzinfo=UTC)  # a Monday
MANIFEST = "_betting.json"
DATASETS = ("bets_placed", "bet_settlements", "customer_profiles")
SPORTS = (
    ("football", ("match_result", "both_teams_to_score", "over_under_2_5", "correct_score")),
    ("tennis", ("match_winner", "set_betting")),
    ("basketball", ("moneyline", "point_spread")),
    ("horse_racing", ("win", "each_way")),
)
CHANNELS = ("mobile_app", "web", "retail")
CHANNEL_SHARES = (0.68, 0.27, 0.05)
COUNTRIES = ("GB", "IE", "DE", "ES", "US")
COUNTRY_SHARES = (0.45, 0.10, 0.15, 0.12, 0.18)
CURRENCY = {"GB": "GBP", "IE": "EUR", "DE": "EUR", "ES": "EUR", "US": "USD"}
KYC = ("pending", "verified", "rejected")
FIRST_NAMES = (
    "Olivia", "Amelia", "Isla", "Ava", "Mia", "Grace", "Freya", "Lily", "Emily", "Ella",
    "Noah", "Oliver", "George", "Arthur", "Leo", "Harry", "Oscar", "Jack", "Henry", "Theo",
    "Lukas", "Sofia", "Mateo", "Lucia", "Hugo", "Emma", "Liam", "Aoife", "Conor", "Maya",
)  # fmt: skip
LAST_NAMES = (
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Patel",
    "Wright", "Murphy", "Kelly", "Byrne", "Muller", "Schmidt", "Garcia", "Lopez", "Martin",
    "Walsh", "Evans", "Thomas", "Roberts", "Walker", "Hughes", "Green", "Hall", "Wood",
)  # fmt: skip
# Settlement timing: the event ends 0.5-3 h after the bet; most records are booked within
# 20 minutes of that, LATE_SHARE hours to three days later; RESETTLE_SHARE get a second record.
LATE_SHARE = 0.12
RESETTLE_SHARE = 0.03
CASHOUT_SHARE = 0.04
VOID_SHARE = 0.03
PROFILE_UPDATE_SHARE = 0.02  # customers changing something, per day


def _rng(seed: int, *salt: int) -> np.random.Generator:
    return np.random.default_rng([seed, *salt])


def _customers(seed: int, start: datetime, days: int, bets_per_day: int) -> dict[str, np.ndarray]:
    """Every customer of the period: most signed up in the year before `start`, 5% during it."""
    n = max(20, bets_per_day // 2)
    rng = _rng(seed, 1)
    start_s = start.timestamp()
    during = rng.random(n) < 0.05
    created = np.where(
        during,
        start_s + rng.random(n) * days * 86400,
        start_s - rng.random(n) * 365 * 86400,
    ).round()
    first = rng.integers(0, len(FIRST_NAMES), n)
    last = rng.integers(0, len(LAST_NAMES), n)
    birth_days = (start - timedelta(days=365 * 18)).timestamp() / 86400 - rng.integers(
        0, 365 * 55, n
    )
    return {
        "customer_id": np.array([f"C{i + 1:07d}" for i in range(n)]),
        "first": first,
        "last": last,
        "created_s": created,
        "birth_day": birth_days.astype("int64"),
        "country": rng.choice(COUNTRIES, n, p=COUNTRY_SHARES),
        "kyc": rng.choice(KYC, n, p=(0.1, 0.85, 0.05)),
        "consent": rng.random(n) < 0.6,
    }


def _name(c: dict, i: int) -> str:
    return f"{FIRST_NAMES[c['first'][i]]} {LAST_NAMES[c['last'][i]]}"


def _email(c: dict, i: int, version: int = 0) -> str:
    suffix = f".{version}" if version else ""
    local = f"{FIRST_NAMES[c['first'][i]]}.{LAST_NAMES[c['last'][i]]}.{i + 1}{suffix}".lower()
    return f"{local}@example.com"


def _profile_versions(seed: int, start: datetime, days: int, c: dict) -> list[tuple]:
    """(updated_s, customer index, version, kyc, self_exclusion, consent) per profile row."""
    n = len(c["customer_id"])
    rows = [(c["created_s"][i], i, 0, c["kyc"][i], False, bool(c["consent"][i])) for i in range(n)]
    state = {i: (c["kyc"][i], False, bool(c["consent"][i]), 0) for i in range(n)}
    for day in range(days):
        rng = _rng(seed, 2, day)
        day_s = (start + timedelta(days=day)).timestamp()
        picked = np.flatnonzero(rng.random(n) < PROFILE_UPDATE_SHARE)
        times = day_s + rng.random(len(picked)) * 86400
        kinds = rng.integers(0, 4, len(picked))
        for i, at, kind in zip(picked, times.round(), kinds, strict=True):
            if at <= c["created_s"][i]:
                continue
            kyc, excluded, consent, version = state[i]
            if kind == 0:
                kyc = "verified" if kyc != "verified" else "pending"
            elif kind == 1:
                excluded = not excluded
            elif kind == 2:
                consent = not consent
            version += 1  # kind 3 changes only the email (the version suffix)
            state[i] = (kyc, excluded, consent, version)
            rows.append((at, int(i), version, kyc, excluded, consent))
    return rows


def _bets(
    seed: int, start: datetime, day: int, bets_per_day: int, c: dict
) -> dict[str, np.ndarray]:
    rng = _rng(seed, 3, day)
    n = bets_per_day
    day_s = (start + timedelta(days=day)).timestamp()
    # Evening-heavy: most bets in the afternoon and evening (UTC).
    placed = day_s + np.clip(rng.normal(17.5, 4.0, n), 0, 23.999) * 3600
    placed = np.sort(placed.round(3))
    eligible = np.flatnonzero(c["created_s"] < day_s)
    # A few customers bet a lot: a Zipf-like pick over the eligible ones.
    weights = 1.0 / np.arange(1, len(eligible) + 1) ** 0.8
    who = eligible[rng.choice(len(eligible), n, p=weights / weights.sum())]
    sport = rng.integers(0, len(SPORTS), n)
    market_pick = rng.integers(0, 4, n)
    # Small lookup tables indexed by the draws: a Python loop per bet is too slow at 1M a day.
    market_table = np.array([[m[k % len(m)] for k in range(4)] for _, m in SPORTS])
    markets = market_table[sport, market_pick]
    event_no = rng.integers(1, 40, n)
    event_table = np.array(
        [[f"{name[:3].upper()}-{day:03d}-{e:02d}" for e in range(40)] for name, _ in SPORTS]
    )
    events = event_table[sport, event_no]
    odds = np.round(1.1 + rng.gamma(1.6, 1.4, n), 2)
    stake = np.round(np.exp(rng.normal(2.5, 1.0, n)), 2).clip(0.5, 5000)
    return {
        "bet_id": np.char.add(f"B{day:04d}", np.char.zfill(np.arange(n).astype(str), 7)),
        "who": who,
        "sport_event_id": events,
        "market": markets,
        "selection": np.array(["selection_1", "selection_2", "selection_3"])[
            rng.integers(1, 4, n) - 1
        ],
        "odds": odds,
        "stake": stake,
        "placed_s": placed,
        "channel": rng.choice(CHANNELS, n, p=CHANNEL_SHARES),
        "sport_pick": sport,
    }


def _settlements(seed: int, day: int, bets: dict) -> dict[str, np.ndarray]:
    """The settlement records of one day's bets, as columns: one per bet, and a second
    (a resettlement) for some."""
    rng = _rng(seed, 4, day)
    n = len(bets["bet_id"])
    stake, odds, placed = bets["stake"], bets["odds"], bets["placed_s"]
    event_end = placed + (0.5 + rng.random(n) * 2.5) * 3600
    late = rng.random(n) < LATE_SHARE
    latency = np.where(late, 3600 * (2 + rng.random(n) * 70), 60 + rng.random(n) * 1140)
    draw = rng.random(n)
    cash_at = placed + (event_end - placed) * rng.random(n)
    cash_factor = 0.2 + rng.random(n) * 1.3
    resettle = rng.random(n) < RESETTLE_SHARE
    resettle_after = 86400 * (1 + rng.random(n) * 3)
    flip = rng.random(n)
    win_draw = rng.random(n)
    void = draw < VOID_SHARE
    cash = ~void & (draw < VOID_SHARE + CASHOUT_SHARE)
    won = ~void & ~cash & (win_draw < 0.93 / odds)  # 0.93: the house margin
    result = np.where(void, "void", np.where(cash, "cashout", np.where(won, "won", "lost")))
    win_payout = np.round(stake * odds, 2)
    payout = np.where(
        void,
        stake,
        np.where(cash, np.round(stake * cash_factor, 2), np.where(won, win_payout, 0.0)),
    )
    settled = np.round(np.where(cash, cash_at, event_end), 3)
    recorded = np.round(settled + latency, 3)
    bet_ids = bets["bet_id"].astype(str)
    first_ids = np.array([f"S{b[1:]}1" for b in bet_ids])

    again = np.flatnonzero(resettle & ~cash)
    old = result[again]
    new_result = np.where(
        old == "won",
        np.where(flip[again] < 0.7, "lost", "void"),
        np.where(old == "lost", np.where(flip[again] < 0.6, "won", "void"), "lost"),
    )
    new_payout = np.where(
        new_result == "won", win_payout[again], np.where(new_result == "void", stake[again], 0.0)
    )
    return {
        "recorded_s": np.concatenate(
            [recorded, np.round(recorded[again] + resettle_after[again], 3)]
        ),
        "settlement_id": np.concatenate(
            [first_ids, np.array([f"S{b[1:]}2" for b in bet_ids[again]], dtype=first_ids.dtype)]
        ),
        "bet_id": np.concatenate([bet_ids, bet_ids[again]]),
        "result": np.concatenate([result, new_result]),
        "payout": np.concatenate([payout, new_payout]).astype("float64"),
        "settled_s": np.concatenate([settled, settled[again]]),
        "is_resettlement": np.concatenate([np.zeros(n, bool), np.ones(len(again), bool)]),
        "supersedes": np.concatenate(
            [np.full(n, None, dtype=object), first_ids[again].astype(object)]
        ),
    }


def _ts(seconds: list[float] | np.ndarray) -> pa.Array:
    micros = (np.asarray(seconds, dtype="float64") * 1_000_000).round().astype("int64")
    return pa.array(micros, type=pa.timestamp("us", tz="UTC"))


class History:
    """The whole period, generated once; windows of it become files."""

    def __init__(self, seed: int, start: datetime, days: int, bets_per_day: int):
        self.seed, self.start, self.days, self.bets_per_day = seed, start, days, bets_per_day
        self.customers = _customers(seed, start, days, bets_per_day)
        self._bets = {}
        self._settlements = {}
        self._profiles: list[tuple] | None = None

    def profile_versions(self) -> list[tuple]:
        if self._profiles is None:
            self._profiles = _profile_versions(self.seed, self.start, self.days, self.customers)
        return self._profiles

    def bets(self, day: int) -> dict:
        if day not in self._bets:
            self._bets[day] = _bets(self.seed, self.start, day, self.bets_per_day, self.customers)
        return self._bets[day]

    def settlements(self, day: int) -> dict[str, np.ndarray]:
        if day not in self._settlements:
            self._settlements[day] = _settlements(self.seed, day, self.bets(day))
        return self._settlements[day]

    def bets_table(self, lo: float, hi: float) -> pa.Table:
        parts = []
        for day in range(self.days):
            day_s = (self.start + timedelta(days=day)).timestamp()
            if day_s >= hi or day_s + 86400 <= lo:
                continue  # bets are placed on their own day
            b = self.bets(day)
            keep = (b["placed_s"] >= lo) & (b["placed_s"] < hi)
            if keep.any():
                parts.append({k: v[keep] for k, v in b.items()})
        c = self.customers
        merged = {k: np.concatenate([p[k] for p in parts]) if parts else np.array([]) for k in (
            "bet_id", "who", "sport_event_id", "market", "selection", "odds", "stake",
            "placed_s", "channel",
        )}  # fmt: skip
        who = merged["who"].astype("int64")
        country = c["country"][who] if len(who) else np.array([], dtype=str)
        return pa.table(
            {
                "bet_id": pa.array(merged["bet_id"].astype(str), pa.string()),
                "customer_id": pa.array(c["customer_id"][who].astype(str), pa.string()),
                "sport_event_id": pa.array(merged["sport_event_id"].astype(str), pa.string()),
                "market": pa.array(merged["market"].astype(str), pa.string()),
                "selection": pa.array(merged["selection"].astype(str), pa.string()),
                "odds": pa.array(merged["odds"].astype("float64"), pa.float64()),
                "stake": pa.array(merged["stake"].astype("float64"), pa.float64()),
                "currency": pa.array([CURRENCY[x] for x in country], pa.string()),
                "placed_at": _ts(merged["placed_s"]),
                "channel": pa.array(merged["channel"].astype(str), pa.string()),
                "country": pa.array(country.astype(str), pa.string()),
            }
        )

    def settlements_table(self, lo: float, hi: float) -> pa.Table:
        parts = []
        for day in range(self.days):
            if (self.start + timedelta(days=day)).timestamp() >= hi:
                break  # bets of later days settle later still
            part = self.settlements(day)
            keep = (part["recorded_s"] >= lo) & (part["recorded_s"] < hi)
            if keep.any():
                parts.append({k: v[keep] for k, v in part.items()})
        cols = {
            k: np.concatenate([p[k] for p in parts]) if parts else np.array([])
            for k in ("recorded_s", "settlement_id", "bet_id", "result", "payout", "settled_s")
        }
        resettled = np.concatenate([p["is_resettlement"] for p in parts]) if parts else []
        supersedes = np.concatenate([p["supersedes"] for p in parts]) if parts else []
        order = np.lexsort((cols["settlement_id"], cols["recorded_s"])) if parts else []
        return pa.table(
            {
                "settlement_id": pa.array(cols["settlement_id"][order].astype(str), pa.string()),
                "bet_id": pa.array(cols["bet_id"][order].astype(str), pa.string()),
                "result": pa.array(cols["result"][order].astype(str), pa.string()),
                "payout": pa.array(cols["payout"][order].astype("float64"), pa.float64()),
                "settled_at": _ts(cols["settled_s"][order]),
                "recorded_at": _ts(cols["recorded_s"][order]),
                "is_resettlement": pa.array(np.asarray(resettled, bool)[order], pa.bool_()),
                "supersedes_settlement_id": pa.array(
                    list(np.asarray(supersedes, object)[order]), pa.string()
                ),
            }
        )

    def profiles_table(self, lo: float, hi: float) -> pa.Table:
        c = self.customers
        rows = [r for r in self.profile_versions() if lo <= r[0] < hi]
        rows.sort(key=lambda r: (r[0], r[1]))
        idx = [r[1] for r in rows]
        return pa.table(
            {
                "customer_id": pa.array([str(c["customer_id"][i]) for i in idx], pa.string()),
                "name": pa.array([_name(c, i) for i in idx], pa.string()),
                "email": pa.array([_email(c, r[1], r[2]) for r in rows], pa.string()),
                "date_of_birth": pa.array(
                    np.array([c["birth_day"][i] for i in idx], dtype="int32"), pa.date32()
                ),
                "country": pa.array([str(c["country"][i]) for i in idx], pa.string()),
                "kyc_status": pa.array([str(r[3]) for r in rows], pa.string()),
                "self_exclusion": pa.array([bool(r[4]) for r in rows], pa.bool_()),
                "marketing_consent": pa.array([bool(r[5]) for r in rows], pa.bool_()),
                "created_at": _ts([c["created_s"][i] for i in idx]),
                "updated_at": _ts([r[0] for r in rows]),
            }
        )


def _window_name(lo: datetime) -> str:
    return lo.strftime("%Y-%m-%dT%H%M")


def write_window(
    history: History, out: Path, lo: datetime, hi: datetime, named: datetime | None = None
) -> dict[str, int]:
    """Write one file per dataset for arrivals in [lo, hi), named after `named` (default
    `lo`); an empty window writes no file."""
    counts = {}
    lo_s, hi_s = lo.timestamp(), hi.timestamp()
    tables = {
        "bets_placed": ("placed", history.bets_table(lo_s, hi_s)),
        "bet_settlements": ("recorded", history.settlements_table(lo_s, hi_s)),
        "customer_profiles": ("updated", history.profiles_table(lo_s, hi_s)),
    }
    for dataset, (prefix, table) in tables.items():
        counts[dataset] = counts.get(dataset, 0) + table.num_rows
        if table.num_rows:
            folder = out / dataset
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{prefix}_{_window_name(named or lo)}.parquet"
            tmp = path.with_suffix(".parquet.tmp")
            pq.write_table(table, tmp)
            tmp.replace(path)  # a reader never sees half a file
    return counts


def default_out() -> Path:
    return config.home() / "files" / "betting"


def _read_manifest(out: Path) -> dict:
    path = out / MANIFEST
    if not path.is_file():
        raise HeadwaterError(f"{out}: no {MANIFEST}; run `headwater seed betting` first")
    return json.loads(path.read_text())


def _write_manifest(out: Path, manifest: dict) -> None:
    (out / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")


def seed(
    out: Path | None = None,
    *,
    days: int = 7,
    bets_per_day: int = 1000,
    seed: int = 0,
    start: datetime = DEFAULT_START,
    horizon_days: int | None = None,
) -> dict[str, int]:
    """Replace `out` with `days` daily windows of files from `start`.

    `horizon_days` (default `days` + 7) is how many days of bets the history holds, so later
    `mutate` windows have new bets to place; settlements of the last seeded day keep arriving.
    """
    if days < 1 or bets_per_day < 1:
        raise HeadwaterError("--days and --bets-per-day must be at least 1")
    out = out or default_out()
    horizon = horizon_days or days + 7
    if out.exists():
        for dataset in DATASETS:
            shutil.rmtree(out / dataset, ignore_errors=True)
        (out / MANIFEST).unlink(missing_ok=True)
    out.mkdir(parents=True, exist_ok=True)
    history = History(seed, start, horizon, bets_per_day)
    # Profiles of customers who signed up before the period arrive in the first file.
    first_lo = start - timedelta(days=400)
    counts = dict.fromkeys(DATASETS, 0)
    for day in range(days):
        lo = start + timedelta(days=day)
        window = write_window(
            history, out, first_lo if day == 0 else lo, lo + timedelta(days=1), named=lo
        )
        for k, v in window.items():
            counts[k] += v
    as_of = start + timedelta(days=days)
    _write_manifest(
        out,
        {
            "seed": seed,
            "start": start.isoformat(),
            "horizon_days": horizon,
            "bets_per_day": bets_per_day,
            "as_of": as_of.isoformat(),
        },
    )
    return counts


def mutate(out: Path | None = None, *, hours: float = 24) -> dict[str, int]:
    """Write the next `hours` of arrivals: new bets, settlements booked in the window (late
    ones and resettlements of already-reported days among them) and profile updates."""
    if hours <= 0:
        raise HeadwaterError("--hours must be positive")
    out = out or default_out()
    m = _read_manifest(out)
    start = datetime.fromisoformat(m["start"])
    history = History(m["seed"], start, m["horizon_days"], m["bets_per_day"])
    lo = datetime.fromisoformat(m["as_of"])
    hi = lo + timedelta(hours=hours)
    if hi > start + timedelta(days=m["horizon_days"]):
        raise HeadwaterError(
            f"{out}: the seeded history ends {start + timedelta(days=m['horizon_days']):%Y-%m-%d}; "
            "seed again with a larger --horizon-days"
        )
    counts = write_window(history, out, lo, hi)
    m["as_of"] = hi.isoformat()
    _write_manifest(out, m)
    return counts


def files_dir() -> Path:
    """Where the betting connection reads its files: $HEADWATER_BETTING_FILES or the default."""
    import os

    return Path(os.environ.get("HEADWATER_BETTING_FILES") or default_out())


@click.command("betting")
@click.option("--days", type=int, default=7, show_default=True, help="Days of history to write.")
@click.option(
    "--bets-per-day", type=int, default=1000, show_default=True, help="1000000 is full scale."
)
@click.option("--horizon-days", type=int, default=None, help="Days of bets held for `mutate`.")
@click.option("--seed", "rng_seed", type=int, default=0, show_default=True, help="Random seed.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output folder (default: $HEADWATER_BETTING_FILES or .headwater/files/betting).",
)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def seed_command(
    days: int, bets_per_day: int, horizon_days: int | None, rng_seed: int, out, as_json: bool
) -> None:
    """Write bets, settlements and customer profiles as Parquet files, one per day."""
    from headwater.cli import print_counts

    out = out or files_dir()
    counts = seed(
        out, days=days, bets_per_day=bets_per_day, seed=rng_seed, horizon_days=horizon_days
    )
    print_counts(counts, f"betting files in {out}", as_json)


@click.command("betting")
@click.option("--hours", type=float, default=24, show_default=True, help="Window to write.")
@click.option("--out", type=click.Path(file_okay=False, path_type=Path), default=None)
@click.option("--json", "as_json", is_flag=True, help="Print a machine-readable summary.")
def mutate_command(hours: float, out, as_json: bool) -> None:
    """Write the next window's files: new bets, late settlements, resettlements, profile updates."""
    from headwater.cli import print_counts

    out = out or files_dir()
    print_counts(mutate(out, hours=hours), f"betting files in {out}", as_json)


# --- demo ---------------------------------------------------------------------------------------

DEMO_DAYS = 4


def _demo_bets(scale: float) -> int:
    return max(50, int(2000 * scale))


def demo_seed(scale: float) -> dict[str, int]:
    """Four days of bets (2,000 a day at scale 1) as files in the connection's folder."""
    counts = seed(files_dir(), days=DEMO_DAYS, bets_per_day=_demo_bets(scale), seed=1)
    return {f"{k} rows": v for k, v in counts.items()}


def demo_change(scale: float) -> dict[str, int]:
    """The next day's files: new bets, late settlements and resettlements of reported days."""
    counts = mutate(files_dir(), hours=24)
    return {f"new {k} rows": v for k, v in counts.items()}


DEMO_REPORT = {
    "Daily GGR: as reported at the day's close, and now (late settlements corrected)": """
        select bet_date, currency, bet_count, stake_total, ggr_as_reported, ggr,
               ggr_corrections, open_bet_count
        from analytics.fct_daily_ggr
        order by bet_date, currency
    """,
    "What late settlements changed in reported days": """
        select bet_date, correction_kind, count(*) as records, sum(ggr_change) as ggr_change
        from analytics.fct_settlement_corrections
        group by bet_date, correction_kind
        order by bet_date, correction_kind
    """,
    "Open liability: the five largest markets": """
        select market, currency, sum(open_bet_count) as open_bets, sum(liability) as liability
        from analytics.fct_open_liability_by_market
        group by market, currency
        order by liability desc, market
        limit 5
    """,
    "Customer value segments": """
        select value_segment, sum(customer_count) as customers, sum(lifetime_ggr) as lifetime_ggr
        from analytics.fct_customer_segments
        group by value_segment
        order by lifetime_ggr desc
    """,
}
