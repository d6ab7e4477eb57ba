"""The marketplace dbt project on the embedded PostgreSQL.

The heart of it: after seed + sync and after every round of `mutate` + `sync`, an
incremental `dbt build` leaves every incremental mart equal, row for row, to a
`--full-refresh` build of the same raw data (built into schemas with another suffix).
The incremental runs use a lookback of 0, so a change the detection misses cannot hide
behind the lookback margin.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import pytest

from dbt_env import InProcessDbt
from headwater import config, dbt, sync
from headwater.errors import ConfigError, HeadwaterError

INCREMENTAL_MARTS = (
    "fct_orders",
    "fct_daily_sales",
    "fct_payment_reconciliation",
    "fct_seller_performance",
)
MARTS = (*INCREMENTAL_MARTS, "dim_users", "dim_products", "fct_customer_cohorts")
# Schema suffixes of this module's two copies of the project, apart from anyone else's.
INCREMENTAL = "_t_inc"
FULL = "_t_full"
VARS = {"incremental_lookback_minutes": 0}
ROUNDS = 3
SCALE = 0.5


# --- profile and errors (no database) ---------------------------------------------------------


def test_profile_env_from_a_socket_url():
    env = dbt.profile_env("local", "postgresql://postgres@/warehouse?host=/tmp/hw/pgdata&port=5433")
    assert env["HEADWATER_DBT_TARGET"] == "local"
    assert env["HEADWATER_DBT_HOST"] == "/tmp/hw/pgdata"
    assert env["HEADWATER_DBT_PORT"] == "5433"
    assert env["HEADWATER_DBT_USER"] == "postgres"
    assert env["HEADWATER_DBT_PASSWORD"] == ""
    assert env["HEADWATER_DBT_DBNAME"] == "warehouse"


def test_profile_env_from_a_tcp_url():
    env = dbt.profile_env("postgres", "postgresql://etl:s%40cret@db.internal:6543/analytics")
    assert (env["HEADWATER_DBT_HOST"], env["HEADWATER_DBT_PORT"]) == ("db.internal", "6543")
    assert (env["HEADWATER_DBT_USER"], env["HEADWATER_DBT_PASSWORD"]) == ("etl", "s@cret")
    assert env["HEADWATER_DBT_DBNAME"] == "analytics"


def test_profile_env_for_any_postgres_uses_the_environment(monkeypatch):
    monkeypatch.delenv("HEADWATER_WAREHOUSE_URL", raising=False)
    monkeypatch.delenv("HEADWATER_DBT_HOST", raising=False)
    with pytest.raises(ConfigError, match="target postgres needs HEADWATER_WAREHOUSE_URL"):
        dbt.profile_env("postgres")
    monkeypatch.setenv("HEADWATER_DBT_HOST", "db.internal")
    assert dbt.profile_env("postgres") == {"HEADWATER_DBT_TARGET": "postgres"}
    monkeypatch.setenv("HEADWATER_WAREHOUSE_URL", "postgresql://etl@wh.internal/analytics")
    assert dbt.profile_env("postgres")["HEADWATER_DBT_HOST"] == "wh.internal"


def test_profile_env_rejects_what_it_cannot_use():
    with pytest.raises(ConfigError, match="unknown dbt target 'snowflake'"):
        dbt.profile_env("snowflake", "postgresql://u@h/db")
    with pytest.raises(ConfigError, match="postgresql://"):
        dbt.profile_env("local", "mysql://u@h/db")
    with pytest.raises(ConfigError, match="no database"):
        dbt.profile_env("local", "postgresql://u@h")


def test_failure_message_names_the_failing_nodes():
    result = dbt.DbtResult(
        args=["build"],
        returncode=1,
        results=[
            {"unique_id": "model.headwater.fct_orders", "status": "success"},
            {"unique_id": "test.headwater.unique_x.abc", "status": "fail", "message": "Got 2"},
            {
                "unique_id": "model.headwater.dim_users",
                "status": "error",
                "message": "\x1b[31mDatabase Error\x1b[0m\n  relation missing",
            },
        ],
    )
    message = dbt.failure_message(result, "local")
    assert message == (
        "dbt build failed on target local: test unique_x (Got 2); "
        "model dim_users (Database Error relation missing)"
    )
    assert "\n" not in message


def test_failure_message_without_results_quotes_dbt():
    output = "12:00:00  Encountered an error:\nParsing Error\n  Error reading x.yml\n"
    result = dbt.DbtResult(args=["run"], returncode=2, stdout=output)
    assert dbt.failure_message(result, "local") == (
        "dbt run failed on target local (exit code 2): Parsing Error: Error reading x.yml"
    )


# --- lint ---------------------------------------------------------------------------------------


@pytest.mark.slow
def test_sqlfluff_lints_the_project_clean():
    sqlfluff = Path(sys.executable).parent / "sqlfluff"
    paths = ["dbt_project/models", "dbt_project/analyses", "dbt_project/tests"]
    proc = subprocess.run(
        [str(sqlfluff), "lint", *paths, "--processes", "2", "--disable-progress-bar"],
        cwd=config.project_dir(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]


# --- builds on the embedded server ---------------------------------------------------------------


class Project:
    """Two copies of the dbt project in one warehouse: incremental, and full refresh.

    dbt runs in this process (tests/dbt_env.py): this module runs eight builds.
    `headwater.dbt.run` itself is exercised by test_a_failing_build_names_the_model and by
    the BigQuery tests.
    """

    def __init__(self, warehouse_url: str, artifacts: Path):
        self.warehouse_url = warehouse_url
        self.artifacts = artifacts
        self._dbt = InProcessDbt(warehouse_url, artifacts, VARS)

    def _invoke(self, args: list[str], suffix: str) -> dbt.DbtResult:
        return self._dbt.invoke(args, suffix)

    def build(self, *args: str, suffix: str = INCREMENTAL) -> dbt.DbtResult:
        """`dbt build`, of the marketplace's nodes unless `args` select others."""
        if "--select" not in args:
            from headwater.pipeline import dbt_selection

            args = (*dbt_selection("marketplace"), *args)
        return self._invoke(["build", *args], suffix)

    def full_refresh(self) -> dbt.DbtResult:
        """The incremental marts (and what they are built from) from scratch, no tests."""
        return self.build(
            "--full-refresh",
            "--select",
            *(f"+{mart}" for mart in INCREMENTAL_MARTS),
            "--exclude",
            "resource_type:test",
            "resource_type:unit_test",
            "resource_type:snapshot",
            suffix=FULL,
        )

    def query(self, statement: str, params=None) -> list[tuple]:
        with psycopg.connect(self.warehouse_url) as conn:
            return conn.execute(statement, params).fetchall()

    def differences(self, mart: str) -> dict[str, list[tuple]]:
        """Rows only in the incremental copy, and rows only in the full refresh (a sample)."""
        inc, full = f"marts{INCREMENTAL}.{mart}", f"marts{FULL}.{mart}"
        return {
            "only_incremental": self.query(
                f"select * from (select * from {inc} except all select * from {full}) as d limit 5"
            ),
            "only_full_refresh": self.query(
                f"select * from (select * from {full} except all select * from {inc}) as d limit 5"
            ),
        }

    def assert_equal(self, marts: tuple[str, ...], when: str) -> None:
        for mart in marts:
            diff = self.differences(mart)
            assert diff == {"only_incremental": [], "only_full_refresh": []}, (
                f"{when}: {mart} differs from its full refresh: {diff}"
            )

    def rows_merged(self, result: dbt.DbtResult, model: str) -> int:
        for node in result.results:
            if node["unique_id"] == f"model.headwater.{model}":
                return int(node["adapter_response"]["rows_affected"])
        raise AssertionError(f"{model} did not run")


