"""The hospitality models on the BigQuery emulator, against the same raw data on PostgreSQL.

The shared hospitality data (hospitality_env.py) is copied into the emulator typed as
Airbyte's BigQuery destination would type it (payloads as JSON), the hospitality models,
their unit tests and the project's own generic tests are built there, and every mart must
come out with the row counts and amounts the PostgreSQL build has. A second run takes the
incremental (merge) branch of every incremental model.
"""

from __future__ import annotations

import pytest

from dbt_env import emulator_build
from headwater import bigquery
from hospitality_env import INCREMENTAL, MARTS, SELECT

pytestmark = [pytest.mark.integration, pytest.mark.bigquery, pytest.mark.slow]

OWN_TESTS = [
    "test_name:expression_is_true",
    "test_name:accepted_range",
    "test_name:unique_combination_of_columns",
]
SUMS = {
    "fct_hospitality_occupancy_nightly": "sum(room_revenue)",
    "fct_hospitality_bookings": "sum(total_amount)",
    "fct_hospitality_room_rates": "sum(nightly_rate)",
    "fct_hospitality_revenue_hourly": "sum(net_amount)",
}


@pytest.fixture(scope="module")
def emulator(hospitality_built):
    status = bigquery.start_emulator(timeout=180)
    try:
        counts = bigquery.load_raw_from_warehouse(
            hospitality_built.warehouse_url, "raw_hospitality", status=status
        )
        assert counts["booking_events"] > 0
        yield status
    finally:
        bigquery.stop_emulator()


def _bigquery_numbers(status) -> dict:
    client = bigquery.client(status)
    numbers = {}
    for mart in MARTS:
        numbers[mart] = list(client.query(f"select count(*) as n from marts.{mart}").result())[0][
            "n"
        ]
    for mart, expression in SUMS.items():
        row = list(client.query(f"select {expression} as s from marts.{mart}").result())[0]
        numbers[f"{mart}: {expression}"] = round(float(row["s"]), 2)
    return numbers


def _postgres_numbers(env) -> dict:
    numbers = {
        mart: env.query(f"select count(*) from marts{INCREMENTAL}.{mart}")[0][0] for mart in MARTS
    }
    for mart, expression in SUMS.items():
        value = env.query(f"select {expression} from marts{INCREMENTAL}.{mart}")[0][0]
        numbers[f"{mart}: {expression}"] = round(float(value), 2)
    return numbers


def test_hospitality_models_on_the_emulator_match_postgres(hospitality_built, emulator):
    env = hospitality_built
    env.dbt(["run", "--select", *SELECT])  # raw may be ahead of the marts (another module)
    expected = _postgres_numbers(env)
    selection = [
        *(f"{path},resource_type:model" for path in SELECT),
        *(f"{path},resource_type:unit_test" for path in SELECT),
        *(f"{path},{test}" for path in SELECT for test in OWN_TESTS),
    ]
    result = emulator_build(
        env.artifacts, "build", "--select", *selection, "--indirect-selection", "empty"
    )
    assert set(result.statuses()) <= {"success", "pass"}, result.statuses()
    kinds = {node["unique_id"].split(".")[0] for node in result.results}
    assert kinds == {"model", "test", "unit_test"}, kinds
    assert _bigquery_numbers(emulator) == expected

    again = emulator_build(env.artifacts, "run", "--select", *SELECT)
    assert {node["status"] for node in again.results} == {"success"}
    compiled = next(
        (env.artifacts / "bigquery" / "run" / "headwater" / "models" / "marts").rglob(
            "fct_hospitality_occupancy_nightly.sql"
        )
    )
    assert "merge into" in compiled.read_text().lower()
    assert _bigquery_numbers(emulator) == expected
