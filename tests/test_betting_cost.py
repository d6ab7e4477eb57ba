"""`headwater cost` and `headwater gdpr erase` on the command line: estimates that say what they
are, and requests refused in one line."""

from __future__ import annotations

from dataclasses import replace

from click.testing import CliRunner

from headwater import cost
from headwater.cli import main


def test_the_estimate_scales_from_its_inputs():
    one, ten = (cost.estimate(cost.Volumes(bets_per_day=n)) for n in (1_000_000, 10_000_000))
    lines_one, lines_ten = one["lines_usd_per_month"], ten["lines_usd_per_month"]
    # Volume-driven lines grow tenfold, the always-on scheduler not at all: sub-linear total.
    storage = "BigQuery storage (a year of history)"
    assert lines_ten[storage] == round(10 * lines_one[storage], 2)
    airflow = "Airflow (MWAA small, always on)"
    assert lines_ten[airflow] == lines_one[airflow] == round(24 * 30 * 0.49, 2)
    assert one["total_usd_per_month"] < ten["total_usd_per_month"] < 10 * one["total_usd_per_month"]
    assert ten["usd_per_million_bets"] < one["usd_per_million_bets"]
    assert one["total_usd_per_month"] == round(sum(lines_one.values()), 2)
    # Changing one unit price moves exactly its line.
    dearer = cost.estimate(
        cost.Volumes(bets_per_day=1_000_000),
        replace(cost.UnitPrices(), bigquery_active_gb_month=0.04),
    )
    assert dearer["lines_usd_per_month"][storage] > lines_one[storage]
    others = {k: v for k, v in dearer["lines_usd_per_month"].items() if k != storage}
    assert others == {k: v for k, v in lines_one.items() if k != storage}


def test_the_command_labels_the_numbers_as_estimates_with_the_price_date():
    result = CliRunner().invoke(main, ["cost"])
    assert result.exit_code == 0, result.output
    assert "ESTIMATE" in result.output and cost.PRICES_AS_OF in result.output
    assert "10,000,000 bets/day" in result.output and "per million bets" in result.output


def test_gdpr_erase_refuses_bad_requests_in_one_line():
    runner = CliRunner()
    empty = runner.invoke(main, ["gdpr", "erase", "  "])
    assert empty.exit_code != 0
    assert empty.output.strip() == "error: gdpr erase: the subject id is empty"
    other = runner.invoke(main, ["gdpr", "erase", "C0000001", "--domain", "marketplace"])
    assert other.exit_code != 0
    assert other.output.strip().count("\n") == 0
    assert "no stream has an erasure section" in other.output
