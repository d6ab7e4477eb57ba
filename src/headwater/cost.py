"""Monthly cost estimate of the betting platform at 1M and 10M bets a day (docs/cost.md).

ESTIMATES, not quotes: list prices as published by AWS (us-east-1) and Google Cloud (BigQuery,
US multi-region) on PRICES_AS_OF, without discounts, free tiers beyond the first on-demand
TiB, or taxes. Every number below is an input stated once, with the assumption behind it,
so a reader can change one and see the effect (`headwater cost --json`).

The architecture priced is the one headwater runs (docs/adr/): the betting platform drops
Parquet files in S3; Airflow (MWAA) runs the hourly pipeline; a small Fargate task runs
the sync and dbt; BigQuery stores raw, marts and `analytics` and runs the transformations
and the analysts' queries (on-demand pricing); files cross from AWS to Google Cloud once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

PRICES_AS_OF = "2025-01 (public list prices; check before relying on them)"
DAYS_PER_MONTH = 30
GB = 1e9
TIB = 2**40


@dataclass(frozen=True)
class UnitPrices:
    s3_standard_gb_month: float = 0.023  # S3 Standard, first 50 TB
    s3_glacier_ir_gb_month: float = 0.004  # Glacier Instant Retrieval (files older than 90 days)
    s3_put_per_1000: float = 0.005
    s3_get_per_1000: float = 0.0004
    aws_egress_per_gb: float = 0.09  # internet egress, first 10 TB/month (AWS → Google Cloud)
    mwaa_small_environment_hour: float = 0.49  # mw1.small, scheduler and one worker included
    fargate_vcpu_hour: float = 0.04048
    fargate_gb_hour: float = 0.004445
    bigquery_active_gb_month: float = 0.02  # logical bytes
    bigquery_long_term_gb_month: float = 0.01  # tables/partitions untouched for 90 days
    bigquery_on_demand_per_tib: float = 6.25  # first TiB a month free
    cloudwatch_logs_per_gb: float = 0.50


@dataclass(frozen=True)
class Volumes:
    """What one day at `bets_per_day` moves and keeps. Sizes measured on the seeded data
    (`headwater seed betting`), rounded up."""

    bets_per_day: int
    settlements_per_bet: float = 1.15  # late settlements are the same record; 3% resettled
    customers_per_bet_per_day: float = 0.5  # 500K customers at 1M bets/day
    profile_updates_share: float = 0.02
    parquet_bytes_per_bet: int = 40  # bets_placed file bytes per row (29 measured)
    parquet_bytes_per_settlement: int = 40
    parquet_bytes_per_profile: int = 90
    # PostgreSQL holds 2,230 bytes per bet across raw, snapshots, marts and analytics,
    # indexes included (10,000 bets measured); BigQuery has no indexes.
    warehouse_bytes_per_bet: int = 1500
    files_per_day: int = 72  # three datasets, one file an hour
    retention_months_hot: int = 3  # then long-term storage / Glacier
    months_kept: int = 12  # the month priced is the twelfth: a year of history stored
    runs_per_day: int = 24
    # Hourly dbt runs read what the window touched plus a three-day lookback of late
    # settlements, pruned by date partition and clustering; the customer marts (lifetime
    # value, cohorts, segments) rebuild from fct_bets in full once a day.
    incremental_scan_days: float = 3.0
    incremental_scan_column_share: float = 0.5
    full_rebuilds_per_day: int = 1
    full_rebuild_column_share: float = 0.25
    # 100 consumers, 20 queries a day each, mostly on small aggregate marts.
    analyst_queries_per_day: int = 2000
    analyst_gb_per_query_per_million_bets: float = 0.2
    runner_vcpu: float = 1.0
    runner_gb: float = 2.0
    runner_minutes_per_run_per_million_bets: float = 4.0
    runner_minutes_per_run_fixed: float = 3.0
    log_gb_per_day: float = 0.5


def estimate(volumes: Volumes, prices: UnitPrices = UnitPrices()) -> dict:
    """Line items (USD a month) for one scale; see the module doc for what is priced."""
    v, p = volumes, prices
    millions = v.bets_per_day / 1e6
    settlements = v.bets_per_day * v.settlements_per_bet
    profiles = v.bets_per_day * v.customers_per_bet_per_day * v.profile_updates_share
    file_gb_day = (
        v.bets_per_day * v.parquet_bytes_per_bet
        + settlements * v.parquet_bytes_per_settlement
        + profiles * v.parquet_bytes_per_profile
    ) / GB
    hot_months = min(v.retention_months_hot, v.months_kept)
    cold_months = v.months_kept - hot_months
    file_gb_hot = file_gb_day * DAYS_PER_MONTH * hot_months
    file_gb_cold = file_gb_day * DAYS_PER_MONTH * cold_months
    warehouse_gb_day = v.bets_per_day * v.warehouse_bytes_per_bet / GB
    warehouse_hot = warehouse_gb_day * DAYS_PER_MONTH * hot_months
    warehouse_cold = warehouse_gb_day * DAYS_PER_MONTH * cold_months

    scanned_per_day = (
        v.runs_per_day
        * warehouse_gb_day
        * v.incremental_scan_days
        * v.incremental_scan_column_share
        + v.full_rebuilds_per_day
        * warehouse_gb_day
        * DAYS_PER_MONTH
        * v.months_kept
        * v.full_rebuild_column_share
        + v.analyst_queries_per_day * v.analyst_gb_per_query_per_million_bets * millions
    )
    scanned_tib_month = scanned_per_day * DAYS_PER_MONTH * GB / TIB
    runner_hours_day = (
        v.runs_per_day
        * (v.runner_minutes_per_run_fixed + v.runner_minutes_per_run_per_million_bets * millions)
        / 60
    )
    lines = {
        "S3 storage (Parquet drops, hot then Glacier IR)": file_gb_hot * p.s3_standard_gb_month
        + file_gb_cold * p.s3_glacier_ir_gb_month,
        "S3 requests": v.files_per_day
        * DAYS_PER_MONTH
        * (p.s3_put_per_1000 + p.s3_get_per_1000)
        / 1000,
        "AWS egress to Google Cloud (files, once)": file_gb_day
        * DAYS_PER_MONTH
        * p.aws_egress_per_gb,
        "Airflow (MWAA small, always on)": 24 * DAYS_PER_MONTH * p.mwaa_small_environment_hour,
        "Fargate runner (sync + dbt client)": runner_hours_day
        * DAYS_PER_MONTH
        * (v.runner_vcpu * p.fargate_vcpu_hour + v.runner_gb * p.fargate_gb_hour),
        "BigQuery storage (a year of history)": warehouse_hot * p.bigquery_active_gb_month
        + warehouse_cold * p.bigquery_long_term_gb_month,
        "BigQuery queries (dbt + analysts, on-demand)": max(0.0, scanned_tib_month - 1)
        * p.bigquery_on_demand_per_tib,
        "Logs (CloudWatch)": v.log_gb_per_day * DAYS_PER_MONTH * p.cloudwatch_logs_per_gb,
    }
    lines = {k: round(value, 2) for k, value in lines.items()}
    total = round(sum(lines.values()), 2)
    bets_month = v.bets_per_day * DAYS_PER_MONTH
    return {
        "bets_per_day": v.bets_per_day,
        "lines_usd_per_month": lines,
        "total_usd_per_month": total,
        "usd_per_million_bets": round(total / bets_month * 1e6, 2),
        "bigquery_tib_scanned_per_month": round(scanned_tib_month, 2),
        "warehouse_gb_stored": round(warehouse_hot + warehouse_cold, 1),
    }


def estimate_all(scales: tuple[int, ...] = (1_000_000, 10_000_000)) -> dict:
    return {
        "label": "ESTIMATE",
        "prices_as_of": PRICES_AS_OF,
        "unit_prices": asdict(UnitPrices()),
        "scales": [estimate(Volumes(bets_per_day=n)) for n in scales],
    }


def render(estimates: dict) -> str:
    """A Markdown table of the line items per scale, labelled as an estimate."""
    scales = estimates["scales"]
    head = "| line item | " + " | ".join(f"{s['bets_per_day']:,} bets/day" for s in scales) + " |"
    rows = [head, "|---|" + "---:|" * len(scales)]
    for item in scales[0]["lines_usd_per_month"]:
        rows.append(
            f"| {item} | "
            + " | ".join(f"${s['lines_usd_per_month'][item]:,.2f}" for s in scales)
            + " |"
        )
    rows.append(
        "| **total a month** | "
        + " | ".join(f"**${s['total_usd_per_month']:,.2f}**" for s in scales)
        + " |"
    )
    rows.append(
        "| per million bets | "
        + " | ".join(f"${s['usd_per_million_bets']:,.2f}" for s in scales)
        + " |"
    )
    rows.append(
        "| BigQuery TiB scanned a month | "
        + " | ".join(f"{s['bigquery_tib_scanned_per_month']:,.2f}" for s in scales)
        + " |"
    )
    title = f"ESTIMATE, list prices as of {estimates['prices_as_of']}, USD a month"
    return title + "\n\n" + "\n".join(rows)
