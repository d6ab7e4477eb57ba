"""The restaurant models on the BigQuery emulator, against the same raw data on PostgreSQL.

The shared restaurant data (restaurant_env.py) is copied into the emulator typed as
Airbyte's BigQuery destination would type it (the payload as JSON), the restaurant
models, their unit tests and the project's own generic tests are built there, and every
mart must come out with the row count and revenue the PostgreSQL build has. A second run
takes the incremental (merge / append) branch of every model.
"""

from __future__ import annotations

import pytest

from dbt_env import emulator_build
from headwater import bigquery
from restaurant_env import INCREMENTAL, MARTS, SELECT

pytestmark = [pytest.mark.integration, pytest.mark.bigquery, pytest.mark.slow]

SELECTION = SELECT
# Only the project's own generic tests: dbt's built-in ones say nothing about dialect.
OWN_TESTS = [
    "test_name:expression_is_true",
    "test_name:accepted_range",
    "test_name:unique_combination_of_columns",
]


@pytest.fixture(scope="module")
def emulator(restaurant_built):
    # A generous start-up wait: on a busy CI machine the emulator needs more than 30 s.
    status = bigquery.start_emulator(timeout=180)
    try:
        counts = bigquery.load_raw_from_warehouse(
            restaurant_built.warehouse_url, "raw_restaurant", status=status
        )
        assert counts["events"] > 0
        yield status
    finally:
        bigquery.stop_emulator()


def _bigquery_counts(status) -> dict:
    client = bigquery.client(status)
    counts = {}
    for mart in MARTS:
        rows = list(client.query(f"select count(*) as n from marts.{mart}").result())
        counts[mart] = rows[0]["n"]
    rows = list(
        client.query("select sum(revenue) as r from marts.fct_restaurant_location_minutes").result()
    )
    counts["revenue"] = rows[0]["r"]
    return counts


def _postgres_counts(env) -> dict:
    counts = {
        mart: env.query(f"select count(*) from marts{INCREMENTAL}.{mart}")[0][0] for mart in MARTS
    }
    counts["revenue"] = env.query(
        f"select sum(revenue) from marts{INCREMENTAL}.fct_restaurant_location_minutes"
    )[0][0]
    return counts


def test_restaurant_models_on_the_emulator_match_postgres(restaurant_built, emulator):
    env = restaurant_built
    env.dbt(["run", "--select", *SELECT])  # raw may be ahead of the marts (another module)
    expected = _postgres_counts(env)
    selection = [
        *(f"{path},resource_type:model" for path in SELECTION),
        *(f"{path},resource_type:unit_test" for path in SELECTION),
        *(f"{path},{test}" for path in SELECTION for test in OWN_TESTS),
    ]
    result = emulator_build(
        env.artifacts, "build", "--select", *selection, "--indirect-selection", "empty"
    )
    assert set(result.statuses()) <= {"success", "pass"}, result.statuses()
    kinds = {node["unique_id"].split(".")[0] for node in result.results}
    assert kinds == {"model", "test", "unit_test"}, kinds
    assert _bigquery_counts(emulator) == expected

    again = emulator_build(env.artifacts, "run", "--select", *SELECTION)
    assert {node["status"] for node in again.results} == {"success"}
    compiled = next(
        (env.artifacts / "bigquery" / "run" / "headwater" / "models" / "marts").rglob(
            "fct_restaurant_orders.sql"
        )
    )
    assert "merge into" in compiled.read_text().lower()
    assert _bigquery_counts(emulator) == expected
