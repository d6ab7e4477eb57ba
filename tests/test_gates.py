"""Quality gates: every contract is valid Soda, and a planted breach fails its gate by name.

The raw layer comes from the real sync engine over a hand-filled marketplace source; the
marts (and the one intermediate view the reconciliation checks read) are small tables built
here by hand, so these tests do not need dbt. Each test gets its own copy of that warehouse
(`create database ... template`), so a breach planted in one never leaks into another.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from importlib.resources import files
from pathlib import Path

import psycopg
import pytest
import yaml
from psycopg import sql

from headwater import config, db, gates, publish, sync
from headwater.sources import schema_sql

# Tests that need the embedded server; the contract checks above them do not.
integration = pytest.mark.integration

SOURCE_ROWS = """
insert into users (id, email, username, user_type, country_code, seller_tier, seller_rating,
                   created_at, updated_at, is_active)
values ('00000000-0000-0000-0000-00000000000a', 'ana@example.com', 'ana', 'buyer', 'PT', null,
        null, now() - interval '30 days', now(), true),
       ('00000000-0000-0000-0000-00000000000b', 'ben@example.com', 'ben', 'seller', 'DE', 'gold',
        4.50, now() - interval '60 days', now(), true),
       ('00000000-0000-0000-0000-00000000000c', 'cho@example.com', 'cho', 'both', null, 'bronze',
        3.90, now() - interval '10 days', now(), true);
insert into categories (name, slug, parent_id, level, is_active, created_at)
values ('Books', 'books', null, 0, true, now()), ('Novels', 'novels', 1, 1, true, now());
insert into products (id, seller_id, category_id, title, price_amount, price_currency,
                      quantity_available, status, tags, attributes, created_at, updated_at)
values ('00000000-0000-0000-0000-0000000000d1', '00000000-0000-0000-0000-00000000000b',
        2, 'A novel', 12.50, 'EUR', 4, 'active', array['paper'], '{"color": "red"}', now(), now());
insert into orders (id, order_number, buyer_id, status, subtotal_amount, shipping_amount,
                    tax_amount, discount_amount, total_amount, currency, shipping_country,
                    created_at, updated_at, confirmed_at)
select gen_random_uuid(), 'ORD-' || i, '00000000-0000-0000-0000-00000000000a',
       (array['confirmed', 'shipped', 'delivered', 'cancelled'])[1 + i % 4],
       12.50 * i, 2, 1, 0, 12.50 * i + 3, 'EUR', 'PT', now() - i * interval '1 day', now(),
       (now() - i * interval '1 day')::timestamp
from generate_series(1, 8) as i;
insert into order_items (id, order_id, product_id, seller_id, quantity, unit_price, total_price,
                         currency, product_title, product_snapshot, created_at)
select gen_random_uuid(), o.id, p.id, p.seller_id, 1, o.subtotal_amount, o.subtotal_amount, 'EUR',
       p.title, '{}', o.created_at
from orders as o cross join products as p;
insert into payments (id, order_id, payment_provider, payment_provider_id, amount, currency,
                      platform_fee, seller_payout, status, created_at, processed_at, event_id,
                      event_timestamp)
select gen_random_uuid(), id, 'stripe', 'pi_' || order_number, total_amount, 'EUR',
       round(total_amount * 0.1, 2), total_amount - round(total_amount * 0.1, 2), 'completed',
       created_at, created_at, 'evt_' || order_number, created_at
from orders;
insert into reviews (id, product_id, order_item_id, reviewer_id, rating, title, status,
                     created_at, updated_at)
select gen_random_uuid(), product_id, id, '00000000-0000-0000-0000-00000000000a', 4, 'Good',
       'approved', now(), now()
from order_items limit 3;
insert into seller_tier_history (user_id, tier, effective_from, effective_to, is_current,
                                 change_reason, created_at)
