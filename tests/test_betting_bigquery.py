"""The betting models on the BigQuery emulator, against the same raw data on PostgreSQL.

The shared betting data (betting_env.py) is copied into the emulator typed as Airbyte's
BigQuery destination would type it; the betting models, the customer snapshot and the
project's own generic tests are built there, and every mart must come out with the row
count and GGR the PostgreSQL build has. A second run takes the incremental (merge) branch.
"""

from __future__ import annotations

import pytest

from betting_env import INCREMENTAL, MARTS, SELECT
from dbt_env import emulator_build
from headwater import bigquery

pytestmark = [pytest.mark.integration, pytest.mark.bigquery, pytest.mark.slow]

OWN_TESTS = [
    "test_name:expression_is_true",
    "test_name:unique_combination_of_columns",
    "test_name:scd2_no_gaps_or_overlaps",
]
# The emulator's snapshot runs once, on the final data: it holds each customer's newest
# profile only, where the PostgreSQL copy saw the versions of every round.
COUNTS = {mart: "count(*)" for mart in MARTS} | {
    "dim_customers": "sum(case when is_current then 1 else 0 end)"
}
SUMS = {
    "fct_bets": "ggr",
    "fct_daily_ggr": "ggr_as_reported",
    "fct_settlement_corrections": "ggr_change",
    "fct_open_liability_by_market": "liability",
    "fct_customer_lifetime_value": "lifetime_ggr",
}


@pytest.fixture(scope="module")
def emulator(betting_built):
    status = bigquery.start_emulator(timeout=180)
    try:
        counts = bigquery.load_raw_from_warehouse(
            betting_built.warehouse_url, "raw_betting", status=status
        )
        assert counts["bets_placed"] > 0
        yield status
    finally:
        bigquery.stop_emulator()


def _figures(run) -> dict:
    figures = {
        f"{mart} rows": run(f"select {how} from marts{{}}.{mart}", mart)
        for mart, how in COUNTS.items()
    }
    figures |= {
        f"{mart}.{column}": run(f"select sum({column}) from marts{{}}.{mart}", mart)
        for mart, column in SUMS.items()
    }
    return figures


def test_betting_models_on_the_emulator_match_postgres(betting_built, emulator):
    env = betting_built
    expected = _figures(lambda q, _: env.query(q.format(INCREMENTAL))[0][0])
    selection = [
        *(f"{path},resource_type:model" for path in SELECT),
        *(f"{path},resource_type:snapshot" for path in SELECT),
        *(f"{path},{test}" for path in SELECT for test in OWN_TESTS),
    ]
    result = emulator_build(
        env.artifacts, "build", "--select", *selection, "--indirect-selection", "empty"
    )
    assert set(result.statuses()) <= {"success", "pass"}, result.statuses()
    kinds = {node["unique_id"].split(".")[0] for node in result.results}
    assert kinds == {"model", "snapshot", "test"}, kinds
    client = bigquery.client(emulator)

    def on_bigquery(query, _):
        rows = list(client.query(query.format("")).result())
        return rows[0][0]

    assert _figures(on_bigquery) == expected

    again = emulator_build(env.artifacts, "run", "--select", *SELECT)
    assert {node["status"] for node in again.results} == {"success"}
    compiled = next(
        (env.artifacts / "bigquery" / "run" / "headwater" / "models" / "marts").rglob(
            "fct_bets.sql"
        )
    )
    assert "merge into" in compiled.read_text().lower()
    assert _figures(on_bigquery) == expected