@pytest.fixture(scope="module")
def marketplace(pg_home):
    """A seeded and synced marketplace (scale 0.5) and a place for dbt's artifacts."""
    from headwater.generators import marketplace as generator

    source_url, warehouse_url = config.source_url("marketplace"), config.warehouse_url()
    generator.seed(source_url, SCALE, seed=42)
    sync.reset("marketplace", warehouse_url=warehouse_url)
    sync.sync("marketplace", source_url=source_url, warehouse_url=warehouse_url)
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-dbt-"))
    project = Project(warehouse_url, artifacts)
    project.source_url = source_url
    yield project
    shutil.rmtree(artifacts, ignore_errors=True)


@pytest.fixture(scope="module")
def built(marketplace):
    """The first build of both copies, compared."""
    started = time.perf_counter()
    result = marketplace.build()
    marketplace.full_refresh()
    marketplace.assert_equal(MARTS[:4], "after the first build")
    marketplace.first_build = result
    marketplace.first_build_seconds = time.perf_counter() - started
    return marketplace


@pytest.mark.integration
@pytest.mark.slow
def test_first_build_passes_every_test(built):
    statuses = built.first_build.statuses()
    assert set(statuses) <= {"success", "pass", "warn"}, statuses
    kinds = {node["unique_id"].split(".")[0] for node in built.first_build.results}
    assert kinds == {"seed", "model", "snapshot", "test", "unit_test"}
    counts = {
        mart: built.query(f"select count(*) from marts{INCREMENTAL}.{mart}")[0][0] for mart in MARTS
    }
    assert all(counts.values()), counts