values ('00000000-0000-0000-0000-00000000000b', 'silver', now() - interval '60 days',
        now() - interval '20 days', false, 'signup', now() - interval '60 days'),
       ('00000000-0000-0000-0000-00000000000b', 'gold', now() - interval '20 days', null, true,
        'gmv', now() - interval '20 days');
insert into event_log (event_type, entity_type, entity_id, event_data, event_timestamp,
                       received_at, processed)
select 'order.created', 'order', id, '{}', created_at, created_at, true from orders;
"""

# The marts as dbt would leave them, reduced to the columns the contracts read, plus the
# intermediate payments roll-up the reconciliation checks compare against.
MARTS = """
create schema marts;
create schema intermediate;
create table intermediate.int_order_payments_aggregated as
select * from (values
    ('o1', 100.00, 0.00), ('o2', 50.00, 10.00), ('o3', 30.00, 0.00)
) as t (order_id, captured_amount, refunded_amount);

create table marts.fct_orders as
select * from (values
    ('o1', 'delivered', 'u1', 'Europe', 'completed', 'USD', 100.00, 110.00, 0.00, 5.00, 5.00,
     date '2026-01-05'),
    ('o2', 'shipped', 'u1', 'Europe', 'completed', 'USD', 40.00, 40.00, 0.00, 0.00, 0.00,
     date '2026-01-06'),
    ('o3', 'confirmed', 'u2', 'Other', 'completed', 'USD', 45.00, 45.00, 0.00, 0.00, 0.00,
     date '2026-01-06'),
    ('o4', 'cancelled', 'u2', 'Other', 'none', 'USD', 0.00, 20.00, 0.00, 0.00, 0.00,
     date '2026-01-07')
) as t (order_id, order_status, buyer_id, buyer_region, payment_status, currency_code, gmv_usd,
        total_amount_usd, discount_amount_usd, shipping_amount_usd, tax_amount_usd, order_date);

create table marts.fct_payment_reconciliation as
select * from (values
    ('o1', 'matched', 100.00, 100.00, 0.00, 100.00, 0.00, 10.00, 90.00),
    ('o2', 'replayed_duplicate', 40.00, 50.00, 10.00, 40.00, 0.00, 4.00, 36.00),
    ('o3', 'under_paid', 45.00, 30.00, 0.00, 30.00, -15.00, 3.00, 27.00),
    ('o4', 'missing', 20.00, 0.00, 0.00, 0.00, -20.00, 0.00, 0.00)
) as t (order_id, reconciliation_status, expected_amount, captured_amount, refunded_amount,
        net_captured_amount, difference_amount, platform_fee_amount, seller_payout_amount);

create table marts.fct_daily_sales as
select * from (values
    ('d1', date '2026-01-05', 'Europe', 2, 'Novels', 100.00, 1, 1, 100.00),
    ('d2', date '2026-01-06', 'Europe', 2, 'Novels', 40.00, 1, 1, 40.00),
    ('d3', date '2026-01-06', 'Other', 2, 'Novels', 45.00, 1, 1, 45.00)
) as t (daily_sales_sk, sales_date, buyer_region, category_id, category_name, gmv_usd,
        order_count, units_sold, average_order_value_usd);

create table marts.dim_users as
select * from (values
    ('u1', 'buyer', null, 'Europe', false, 140.00),
    ('u2', 'both', 'bronze', 'Other', false, 45.00),
    ('s1', 'seller', 'gold', 'Europe', false, 0.00)
) as t (user_id, user_type, seller_tier, region, is_deleted, lifetime_gmv_usd);

create table marts.dim_products as
select * from (values ('p1', 's1', 2, 1, 13.55, 'active'))
    as t (product_id, seller_id, category_id, root_category_id, price_usd, product_status);

create table marts.fct_seller_performance as
select * from (values
    ('sm1', 's1', date '2026-01-01', 185.00, 3, 4.00, 'gold', 'unchanged')
) as t (seller_month_sk, seller_id, sales_month, gmv_usd, order_count, average_rating,
        tier_at_month_end, tier_movement);

