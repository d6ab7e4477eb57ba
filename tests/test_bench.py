"""The benchmark harness: discovery, the contract's result shape, records, and a smoke run of
every module in benchmarks/ (it checks that each runs and reports, not how fast)."""

from __future__ import annotations

import json
import textwrap

import pytest
from click.testing import CliRunner

from headwater import bench, cli
from headwater.errors import HeadwaterError

MODULES = [path.stem for path in bench.module_paths()]


def test_every_module_in_benchmarks_is_discovered_by_its_name():
    found = bench.discover()
    assert MODULES, "benchmarks/ holds no benchmark module"
    assert sorted(b.path.stem for b in found.values()) == sorted(MODULES)
    for benchmark in found.values():
        assert benchmark.summary, f"{benchmark.path.name} has no docstring to describe it"


@pytest.fixture
def fake_benchmarks(tmp_path, monkeypatch):
    """A project folder with a benchmarks/ of our own making."""
    folder = tmp_path / "project" / "fakebench"
    folder.mkdir(parents=True)
    monkeypatch.setattr(bench, "benchmarks_dir", lambda: folder)
    monkeypatch.setattr(bench, "results_dir", lambda: folder / "results")
    return folder


def _write(folder, name: str, body: str) -> None:
    (folder / f"{name}.py").write_text(textwrap.dedent(body))


GOOD = '''
    """A tiny benchmark.

    It counts.
    """
    NAME = "{name}"

    def run(*, scale=1.0, repetitions=5, smoke=False):
        return {{
            "parameters": {{"scale": scale, "repetitions": repetitions, "smoke": smoke}},
            "results": {{"speed": {{"min": 1.0, "median": 2.0, "max": 3.0, "n": 3}}, "n": 3}},
            "rows": [{{"contender": "a", "seconds": 1.5}}],
            "targets": {{"speed": {{"target": ">= 2", "met": True}}}},
        }}
'''


def test_discovery_skips_private_modules_and_rejects_broken_ones(fake_benchmarks):
    _write(fake_benchmarks, "counting", GOOD.format(name="counting"))
    _write(fake_benchmarks, "_helpers", "X = 1\n")
    assert list(bench.discover()) == ["counting"]
    assert bench.discover()["counting"].summary == "A tiny benchmark."

    _write(fake_benchmarks, "nameless", "def run(*, scale=1.0, repetitions=5, smoke=False): ...\n")
    with pytest.raises(HeadwaterError, match=r"benchmarks/nameless.py: defines no NAME"):
        bench.discover()
    _write(
        fake_benchmarks,
        "nameless",
        'NAME = "counting"\ndef run(*, scale, repetitions, smoke): ...\n',
    )
    with pytest.raises(HeadwaterError, match=r"NAME 'counting' is taken by benchmarks/counting.py"):
        bench.discover()
    _write(fake_benchmarks, "nameless", 'NAME = "x"\ndef run(*, scale=1.0): ...\n')
    with pytest.raises(HeadwaterError, match=r"run\(\) does not take repetitions, smoke"):
        bench.discover()
    _write(fake_benchmarks, "nameless", "import no_such_module_here\n")
    with pytest.raises(HeadwaterError, match=r"nameless.py: cannot import: ModuleNotFoundError"):
        bench.discover()


def test_a_result_that_breaks_the_contract_is_refused():
    good = {"parameters": {}, "results": {"x": 1.0}, "rows": [{"a": 1}]}
    bench.check_result(good, "b")
    for broken, message in (
        ([], "returned list, not a dict"),
        ({**good, "rows": []}, "rows must be a non-empty list"),
        ({**good, "results": {"x": "fast"}}, r"results\['x'\] is neither a number"),
        ({**good, "results": {"x": {"min": 1, "max": 2}}}, r"results\['x'\] is neither"),
        ({"results": {}, "rows": [{}]}, "no parameters dict"),
        ({**good, "targets": {"x": {"target": "< 1"}}}, r"targets\['x'\] needs a target text"),
    ):
        with pytest.raises(HeadwaterError, match=message):
            bench.check_result(broken, "b")