@pytest.mark.integration
@pytest.mark.slow
def test_incremental_marts_equal_a_full_refresh_after_every_round(built):
    from headwater.generators import marketplace as generator

    seen: dict[str, int] = {}
    for round_number in range(1, ROUNDS + 1):
        changes = generator.mutate(built.source_url, 90, seed=round_number)
        for kind, count in changes.items():
            seen[kind] = seen.get(kind, 0) + count
        sync.sync("marketplace", source_url=built.source_url, warehouse_url=built.warehouse_url)

        result = built.build()
        assert set(result.statuses()) <= {"success", "pass", "warn"}, result.statuses()
        built.full_refresh()
        built.assert_equal(MARTS[:4], f"round {round_number}")

        # The runs were incremental: fct_orders merged what changed, not every order. (The
        # first round also redoes the first sync's rows: the lower bound is inclusive.)
        if round_number > 1:
            total = built.query(f"select count(*) from marts{INCREMENTAL}.fct_orders")[0][0]
            assert 0 < built.rows_merged(result, "fct_orders") < total

    # The rounds exercised what makes incremental logic hard.
    # (orders_progressed: confirmations capture the payments of older orders.)
    for kind in (
        "orders_progressed",
        "refunds",
        "orders_cancelled",
        "webhook_replays",
        "tier_changes",
        "soft_deletes",
    ):
        assert seen[kind] > 0, (kind, seen)


@pytest.mark.integration
@pytest.mark.slow
def test_the_comparison_sees_a_missing_row_and_the_next_run_restores_it(built):
    victim = built.query(f"select order_id from marts{INCREMENTAL}.fct_orders limit 1")[0][0]
    with psycopg.connect(built.warehouse_url) as conn:
        conn.execute(f"delete from marts{INCREMENTAL}.fct_orders where order_id = %s", [victim])
    assert len(built.differences("fct_orders")["only_full_refresh"]) == 1
    built.build("--select", "fct_orders")
    built.assert_equal(("fct_orders",), "after the repair run")


# --- what the models make of the data's traps ----------------------------------------------------


@pytest.mark.integration
def test_payment_replays_are_dropped_and_reconciled(built):
    raw, staged = built.query(
        f"""
        select
            (select count(*) from raw_marketplace.payments),
            (select count(*) from staging{INCREMENTAL}.stg_marketplace__payments)
        """
    )[0]
    assert raw > staged
    statuses = dict(
        built.query(
            f"select reconciliation_status, count(*) from marts{INCREMENTAL}.fct_payment_reconciliation "
            "group by 1"
        )
    )
    assert statuses.get("replayed_duplicate", 0) > 0, statuses
    assert statuses.get("matched", 0) > sum(statuses.values()) / 2, statuses
    # Replays would have inflated the naive total by exactly what was dropped.
    extra = built.query(
        f"""
        select sum(raw_captured_amount - captured_amount)
        from marts{INCREMENTAL}.fct_payment_reconciliation
        """
    )[0][0]
    assert extra > 0


@pytest.mark.integration
def test_traps_are_flagged_not_dropped(built):
    users = built.query(
        f"""
        select
            count(*),
            count(*) filter (where is_deleted),
            count(*) filter (where is_country_missing and country_code = 'ZZ'),
            count(*) filter (where country_code is null)
        from marts{INCREMENTAL}.dim_users
        """
    )[0]
    assert users[0] == built.query("select count(*) from raw_marketplace.users")[0][0]
    assert users[1] > 0 and users[2] > 0 and users[3] == 0, users

    future = built.query(
        f"""
        select count(*), count(*) filter (where updated_at <= _loaded_at)
        from staging{INCREMENTAL}.stg_marketplace__products
        where has_future_updated_at
        """
    )[0]
    assert future[0] > 0 and future[0] == future[1], future

    # confirmed_at holds UTC wall-clock time: as a UTC instant it follows created_at.
    confirmed = built.query(
        f"""
        select
            count(*),
            count(*) filter (
                where o.confirmed_at = (r.confirmed_at at time zone 'UTC')
                and o.confirmed_at >= o.created_at
            )
        from staging{INCREMENTAL}.stg_marketplace__orders as o
        inner join raw_marketplace.orders as r on r.id = o.order_id
        where r.confirmed_at is not null
        """
    )[0]
    assert confirmed[0] > 0 and confirmed[0] == confirmed[1], confirmed