create table marts.fct_customer_cohorts as
select * from (values
    ('c1', date '2026-01-01', date '2026-01-01', 0, 2, 2, 100.00, 185.00),
    ('c2', date '2026-01-01', date '2026-02-01', 1, 2, 1, 50.00, 0.00)
) as t (cohort_month_sk, cohort_month, activity_month, months_since_first_order, cohort_size,
        active_buyers, retention_pct, gmv_usd);
"""


class Warehouse:
    def __init__(self, url: str):
        self.url = url

    def sql(self, query: str, params=None):
        with psycopg.connect(self.url, autocommit=True) as conn:
            cur = conn.execute(query, params)
            return cur.fetchall() if cur.description else None


def _create_db(admin: str, name: str, template: str | None = None) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        query = sql.SQL("create database {}").format(sql.Identifier(name))
        if template:
            query = sql.SQL("{} template {}").format(query, sql.Identifier(template))
        conn.execute(query)


def _drop_db(admin: str, name: str) -> None:
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(
            sql.SQL("drop database if exists {} with (force)").format(sql.Identifier(name))
        )


@pytest.fixture(scope="module")
def template_db(pg_home):
    """A warehouse with raw_marketplace synced from a small source, and hand-made marts."""
    suffix = uuid.uuid4().hex[:8]
    admin = db.status().url()
    source_db, base_db = f"gates_src_{suffix}", f"gates_base_{suffix}"
    _create_db(admin, source_db)
    _create_db(admin, base_db)
    source_url, base_url = db.status().url(source_db), db.status().url(base_db)
    with psycopg.connect(source_url, autocommit=True) as conn:
        conn.execute(schema_sql("marketplace"))
        conn.execute(SOURCE_ROWS)
    sync.sync("marketplace", source_url=source_url, warehouse_url=base_url)
    with psycopg.connect(base_url, autocommit=True) as conn:
        conn.execute(MARTS)
    yield base_db
    for name in (source_db, base_db):
        _drop_db(admin, name)


@pytest.fixture
def wh(template_db):
    admin = db.status().url()
    name = f"gates_{uuid.uuid4().hex[:8]}"
    _create_db(admin, name, template=template_db)
    yield Warehouse(db.status().url(name))
    _drop_db(admin, name)


def _failing(result: gates.GateResult) -> set[tuple[str, str]]:
    return {(f.contract, f.check) for f in result.failures}


# --- the contracts themselves ----------------------------------------------------------------


CONTRACTS = sorted((config.project_dir() / "soda").rglob("*.yml"))


def test_every_domain_layer_has_contracts():
    assert gates.contract_paths("marketplace", "raw")
    assert gates.contract_paths("marketplace", "marts")
    with pytest.raises(gates.ConfigError, match="unknown layer"):
        gates.contract_paths("marketplace", "staging")


@pytest.mark.parametrize("path", CONTRACTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_contract_follows_soda_schema_and_placeholder_convention(path: Path):
    jsonschema = pytest.importorskip("jsonschema")
    gates._import_soda()  # never import soda_core before its telemetry is off
    schema = json.loads(
        files("soda_core.contracts")
        .joinpath("soda_data_contract_json_schema_1_0_0.json")
        .read_text()
    )
    contract = yaml.safe_load(path.read_text())
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(contract)]
    assert errors == []
    layer, domain = path.parent.name, path.parent.parent.name
    schema_name = f"raw_{domain}" if layer == "raw" else layer
    assert contract["dataset"] == f"${{var.datasource}}/${{var.database}}/{schema_name}/{path.stem}"
    assert contract["variables"] == {
        "datasource": {"default": "headwater"},
        "database": {"default": "warehouse"},
    }
    names = [c[k].get("name") for c in contract["checks"] for k in c] + [
        c[k].get("name") for col in contract["columns"] for c in col.get("checks", []) for k in c
    ]
    assert all(names), "every check has a name, so a failure reads as a sentence"


def test_soda_parses_every_contract():
    """Soda's own parser catches what the JSON schema cannot (e.g. two unqualified checks)."""
    contract_source, _, session = gates._import_soda()
    result = session.execute(
        contract_yaml_sources=[
            contract_source.from_str(p.read_text(), file_path=str(p)) for p in CONTRACTS
        ],
        only_validate_without_execute=True,
        variables={"datasource": "headwater", "database": "warehouse"},
    )
    assert len(result.results) == len(CONTRACTS)
    assert result.get_errors() == []


