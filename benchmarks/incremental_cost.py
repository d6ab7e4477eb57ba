"""Incremental cost grows with the change, not the history: mutate → sync → dbt build.

For each base size (100k and 1M orders at scale 1; `--scale 10` adds 10M), a seeded
marketplace copy is synced and built once. Then, per repetition:

  incremental  `headwater mutate` changes about 10,000 orders (1% of 1M), `headwater sync`
               moves the change, `dbt build` (the pipeline's selection, models and tests)
               merges it; the same again with about 1,000 orders (0.1% of 1M);
  full         the same source state synced with `--full-refresh` into its own raw schema
               and built with `dbt build --full-refresh` into schemas of their own.

The deltas are the same number of changed orders at every base size, so the base grows
10× under the same change. Mutate runs are sized from a calibration round (untimed) to
hit the delta; the table shows the orders each run actually changed. The pipeline time
compared is sync + dbt build (mutate, the application's own work, is shown apart). The
incremental marts run with `incremental_lookback_minutes: 0`, as the tests do: with the
default 60-minute margin each run would also redo the previous runs' changes.
Targets: incremental ≤ 10% of the full refresh at 1M / 1%; incremental time grows ≤ 1.5×
when the base grows 10× with the same delta.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from benchmarks import _marketplace
from headwater import bench, dbt, sync
from headwater.connection import load_connection
from headwater.generators import marketplace
from headwater.pipeline import dbt_selection

NAME = "incremental_cost"
# `make bench`: bases of 2k and 20k orders, deltas of 200 and 20 orders, two repetitions.
QUICK = {"scale": 0.02, "repetitions": 2}
log = logging.getLogger(__name__)

BASES = (100_000, 1_000_000)  # orders, at scale 1
DELTAS = (10_000, 1_000)  # orders changed per run, at scale 1 (1% and 0.1% of 1M)
SMOKE_BASES = (400,)
SMOKE_DELTAS = (20,)
DEFAULT_REPETITIONS = 3
# Changed orders per order per minute of `mutate` activity: the first guess, before the
# calibration round measures it on the base itself.
FIRST_GUESS_RATE = 5e-6
VARS = {"incremental_lookback_minutes": 0}
FULL_SUFFIX = "_full"
TOP_NODES = 8


def run(*, scale: float = 1.0, repetitions: int = DEFAULT_REPETITIONS, smoke: bool = False) -> dict:
    bases = SMOKE_BASES if smoke else tuple(max(400, round(b * scale)) for b in BASES)
    if scale >= 10 and not smoke:
        bases = (*bases, 10_000_000) if 10_000_000 not in bases else bases
    deltas = SMOKE_DELTAS if smoke else tuple(max(5, round(d * scale)) for d in DELTAS)
    repetitions = 1 if smoke else repetitions
    # A smoke run builds models only: a dbt test run adds minutes and no code path here.
    selection = dbt_selection("marketplace")
    if smoke:
        selection += ["--exclude", "resource_type:test", "resource_type:unit_test"]
    artifacts = Path(tempfile.mkdtemp(prefix="headwater-bench-dbt-"))
    per_base: dict[int, dict[str, Any]] = {}
    try:
        for base in bases:
            per_base[base] = _measure_base(base, deltas, repetitions, selection, artifacts)
    finally:
        shutil.rmtree(artifacts, ignore_errors=True)
    return _report(bases, deltas, repetitions, scale, smoke, per_base, selection)


def _measure_base(
    base: int, deltas: tuple[int, ...], repetitions: int, selection: list[str], artifacts: Path
) -> dict[str, Any]:
    seeded_url, seeded = _marketplace.seeded_source(base)
    tag = _marketplace.label(base).lower()
    source_url = _marketplace.working_copy(seeded_url, f"bench_incr_source_{tag}")
    warehouse_url = _marketplace.fresh_database(f"bench_incr_warehouse_{tag}")
    incremental = load_connection("marketplace").model_copy(update={"name": "bench_incr"})
    full = incremental.model_copy(
        update={"name": "bench_incr_full", "namespace": "raw_marketplace_full"}
    )
    inc_target = artifacts / f"{tag}_inc"
    full_target = artifacts / f"{tag}_full"

    def build(*, full_refresh: bool) -> dbt.DbtResult:
        args = ["build", *selection, *(["--full-refresh"] if full_refresh else [])]
        return dbt.run(
            args,
            vars={**VARS, **({"raw_marketplace_schema": full.namespace} if full_refresh else {})},
            warehouse_url=warehouse_url,
            capture=True,
            env={"HEADWATER_DBT_SCHEMA_SUFFIX": FULL_SUFFIX if full_refresh else ""},
            target_path=full_target if full_refresh else inc_target,
        )

    def incremental_round(minutes: float) -> dict[str, Any]:
        with bench.timed() as t_mutate:
            changes = marketplace.mutate(source_url, minutes)
        with bench.timed() as t_sync:
            report = sync.sync(incremental, source_url=source_url, warehouse_url=warehouse_url)
        with bench.timed() as t_dbt:
            built = build(full_refresh=False)
        streams = {s.stream: s for s in report.streams}
        return {
            "minutes": minutes,
            "orders_changed": streams["orders"].rows_written,
            "orders_created": changes["orders_created"],
            "rows_synced": sum(s.rows_read for s in report.streams),
            "mutate_s": t_mutate.seconds,
            "sync_s": t_sync.seconds,
            "dbt_s": t_dbt.seconds,
            "pipeline_s": t_sync.seconds + t_dbt.seconds,
            "dbt_nodes": _node_seconds(built),
        }

    def full_round() -> dict[str, Any]:
        with bench.timed() as t_sync:
            report = sync.sync(
                full, source_url=source_url, warehouse_url=warehouse_url, full_refresh=True
            )
        with bench.timed() as t_dbt:
            built = build(full_refresh=True)
        return {
            "rows_synced": sum(s.rows_read for s in report.streams),
            "sync_s": t_sync.seconds,
            "dbt_s": t_dbt.seconds,
            "pipeline_s": t_sync.seconds + t_dbt.seconds,
            "dbt_nodes": _node_seconds(built),
        }

    try:
        # Setup, untimed: the first sync and build, then one calibration round that sizes
        # the mutate runs (and leaves the marts in the state every later round starts from).
        log.info("base %s: first sync and build", base)
        sync.sync(incremental, source_url=source_url, warehouse_url=warehouse_url)
        build(full_refresh=False)
        guess = deltas[0] / (base * FIRST_GUESS_RATE)
        calibration = incremental_round(guess)
        rate = max(calibration["orders_changed"], 1) / (base * guess)
        minutes = {delta: delta / (base * rate) for delta in deltas}
        rounds: dict[str, list[dict[str, Any]]] = {f"inc_{d}": [] for d in deltas}
        rounds["full"] = []
        for rep in range(repetitions):
            log.info("base %s: repetition %d/%d", base, rep + 1, repetitions)
            # A B A B: the full refresh rebuilds the very state the largest delta left.
            rounds[f"inc_{deltas[0]}"].append(incremental_round(minutes[deltas[0]]))
            rounds["full"].append(full_round())
            for delta in deltas[1:]:
                rounds[f"inc_{delta}"].append(incremental_round(minutes[delta]))
    finally:
        _marketplace.drop_database(source_url)
        _marketplace.drop_database(warehouse_url)
    return {"seeded": seeded, "rate_per_order_minute": rate, "minutes": minutes, "rounds": rounds}


def _node_seconds(result: dbt.DbtResult) -> dict[str, float]:
    """Seconds per dbt node (model, test, seed, snapshot), from run_results.json."""
    out: dict[str, float] = {}
    for node in result.results:
        name = str(node.get("unique_id", "?"))
        out[name] = round(float(node.get("execution_time") or 0.0), 3)
    return out


def _top(nodes: list[dict[str, float]]) -> list[dict[str, Any]]:
    """The nodes that took longest, by their median over the runs; with the split of
    models and tests."""
    names = set().union(*nodes) if nodes else set()
    medians = {n: bench.spread([r.get(n, 0.0) for r in nodes])["median"] for n in names}
    ranked = sorted(medians.items(), key=lambda kv: kv[1], reverse=True)[:TOP_NODES]
    return [{"node": n, "seconds": s} for n, s in ranked]


def _kind_totals(nodes: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    kinds: dict[str, list[float]] = {}
    for run in nodes:
        totals: dict[str, float] = {}
        for name, seconds in run.items():
            kind = name.split(".")[0]
            totals[kind] = totals.get(kind, 0.0) + seconds
        for kind, total in totals.items():
            kinds.setdefault(kind, []).append(total)
    return {kind: bench.spread(values, 2) for kind, values in kinds.items()}


def _report(bases, deltas, repetitions, scale, smoke, per_base, selection) -> dict:
    rows: list[dict[str, Any]] = []
    results: dict[str, Any] = {}
    targets: dict[str, Any] = {}
    profile: dict[str, Any] = {}
    for base in bases:
        data = per_base[base]
        full = data["rounds"]["full"]
        full_pipeline = [r["pipeline_s"] for r in full]
        full_dbt = [r["dbt_s"] for r in full]
        label = _marketplace.label(base)
        rows.append(
            {
                "base": label,
                "run": "full refresh",
                "orders changed": None,
                "mutate s": None,
                "sync s": bench.spread([r["sync_s"] for r in full], 2),
                "dbt s": bench.spread(full_dbt, 2),
                "sync+dbt s": bench.spread(full_pipeline, 2),
                "÷ full": None,
            }
        )
        profile[f"{label}_full"] = {
            "by_kind": _kind_totals([r["dbt_nodes"] for r in full]),
            "top_nodes": _top([r["dbt_nodes"] for r in full]),
        }
        for delta in deltas:
            inc = data["rounds"][f"inc_{delta}"]
            pipeline = [r["pipeline_s"] for r in inc]
            # Pair each incremental run with the full refresh of the same repetition.
            vs_full = bench.ratio_spread(pipeline, full_pipeline)
            vs_full_dbt = bench.ratio_spread([r["dbt_s"] for r in inc], full_dbt)
            key = f"{label}_{delta}"
            rows.append(
                {
                    "base": label,
                    "run": f"incremental Δ{_marketplace.label(delta)}",
                    "orders changed": bench.spread([r["orders_changed"] for r in inc], 0),
                    "mutate s": bench.spread([r["mutate_s"] for r in inc], 2),
                    "sync s": bench.spread([r["sync_s"] for r in inc], 2),
                    "dbt s": bench.spread([r["dbt_s"] for r in inc], 2),
                    "sync+dbt s": bench.spread(pipeline, 2),
                    "÷ full": vs_full,
                }
            )
            results[f"incremental_s_{key}"] = bench.spread(pipeline, 2)
            results[f"incremental_vs_full_{key}"] = vs_full
            results[f"incremental_dbt_vs_full_dbt_{key}"] = vs_full_dbt
            profile[f"{label}_inc_{delta}"] = {
                "by_kind": _kind_totals([r["dbt_nodes"] for r in inc]),
                "top_nodes": _top([r["dbt_nodes"] for r in inc]),
            }
        results[f"full_refresh_s_{label}"] = bench.spread(full_pipeline, 2)

    big = [b for b in bases if b >= 1_000_000 * scale * 0.999] or [bases[-1]]
    at = big[0]
    key = f"{_marketplace.label(at)}_{deltas[0]}"
    ratio = results[f"incremental_vs_full_{key}"]
    targets[f"incremental_vs_full_{key}"] = {
        "target": "<= 0.10",
        "met": ratio["median"] <= 0.10,
        "detail": f"median {ratio['median']:.3f} (dbt alone "
        f"{results[f'incremental_dbt_vs_full_dbt_{key}']['median']:.3f})",
    }
    for small, large in zip(bases, bases[1:], strict=False):
        for delta in deltas:
            a = [r["pipeline_s"] for r in per_base[small]["rounds"][f"inc_{delta}"]]
            b = [r["pipeline_s"] for r in per_base[large]["rounds"][f"inc_{delta}"]]
            name = (
                f"growth_{_marketplace.label(small)}_to_{_marketplace.label(large)}_"
                f"{_marketplace.label(delta)}"
            )
            growth = bench.ratio_spread(b, a)
            results[name] = growth
            targets[name] = {
                "target": f"<= 1.5 for {large // small}x the base",
                "met": growth["median"] <= 1.5,
                "detail": f"median {growth['median']:.2f}",
            }
    return {
        "parameters": {
            "bases": list(bases),
            "deltas_orders_changed": list(deltas),
            "repetitions": repetitions,
            "scale": scale,
            "smoke": smoke,
            "dbt_vars": VARS,
            "dbt_selection": selection,
            "order": "per base: calibration round (untimed), then per repetition "
            "incremental(largest delta), full refresh, incremental(other deltas)",
            "sources": {str(b): per_base[b]["seeded"] for b in bases},
            "mutate_minutes": {
                str(b): {str(d): round(m, 1) for d, m in per_base[b]["minutes"].items()}
                for b in bases
            },
            "changed_orders_per_order_minute": {
                str(b): per_base[b]["rate_per_order_minute"] for b in bases
            },
            "dbt_profile": profile,
        },
        "results": results,
        "rows": rows,
        "targets": targets,
    }