@pytest.mark.integration
def test_seller_tiers_tile_time_and_match_the_users_table(built):
    current = built.query(
        f"""
        select count(*), count(*) filter (where h.seller_tier = u.seller_tier)
        from intermediate{INCREMENTAL}.int_seller_tiers_historized as h
        inner join staging{INCREMENTAL}.stg_marketplace__users as u on u.user_id = h.seller_id
        where h.is_current
        """
    )[0]
    assert current[0] > 0 and current[0] == current[1], current
    # Every sale of a seller with a tier history found the tier in force at that moment.
    untiered = built.query(
        f"""
        select count(*)
        from intermediate{INCREMENTAL}.int_order_items_enriched as i
        where i.seller_tier_at_sale is null and exists (
            select 1 from intermediate{INCREMENTAL}.int_seller_tiers_historized as h
            where h.seller_id = i.seller_id and h.valid_from <= i.ordered_at
        )
        """
    )[0][0]
    assert untiered == 0


@pytest.mark.integration
def test_a_failing_run_names_the_failing_test(built):
    """Through headwater.dbt.run (a dbt subprocess), as the CLI and the DAGs run dbt."""
    # order_id has a unique index (an insert would fail); order_number only its dbt test.
    table = f"marts{INCREMENTAL}.fct_orders"
    with psycopg.connect(built.warehouse_url) as conn:
        (_, number), (second, original) = conn.execute(
            f"select order_id, order_number from {table} order by order_id limit 2"
        ).fetchall()
        conn.execute(f"update {table} set order_number = %s where order_id = %s", [number, second])
    try:
        with pytest.raises(HeadwaterError) as caught:
            dbt.run(
                ["test", "--select", "fct_orders,test_name:unique", "--no-use-colors"],
                vars=VARS,
                warehouse_url=built.warehouse_url,
                capture=True,
                env={"HEADWATER_DBT_SCHEMA_SUFFIX": INCREMENTAL},
                target_path=built.artifacts / INCREMENTAL.strip("_"),
            )
    finally:
        with psycopg.connect(built.warehouse_url) as conn:
            conn.execute(
                f"update {table} set order_number = %s where order_id = %s", [original, second]
            )
    message = str(caught.value)
    assert message.startswith("dbt test failed on target local: test unique_fct_orders_"), message
    assert "\n" not in message


@pytest.mark.integration
def test_snapshot_records_a_soft_deleted_seller(built):
    """Last in the module: it changes the source behind the other tests' backs."""
    with psycopg.connect(built.source_url) as conn:
        seller = conn.execute(
            "select id from users where user_type <> 'buyer' and deleted_at is null "
            "and seller_tier is not null order by id limit 1"
        ).fetchone()[0]
        conn.execute(
            "update users set deleted_at = now(), is_active = false, updated_at = now() "
            "where id = %s",
            [seller],
        )
    sync.sync(
        "marketplace",
        streams=["users"],
        source_url=built.source_url,
        warehouse_url=built.warehouse_url,
    )
    built._invoke(["build", "--select", "+snap_marketplace__seller_tiers"], INCREMENTAL)
    records = built.query(
        f"""
        select dbt_is_deleted, dbt_valid_to is null
        from snapshots{INCREMENTAL}.snap_marketplace__seller_tiers
        where seller_id = %s
        order by dbt_valid_from
        """,
        [str(seller)],
    )
    # The tier it held until now, closed; then the deletion record, open.
    assert records[-2:] == [("False", False), ("True", True)], records


@pytest.mark.integration
@pytest.mark.slow
def test_the_interval_from_the_environment_bounds_a_run_and_keeps_the_partial_parse(built):
    """The DAGs pass their data interval in HEADWATER_DATA_INTERVAL_START, not as --vars: a
    model reads it when it executes, so a new interval each run leaves dbt's partial parse
    valid (new vars would make it re-parse the whole project)."""
    target_path = built.artifacts / "interval_env"
    compiled = target_path / "compiled/headwater/models/marts/marketplace/fct_daily_sales.sql"
    outputs = []
    for start in ("2001-02-03T04:05:06+00:00", "2002-03-04T05:06:07+00:00"):
        result = dbt.run(
            ["compile", "--select", "fct_daily_sales", "--no-use-colors"],
            vars=VARS,
            warehouse_url=built.warehouse_url,
            capture=True,
            env={
                "HEADWATER_DBT_SCHEMA_SUFFIX": INCREMENTAL,
                "HEADWATER_DATA_INTERVAL_START": start,
            },
            target_path=target_path,
        )
        outputs.append(result.stdout)
        assert f"least(cast('{start}'" in compiled.read_text(), start
    assert "Unable to do partial parsing" in outputs[0], "the first compile parses from scratch"
    assert "Unable to do partial parsing" not in outputs[1], outputs[1][-2000:]