def test_raw_contracts_cover_every_stream():
    conn_cfg = yaml.safe_load(
        (config.project_dir() / "airbyte" / "connections" / "marketplace.yaml").read_text()
    )
    streams = {s["name"] for s in conn_cfg["streams"]}
    assert {p.stem for p in gates.contract_paths("marketplace", "raw")} == streams


# --- raw -------------------------------------------------------------------------------------


@integration
def test_raw_gate_passes_on_clean_raw(wh):
    started = time.perf_counter()
    result = gates.check_gate("marketplace", "raw", warehouse_url=wh.url)
    assert result.passed and not result.failures
    assert len(result.contracts) == 9 and len(result.checks) >= 60
    assert all(c.outcome == "passed" for c in result.checks)
    assert time.perf_counter() - started < 60


RAW_BREACHES = {
    "duplicate_order_id": (
        "insert into raw_marketplace.orders select * from raw_marketplace.orders limit 1",
        ("raw_marketplace.orders", "id is unique"),
    ),
    "null_payment_id": (
        "update raw_marketplace.payments set id = null "
        "where id = (select min(id) from raw_marketplace.payments)",
        ("raw_marketplace.payments", "id is never null"),
    ),
    "stale_users": (
        "update raw_marketplace.users set _airbyte_extracted_at = now() - interval '3 days'",
        ("raw_marketplace.users", "synced in the last 25 hours"),
    ),
    "dropped_column": (
        "alter table raw_marketplace.products drop column price_amount",
        ("raw_marketplace.products", "every source column present"),
    ),
    "empty_table": (
        "delete from raw_marketplace.reviews",
        ("raw_marketplace.reviews", "has rows"),
    ),
    "unknown_order_status": (
        "update raw_marketplace.orders set status = 'lost' "
        "where id = (select min(id) from raw_marketplace.orders)",
        ("raw_marketplace.orders", "status is a value the source allows"),
    ),
    "rating_out_of_range": (
        "update raw_marketplace.reviews set rating = 9",
        ("raw_marketplace.reviews", "rating is between 1 and 5"),
    ),
    "missing_airbyte_raw_id": (
        "update raw_marketplace.event_log set _airbyte_raw_id = null",
        ("raw_marketplace.event_log", "_airbyte_raw_id is never null"),
    ),
    "dropped_table": (
        "drop table raw_marketplace.categories",
        ("raw_marketplace.categories", "contract"),
    ),
}


def _pipeline(url: str, ran: list[str]) -> None:
    """The order the DAG runs things in; `ran` records which steps were reached."""
    gates.check_gate("marketplace", "raw", warehouse_url=url)
    ran.append("dbt build")  # the transformation would run here
    gates.check_gate("marketplace", "marts", warehouse_url=url)
    publish.publish("marketplace", warehouse_url=url)
    ran.append("publish")


@integration
@pytest.mark.parametrize("breach", RAW_BREACHES, ids=str)
def test_raw_breach_fails_raw_gate_by_name_and_stops_the_pipeline(wh, breach):
    plant, expected = RAW_BREACHES[breach]
    published = publish.publish("marketplace", warehouse_url=wh.url)
    wh.sql(plant)

    ran: list[str] = []
    with pytest.raises(gates.GateFailed) as failed:
        _pipeline(wh.url, ran)

    assert ran == [], "nothing after the raw gate may run"
    result = failed.value.result
    assert not result.passed and result.layer == "raw"
    assert expected in _failing(result)
    # The breach is reported where it is, and nowhere else.
    assert {contract for contract, _ in _failing(result)} == {expected[0]}
    message = str(failed.value)
    assert "\n" not in message and f"{expected[0]}: {expected[1]}" in message
    assert publish.analytics_checksums("marketplace", warehouse_url=wh.url) == published.checksums


