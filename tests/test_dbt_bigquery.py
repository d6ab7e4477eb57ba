"""The marketplace dbt project on the BigQuery emulator, against the same raw data on PostgreSQL.

A small marketplace (scale 0.2) is seeded and synced into the embedded warehouse, built
there, copied into the emulator with the types Airbyte's BigQuery destination would give
it, and built again with `--target bigquery_emulator`. Every mart must come out with the
same row count and the same GMV on both engines, and a second run of the incremental
marts (their merge branch) must pass on BigQuery too.
"""

from __future__ import annotations

import shutil
import tempfile
from decimal import Decimal
from pathlib import Path

import psycopg
import pytest

from headwater import bigquery, config, dbt, sync
from headwater.orchestration import load_pipeline

pytestmark = [pytest.mark.integration, pytest.mark.bigquery, pytest.mark.slow]

SCALE = 0.2
SUFFIX = "_t_bq"  # the PostgreSQL copy's schemas; the emulator's datasets have no suffix
MARTS = (
    "fct_orders",
    "fct_daily_sales",
    "fct_payment_reconciliation",
    "fct_seller_performance",
    "dim_users",
    "dim_products",
    "fct_customer_cohorts",
)
INCREMENTAL_MARTS = MARTS[:4]
# On the emulator: every model, seed, snapshot and unit test, and the generic tests written
# for this project (their SQL is ours, not dbt's). dbt's own unique/not_null/relationships/
# accepted_values run on PostgreSQL; on the emulator each costs a second or more and says
# nothing about the models' dialect (indirect selection is off so they are not pulled in).
# Only the marketplace's nodes: each kind intersected (`a,b`) with the domain's folders;
# the other domains have emulator tests of their own.
MARKETPLACE = load_pipeline("marketplace").dbt.select
EMULATOR_SELECTION = [
    f"{kind},{folder}"
    for kind in (
        "resource_type:model",
        "resource_type:seed",
        "resource_type:snapshot",
        "resource_type:unit_test",
        "test_name:expression_is_true",
        "test_name:accepted_range",
        "test_name:unique_combination_of_columns",
        "test_name:no_duplicate_payment_events",
        "test_name:scd2_no_gaps_or_overlaps",
    )
    for folder in MARKETPLACE
]


@pytest.fixture(scope="module")
def raw(pg_home):
    from headwater.generators import marketplace

    source_url, warehouse_url = config.source_url("marketplace"), config.warehouse_url()
    marketplace.seed(source_url, SCALE, seed=7)
    sync.reset("marketplace", warehouse_url=warehouse_url)
    sync.sync("marketplace", source_url=source_url, warehouse_url=warehouse_url)
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-dbt-bq-"))
    yield warehouse_url, artifacts
    shutil.rmtree(artifacts, ignore_errors=True)


@pytest.fixture(scope="module")
def postgres_marts(raw):
    warehouse_url, artifacts = raw
    dbt.run(
        [
            "build",
            "--select",
            *MARKETPLACE,
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            "--no-use-colors",
        ],
        warehouse_url=warehouse_url,
        capture=True,
        env={"HEADWATER_DBT_SCHEMA_SUFFIX": SUFFIX},
        target_path=artifacts / "postgres",
    )
    with psycopg.connect(warehouse_url) as conn:
        return {
            mart: conn.execute(f"select count(*) from marts{SUFFIX}.{mart}").fetchone()[0]
            for mart in MARTS
        } | {
            "gmv_usd": conn.execute(
                f"select sum(gmv_usd) from marts{SUFFIX}.fct_orders"
            ).fetchone()[0]
        }


@pytest.fixture(scope="module")
def emulator(raw):
    warehouse_url, _ = raw
    status = bigquery.start_emulator()
    try:
        counts = bigquery.load_raw_from_warehouse(warehouse_url, "raw_marketplace", status=status)
        assert counts["orders"] > 0
        yield status
    finally:
        bigquery.stop_emulator()


def _emulator_build(artifacts: Path, *args: str) -> dbt.DbtResult:
    return dbt.run(
        [*args, "--no-use-colors"],
        target="bigquery_emulator",
        capture=True,
        env={"HEADWATER_DBT_THREADS": "2"},
        target_path=artifacts / "bigquery",
        timeout=900,
    )


def _bigquery_counts(status: bigquery.EmulatorStatus) -> dict[str, int | Decimal]:
    client = bigquery.client(status)
    counts: dict[str, int | Decimal] = {}
    for mart in MARTS:
        rows = list(client.query(f"select count(*) as n from marts.{mart}").result())
        counts[mart] = rows[0]["n"]
    rows = list(client.query("select sum(gmv_usd) as gmv from marts.fct_orders").result())
    counts["gmv_usd"] = rows[0]["gmv"]
    return counts


def test_dbt_build_on_the_emulator_matches_postgres(raw, postgres_marts, emulator):
    _, artifacts = raw
    result = _emulator_build(
        artifacts, "build", "--select", *EMULATOR_SELECTION, "--indirect-selection", "empty"
    )
    assert set(result.statuses()) <= {"success", "pass", "warn"}, result.statuses()
    kinds = {node["unique_id"].split(".")[0] for node in result.results}
    assert kinds == {"seed", "model", "snapshot", "test", "unit_test"}, kinds
    assert _bigquery_counts(emulator) == postgres_marts

    # A second run takes the incremental (merge) branch of the four incremental marts.
    again = _emulator_build(artifacts, "run", "--select", *INCREMENTAL_MARTS)
    compiled = (artifacts / "bigquery" / "run" / "headwater" / "models" / "marts").rglob(
        "fct_daily_sales.sql"
    )
    assert "merge into" in next(compiled).read_text().lower()
    assert {node["status"] for node in again.results} == {"success"}
    assert _bigquery_counts(emulator) == postgres_marts