def test_the_cli_runs_a_benchmark_prints_its_table_and_writes_a_record(fake_benchmarks, pg_home):
    _write(fake_benchmarks, "counting", GOOD.format(name="counting"))
    result = CliRunner().invoke(cli.main, ["bench", "counting", "--scale", "0.5", "-n", "2"])
    assert result.exit_code == 0, result.output
    assert "contender" in result.output and "1 / 2 / 3" in result.output
    assert "target speed >= 2: met" in result.output
    files = list((fake_benchmarks / "results").glob("counting-*.json"))
    assert len(files) == 1
    record = json.loads(files[0].read_text())
    assert record["parameters"] == {"scale": 0.5, "repetitions": 2, "smoke": False}
    assert record["arguments"] == {"scale": 0.5, "smoke": False, "repetitions": 2}
    machine = record["machine"]
    assert machine["cores"] >= 1 and machine["memory_bytes"] > 0
    assert machine["postgresql"].startswith("PostgreSQL ")
    assert machine["packages"]["headwater"] and machine["packages"]["psycopg"]
    assert len(machine["load_average_before"]) == 3


def test_quick_runs_each_benchmark_at_its_own_size_and_explicit_sizes_win(fake_benchmarks, pg_home):
    _write(
        fake_benchmarks,
        "counting",
        GOOD.format(name="counting") + '\n    QUICK = {"scale": 0.25, "repetitions": 3}\n',
    )
    _write(fake_benchmarks, "plain", GOOD.format(name="plain"))

    def parameters(*args):
        result = CliRunner().invoke(cli.main, ["bench", "--json", *args])
        assert result.exit_code == 0, result.output
        records = json.loads(result.output)
        records = records if isinstance(records, list) else [records]
        return {r["benchmark"]: (r["parameters"], r["arguments"].get("quick")) for r in records}

    got = parameters("all", "--quick")
    assert got["counting"] == ({"scale": 0.25, "repetitions": 3, "smoke": False}, True)
    # Without a QUICK: scale 1 and the module's own repetitions.
    assert got["plain"] == ({"scale": 1.0, "repetitions": 5, "smoke": False}, True)
    assert parameters("counting", "--quick", "--scale", "0.5")["counting"][0] == {
        "scale": 0.5,
        "repetitions": 3,
        "smoke": False,
    }
    assert parameters("counting")["counting"] == (
        {"scale": 1.0, "repetitions": 5, "smoke": False},
        None,
    )
    listed = CliRunner().invoke(cli.main, ["bench", "--list"])
    assert "(quick: --scale 0.25 -n 3)" in listed.output


def test_a_quick_size_that_is_not_one_is_refused(fake_benchmarks):
    _write(
        fake_benchmarks, "counting", GOOD.format(name="counting") + '\n    QUICK = {"scale": 0}\n'
    )
    with pytest.raises(HeadwaterError, match=r"benchmarks/counting.py: QUICK must be a dict"):
        bench.discover()


def test_the_cli_lists_and_names_unknown_benchmarks(fake_benchmarks):
    _write(fake_benchmarks, "counting", GOOD.format(name="counting"))
    listed = CliRunner().invoke(cli.main, ["bench", "--list"])
    assert (
        listed.exit_code == 0
        and "counting" in listed.output
        and "A tiny benchmark." in listed.output
    )
    unknown = CliRunner().invoke(cli.main, ["bench", "nope"])
    assert unknown.exit_code != 0
    assert "no benchmark named 'nope' (benchmarks: counting)" in unknown.output


def test_helpers_interleave_and_pair_ratios():
    calls: list[str] = []
    runs = bench.interleave(
        {"a": lambda: calls.append("a") or 1.0, "b": lambda: calls.append("b") or 2.0}, 3
    )
    assert calls == ["a", "b", "b", "a", "a", "b"]
    assert runs == {"a": [1.0, 1.0, 1.0], "b": [2.0, 2.0, 2.0]}
    assert bench.ratio_spread([2.0, 3.0, 8.0], [1.0, 3.0, 2.0]) == {
        "min": 1.0,
        "median": 2.0,
        "max": 4.0,
        "n": 3,
    }
    assert bench.spread([3.0, 1.0, 2.0]) == {"min": 1.0, "median": 2.0, "max": 3.0, "n": 3}


@pytest.mark.integration
@pytest.mark.slow
@pytest.mark.parametrize("name", MODULES)
def test_smoke_run_of_every_benchmark(name, pg_home, tmp_path):
    benchmark = bench.load(bench.benchmarks_dir() / f"{name}.py")
    record = bench.run(benchmark, smoke=True, out_dir=tmp_path)
    assert record["parameters"], name
    assert record["results"] and record["rows"], name
    written = json.loads((tmp_path / record["file"].rsplit("/", 1)[-1]).read_text())
    assert written["benchmark"] == benchmark.name
    assert written["machine"]["postgresql"]
    for target in (record.get("targets") or {}).values():
        assert isinstance(target["met"], bool)