@integration
def test_duplicate_order_ids_are_measured(wh):
    wh.sql(
        "insert into raw_marketplace.orders "
        "select * from raw_marketplace.orders order by id limit 2"
    )
    result = gates.run_gate("marketplace", "raw", warehouse_url=wh.url)
    [dupes] = [f for f in result.failures if f.check == "id is unique"]
    assert dupes == ("raw_marketplace.orders", "id is unique", "failed", dupes.diagnostic)
    assert "duplicate_count=2" in dupes.diagnostic
    assert result.as_dict()["failures"][0]["check"] == "id is unique"


@integration
def test_a_missing_column_is_named(wh):
    wh.sql("alter table raw_marketplace.products drop column price_amount")
    result = gates.run_gate("marketplace", "raw", warehouse_url=wh.url)
    [schema] = result.failures
    assert schema.check == "every source column present"
    assert "missing columns: price_amount" in schema.diagnostic


@integration
def test_a_warning_informs_without_blocking(wh, tmp_path, monkeypatch):
    folder = tmp_path / "marketplace" / "raw"
    folder.mkdir(parents=True)
    source = (gates.soda_dir() / "marketplace" / "raw" / "orders.yml").read_text()
    contract = yaml.safe_load(source)
    contract["checks"].append(
        {
            "row_count": {
                "name": "at least a million orders",
                "qualifier": "volume",
                "threshold": {"must_be_greater_than": 1_000_000, "level": "warn"},
            }
        }
    )
    (folder / "orders.yml").write_text(yaml.safe_dump(contract, sort_keys=False))
    monkeypatch.setattr(gates, "soda_dir", lambda: tmp_path)

    result = gates.check_gate("marketplace", "raw", warehouse_url=wh.url)
    assert ("raw_marketplace.orders", "at least a million orders", "warned") in {
        c[:3] for c in result.checks
    }


@integration
def test_unreachable_warehouse_is_one_clear_error(pg_home, tmp_path):
    url = f"postgresql://postgres:s3cret-pw@/warehouse?host={tmp_path}&port=1"
    with pytest.raises(gates.HeadwaterError) as failed:
        gates.run_gate("marketplace", "raw", warehouse_url=url)
    assert "cannot connect to warehouse" in str(failed.value)
    assert "s3cret-pw" not in str(failed.value)


@integration
def test_password_never_reaches_disk_or_results(wh, tmp_path, monkeypatch):
    role = f"gate_reader_{uuid.uuid4().hex[:6]}"
    wh.sql(sql.SQL("create role {} login password 'gate-pw-1234'").format(sql.Identifier(role)))
    wh.sql(sql.SQL("grant usage on schema raw_marketplace to {}").format(sql.Identifier(role)))
    wh.sql(
        sql.SQL("grant select on all tables in schema raw_marketplace to {}").format(
            sql.Identifier(role)
        )
    )
    url = wh.url.replace("postgres@", f"{role}:gate-pw-1234@")
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    try:
        result = gates.run_gate("marketplace", "raw", warehouse_url=url)
    finally:
        wh.sql(sql.SQL("drop owned by {}").format(sql.Identifier(role)))
        wh.sql(sql.SQL("drop role {}").format(sql.Identifier(role)))
    assert result.passed, result.summary()
    assert "gate-pw-1234" not in json.dumps(result.as_dict())
    assert not any("gate-pw-1234" in p.read_text(errors="ignore") for p in tmp_path.rglob("*"))


def test_soda_telemetry_is_off():
    gates._import_soda()
    from soda_core.common.env_config_helper import EnvConfigHelper
    from soda_core.telemetry.soda_telemetry import SodaTelemetry

    assert not EnvConfigHelper().soda_core_telemetry_enabled
    # The singleton is built when soda_core is first imported; it must not be sending.
    assert not SodaTelemetry()._SodaTelemetry__send


# --- marts -----------------------------------------------------------------------------------


@integration
def test_marts_gate_passes_on_consistent_marts(wh):
    result = gates.check_gate("marketplace", "marts", warehouse_url=wh.url)
    assert result.passed and len(result.contracts) == 7


MART_BREACHES = {
    "negative_gmv": (
        "update marts.fct_orders set gmv_usd = -5 where order_id = 'o2'",
        ("marts.fct_orders", "no negative GMV"),
    ),
    "duplicate_order": (
        "insert into marts.fct_orders select * from marts.fct_orders where order_id = 'o1'",
        ("marts.fct_orders", "order_id is unique"),
    ),
    "null_buyer_region": (
        "update marts.fct_orders set buyer_region = null where order_id = 'o3'",
        ("marts.fct_orders", "buyer_region is never null"),
    ),
    "reconciliation_duplicate": (
        "insert into marts.fct_payment_reconciliation "
        "select * from marts.fct_payment_reconciliation where order_id = 'o3'",
        ("marts.fct_payment_reconciliation", "order_id is unique"),
    ),
    "stale_reconciliation": (
        # a refund the incremental run missed: the payments say more was refunded
        "update intermediate.int_order_payments_aggregated set refunded_amount = 50 "
        "where order_id = 'o1'",
        ("marts.fct_payment_reconciliation", "captured and refunded amounts match the payments"),
    ),
    "captured_total_off": (
        "update intermediate.int_order_payments_aggregated set captured_amount = 31 "
        "where order_id = 'o3'",
        ("marts.fct_payment_reconciliation", "total captured equals the payments' total"),
    ),
    "status_contradicts_amounts": (
        "update marts.fct_payment_reconciliation set reconciliation_status = 'matched' "
        "where order_id = 'o3'",
        ("marts.fct_payment_reconciliation", "status agrees with the amounts"),
    ),
    "unknown_reconciliation_status": (
        "update marts.fct_payment_reconciliation set reconciliation_status = 'fine' "
        "where order_id = 'o1'",
        ("marts.fct_payment_reconciliation", "reconciliation_status is a known status"),
    ),
    "daily_sales_grain": (
        "insert into marts.fct_daily_sales select 'd9', sales_date, buyer_region, category_id, "
        "category_name, gmv_usd, order_count, units_sold, average_order_value_usd "
        "from marts.fct_daily_sales where daily_sales_sk = 'd1'",
        ("marts.fct_daily_sales", "one row per day, region and category"),
    ),
    "zero_row_left_by_merge": (
        "update marts.fct_daily_sales set order_count = 0 where daily_sales_sk = 'd2'",
        ("marts.fct_daily_sales", "every row has at least one order"),
    ),
    "duplicate_user": (
        "insert into marts.dim_users select * from marts.dim_users where user_id = 'u1'",
        ("marts.dim_users", "user_id is unique"),
    ),
    "null_product_id": (
        "update marts.dim_products set product_id = null",
        ("marts.dim_products", "product_id is never null"),
    ),
    "seller_month_twice": (
        "insert into marts.fct_seller_performance select 'sm2', seller_id, sales_month, gmv_usd, "
        "order_count, average_rating, tier_at_month_end, tier_movement "
        "from marts.fct_seller_performance",
        ("marts.fct_seller_performance", "one row per seller and month"),
    ),
    "retention_over_100": (
        "update marts.fct_customer_cohorts set retention_pct = 150 where cohort_month_sk = 'c2'",
        ("marts.fct_customer_cohorts", "retention_pct is between 0 and 100"),
    ),
    "empty_mart": (
        "delete from marts.fct_customer_cohorts",
        ("marts.fct_customer_cohorts", "has rows"),
    ),
    "mart_missing": (
        "drop table marts.dim_products",
        ("marts.dim_products", "contract"),
    ),
}


@integration
@pytest.mark.parametrize("breach", MART_BREACHES, ids=str)
def test_mart_breach_fails_marts_gate_and_analytics_keeps_last_good(wh, breach):
    plant, expected = MART_BREACHES[breach]
    good = publish.publish("marketplace", warehouse_url=wh.url)
    oids_before = _analytics_oids(wh)
    wh.sql(plant)

    ran: list[str] = []
    with pytest.raises(gates.GateFailed) as failed:
        _pipeline(wh.url, ran)

    assert ran == ["dbt build"], "the marts gate stops the publish"
    assert expected in _failing(failed.value.result)
    assert f"{expected[0]}: {expected[1]}" in str(failed.value)
    assert publish.analytics_checksums("marketplace", warehouse_url=wh.url) == good.checksums
    assert _analytics_oids(wh) == oids_before
    assert [h["publish_id"] for h in publish.history("marketplace", warehouse_url=wh.url)] == [
        good.publish_id
    ]


@integration
def test_gate_failure_leaves_analytics_unchanged_and_a_pass_publishes(wh):
    ran: list[str] = []
    _pipeline(wh.url, ran)
    first = publish.analytics_checksums("marketplace", warehouse_url=wh.url)
    oids = _analytics_oids(wh)

    wh.sql("update marts.fct_orders set gmv_usd = -40 where order_id = 'o2'")
    with pytest.raises(gates.GateFailed, match=r"marts\.fct_orders: no negative GMV failed"):
        _pipeline(wh.url, ran)
    assert publish.analytics_checksums("marketplace", warehouse_url=wh.url) == first
    assert _analytics_oids(wh) == oids
    assert wh.sql("select gmv_usd from analytics.fct_orders where order_id = 'o2'") == [(40,)]

    wh.sql("update marts.fct_orders set gmv_usd = 41 where order_id = 'o2'")
    _pipeline(wh.url, ran)
    second = publish.analytics_checksums("marketplace", warehouse_url=wh.url)
    assert second["fct_orders"] != first["fct_orders"]
    assert {k: v for k, v in second.items() if k != "fct_orders"} == {
        k: v for k, v in first.items() if k != "fct_orders"
    }
    assert wh.sql("select gmv_usd from analytics.fct_orders where order_id = 'o2'") == [(41,)]


def _analytics_oids(wh: Warehouse) -> dict[str, int]:
    return dict(
        wh.sql(
            "select c.relname, c.oid::bigint from pg_class as c "
            "join pg_namespace as n on n.oid = c.relnamespace "
            "where n.nspname = 'analytics' and c.relkind = 'r'"
        )
    )


# --- real data -------------------------------------------------------------------------------


@integration
@pytest.mark.slow
def test_raw_gate_passes_on_seeded_and_synced_marketplace(pg_home):
    generator = pytest.importorskip("headwater.generators.marketplace")
    admin = db.status().url()
    suffix = uuid.uuid4().hex[:8]
    source_db, warehouse_db = f"gates_seed_src_{suffix}", f"gates_seed_wh_{suffix}"
    _create_db(admin, source_db)
    _create_db(admin, warehouse_db)
    try:
        source_url, warehouse_url = db.status().url(source_db), db.status().url(warehouse_db)
        generator.seed(source_url, 0.25, seed=7)
        sync.sync("marketplace", source_url=source_url, warehouse_url=warehouse_url)
        result = gates.run_gate("marketplace", "raw", warehouse_url=warehouse_url)
        assert result.passed, result.summary()
    finally:
        _drop_db(admin, source_db)
        _drop_db(admin, warehouse_db)
